"""Ranking metrics as pure functions: nDCG@k with graded relevance, recall@k and MRR.

`ranking` is a list of document ids, best first; `qrels` maps document id -> relevance grade
(grades <= 0 are not relevant). nDCG follows BEIR, which computes it with trec_eval's `ndcg_cut`
(through pytrec_eval): the grade is the gain, discount log2(rank + 1), normalised by the ideal
ordering of the judged documents. The exponential gain 2^rel - 1 (Burges et al.) is an option;
on binary qrels both give the same number. Checked against ir-measures in tests/eval.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence


def dcg(gains: Sequence[float]) -> float:
    return sum(g / math.log2(i + 1) for i, g in enumerate(gains, 1))


def _gain(grade: int, exponential: bool) -> float:
    grade = max(grade, 0)
    return float(2**grade - 1) if exponential else float(grade)


def ndcg_at_k(
    ranking: Sequence[str], qrels: Mapping[str, int], k: int, *, exponential: bool = False
) -> float:
    """nDCG@k with graded relevance: gain rel as trec_eval (or 2^rel - 1), discount log2(rank + 1)."""
    grades = sorted((g for g in qrels.values() if g > 0), reverse=True)
    if not grades:
        return 0.0
    ideal = dcg([_gain(g, exponential) for g in grades[:k]])
    return dcg([_gain(qrels.get(d, 0), exponential) for d in ranking[:k]]) / ideal


def recall_at_k(ranking: Sequence[str], qrels: Mapping[str, int], k: int) -> float:
    """Relevant documents in the top k over all relevant documents."""
    relevant = {d for d, g in qrels.items() if g > 0}
    return len(relevant & set(ranking[:k])) / len(relevant) if relevant else 0.0


def reciprocal_rank(ranking: Sequence[str], qrels: Mapping[str, int]) -> float:
    """1 / rank of the first relevant document; 0 if the ranking holds none."""
    return next((1.0 / i for i, d in enumerate(ranking, 1) if qrels.get(d, 0) > 0), 0.0)


def first_occurrences(doc_ids: Iterable[str]) -> list[str]:
    """A document ranking from chunk-level doc ids: each document at its best chunk's place."""
    return list(dict.fromkeys(doc_ids))


def score_runs(
    runs: Mapping[str, Sequence[str]], qrels: Mapping[str, Mapping[str, int]], k_values: Sequence[int]
) -> dict[str, float]:
    """Mean nDCG@k, recall@k and MRR over the queries of `runs`."""
    n = len(runs)
    if not n:
        return {}
    out: dict[str, float] = {}
    for k in k_values:
        out[f"ndcg@{k}"] = sum(ndcg_at_k(r, qrels[q], k) for q, r in runs.items()) / n
    for k in k_values:
        out[f"recall@{k}"] = sum(recall_at_k(r, qrels[q], k) for q, r in runs.items()) / n
    out["mrr"] = sum(reciprocal_rank(r, qrels[q]) for q, r in runs.items()) / n
    return {key: round(value, 4) for key, value in out.items()}
