"""`meddraft` command line: the parser, the assess command, and `main` (store commands: `store`)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

from rich.console import Console
from rich.markup import escape

from rag.cli import case as cli_case
from rag.cli import llm as cli_llm
from rag.cli import policy as cli_policy
from rag.cli import search as cli_search
from rag.cli import sessions as cli_sessions
from rag.cli import store as cli_store
from rag.errors import LLMOutputError, MeddraftError, UnansweredQuestionError
from rag.settings import Settings, load_settings

EXIT_OK, EXIT_ERROR, EXIT_PARTIAL = 0, 2, 3  # 3: ran, but not everything landed or was answered


def _common() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--store", metavar="DIR", help="store folder (default ./.meddraft)")
    common.add_argument("--config", metavar="FILE", help="settings file (default ./meddraft.toml)")
    common.add_argument("--embedding-model", metavar="NAME", help="sentence-transformers model")
    return common


def build_parser() -> argparse.ArgumentParser:
    common = _common()
    parser = argparse.ArgumentParser(
        prog="meddraft", description="Draft evidence-grounded medical-necessity reviews."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    store_handlers = cli_store.add_parsers(sub, common)  # ingest, status, repair
    cli_search.add_parser(sub, common)

    assess = sub.add_parser("assess", parents=[common], help="draft a medical-necessity assessment")
    assess.add_argument("question", help="e.g. 'Is DRUG 300 mg SC every 4 weeks medically indicated ...?'")
    assess.add_argument("--case", required=True, metavar="CASE_ID", help="the patient's case id")
    cli_llm.format_arg(assess)
    cli_llm.add_generator_args(assess)
    session_handlers = cli_sessions.add_parsers(sub, common)
    policy_handlers = cli_policy.add_parsers(sub, common)
    case_handlers = cli_case.add_parsers(sub, common)
    handlers = {**store_handlers, **session_handlers, **policy_handlers, **case_handlers}
    parser.set_defaults(_plugins={**handlers, **_load_plugins(sub, common)})
    return parser


def _load_plugins(sub, common) -> dict:
    """Subcommands other packages register under the `meddraft.commands` entry point."""
    from importlib.metadata import entry_points

    handlers: dict = {}
    for entry in entry_points(group="meddraft.commands"):
        handlers.update(entry.load()(sub, common))
    return handlers


def load_from_args(args: argparse.Namespace) -> Settings:
    overrides: dict[str, Any] = {
        "store.path": getattr(args, "store", None),
        "embedding.model": getattr(args, "embedding_model", None),
        "ingest.default_kind": getattr(args, "kind", None),
        **cli_llm.generator_overrides(args),
    }
    return load_settings(getattr(args, "config", None), overrides)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    out, err = Console(soft_wrap=True), Console(stderr=True, soft_wrap=True)
    try:
        settings = load_from_args(args)
        handlers = {
            "search": cli_search.run,
            "assess": _assess,
            **args._plugins,
        }
        handler = handlers[args.command]
        return handler(args, settings, out, err)
    except UnansweredQuestionError as exc:  # read, but no verdict can be drafted: say what was read
        err.print(f"[bold red]not answered:[/] {escape(str(exc))}", highlight=False, markup=True)
        err.print(f"understood: {'; '.join(exc.understood)}", highlight=False, markup=False)
        return EXIT_PARTIAL
    except MeddraftError as exc:
        err.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False, markup=True)
        if isinstance(exc, LLMOutputError):
            cli_llm.save_failure(settings, exc, err)
        return EXIT_ERROR
    except KeyboardInterrupt:
        err.print("interrupted")
        return 130


def _assess(args, settings: Settings, out: Console, err: Console) -> int:
    from rag.api import assess
    from rag.drafting import build_generator
    from rag.followup.sessions import SessionStore

    with cli_llm.spinner(err, settings) as hooks:
        generator = build_generator(settings, hooks=hooks)
        assessment = assess(args.question, args.case, settings, generator=generator)
    session_id = SessionStore(settings.store.path).save(assessment, settings.hash())
    prov = assessment.provenance
    err.print(
        f"{assessment.verdict.label} · {prov.unsupported_statements} unsupported of "
        f"{prov.checked_statements} statements · {prov.seconds:.1f} s · {_who(prov)} · session {session_id}",
        highlight=False,
    )
    return cli_llm.write_output(assessment, args.format, args.out, err)


def _who(prov) -> str:
    return f"{prov.generator} ({prov.model} at {prov.endpoint_host})" if prov.model else prov.generator


if __name__ == "__main__":
    sys.exit(main())
