"""`meddraft` command line: the parser, the assess command, and `main` (store commands: `store`)."""

from __future__ import annotations

import argparse
import logging
import os
import sqlite3
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

from rich.console import Console
from rich.markup import escape

from rag.cli import case as cli_case
from rag.cli import config as cli_config
from rag.cli import exits
from rag.cli import llm as cli_llm
from rag.cli import policy as cli_policy
from rag.cli import references as cli_refs
from rag.cli import search as cli_search
from rag.cli import serve as cli_serve
from rag.cli import sessions as cli_sessions
from rag.cli import store as cli_store
from rag.errors import LLMOutputError, MeddraftError, UnansweredQuestionError
from rag.settings import Settings, load_settings

EXIT_OK, EXIT_PARTIAL = exits.OK, exits.DATA  # 3: ran, but not everything landed or was answered


def _add_common(parser: argparse.ArgumentParser, default: Any = None) -> argparse.ArgumentParser:
    parser.add_argument("--store", metavar="DIR", default=default, help="store folder (default ./.meddraft)")
    parser.add_argument(
        "--config", metavar="FILE", default=default, help="settings file (default ./meddraft.toml)"
    )
    parser.add_argument(
        "--embedding-model",
        metavar="NAME",
        default=default,
        help="bundled model or a sentence-transformers folder",
    )
    return parser


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return f"meddraft {version('meddraft')}"
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "meddraft (not installed)"


def build_parser() -> argparse.ArgumentParser:
    # the global options go before or after the subcommand (`meddraft --store X status` and
    # `meddraft status --store X`); after it they win, and before it they are not reset
    common = _add_common(argparse.ArgumentParser(add_help=False), default=argparse.SUPPRESS)
    parser = _add_common(
        argparse.ArgumentParser(
            prog="meddraft", description="Draft evidence-grounded medical-necessity reviews."
        )
    )
    parser.add_argument("--version", action="version", version=_version())
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    store_handlers = cli_store.add_parsers(sub, common)  # ingest, status, repair
    cli_search.add_parser(sub, common)

    assess = sub.add_parser("assess", parents=[common], help="draft a medical-necessity assessment")
    assess.add_argument("question", help="e.g. 'Is DRUG 300 mg SC every 4 weeks medically indicated ...?'")
    assess.add_argument("--case", required=True, metavar="CASE_ID", help="the patient's case id")
    cli_llm.format_arg(assess)
    cli_refs.add_args(assess)
    cli_llm.add_generator_args(assess)
    assess.add_argument(
        "--reviewer", metavar="NAME", help="who drafts, for the audit trail (default: your login name)"
    )
    schema = sub.add_parser("schema", help="print the JSON schema of an output (for other tools)")
    schema.add_argument("name", choices=["assessment", "answer"], help="which output")
    session_handlers = cli_sessions.add_parsers(sub, common)
    policy_handlers = cli_policy.add_parsers(sub, common)
    case_handlers = cli_case.add_parsers(sub, common)
    serve_handlers = cli_serve.add_parsers(sub, common)  # serve, audit
    config_handlers = cli_config.add_parsers(sub, common)
    handlers = {
        **store_handlers,
        **session_handlers,
        **policy_handlers,
        **case_handlers,
        **serve_handlers,
        **config_handlers,
    }
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
    return load_settings(getattr(args, "config", None), cli_config.overrides(args), cli_config.FLAG_NAMES)


def main(argv: Sequence[str] | None = None) -> int:
    return _run(build_parser().parse_args(argv))


# Commands after which the `meddraft` process ends without the interpreter's teardown (freeing the
# ONNX session, Chroma's core and every module: 0.3 s of a cold `assess`). They only read the store;
# what they write (session, audit trail, the draft) is closed before the handler returns.
FAST_EXIT = frozenset({"search", "assess"})


