"""Retrieval benchmarks in BEIR format through the product's own ingestion and retrieval.

The corpus is written as Markdown files with front matter, ingested by `Indexer.ingest` (so a
second run re-embeds nothing), and every query goes through `Retriever.search` once; its hits give
three document rankings: dense, BM25 and the fused hybrid order. A document's rank is that of its
best chunk.

    meddraft eval retrieval --dataset scifact
    meddraft eval retrieval --corpus corpus.jsonl --queries queries.jsonl --qrels qrels/test.tsv --format json
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from eval.beir import BeirData, load_beir, pubmedqa_beir, scifact_beir, shared_data_dir, write_beir
from eval.options import add_format_args, output_format
from eval.ranking import first_occurrences, ndcg_at_k, recall_at_k, reciprocal_rank, score_runs
from ingest.config import StoreSettings
from ingest.pipeline import Progress as Hooks
from ingest.store import Store
from rag import Hit, MeddraftError, Settings, build_indexer

__all__ = [
    "BeirData",
    "add_arguments",
    "evaluate",
    "load_beir",
    "materialise",
    "ndcg_at_k",
    "pubmedqa_beir",
    "recall_at_k",
    "reciprocal_rank",
    "run",
    "scifact_beir",
    "write_beir",
]

MODES = ("dense", "bm25", "hybrid")
CORPUS_FOLDER = "beir-corpus"  # under the store folder: a stable path, so re-ingest is a no-op
ID_PREFIX = "beir-"

# --- rankings from hits ---------------------------------------------------------------------------


def rankings(hits: Sequence[Hit], to_beir: Mapping[str, str]) -> dict[str, list[str]]:
    """Dense, BM25 and hybrid document rankings from one fused hit list."""
    dense = sorted((h for h in hits if h.dense_rank is not None), key=lambda h: h.dense_rank or 0)
    bm25 = sorted((h for h in hits if h.bm25_rank is not None), key=lambda h: h.bm25_rank or 0)
    ordered = {"dense": dense, "bm25": bm25, "hybrid": list(hits)}
    return {
        mode: first_occurrences(to_beir.get(h.doc_id, h.doc_id) for h in hs) for mode, hs in ordered.items()
    }


# --- corpus as files ------------------------------------------------------------------------------


def safe_id(beir_id: str) -> str:
    """File stem and id suffix for a BEIR id; lossy mappings get a hash so ids never collide."""
    slug = re.sub(r"[^a-z0-9._-]+", "-", beir_id.lower()).strip("-._")
    if slug == beir_id and len(slug) <= 100:
        return slug
    digest = hashlib.sha1(beir_id.encode()).hexdigest()[:10]
    return f"{slug[:100]}-{digest}".lstrip("-")


def store_ids(data: BeirData) -> dict[str, str]:
    """Store document id -> BEIR `_id`, for every document `materialise` writes."""
    out: dict[str, str] = {}
    for beir_id, doc in data.corpus.items():
        if not (doc.text or doc.title):
            continue
        key = ID_PREFIX + safe_id(beir_id)
        if key in out:
            raise MeddraftError(f"BEIR ids {out[key]!r} and {beir_id!r} map to the same id {key!r}")
        out[key] = beir_id
    return out


def _markdown(store_id: str, title: str, text: str) -> str:
    meta: dict[str, str] = {"id": store_id, "kind": "study"}
    if title:
        meta["title"] = title
    front = yaml.safe_dump(meta, sort_keys=False, allow_unicode=True, width=1_000_000)
    return f"---\n{front}---\n\n{text or title}\n"


def materialise(data: BeirData, folder: Path | str) -> Path:
    """Write each document as `<folder>/<safe id>.md`; unchanged files are not touched.

    Markdown files of documents no longer in `data` are deleted, so ingesting the folder removes
    them from the store too. Documents without text or title are left out.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    wanted: set[str] = set()
    for store_id, beir_id in store_ids(data).items():
        doc = data.corpus[beir_id]
        path = folder / f"{store_id.removeprefix(ID_PREFIX)}.md"
        wanted.add(path.name)
        content = _markdown(store_id, doc.title, doc.text).encode("utf-8")
        if not path.is_file() or path.read_bytes() != content:
            path.write_bytes(content)
    for stale in folder.glob("*.md"):
        if stale.name not in wanted:
            stale.unlink()
    return folder


