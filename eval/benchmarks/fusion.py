"""Tune how hybrid retrieval fuses its dense and BM25 halves, on a dev split only.

The grid is searched on SciFact's *train* claims (`claims_train.jsonl` with `qrels/train.tsv`)
over the SciFact corpus store; the chosen parameters are then scored once on the held-out SciFact
test split (the dev claims with `qrels/test.tsv`, what `meddraft eval retrieval --dataset scifact`
reports) and on PubMedQA. The test qrels are refused as a tuning split. Each query's two candidate
lists are fetched once through `Retriever.candidates` and cached (keyed by the store, its model,
the retriever's source and the queries), so a re-run after a change to either half only refetches
what changed, and the grid itself takes seconds.

    python -m eval.benchmarks.fusion --store .meddraft-bench-scifact-onnx-fp32 \\
        --pubmedqa-store .meddraft-bench-pubmedqa

It never writes the defaults: put the chosen values into `FusionSettings` (rag/retrieval/fusion.py).
"""

from __future__ import annotations

import argparse
import hashlib
import inspect
import itertools
import json
import sys
import time
from collections.abc import Iterable, Mapping
from pathlib import Path

from eval.beir import BeirData, pubmedqa_beir, read_qrels, scifact_beir, scifact_claims, shared_data_dir
from eval.benchmarks.figures import Figure, record
from eval.ranking import first_occurrences, ndcg_at_k
from eval.retrieval import store_ids
from rag import FusionSettings, MeddraftError, Retriever, Settings, build_embedder, build_store
from rag import fused_ranking as ranked

Lists = dict[
    str, list[list]
]  # query id -> {"dense": [[chunk, doc, distance]], "bm25": [[chunk, doc, score]]}


def dev_split(folder: Path, qrels: Path | None = None) -> BeirData:
    """SciFact's train claims with their qrels; refuses the test qrels or any query they judge."""
    folder = Path(folder)
    qrels = Path(qrels or folder / "qrels" / "train.tsv")
    test = folder / "qrels" / "test.tsv"
    if qrels.name == "test.tsv" or (test.is_file() and qrels.resolve() == test.resolve()):
        raise MeddraftError(f"{qrels} is the test split: tune on qrels/train.tsv, never on the test qrels")
    judged = read_qrels(qrels)
    held_out = set(read_qrels(test)) if test.is_file() else set()
    overlap = sorted(set(judged) & held_out)
    if overlap:
        raise MeddraftError(
            f"{qrels} judges {len(overlap)} queries of the test split (e.g. {overlap[0]}): "
            "a dev split must share no query with qrels/test.tsv"
        )
    base = scifact_beir(folder)
    queries = {str(o["id"]): str(o["claim"]).strip() for _, o in scifact_claims(folder, "train")}
    queries = {q: t for q, t in queries.items() if any(g > 0 for g in judged.get(q, {}).values())}
    return BeirData(corpus=base.corpus, queries=queries, qrels=judged, name="scifact-train")


# --- candidate lists, fetched once ------------------------------------------------------------------


def _doc(chunk, to_beir: Mapping[str, str]) -> str:
    doc_id = chunk.metadata.get("doc_id", "")
    return to_beir.get(doc_id, doc_id)


