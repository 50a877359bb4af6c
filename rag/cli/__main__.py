"""`python -m rag.cli`: the same entry point as the `meddraft` console script."""

from rag.cli.main import entry

entry()