# --- evaluation -----------------------------------------------------------------------------------


def _check_dedicated(store: Store, folder: Path) -> None:
    root = folder.resolve()
    foreign = [r.doc_id for r in store.documents().values() if not Path(r.source_path).is_relative_to(root)]
    if foreign:
        raise MeddraftError(
            f"the store at {store.location} holds {len(foreign)} documents that are not part of the "
            f"benchmark (e.g. {foreign[0]}): give the benchmark its own store with --store DIR"
        )


def evaluate(
    data: BeirData,
    settings: Settings,
    *,
    k_values: Sequence[int] = (10, 100),
    candidates: int = 100,
    progress: Hooks | None = None,
    on_query: Callable[[int, int], None] | None = None,
    folder: Path | str | None = None,
    embedder: Any = None,
) -> dict[str, Any]:
    """Ingest `data` into the store of `settings` and score dense, BM25 and hybrid retrieval.

    `folder` (default `<store>/beir-corpus`) holds the corpus as Markdown; `on_query(done, total)`
    reports search progress; `embedder` replaces the one built from settings (tests).
    """
    started = time.perf_counter()
    judged = data.judged_queries()
    if not judged:
        raise MeddraftError("no query has a relevant document in the qrels: nothing to score")
    folder = Path(folder) if folder else Path(settings.store.path) / CORPUS_FOLDER
    to_beir = store_ids(data)
    indexer = build_indexer(settings, embedder=embedder)
    _check_dedicated(indexer.store, folder)
    report = indexer.ingest([materialise(data, folder)], progress=progress)
    ingest_seconds = time.perf_counter() - started

    from rag import build_retriever  # the retriever loads here, not when `meddraft` registers this command

    retriever = build_retriever(settings, indexer.store, indexer.embedder)
    runs: dict[str, dict[str, list[str]]] = {mode: {} for mode in MODES}
    searched = time.perf_counter()
    for done, query_id in enumerate(judged, 1):
        hits = retriever.search(data.queries[query_id], k=2 * candidates, candidates=candidates)
        for mode, ranking in rankings(hits, to_beir).items():
            runs[mode][query_id] = ranking
        if on_query:
            on_query(done, len(judged))
    search_seconds = time.perf_counter() - searched

    counts = report.to_dict()
    result: dict[str, Any] = {mode: score_runs(runs[mode], data.qrels, k_values) for mode in MODES}
    result.update(
        dataset=data.name,
        queries=len(judged),
        docs=sum(counts["counts"][s] for s in ("added", "updated", "unchanged")),
        corpus_docs=len(data.corpus),
        candidates=candidates,
        mean_ranked_docs={m: round(sum(map(len, runs[m].values())) / len(judged), 1) for m in MODES},
        seconds=round(time.perf_counter() - started, 2),
        ingest_seconds=round(ingest_seconds, 2),
        ms_per_query=round(1000 * search_seconds / len(judged), 1),
        ingest={
            **{k: counts[k] for k in ("counts", "chunks_embedded", "tokens_embedded", "seconds")},
            "failed": [f"{o.path.name}: {o.reason}" for o in report.failed[:10]],
        },
        store=indexer.store.location,
        embedding_model=indexer.embedder.name,
        settings_hash=settings.hash(),
        notes=data.notes,
    )
    return result


# --- command line ---------------------------------------------------------------------------------

DATASETS: dict[str, Callable[[Path], BeirData]] = {
    "scifact": lambda shared: scifact_beir(shared / "scifact"),
    "pubmedqa": lambda shared: pubmedqa_beir(shared / "pubmedqa" / "pqal_dev.json"),
}


CURVE_K = (1, 3, 5, 10, 20, 50, 100)  # recall@k curve points; nDCG@10 and recall@10/100 among them


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--corpus", metavar="C", help="BEIR corpus.jsonl ({_id, title, text})")
    parser.add_argument("--queries", metavar="Q", help="BEIR queries.jsonl ({_id, text})")
    parser.add_argument("--qrels", metavar="R", help="BEIR qrels TSV (query-id corpus-id score)")
    parser.add_argument(
        "--dataset", choices=sorted(DATASETS), help="build the BEIR files from the shared data instead"
    )
    parser.add_argument("--limit", type=int, metavar="N", help="only the first N judged queries")
    parser.add_argument("--candidates", type=int, default=100, help="dense and BM25 chunks per query")
    add_format_args(parser)
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    parser.add_argument("--report", metavar="DIR", help="write retrieval.json and report.html (curves)")
    parser.add_argument(
        "--check",
        action="store_true",
        help="exit 1 below the [retrieval.NAME] floors in eval/thresholds.toml",
    )


