"""The store commands: `ingest`, `status [--verify]` and `repair`.

Exit codes: 0 when everything landed (or verified), 3 when some files did not land or the store
has problems (each listed, with what to do), 2 on a usage or configuration error.
"""

from __future__ import annotations

import argparse
import json

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from ingest.documents import KINDS
from ingest.report import IngestReport
from ingest.report import Progress as Hooks

EXIT_OK, EXIT_PARTIAL = 0, 3


def add_parsers(sub, common: argparse.ArgumentParser) -> dict:
    ingest = sub.add_parser("ingest", parents=[common], help="add or refresh files in the store")
    ingest.add_argument("paths", nargs="*", metavar="PATH", help="files or folders")
    ingest.add_argument(
        "--fhir",
        action="append",
        default=[],
        metavar="BUNDLE",
        help="a FHIR R4 Bundle (JSON) of one patient: its notes and request go into one case (repeatable)",
    )
    ingest.add_argument(
        "--case",
        metavar="CASE_ID",
        help="the case a --fhir bundle goes to (default: derived from its Patient id)",
    )
    ingest.add_argument(
        "--password", action="append", default=[], help="password for encrypted PDFs (repeatable)"
    )
    ingest.add_argument("--kind", choices=KINDS, help="kind of documents whose metadata does not name one")
    ingest.add_argument("--rebuild", action="store_true", help="drop the store and re-embed all")
    ingest.add_argument("--format", choices=["text", "json"], default="text", help="output format")
    ingest.add_argument("--quiet", action="store_true", help="no progress bar")

    status = sub.add_parser("status", parents=[common], help="what the store holds")
    status.add_argument("--format", choices=["text", "json"], default="text", help="output format")
    status.add_argument(
        "--verify",
        action="store_true",
        help="count every document's chunks in the store against the manifest (exit 3 on a problem)",
    )

    repair = sub.add_parser(
        "repair", parents=[common], help="fix what `status --verify` finds: remove and re-ingest"
    )
    repair.add_argument(
        "--password", action="append", default=[], help="password for encrypted PDFs (repeatable)"
    )
    repair.add_argument("--format", choices=["text", "json"], default="text", help="output format")
    repair.add_argument("--quiet", action="store_true", help="no progress bar")
    return {"ingest": _ingest, "status": _status, "repair": _repair}


def _ingest(args, settings, out: Console, err: Console) -> int:
    from rag.components import build_indexer
    from rag.errors import ConfigError

    if not args.paths and not args.fhir:
        raise ConfigError("nothing to ingest: name files or folders, or a bundle with --fhir BUNDLE")
    if args.case and not args.fhir:
        raise ConfigError("--case goes with --fhir: a file's case comes from its front matter")
    from ingest.fhir import ingest_with_bundles

    indexer = build_indexer(settings)
    with _progress(err, quiet=args.quiet or args.format == "json") as hooks:
        report, prepared = ingest_with_bundles(
            indexer,
            args.paths,
            args.fhir,
            args.case,
            passwords=args.password,
            rebuild=args.rebuild,
            progress=hooks,
        )
    if args.format != "json":
        for bundle, case in prepared.cases.items():
            err.print(f"FHIR bundle {bundle} -> case {case}", highlight=False)
        for bundle, warning in prepared.warnings:
            err.print(f"[yellow]warning[/] {bundle}: {warning}", highlight=False)
    _show(report, args.format, out, err)
    return EXIT_PARTIAL if report.failed else EXIT_OK


def _repair(args, settings, out: Console, err: Console) -> int:
    from ingest.integrity import verify
    from rag.components import build_indexer

    indexer = build_indexer(settings)
    with _progress(err, quiet=args.quiet or args.format == "json") as hooks:
        report = indexer.repair(passwords=args.password, progress=hooks)
    left = verify(indexer.store).problems
    if args.format == "json":
        out.print_json(json.dumps({**report.to_dict(), "problems_left": [p.message for p in left]}))
    else:
        _show(report, args.format, out, err)
        for problem in left:
            err.print(f"[red]PROBLEM[/] {problem.message}", highlight=False)
        if not report.recovered and not report.adopted and not left:
            out.print("nothing to repair: every document's chunks are in the store", highlight=False)
    return EXIT_PARTIAL if report.failed or left else EXIT_OK


def _show(report: IngestReport, fmt: str, out: Console, err: Console) -> None:
    if fmt == "json":
        out.print_json(json.dumps(report.to_dict()))
        return
    if report.adopted:
        n = report.adopted
        err.print(
            f"recorded {n} document{'s' * (n != 1)} already whole in the store in its manifest "
            "(a store written before meddraft kept one, or written behind its back)",
            highlight=False,
        )
    for line in report.recovered:
        err.print(f"[yellow]recovered[/] {line}", highlight=False)
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
    if failures := report.failures():
        err.print(failures, highlight=False)


class _progress:
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


def _status(args, settings, out: Console, err: Console) -> int:
    from ingest.integrity import store_status
    from rag.components import build_embedder, build_store

    store = build_store(settings)
    store.check_model(build_embedder(settings, store).name)  # names the variant; loads no model
    status = store_status(store, check=args.verify)
    problems = status.problems or []
    if args.format == "json":
        out.print_json(json.dumps(status.to_dict(), default=str))
        return EXIT_PARTIAL if problems else EXIT_OK
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
    if status.writer:
        err.print(f"an ingest or repair (pid {status.writer}) is writing to the store now: counts may change")
    if not status.manifest:
        err.print(
            "this store has no manifest yet (it was written by an older meddraft): the counts come "
            "from chunk metadata; run `meddraft repair` to check every document and record it"
        )
    elif not status.consistent and status.problems is None:
        err.print(
            f"the store holds {status.chunks} chunks but its complete documents add up to "
            f"{status.expected_chunks}{_incomplete(status.incomplete)}: run `meddraft status --verify`"
        )
    if status.problems is not None:
        for problem in problems:
            err.print(f"[red]PROBLEM[/] {problem}", highlight=False)
        if problems:
            n = len(problems)
            err.print(f"{n} document{'s' * (n != 1)} with problems: run `meddraft repair` to fix them")
        elif status.manifest:
            out.print("verified: every document's chunks are in the store, as the manifest lists them")
        else:
            out.print("verified: every document's chunks are in the store, by their own metadata")
    if not status.documents and not status.chunks:
        err.print("the store is empty: run `meddraft ingest PATH`")
    return EXIT_PARTIAL if problems else EXIT_OK


def _incomplete(n: int) -> str:
    if not n:
        return ""
    return f", and {n} document{'s were' if n != 1 else ' was'} left incomplete by an interrupted ingest"
