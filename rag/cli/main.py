"""`meddraft` command line: the parser, the ingest, status and assess commands, and `main`."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from ingest.documents import KINDS
from ingest.pipeline import IngestReport
from ingest.pipeline import Progress as Hooks
from rag.cli import case as cli_case
from rag.cli import llm as cli_llm
from rag.cli import policy as cli_policy
from rag.cli import search as cli_search
from rag.cli import sessions as cli_sessions
from rag.errors import LLMOutputError, MeddraftError
from rag.settings import Settings, load_settings

EXIT_OK, EXIT_FAILED, EXIT_ERROR = 0, 1, 2


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

    ingest = sub.add_parser("ingest", parents=[common], help="add or refresh files in the store")
    ingest.add_argument("paths", nargs="+", metavar="PATH", help="files or folders")
    ingest.add_argument(
        "--password", action="append", default=[], help="password for encrypted PDFs (repeatable)"
    )
    ingest.add_argument("--kind", choices=KINDS, help="kind of documents whose metadata does not name one")
    ingest.add_argument("--rebuild", action="store_true", help="drop the store and re-embed all")
    ingest.add_argument("--format", choices=["text", "json"], default="text")
    ingest.add_argument("--quiet", action="store_true", help="no progress bar")

    status = sub.add_parser("status", parents=[common], help="what the store holds")
    status.add_argument("--format", choices=["text", "json"], default="text")

    cli_search.add_parser(sub, common)

    assess = sub.add_parser("assess", parents=[common], help="draft a medical-necessity assessment")
    assess.add_argument("question", help="e.g. 'Is DRUG 300 mg SC every 4 weeks medically indicated ...?'")
    assess.add_argument("--case", required=True, metavar="CASE_ID", help="the patient's case id")
    cli_llm.format_arg(assess)
    cli_llm.add_generator_args(assess)
    session_handlers = cli_sessions.add_parsers(sub, common)
    policy_handlers = cli_policy.add_parsers(sub, common)
    case_handlers = cli_case.add_parsers(sub, common)
    handlers = {**session_handlers, **policy_handlers, **case_handlers}
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
            "ingest": _ingest,
            "status": _status,
            "search": cli_search.run,
            "assess": _assess,
            **args._plugins,
        }
        handler = handlers[args.command]
        return handler(args, settings, out, err)
    except MeddraftError as exc:
        err.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False, markup=True)
        if isinstance(exc, LLMOutputError):
            cli_llm.save_failure(settings, exc, err)
        return EXIT_ERROR
    except KeyboardInterrupt:
        err.print("interrupted")
        return 130


def _ingest(args, settings: Settings, out: Console, err: Console) -> int:
    from rag.components import build_indexer

    indexer = build_indexer(settings)
    with _ingest_progress(err, quiet=args.quiet or args.format == "json") as hooks:
        report = indexer.ingest(args.paths, passwords=args.password, rebuild=args.rebuild, progress=hooks)
    if args.format == "json":
        out.print_json(json.dumps(report.to_dict()))
    else:
        _print_report(report, out, err)
    return EXIT_FAILED if report.failed else EXIT_OK


class _ingest_progress:
    """Rich progress bars over files and embedded chunks, wired to the indexer's hooks."""

    def __init__(self, console: Console, quiet: bool) -> None:
        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=True,
            disable=quiet,
        )

    def __enter__(self) -> Hooks:
        p = self.progress
        p.start()
        files = p.add_task("files", total=0)
        chunks = p.add_task("chunks embedded", total=0)

        def add_chunks(n: int) -> None:
            task = p.tasks[chunks]
            p.update(chunks, total=(task.total or 0) + n)

        return Hooks(
            files=lambda total: p.update(files, total=total),
            file_done=lambda outcome: p.advance(files) if outcome.status != "removed" else None,
            chunks=add_chunks,
            embedded=lambda n: p.advance(chunks, n),
        )

    def __exit__(self, *exc) -> None:
        self.progress.stop()


def _print_report(report: IngestReport, out: Console, err: Console) -> None:
    for o in report.outcomes:
        if o.status == "failed":
            err.print(f"[red]FAILED[/]  {o.path}: {o.reason}", highlight=False)
        elif o.status == "skipped":
            err.print(f"[yellow]skipped[/] {o.path}: {o.reason}", highlight=False)
        elif o.status in ("added", "updated", "removed"):
            out.print(f"{o.status:<8} {o.doc_id} ({o.chunks} chunks)", highlight=False)
        for warning in o.warnings:
            err.print(f"[yellow]warning[/] {o.path}: {warning}", highlight=False)
    out.print(report.summary(), highlight=False)


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


def _status(args, settings: Settings, out: Console, err: Console) -> int:
    from ingest.pipeline import store_status
    from rag.components import build_store

    store = build_store(settings)
    store.check_model(settings.embedding.model)
    status = store_status(store)
    if args.format == "json":
        out.print_json(json.dumps(status.to_dict(), default=str))
        return EXIT_OK
    out.print(f"store:           {status.location}", highlight=False)
    out.print(f"embedding model: {status.embedding_model or '(empty store)'}", highlight=False)
    if status.chunking:
        out.print(f"chunking:        {status.chunking}", highlight=False)
    out.print(f"documents:       {status.documents}   chunks: {status.chunks}", highlight=False)
    for title, rows in (("kind", status.by_kind), ("case", status.by_case)):
        if rows:
            table = Table(title=f"by {title}", title_justify="left")
            table.add_column(title)
            table.add_column("documents", justify="right")
            table.add_column("chunks", justify="right")
            for key, row in rows.items():
                table.add_row(key, str(row.get("documents", 0)), str(row.get("chunks", 0)))
            out.print(table)
    if not status.documents:
        err.print("the store is empty: run `meddraft ingest PATH`")
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
