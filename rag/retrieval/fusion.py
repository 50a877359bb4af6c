"""How the dense and the lexical (BM25) candidate lists of one query become one ranking.

Two methods, chosen by `retrieval.fusion` (their parameters were tuned on SciFact's train claims
by `python -m eval.benchmarks.fusion`, never on a test split; see the README):
- `rrf`: weighted reciprocal-rank fusion, `w_dense / (k + dense rank) + w_bm25 / (k + bm25 rank)`;
- `convex`: a convex combination of scores normalised per query, `alpha * dense + (1 - alpha) *
  bm25`, the dense score being cosine similarity and both min-max scaled over the candidates
  (a list of one candidate, or of equal scores, scales to 1).
A candidate missing from one list gets nothing from that list.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Method = Literal["rrf", "convex"]


class FusionSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True, frozen=True)

    method: Method = Field("rrf", description="'rrf' (rank fusion) or 'convex' (score fusion).")
    rrf_k: int = Field(60, ge=1, description="rrf: the rank offset k.")
    dense_weight: float = Field(1.0, ge=0, description="rrf: the weight of the dense ranks.")
    bm25_weight: float = Field(1.0, ge=0, description="rrf: the weight of the BM25 ranks.")
    alpha: float = Field(0.6, ge=0, le=1, description="convex: the weight of the dense scores.")
    candidates: int = Field(50, ge=1, description="Dense and BM25 candidates fused per query.")


def _scaled(scores: Sequence[float]) -> list[float]:
    if not scores:
        return []
    low, high = min(scores), max(scores)
    if high - low <= 1e-12:
        return [1.0] * len(scores)
    return [(s - low) / (high - low) for s in scores]


def fuse(
    dense: Sequence[tuple[str, float]],
    lexical: Sequence[tuple[str, float]],
    settings: FusionSettings,
) -> dict[str, float]:
    """Fused score of every candidate. `dense` is (id, cosine distance) best first, `lexical`
    (id, BM25 score) best first."""
    fused: dict[str, float] = {}
    if settings.method == "rrf":
        for weight, ranked in ((settings.dense_weight, dense), (settings.bm25_weight, lexical)):
            for rank, (chunk_id, _) in enumerate(ranked, 1):
                fused[chunk_id] = fused.get(chunk_id, 0.0) + weight / (settings.rrf_k + rank)
        return fused
    halves = (
        (settings.alpha, [i for i, _ in dense], _scaled([1.0 - d for _, d in dense])),
        (1.0 - settings.alpha, [i for i, _ in lexical], _scaled([s for _, s in lexical])),
    )
    for weight, ids, scores in halves:
        for chunk_id, score in zip(ids, scores, strict=True):
            fused[chunk_id] = fused.get(chunk_id, 0.0) + weight * score
    return fused