def candidate_lists(store_dir: Path, data: BeirData, n: int, cache: Path, refresh: bool = False) -> Lists:
    settings = Settings(store={"path": store_dir})
    store = build_store(settings)
    if store.count() == 0:
        raise MeddraftError(
            f"the store at {store_dir} is empty: build it with `meddraft eval retrieval --dataset "
            f"{data.name.split('-')[0]} --store {store_dir}`"
        )
    retriever = Retriever(store, build_embedder(settings, store))
    to_beir = store_ids(data)
    source = Path(inspect.getsourcefile(Retriever) or "").read_bytes()
    key = json.dumps([store.location, store.count(), settings.embedding.model_dump_json(), n], default=str)
    digest = hashlib.sha1(key.encode() + source + json.dumps(data.queries).encode()).hexdigest()[:16]
    path = cache / f"{data.name}-{digest}.json"
    if path.is_file() and not refresh:
        return json.loads(path.read_text(encoding="utf-8"))
    lists: Lists = {}
    for number, (query_id, text) in enumerate(data.queries.items(), 1):
        dense, lexical = retriever.candidates(text, n=n)
        lists[query_id] = {
            "dense": [[c.id, _doc(c, to_beir), c.distance] for c in dense],
            "bm25": [[c.id, _doc(c, to_beir), s] for c, s in lexical],
        }
        if number % 100 == 0:
            print(f"  {data.name}: {number}/{len(data.queries)} queries fetched", file=sys.stderr)
    cache.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(lists), encoding="utf-8")
    return lists


# --- scoring --------------------------------------------------------------------------------------


_PAIRS: dict[int, tuple] = {}


def _pairs(got: dict) -> tuple:
    # (chunk -> doc, dense pairs, BM25 pairs) of one query, built once per process
    key = id(got)
    if key not in _PAIRS:
        docs = {c: d for c, d, _ in got["dense"] + got["bm25"]}
        _PAIRS[key] = (got, docs, [(c, v) for c, _, v in got["dense"]], [(c, v) for c, _, v in got["bm25"]])
    return _PAIRS[key][1:]


def ndcg10(lists: Lists, qrels: Mapping[str, Mapping[str, int]], mode: str, params=None) -> float:
    """Mean nDCG@10 of `dense`, `bm25` or `hybrid` (fused with `params`) document rankings."""
    total = 0.0
    for query_id, got in lists.items():
        if mode == "hybrid":
            docs, dense, lexical = _pairs(got)
            order = [docs[c] for c, _ in ranked(dense, lexical, params)]
        else:
            order = [d for _, d, _ in got[mode]]
        total += ndcg_at_k(first_occurrences(order), qrels[query_id], 10)
    return total / len(lists) if lists else 0.0


def grid(depths: Iterable[int]) -> list[FusionSettings]:
    weights = [round(0.1 * i, 1) for i in range(11)]
    out = []
    for depth in depths:
        for w, k in itertools.product(weights, (1, 5, 10, 20, 60)):
            out.append(FusionSettings(method="rrf", w_dense=w, w_bm25=round(1 - w, 2), k=k, depth=depth))
        for method, w in itertools.product(("minmax", "dbsf"), weights):
            out.append(FusionSettings(method=method, w_dense=w, w_bm25=round(1 - w, 2), depth=depth))
    return out


def label(p: FusionSettings) -> str:
    k = f" k={p.k}" if p.method == "rrf" else ""
    return f"{p.method} w_dense={p.w_dense} w_bm25={p.w_bm25}{k} depth={p.depth}"


def tune(lists: Lists, qrels, depths: Iterable[int]) -> list[tuple[float, FusionSettings]]:
    """Every grid point with its dev nDCG@10, best first (ties keep the grid's order)."""
    scored = [(ndcg10(lists, qrels, "hybrid", p), i, p) for i, p in enumerate(grid(depths))]
    scored.sort(key=lambda s: (-s[0], s[1]))
    return [(score, p) for score, _, p in scored]


# --- command line ---------------------------------------------------------------------------------


