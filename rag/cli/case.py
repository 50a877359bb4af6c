"""`meddraft case show CASE_ID`: the patient record as the engine reads it, each row cited."""

from __future__ import annotations

import argparse

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from rag.errors import CaseNotFoundError


def add_parsers(sub, common: argparse.ArgumentParser) -> dict:
    case = sub.add_parser("case", help="show what the engine reads in a case's documents")
    actions = case.add_subparsers(dest="case_command", required=True, metavar="ACTION")
    show = actions.add_parser("show", parents=[common], help="the extracted record, each row cited")
    show.add_argument("case_id", metavar="CASE_ID", help="the case id (see `meddraft status`)")
    show.add_argument("--question", default="", help="the request, to read drug and dose as assess does")
    show.add_argument("--format", choices=["text", "json"], default="text", help="output format")
    return {"case": _run}


def _run(args, settings, out: Console, err: Console) -> int:
    from rag.analysis.patient import extract_record
    from rag.components import build_store
    from rag.retrieval.passages import load_case

    store = build_store(settings)
    docs = load_case(store, args.case_id)
    if not docs:
        raise CaseNotFoundError(args.case_id, store.case_ids())
    record = extract_record(args.case_id, docs, args.question)
    if args.format == "json":
        out.print_json(record.model_dump_json())
        return 0
    out.print(
        f"case {record.case_id} · request: {record.drug or '?'} {record.dose} for {record.indication or '?'}"
        f" · age {record.age if record.age is not None else '?'} · weight "
        f"{record.weight_kg if record.weight_kg is not None else '?'} kg",
        highlight=False,
        markup=False,
    )
    table = Table(show_lines=False)
    for column in ("kind", "name", "value / outcome", "status", "date", "source", "quote"):
        table.add_column(column)
    for item in record.items:
        shown = " · ".join(x for x in (item.value, item.outcome) if x)
        when = item.date or ""
        if item.start or item.stop:
            when = f"{item.start or '?'} → {item.stop or '?'}"
        if item.duration_days:
            when += f" ({item.duration_days / 7:.0f} wk)"
        table.add_row(
            item.kind,
            escape(item.name),
            escape(shown),
            item.status,
            when,
            escape(item.doc_id),
            escape(item.quote),
        )
    out.print(table)
    return 0
