"""Ingestion benchmark: wall time, chunks/s, tokens/s and peak memory on real files.

    python -m eval.benchmarks.ingest corpus/
    python -m eval.benchmarks.ingest ../shared/data/pdfs/medical_text/who_selection_*.pdf

Each run uses a fresh temporary store (cold) and then re-ingests (warm: nothing to do).
Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
from pathlib import Path

from rag import build_indexer, load_settings


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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="+")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="meddraft-bench-") as tmp:
        print(json.dumps(run(args.paths, Path(tmp)), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
