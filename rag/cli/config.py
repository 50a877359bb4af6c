"""`meddraft config`: the effective settings and where each came from; and the one map from
command-line flags to the settings they set."""

from __future__ import annotations

import argparse
import json
from typing import Any

from rich.console import Console
from rich.table import Table

from rag.settings import Settings, explain_settings, user_config_file

# dotted setting -> (argparse dest, the flag as a user types it); commands that lack a flag leave
# its dest unset, so it overrides nothing
FLAGS: dict[str, tuple[str, str]] = {
    "store.path": ("store", "--store"),
    "embedding.model": ("embedding_model", "--embedding-model"),
    "ingest.default_kind": ("kind", "--kind"),
    "generator": ("generator", "--generator"),
    "llm.model": ("llm_model", "--model"),
    "llm.base_url": ("llm_base_url", "--base-url"),
}

FLAG_NAMES = {key: flag for key, (_, flag) in FLAGS.items()}


def overrides(args: argparse.Namespace) -> dict[str, Any]:
    """The settings the command line sets (None: not given)."""
    return {key: getattr(args, dest, None) for key, (dest, _) in FLAGS.items()}


def add_parsers(sub, common: argparse.ArgumentParser) -> dict:
    config = sub.add_parser(
        "config", parents=[common], help="print the effective settings and where each came from"
    )
    config.add_argument(
        "--format",
        choices=["text", "json"],
        default="text",
        help="text: a table; json: {setting: {value, source}}",
    )
    return {"config": _run}


def _run(args, settings: Settings, out: Console, err: Console) -> int:
    explained = explain_settings(getattr(args, "config", None), overrides(args), FLAG_NAMES)
    if args.format == "json":
        out.print_json(json.dumps(explained))
        return 0
    user = user_config_file()
    table = Table(
        title="meddraft settings",
        caption=f"user file: {user}{'' if user.is_file() else ' (none)'}; secrets are masked",
    )
    table.add_column("setting", no_wrap=True)
    table.add_column("value", overflow="fold")
    table.add_column("source", overflow="fold")
    for key, entry in explained.items():
        value = entry["value"]
        shown = "unset" if value is None else value if isinstance(value, str) else json.dumps(value)
        table.add_row(key, shown, entry["source"], style="dim" if entry["source"] == "default" else None)
    out.print(table)
    return 0
