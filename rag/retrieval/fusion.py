"""Fusing the dense and the BM25 candidate lists of one query into one score per chunk.

Three methods, chosen by `FusionSettings.method`:

- `rrf`: weighted reciprocal rank, `w_dense / (k + dense rank) + w_bm25 / (k + BM25 rank)`;
- `minmax`: a convex combination of the two scores, each min-max normalised over its list
  (dense similarity = 1 - cosine distance);
- `dbsf`: the same with distribution-based normalisation: mean +- 3 standard deviations of the
  list map to 0..1 (clipped), which is less swayed by one outlying top score than min-max.

A chunk missing from one list gets nothing from that side, so a lexical-only or a dense-only hit
still scores. Only the first `depth` candidates of each list take part. The defaults were chosen by
`python -m eval.benchmarks.fusion` on SciFact's train claims (a dev split), never on a test split.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Method = Literal["rrf", "minmax", "dbsf"]
METHODS: tuple[str, ...] = ("rrf", "minmax", "dbsf")


class FusionSettings(BaseModel):
    """How the dense and the BM25 halves of hybrid retrieval are fused."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, frozen=True)

    method: Method = Field(
        "minmax",
        description="rrf: weighted reciprocal rank; minmax or dbsf: weighted sum of scores "
        "normalised by min-max or by mean +- 3 standard deviations.",
    )
    w_dense: float = Field(0.4, ge=0.0, le=1.0, description="Weight of the dense (embedding) half.")
    w_bm25: float = Field(0.6, ge=0.0, le=1.0, description="Weight of the BM25 (lexical) half.")
    k: int = Field(60, ge=1, le=1000, description="RRF's rank offset (rrf only): larger flattens ranks.")
    depth: int = Field(
        100, ge=1, description="Candidates of each half that take part (at most what is fetched)."
    )

    @model_validator(mode="after")
    def _some_weight(self) -> FusionSettings:
        if self.w_dense == 0 and self.w_bm25 == 0:
            raise ValueError("w_dense and w_bm25 are both 0: give at least one half a weight above 0")
        return self


def _minmax(values: Sequence[float]) -> list[float]:
    low, high = min(values), max(values)
    if high - low <= 0:  # one candidate, or all equal: each is as good as the best
        return [1.0] * len(values)
    return [(v - low) / (high - low) for v in values]


def _dbsf(values: Sequence[float]) -> list[float]:
    mean = sum(values) / len(values)
    spread = 3 * math.sqrt(sum((v - mean) ** 2 for v in values) / len(values))
    if spread <= 0:
        return [1.0] * len(values)
    return [min(1.0, max(0.0, (v - mean + spread) / (2 * spread))) for v in values]


NORMALISERS = {"minmax": _minmax, "dbsf": _dbsf}


def fuse(
    dense: Sequence[tuple[str, float]],
    lexical: Sequence[tuple[str, float]],
    params: FusionSettings,
) -> dict[str, float]:
    """Fused score per id from `dense` (id, cosine distance) and `lexical` (id, BM25 score).

    Both lists are best first; higher fused scores are better.
    """
    dense, lexical = list(dense[: params.depth]), list(lexical[: params.depth])
    scores: dict[str, float] = {}
    if params.method == "rrf":
        for weight, items in ((params.w_dense, dense), (params.w_bm25, lexical)):
            for rank, (item_id, _) in enumerate(items, 1):
                scores[item_id] = scores.get(item_id, 0.0) + weight / (params.k + rank)
        return scores
    normalise = NORMALISERS[params.method]
    halves = ((params.w_dense, dense, lambda d: 1.0 - d), (params.w_bm25, lexical, float))
    for weight, items, similarity in halves:
        if not items:
            continue
        normalised = normalise([similarity(value) for _, value in items])
        for (item_id, _), value in zip(items, normalised, strict=True):
            scores[item_id] = scores.get(item_id, 0.0) + weight * value
    return scores


def ranked(
    dense: Sequence[tuple[str, float]],
    lexical: Sequence[tuple[str, float]],
    params: FusionSettings,
) -> list[tuple[str, float]]:
    """(id, fused score), best first; ties go to the better single-list rank, then to the id."""
    scores = fuse(dense, lexical, params)
    best: dict[str, int] = {}
    for items in (dense, lexical):
        for rank, (item_id, _) in enumerate(items, 1):
            best[item_id] = min(rank, best.get(item_id, rank))
    return sorted(scores.items(), key=lambda s: (-s[1], best[s[0]], s[0]))
