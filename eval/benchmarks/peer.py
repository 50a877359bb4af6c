"""meddraft against the pipeline a user would write in ten lines of LangChain, in the same run.

The peer: `RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=100)`, the same bundled
all-MiniLM-L6-v2 through sentence-transformers behind LangChain's `Embeddings` interface, and
`langchain_chroma.Chroma` (telemetry off) searched with `as_retriever(k=10)`. meddraft: a fresh
store through the real pipeline, as `meddraft eval retrieval --dataset scifact` builds it. Both on
SciFact (300 dev claims), one after the other; absolute times drift on a shared machine, so
meddraft's figures are printed as ratios to the peer's and recorded (group "peer").

`langchain-huggingface` (`HuggingFaceEmbeddings`) is not used: it requires huggingface-hub<2, and
installing it would downgrade the hub our transformers and sentence-transformers run on. Its
`embed_documents` is `SentenceTransformer(model).encode(texts).tolist()`, which `MiniLM` below is.

    python -m eval.benchmarks.peer                     # full corpus (about 20 min on 2 cores)
    python -m eval.benchmarks.peer --limit-docs 500    # judged docs plus others up to 500
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from eval.beir import BeirData, scifact_beir, shared_data_dir
from eval.benchmarks.figures import Figure, record
from eval.ranking import first_occurrences, score_runs
from eval.retrieval import evaluate, rankings, store_ids
from ingest.embedding import bundled_model_dir
from rag import MeddraftError, Retriever, Settings, build_indexer, load_settings

K = 10


def subset(data: BeirData, n: int | None) -> BeirData:
    """Every judged document plus the first others, `n` in all (never fewer than the judged)."""
    if n is None:
        return data
    if n < 1:
        raise MeddraftError(f"--limit-docs must be at least 1, not {n}")
    judged = {d for q in data.judged_queries() for d, g in data.qrels[q].items() if g > 0}
    keep = [d for d in data.corpus if d in judged]
    keep += [d for d in data.corpus if d not in judged][: max(0, n - len(keep))]
    return BeirData(
        corpus={d: data.corpus[d] for d in keep},
        queries=data.queries,
        qrels=data.qrels,
        name=data.name,
        notes=[*data.notes, f"corpus limited to {len(keep)} documents (all judged ones kept)"],
    )


def _percentiles(seconds: Sequence[float]) -> tuple[float, float]:
    ms = sorted(1000 * s for s in seconds)
    return statistics.median(ms), ms[min(len(ms) - 1, round(0.95 * (len(ms) - 1)))]


# --- the peer -------------------------------------------------------------------------------------


def run_peer(data: BeirData, folder: Path, model_dir: Path) -> dict[str, Any]:
    """The naive LangChain pipeline: split, embed, Chroma, dense top 10; scored like BEIR."""
    import chromadb
    from langchain_chroma import Chroma
    from langchain_core.documents import Document
    from langchain_core.embeddings import Embeddings
    from langchain_text_splitters import RecursiveCharacterTextSplitter
    from sentence_transformers import SentenceTransformer

    class MiniLM(Embeddings):  # what langchain_huggingface.HuggingFaceEmbeddings does
        def __init__(self, path: str) -> None:
            self.model = SentenceTransformer(path, device="cpu")

        def embed_documents(self, texts: list[str]) -> list[list[float]]:
            return self.model.encode(texts).tolist()

        def embed_query(self, text: str) -> list[float]:
            return self.embed_documents([text])[0]

    started = time.perf_counter()
    embeddings = MiniLM(str(model_dir))
    client = chromadb.Settings(anonymized_telemetry=False)
    reused = (folder / "chroma.sqlite3").exists()
    if reused:
        db = Chroma("peer", embeddings, persist_directory=str(folder), client_settings=client)
    else:
        docs = [
            Document(page_content=f"{d.title}\n\n{d.text}".strip(), metadata={"doc_id": doc_id})
            for doc_id, d in data.corpus.items()
        ]
        splitter = RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=100)
        chunks = splitter.split_documents(docs)
        db = Chroma.from_documents(
            chunks, embeddings, collection_name="peer", persist_directory=str(folder), client_settings=client
        )
    ingest_seconds = time.perf_counter() - started
    retriever = db.as_retriever(search_kwargs={"k": K})
    judged = data.judged_queries()
    retriever.invoke(data.queries[judged[0]])  # warm
    runs, latency = {}, []
    for query_id in judged:
        t0 = time.perf_counter()
        found = retriever.invoke(data.queries[query_id])
        latency.append(time.perf_counter() - t0)
        runs[query_id] = first_occurrences(doc.metadata["doc_id"] for doc in found)
    p50, p95 = _percentiles(latency)
    return {
        "ingest_seconds": None if reused else ingest_seconds,
        "chunks": db._collection.count(),
        "dense": score_runs(runs, data.qrels, [K])[f"ndcg@{K}"],
        "hybrid": None,
        "p50_ms": p50,
        "p95_ms": p95,
        "runs": runs,
    }


# --- meddraft -------------------------------------------------------------------------------------


def _settings(base: Settings, folder: Path) -> Settings:
    settings = base.model_copy(deep=True)
    settings.store = settings.store.model_copy(update={"path": folder, "host": None})
    return settings


def run_meddraft(data: BeirData, folder: Path, settings: Settings) -> dict[str, Any]:
    """A store through the real pipeline (`evaluate`), then warm `Retriever.search` latency."""
    settings = _settings(settings, folder)
    reused = folder.exists()
    result = evaluate(data, settings, k_values=[K])
    indexer = build_indexer(settings)
    retriever = Retriever(indexer.store, indexer.embedder)
    judged = data.judged_queries()
    retriever.search(data.queries[judged[0]], k=K)  # warm: model loaded, BM25 index built
    to_beir, runs, latency = store_ids(data), {}, []
    for query_id in judged:
        t0 = time.perf_counter()
        hits = retriever.search(data.queries[query_id], k=K)
        latency.append(time.perf_counter() - t0)
        runs[query_id] = rankings(hits, to_beir)["hybrid"]
    p50, p95 = _percentiles(latency)
    return {
        "ingest_seconds": None if reused else result["ingest_seconds"],
        "chunks": indexer.store.count(),
        "dense": result["dense"][f"ndcg@{K}"],
        "hybrid": result["hybrid"][f"ndcg@{K}"],
        "p50_ms": p50,
        "p95_ms": p95,
        "runs": runs,
    }


# --- table and figures ----------------------------------------------------------------------------

ROWS = (
    ("ingest", "ingest_seconds", "s"),
    ("chunks", "chunks", ""),
    ("nDCG@10 dense", "dense", ""),
    ("nDCG@10 hybrid", "hybrid", ""),
    ("query p50 (warm)", "p50_ms", "ms"),
    ("query p95 (warm)", "p95_ms", "ms"),
)


def _ratio(ours: Any, theirs: Any) -> float | None:
    return ours / theirs if ours is not None and theirs else None


def table(peer: dict[str, Any], ours: dict[str, Any]) -> list[str]:
    """One row per figure: peer, meddraft, meddraft/peer (nDCG hybrid against the peer's dense)."""

    def shown(value: Any, key: str) -> str:
        if value is None:
            return "-"
        return f"{value:.4f}" if key in ("dense", "hybrid") else f"{value:,.1f}"

    lines = [f"{'figure':<22} {'peer':>10} {'meddraft':>10} {'meddraft/peer':>14}"]
    for label, key, unit in ROWS:
        theirs = peer["dense"] if key == "hybrid" else peer[key]
        ratio = _ratio(ours[key], theirs)
        name = f"{label} ({unit})" if unit else label
        lines.append(
            f"{name:<22} {shown(peer[key], key):>10} {shown(ours[key], key):>10} "
            f"{'-' if ratio is None else f'{ratio:.2f}x':>14}"
        )
    return lines


def figures(peer: dict[str, Any], ours: dict[str, Any], docs: int) -> list[Figure]:
    """The issue-16 goals: ingest at least 4x faster than the peer, hybrid nDCG@10 above it."""
    on = f"SciFact, {docs} docs"
    out = []
    if ours["ingest_seconds"] is not None and peer["ingest_seconds"] is not None:
        speedup = peer["ingest_seconds"] / ours["ingest_seconds"]
        out += [
            Figure(f"peer ingest ({on})", round(peer["ingest_seconds"], 1), "s"),
            Figure(f"meddraft ingest ({on})", round(ours["ingest_seconds"], 1), "s"),
            Figure(
                "ingest speed-up over the peer",
                round(speedup, 2),
                "x",
                goal=">= 4x",
                met=speedup >= 4,
                note="" if speedup >= 4 else "same model and machine, one after the other; see README",
            ),
        ]
    better = ours["hybrid"] > peer["dense"]
    out += [
        Figure(f"peer nDCG@10 dense ({on})", round(peer["dense"], 4)),
        Figure(f"meddraft nDCG@10 dense ({on})", round(ours["dense"], 4)),
        Figure(
            f"meddraft nDCG@10 hybrid ({on})",
            round(ours["hybrid"], 4),
            goal="> peer dense",
            met=better,
            note=f"peer {peer['dense']:.4f}" + ("" if better else "; hybrid does not beat the peer here"),
        ),
        Figure("chunks meddraft/peer", round(ours["chunks"] / peer["chunks"], 2), "x"),
        Figure(
            "query p50 meddraft/peer (warm)",
            round(ours["p50_ms"] / peer["p50_ms"], 2),
            "x",
            note=f"{ours['p50_ms']:.1f} vs {peer['p50_ms']:.1f} ms; meddraft also runs BM25 and fusion",
        ),
        Figure("query p95 meddraft/peer (warm)", round(ours["p95_ms"] / peer["p95_ms"], 2), "x"),
    ]
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m eval.benchmarks.peer", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--data", type=Path, help="the SciFact folder (default: shared data)")
    parser.add_argument("--limit-docs", type=int, metavar="N", help="judged docs plus others, N in all")
    parser.add_argument("--limit-queries", type=int, metavar="N", help="only the first N judged claims")
    parser.add_argument("--reuse", type=Path, metavar="DIR", help="keep stores in DIR/peer, DIR/meddraft")
    parser.add_argument("--no-record", action="store_true", help="print only; reports/bench untouched")
    args = parser.parse_args(argv)
    folder = args.data or shared_data_dir() / "scifact"
    if not folder.is_dir():
        print(f"SciFact not found at {folder}: set MEDDRAFT_SHARED_DATA or give --data", file=sys.stderr)
        return 2
    work = args.reuse or Path(tempfile.mkdtemp(prefix="meddraft-peer-"))
    try:
        data = subset(scifact_beir(folder).limit(args.limit_queries), args.limit_docs)
        settings = load_settings()
        print(f"SciFact: {len(data.corpus)} docs, {len(data.judged_queries())} queries; stores in {work}")
        peer = run_peer(data, work / "peer", bundled_model_dir(settings.embedding.cache_dir))
        ours = run_meddraft(data, work / "meddraft", settings)
    except MeddraftError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    finally:
        if not args.reuse:
            shutil.rmtree(work, ignore_errors=True)
    print("\n".join(table(peer, ours)))
    if not args.no_record:
        print(f"recorded in {record('peer', figures(peer, ours, len(data.corpus)))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
