"""The dose-limit criterion: the requested mg per 28 days against the policy's limit."""

from __future__ import annotations

import re

from rag.analysis.dosing import format_mg
from rag.types import Criterion, DosingAnalysis, Evidence

TOLERANCE = 1.01  # rounding in the policy's own arithmetic is not an excess


def dose_limit_criterion(dosing: DosingAnalysis, policy_doc_id: str) -> Criterion | None:
    """D1, when both the request and the policy's limit normalise to mg per 28 days."""
    requested = dosing.requested
    limit = next((c for c in dosing.comparators if c.source_kind == "policy"), None)
    if not (limit and requested and requested.mg_per_28_days and limit.mg_per_28_days):
        return None
    over = requested.mg_per_28_days > limit.mg_per_28_days * TOLERANCE
    return Criterion(
        id="D1",
        kind="dose_limit",
        logic="leaf",
        status="not_met" if over else "met",
        text=f"Requested dose within the policy's limit for this indication ({limit.dose_text})",
        rationale=(
            f"{requested.arithmetic}; the limit is {format_mg(limit.mg_per_28_days)} per 28 days"
            f" ({limit.dose_text}): {'above' if over else 'within'} the limit."
        ),
        evidence=[
            Evidence(chunk_id=c, doc_id=policy_doc_id, quote=limit.dose_text) for c in limit.chunk_ids[:1]
        ],
        computed=re.findall(r"\d+(?:\.\d+)?", f"{requested.arithmetic} {limit.mg_per_28_days}"),
    )
