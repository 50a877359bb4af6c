"""`meddraft search`: hybrid retrieval from the command line, to see what a query finds."""

from __future__ import annotations

import argparse
import json

from rich.console import Console
from rich.text import Text

from ingest.documents import KINDS
from rag.settings import Settings
from rag.text import shorten
from rag.types import Hit

SNIPPET_CHARS = 200


def add_parser(subparsers, common: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Register `search "QUERY" [--case ID] [--kind KIND ...] [--k N] [--format text|json]`."""
    search = subparsers.add_parser(
        "search", parents=[common], help="hybrid search of the store (dense + BM25)"
    )
    search.add_argument("query", metavar="QUERY", help="what to look for")
    search.add_argument("--case", dest="case_id", metavar="CASE_ID", help="also search this case's notes")
    search.add_argument(  # dest "kinds": `kind` is ingest's default-kind setting in rag.cli
        "--kind",
        dest="kinds",
        action="append",
        choices=KINDS,
        metavar="KIND",
        help=f"only these kinds (repeatable): {', '.join(KINDS)}",
    )
    search.add_argument(
        "-k", "--top-k", "--k", dest="k", type=int, default=10, metavar="N", help="results (default 10)"
    )
    search.add_argument("--format", choices=["text", "json"], default="text", help="output format")
    return search


def run(args: argparse.Namespace, settings: Settings, out: Console, err: Console) -> int:
    from rag.components import build_retriever

    retriever = build_retriever(settings)
    hits = retriever.search(args.query, case_id=args.case_id, kinds=args.kinds, k=args.k)
    if args.format == "json":
        out.print_json(json.dumps([h.model_dump(mode="json") for h in hits]))
        return 0
    if not hits:
        err.print("no results: try other words, another --kind, or --case", highlight=False)
        return 0
    for line in hit_lines(hits):
        out.print(line, highlight=False)
    return 0


def snippet(text: str, limit: int = SNIPPET_CHARS) -> str:
    return shorten(text, limit)


def hit_lines(hits: list[Hit]) -> list[Text]:
    """Two lines a hit: rank, fused score, the two ranks, doc, kind, locator; then a snippet."""
    lines = []
    for n, hit in enumerate(hits, 1):
        kind = hit.kind + (f" ({hit.case_id})" if hit.case_id else "")
        head = Text.assemble(
            f"{n:>3}. {hit.score:.4f}  dense {hit.dense_rank or '-':>3}  bm25 {hit.bm25_rank or '-':>3}  ",
            (hit.doc_id, "bold"),
            f"  {kind}  {hit.locator or '-'}",
        )
        lines += [head, Text(f"     {snippet(hit.text)}", style="dim")]
    return lines
