"""Patient-record extraction benchmark: time to read each case's record, and a warm `assess`.

    python -m eval.benchmarks.extraction --store .meddraft-eval [--store .meddraft-eval-styles ...]

For every case in each store: the seconds `patient_record` takes (what `meddraft case show` reads:
tables, mentions with ConText assertions, tests, values) and the seconds of a warm `assess` of the
case's gold question when a gold file names it. Prints one JSON object: per case and medians.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import yaml

from rag import assess, build_embedder, build_retriever, build_store, load_settings, patient_record

GOLD_FILES = [
    Path("eval/gold-styles/gold.yaml"),
    Path("../shared/data/realworld/gold.yaml"),
]


def _questions() -> dict[str, str]:
    questions: dict[str, str] = {}
    for path in GOLD_FILES:
        if path.is_file():
            for item in yaml.safe_load(path.read_text(encoding="utf-8")) or []:
                questions[item["case_id"]] = item["question"]
    for path in sorted(Path("eval/gold/cases").glob("*.yaml")):
        item = yaml.safe_load(path.read_text(encoding="utf-8"))
        questions[item["case_id"]] = item["question"]
    return questions


def run(store_path: str, questions: dict[str, str]) -> list[dict]:
    settings = load_settings(overrides={"store.path": store_path})
    store = build_store(settings)
    embedder = build_embedder(settings, store)
    retriever = build_retriever(settings, store, embedder)
    rows = []
    for case_id in sorted(store.case_ids()):
        question = questions.get(case_id, "")
        started = time.perf_counter()
        record = patient_record(case_id, settings, question, store=store)
        extract = time.perf_counter() - started
        row = {
            "store": store_path,
            "case": case_id,
            "items": len(record.items),
            "extract_s": round(extract, 3),
        }
        if question:
            assess(question, case_id, settings, store=store, embedder=embedder, retriever=retriever)  # warm
            started = time.perf_counter()
            assess(question, case_id, settings, store=store, embedder=embedder, retriever=retriever)
            row["assess_warm_s"] = round(time.perf_counter() - started, 3)
        rows.append(row)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", action="append", required=True, help="an ingested store (repeatable)")
    args = parser.parse_args(argv)
    questions = _questions()
    rows = [row for store in args.store for row in run(store, questions)]
    extract = [r["extract_s"] for r in rows]
    warm = [r["assess_warm_s"] for r in rows if "assess_warm_s" in r]
    summary = {
        "cases": len(rows),
        "extract_median_s": round(statistics.median(extract), 3) if extract else None,
        "extract_max_s": max(extract, default=None),
        "assess_warm_median_s": round(statistics.median(warm), 3) if warm else None,
        "rows": rows,
    }
    json.dump(summary, sys.stdout, indent=1)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
