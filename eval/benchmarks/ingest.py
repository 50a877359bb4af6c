"""Ingestion benchmark: wall time, chunks/s, tokens/s and peak memory on real files, against the
model's own ceiling on this CPU.

    python -m eval.benchmarks.ingest corpus/
    python -m eval.benchmarks.ingest ../shared/data/pdfs/medical_text/who_selection_*.pdf
    python -m eval.benchmarks.ingest --scifact ../shared/data/scifact --who PDF --record corpus/

Each run uses a fresh temporary store (cold) and then re-ingests (warm: nothing to do), in a
child process of its own so its peak RSS is its own. The ceiling is the bare model (onnxruntime
on pre-tokenised texts as the embedder runs them: fp32 in length-sorted batches, int8 one text per
call) on a sample of SciFact abstracts (or of the files' chunks), measured in the same run; each
ingest is compared with the ceiling of the model it ran (int8 for a new store by default).
Prints one JSON object; `--record` also writes the figures with their goals (group "ingest",
`eval.benchmarks.figures`).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import resource
import sys
import tempfile
import time
from pathlib import Path

from eval.beir import scifact_beir
from eval.benchmarks.figures import Figure, record
from eval.retrieval import materialise
from ingest.embedding import split_variant
from rag import build_indexer, load_settings

SAMPLE = 256  # texts for the ceiling
GOALS = {"scifact": 60.0, "who": 120.0}
RSS_GOAL_MB = 1536.0


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run(paths: list[str], store: Path) -> dict:
    settings = load_settings(overrides={"store.path": str(store)})
    indexer = build_indexer(settings)
    started = time.perf_counter()
    indexer.embedder.dimension  # noqa: B018 - load the model outside the measured ingest
    load_seconds = time.perf_counter() - started
    cold = indexer.ingest(paths)
    warm = indexer.ingest(paths)
    page_ends = [c.metadata.get("page_end", 0) for c in indexer.store.get()]
    pages = max(page_ends) if page_ends else 0
    return {
        "paths": paths,
        "model": indexer.embedder.name,
        "files": len(cold.outcomes),
        "failed": len(cold.failed),
        "max_page": pages,
        "model_load_s": round(load_seconds, 2),
        "cold_s": round(cold.seconds, 2),
        "chunks": cold.chunks_embedded,
        "tokens": cold.tokens_embedded,
        "chunks_per_s": round(cold.chunks_embedded / cold.seconds, 1),
        "tokens_per_s": round(cold.tokens_embedded / cold.seconds, 1),
        "warm_reingest_s": round(warm.seconds, 2),
        "warm_unchanged": warm.count("unchanged"),
        "peak_rss_mb": round(_peak_rss_mb(), 1),
    }


def _child(paths: list[str], out) -> None:
    with tempfile.TemporaryDirectory(prefix="meddraft-bench-") as tmp:
        out.put(run(paths, Path(tmp)))


def isolated(paths: list[str]) -> dict:
    """`run` in a fresh process (its own model load and peak RSS)."""
    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    child = ctx.Process(target=_child, args=(paths, out))
    child.start()
    result = out.get()
    child.join()
    return result


def ceiling(texts: list[str], quantize: str) -> dict:
    """Tokens/s of the bare model on pre-tokenised texts, batched as the embedder batches them."""
    with tempfile.TemporaryDirectory(prefix="meddraft-ceiling-") as tmp:
        overrides = {"store.path": tmp, "embedding.backend": "onnx", "embedding.quantize": quantize}
        embedder = build_indexer(load_settings(overrides=overrides)).embedder
        encodings = embedder.encode(texts)
        embedder.embed_encoded(encodings[:8])  # warm-up: session created, first run done
        started = time.perf_counter()
        embedder.embed_encoded(encodings)
        seconds = time.perf_counter() - started
    tokens = sum(len(e.ids) for e in encodings)
    rate = round(tokens / seconds, 1)
    return {"model": embedder.name, "texts": len(texts), "tokens": tokens, "tokens_per_s": rate}


def scifact_folder(source: Path, target: Path) -> Path:
    """All SciFact abstracts as Markdown files, as `meddraft eval retrieval` ingests them."""
    return materialise(scifact_beir(source), target)


def sample_texts(folder: Path, n: int = SAMPLE) -> list[str]:
    files = sorted(Path(folder).rglob("*.md"))[:n]
    return [f.read_text(encoding="utf-8") for f in files]


def own_ceiling(result: dict, ceilings: dict) -> tuple[str, float]:
    """The variant an ingest ran ('int8' or 'fp32') and that model's ceiling in tokens/s."""
    variant = split_variant(result["model"])[1]
    return ("fp32" if variant == "none" else variant), ceilings[variant]["tokens_per_s"]


def figures(results: dict, ceilings: dict) -> list[Figure]:
    out = [Figure(f"model ceiling {c['model']}", c["tokens_per_s"], "tokens/s") for c in ceilings.values()]
    for name, r in results.items():
        variant, top = own_ceiling(r, ceilings)
        goal = GOALS.get(name)
        note = f"{r['tokens_per_s'] / top:.0%} of the {variant} ceiling ({r['model']})"
        if goal is not None and r["cold_s"] > goal:
            note += f"; ceiling {top:,.0f} tokens/s × {r['tokens']:,} tokens = {r['tokens'] / top:.0f} s"
        out += [
            Figure(
                f"{name} ingest ({r['chunks']} chunks)",
                r["cold_s"],
                "s",
                goal=f"<= {goal:.0f} s" if goal else "",
                met=(r["cold_s"] <= goal) if goal else None,
                note=note,
            ),
            Figure(f"{name} chunks/s", r["chunks_per_s"], "chunks/s"),
            Figure(f"{name} tokens/s", r["tokens_per_s"], "tokens/s", note=note),
            Figure(
                f"{name} peak RSS",
                r["peak_rss_mb"],
                "MB",
                goal="<= 1536 MB",
                met=r["peak_rss_mb"] <= RSS_GOAL_MB,
            ),
        ]
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="*", help="files or folders (reported as 'files')")
    parser.add_argument("--scifact", type=Path, help="the SciFact folder: ingest all its abstracts")
    parser.add_argument("--who", type=Path, help="the WHO essential-medicines PDF")
    parser.add_argument("--record", action="store_true", help="write the figures (group 'ingest')")
    args = parser.parse_args(argv)
    if not (args.paths or args.scifact or args.who):
        parser.error("give files or folders, --scifact or --who")
    with tempfile.TemporaryDirectory(prefix="meddraft-bench-data-") as tmp:
        jobs: dict[str, list[str]] = {}
        if args.scifact:
            jobs["scifact"] = [str(scifact_folder(args.scifact, Path(tmp) / "scifact"))]
        if args.who:
            jobs["who"] = [str(args.who)]
        if args.paths:
            jobs["files"] = list(args.paths)
        sample = sample_texts(Path(jobs["scifact"][0])) if args.scifact else []
        results = {name: isolated(paths) for name, paths in jobs.items()}
    if not sample:
        sample = [c for p in args.paths for c in sample_texts(Path(p))][:SAMPLE] or ["text"] * 8
    ceilings = {q: ceiling(sample, q) for q in ("none", "int8")}
    for r in results.values():
        r["share_of_own_ceiling"] = round(r["tokens_per_s"] / own_ceiling(r, ceilings)[1], 3)
    print(json.dumps({"ceiling": ceilings, **results}, indent=2))
    if args.record:
        record("ingest", figures(results, ceilings))
    return 0


if __name__ == "__main__":
    sys.exit(main())