def _bench_settings(settings: Settings, name: str) -> Settings:
    """The configured store, unless it is the default one: then `<tmp>/meddraft-bench-<name>`."""
    if settings.store.host or Path(settings.store.path) != StoreSettings().path:
        return settings
    bench = settings.model_copy(deep=True)
    bench.store = bench.store.model_copy(
        update={"path": Path(tempfile.gettempdir()) / f"meddraft-bench-{name}"}
    )
    return bench


def load_from_args(args: argparse.Namespace, settings: Settings) -> tuple[BeirData, Settings]:
    files = [getattr(args, key, None) for key in ("corpus", "queries", "qrels")]
    if args.dataset:
        if any(files):
            raise MeddraftError("give either --dataset or --corpus/--queries/--qrels, not both")
        settings = _bench_settings(settings, args.dataset)
        shared = shared_data_dir()
        if not shared.is_dir():
            raise MeddraftError(f"shared data not found at {shared}: set MEDDRAFT_SHARED_DATA")
        paths = write_beir(DATASETS[args.dataset](shared), Path(settings.store.path) / "beir-files")
        data = load_beir(*paths)
        data.name = args.dataset
    elif all(files):
        data = load_beir(*files)
        settings = _bench_settings(
            settings, re.sub(r"[^a-z0-9]+", "-", data.name.lower()).strip("-") or "beir"
        )
    else:
        raise MeddraftError("give --dataset scifact|pubmedqa, or all of --corpus, --queries and --qrels")
    return data.limit(args.limit), settings


def run(args: argparse.Namespace, settings: Settings, out: Console) -> int:
    data, settings = load_from_args(args, settings)
    err = Console(stderr=True)
    bar = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
        disable=args.quiet,
    )
    with bar:
        files, chunks = bar.add_task("files", total=None), bar.add_task("chunks embedded", total=0)
        queries = bar.add_task("queries", total=None)
        hooks = Hooks(
            files=lambda total: bar.update(files, total=total),
            file_done=lambda outcome: bar.advance(files) if outcome.status != "removed" else None,
            chunks=lambda n: bar.update(chunks, total=(bar.tasks[chunks].total or 0) + n),
            embedded=lambda n: bar.advance(chunks, n),
        )
        result = evaluate(
            data,
            settings,
            k_values=CURVE_K,
            candidates=args.candidates,
            progress=hooks,
            on_query=lambda done, total: bar.update(queries, completed=done, total=total),
        )
    if output_format(args) == "json":
        out.print_json(json.dumps(result))
    else:
        print_table(result, out)
    if getattr(args, "report", None):
        from eval.report import write_retrieval_report

        err.print(f"report written to {write_retrieval_report(result, args.report)}")
    if getattr(args, "check", False):
        from eval.harness import retrieval_gate

        failures = retrieval_gate(result, data.name)
        for failure in failures:
            err.print(f"[red]GATE[/] {failure}", highlight=False)
        err.print("retrieval gate: PASS" if not failures else f"retrieval gate: FAIL ({len(failures)})")
        return 1 if failures else 0
    return 0


def print_table(result: Mapping[str, Any], out: Console) -> None:
    metrics = [m for m in ("ndcg@10", "recall@10", "recall@100", "mrr") if m in result["hybrid"]]
    table = Table(title=f"{result['dataset']}: {result['queries']} queries, {result['docs']} documents")
    table.add_column("mode")
    for name in metrics:
        table.add_column(name, justify="right")
    for mode in MODES:
        table.add_row(mode, *(f"{result[mode][name]:.4f}" for name in metrics))
    out.print(table)
    ingest = result["ingest"]
    out.print(
        f"ingest: {ingest['chunks_embedded']} chunks embedded, {ingest['counts']['unchanged']} documents "
        f"unchanged, {ingest['counts']['failed']} failed; total {result['seconds']} s "
        f"({result['ms_per_query']} ms a query); store {result['store']}",
        highlight=False,
    )
