"""`python -m rag.cli`: the same entry point as the `meddraft` console script."""

import sys

from rag.cli.main import main

sys.exit(main())