def entry() -> NoReturn:
    """The `meddraft` console script: `main`, then, after a FAST_EXIT command, a flushed `os._exit`.
    Library callers and tests call `main`, which always returns."""
    args = build_parser().parse_args()
    status = _run(args)
    if args.command in FAST_EXIT:
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(status)
    sys.exit(status)


def _run(args: argparse.Namespace) -> int:
    out, err = Console(soft_wrap=True), Console(stderr=True, soft_wrap=True)
    try:
        settings = load_from_args(args)
        handlers = {
            "search": cli_search.run,
            "assess": _assess,
            "schema": _schema,
            **args._plugins,
        }
        handler = handlers[args.command]
        if args.command == "assess":  # a usage error is said before anything is opened
            from rag.questions import check_question

            check_question(args.question)
            args.references_target = cli_refs.target(args)
        action = getattr(args, f"{args.command}_command", None)
        if args.command in READ_ONLY or f"{args.command} {action}" in READ_ONLY:
            from rag.components import require_store

            require_store(settings, "pass the --store that holds your documents")
        return handler(args, settings, out, err)
    except UnansweredQuestionError as exc:  # read, but no verdict can be drafted: say what was read
        err.print(f"[bold red]not answered:[/] {escape(str(exc))}", highlight=False, markup=True)
        err.print(f"understood: {'; '.join(exc.understood)}", highlight=False, markup=False)
        return EXIT_PARTIAL
    except MeddraftError as exc:
        err.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False, markup=True)
        if isinstance(exc, LLMOutputError):
            cli_llm.save_failure(settings, exc, err)
        return exits.exit_status(exc)
    except KeyboardInterrupt:
        err.print("interrupted")
        return 130


# commands that only read a store: they never create one where a path was mistyped
READ_ONLY = frozenset(
    {"status", "search", "assess", "sessions", "show", "ask", "chat", "audit", "policy show", "case show"}
)


def _schema(args, settings: Settings, out: Console, err: Console) -> int:
    import json

    if args.name == "assessment":
        from rag.types import Assessment as model
    else:
        from rag.followup.answers import Answer as model
    out.print_json(json.dumps(model.model_json_schema()))
    return 0


def _assess(args, settings: Settings, out: Console, err: Console) -> int:
    from rag.api import assess
    from rag.drafting import build_generator
    from rag.followup.sessions import SessionStore

    with cli_llm.spinner(err, settings) as hooks:
        generator = build_generator(settings, hooks=hooks)
        assessment = assess(args.question, args.case, settings, generator=generator)
    try:
        session_id = SessionStore(settings.store.path).save(assessment, settings.hash())
        _audit_draft(settings, session_id, assessment, args.reviewer)
        session = f"session {session_id}"
    except (OSError, sqlite3.Error) as exc:  # a read-only store folder: the draft still prints
        session = f"not saved as a session ({exc}), so `meddraft ask` cannot follow it up"
    prov = assessment.provenance
    err.print(
        f"{assessment.verdict.label} · {prov.unsupported_statements} unsupported of "
        f"{prov.checked_statements} statements · {prov.seconds:.1f} s · {_who(prov)} · {session}",
        highlight=False,
    )
    status = cli_llm.write_output(assessment, args.format, args.out, err)
    if status == 0 and args.references_target:
        cli_refs.write(assessment, args.references, args.references_target, err)
    return status


def _audit_draft(settings: Settings, session_id: str, assessment, reviewer: str | None) -> None:
    """The draft goes in the audit trail as the page's drafts do, with the CLI user as the actor."""
    from rag.components import build_store
    from rag.review.audit import AuditLog, cli_actor, draft_created_detail

    detail = draft_created_detail(assessment, build_store(settings))
    AuditLog(settings.store.path).record(session_id, cli_actor(reviewer), "draft_created", **detail)


def _who(prov) -> str:
    return f"{prov.generator} ({prov.model} at {prov.endpoint_host})" if prov.model else prov.generator


if __name__ == "__main__":
    entry()