def held_out(name: str, lists: Lists, qrels, chosen: FusionSettings, goal: float) -> list[Figure]:
    dense, bm25 = ndcg10(lists, qrels, "dense"), ndcg10(lists, qrels, "bm25")
    hybrid = ndcg10(lists, qrels, "hybrid", chosen)
    rrf60 = ndcg10(lists, qrels, "hybrid", FusionSettings(method="rrf", k=60))
    best = max(dense, bm25)
    print(f"{name}: dense {dense:.4f}  bm25 {bm25:.4f}  hybrid {hybrid:.4f}  (plain RRF k=60 {rrf60:.4f})")
    beats = hybrid >= best
    return [
        Figure(f"{name} nDCG@10 dense", round(dense, 4)),
        Figure(f"{name} nDCG@10 BM25", round(bm25, 4)),
        Figure(f"{name} nDCG@10 hybrid, plain RRF k=60 (before)", round(rrf60, 4)),
        Figure(
            f"{name} nDCG@10 hybrid (chosen fusion)",
            round(hybrid, 4),
            goal=f">= {goal} and >= max(dense, BM25) {best:.4f}",
            met=hybrid >= goal and beats,
            note=""
            if hybrid >= goal and beats
            else (
                f"{hybrid - best:+.4f} vs the better half"
                if not beats
                else f"{hybrid - goal:+.4f} vs the goal"
            ),
        ),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", type=Path, required=True, help="a complete SciFact store")
    parser.add_argument("--pubmedqa-store", type=Path, help="a complete PubMedQA store (held out)")
    parser.add_argument("--dev-qrels", type=Path, help="dev qrels (default SciFact qrels/train.tsv)")
    parser.add_argument("--candidates", type=int, default=100, help="candidates fetched per half")
    parser.add_argument("--cache", type=Path, default=Path("reports/fusion-cache"))
    parser.add_argument("--refresh", action="store_true", help="refetch the candidate lists")
    parser.add_argument("--top", type=int, default=12, help="grid rows to print")
    args = parser.parse_args(argv)
    try:
        return run(args)
    except MeddraftError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def run(args: argparse.Namespace) -> int:
    shared = shared_data_dir()
    dev = dev_split(shared / "scifact", args.dev_qrels)
    started = time.perf_counter()
    dev_lists = candidate_lists(args.store, dev, args.candidates, args.cache, args.refresh)
    fetched = time.perf_counter() - started
    depths = sorted({d for d in (20, 50) if d <= args.candidates} | {args.candidates})
    started = time.perf_counter()
    results = tune(dev_lists, dev.qrels, depths)
    seconds = time.perf_counter() - started
    print(f"grid: {len(results)} settings x {len(dev_lists)} SciFact train claims in {seconds:.1f} s")
    for score, params in results[: args.top]:
        print(f"  {score:.4f}  {label(params)}")
    dev_best, chosen = results[0]
    defaults = FusionSettings()
    print(f"chosen: {label(chosen)}\ndefaults: {label(defaults)}")
    print(
        f"dev: dense {ndcg10(dev_lists, dev.qrels, 'dense'):.4f}  bm25 "
        f"{ndcg10(dev_lists, dev.qrels, 'bm25'):.4f}  hybrid {dev_best:.4f}"
    )
    same = defaults == chosen
    figures = [
        Figure("SciFact train (dev) claims", len(dev_lists), "queries"),
        Figure("candidate lists fetched (0 when cached)", round(fetched, 1), "s"),
        Figure("grid search", round(seconds, 1), "s", note=f"{len(results)} settings"),
        Figure("chosen on dev", label(chosen)),
        Figure("dev nDCG@10 hybrid (chosen)", round(dev_best, 4)),
        Figure(
            "dev nDCG@10 hybrid (defaults)",
            round(ndcg10(dev_lists, dev.qrels, "hybrid", defaults), 4),
            goal="defaults = chosen",
            met=same,
            note="" if same else "put the chosen values into FusionSettings' defaults",
        ),
    ]
    test = scifact_beir(shared / "scifact")
    test_lists = candidate_lists(args.store, test, args.candidates, args.cache, args.refresh)
    figures += held_out("SciFact test", test_lists, test.qrels, chosen, 0.72)
    if args.pubmedqa_store:
        pubmed = pubmedqa_beir(shared / "pubmedqa" / "pqal_dev.json")
        pm_lists = candidate_lists(args.pubmedqa_store, pubmed, args.candidates, args.cache, args.refresh)
        figures += held_out("PubMedQA", pm_lists, pubmed.qrels, chosen, 0.99)
    print(f"recorded in {record('fusion', figures)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
