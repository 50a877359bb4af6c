"""Options the eval commands share: one `--format`, as every other command has."""

from __future__ import annotations

import argparse
import sys


def add_format_args(parser: argparse.ArgumentParser) -> None:
    """`--format text|json`, and `--json`: its old spelling, hidden and deprecated."""
    parser.add_argument(
        "--format", choices=["text", "json"], default="text", help="text: a table; json: one JSON object"
    )
    parser.add_argument("--json", action="store_true", help=argparse.SUPPRESS)


def output_format(args: argparse.Namespace) -> str:
    """The format asked for; `--json` still works, with a one-line note on standard error."""
    if getattr(args, "json", False):
        print("note: --json is deprecated; use --format json", file=sys.stderr)
        return "json"
    return args.format
