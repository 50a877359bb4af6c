"""The command line: parse, call the library, print. `main(argv)` is the entry point.

`main` holds the parser and the assess command; `store` holds ingest, status and repair; `search`
and `sessions` (show, ask, chat) are their own modules; `llm` holds the flags and progress every
drafting command shares. Other packages add subcommands through the `meddraft.commands` entry point.
"""

from rag.cli.main import main

__all__ = ["main"]
