"""`--references ris|bibtex|csl-json` and `--references-out FILE`: the draft's reference list for
a reference manager, written beside the draft.

Where it goes: `--references-out FILE` when given (`-` for standard output, only when the draft
itself goes to `--out`); else next to `--out` with the format's extension (draft.md ->
draft.ris). Without either, the draft and the list would share standard output, so the command
stops with a usage error before drafting anything.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rich.console import Console

from rag.errors import ConfigError
from rag.rendering.bibliography import EXTENSIONS, export


def add_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--references",
        choices=list(EXTENSIONS),
        metavar="{" + ",".join(EXTENSIONS) + "}",
        help="also write the reference list for Zotero/EndNote: ris, bibtex or csl-json",
    )
    parser.add_argument(
        "--references-out",
        metavar="FILE",
        help="where --references writes (default: --out with the format's extension; '-' for "
        "standard output when the draft goes to --out)",
    )


def target(args: argparse.Namespace) -> str | None:
    """Where the reference list goes ('-' for standard output), or None when none was asked;
    a usage error (said before anything is drafted) when it has nowhere to go."""
    fmt, out, refs_out = args.references, getattr(args, "out", None), args.references_out
    if fmt is None:
        if refs_out:
            raise ConfigError("--references-out needs --references ris, bibtex or csl-json")
        return None
    if refs_out == "-" and not out:
        raise ConfigError(
            "--references-out - and the draft cannot both go to standard output: give --out FILE"
        )
    if refs_out:
        return refs_out
    if not out:
        raise ConfigError(
            f"--references {fmt} needs a file: give --out FILE (the list goes next to it) or "
            f"--references-out FILE{EXTENSIONS[fmt]}"
        )
    path = Path(out).with_suffix(EXTENSIONS[fmt])
    if path == Path(out):
        raise ConfigError(
            f"--out {out} already has the {EXTENSIONS[fmt]} extension: give --references-out FILE"
        )
    return str(path)


def write(assessment, fmt: str, where: str, err: Console) -> None:
    text = export(assessment.references, fmt)
    if where == "-":
        sys.stdout.write(text)
        return
    Path(where).write_text(text, encoding="utf-8")
    err.print(f"{len(assessment.references)} references ({fmt}) written to {where}", highlight=False)
