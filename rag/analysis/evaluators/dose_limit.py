"""The dose limit: the requested mg per 28 days against the policy's limit for the indication."""

from __future__ import annotations

import re

from rag.analysis.dosing import format_mg
from rag.analysis.evaluators.common import Finding
from rag.types import Criterion, DosingAnalysis, Evidence

TOLERANCE = 1.01  # rounding in the policy's own arithmetic is not an excess


def dose_limit_finding(dosing: DosingAnalysis, policy_doc_id: str) -> Finding | None:
    """Within or above the limit when both the request and the limit normalise to mg per 28 days;
    `insufficient` when either cannot be read; None when the policy states no limit. A dose above
    the standard limit is `not_met` even when a row the policy grants only under a condition
    (dose escalation after a partial response, ...) would allow it: the engine does not check that
    condition, so the rationale quotes it for the reviewer instead of reading the higher row as the
    limit."""
    requested = dosing.requested
    limit = next((c for c in dosing.comparators if c.source_kind == "policy"), None)
    if limit is None or not limit.mg_per_28_days:
        return None
    evidence = [
        Evidence(chunk_id=c, doc_id=policy_doc_id, quote=limit.dose_text) for c in limit.chunk_ids[:1] if c
    ]
    if not (requested and requested.mg_per_28_days):
        return Finding(
            "insufficient",
            f"The requested dose could not be normalised to mg per 28 days; the limit is "
            f"{format_mg(limit.mg_per_28_days)} per 28 days ({limit.dose_text}).",
            evidence,
        )
    over = requested.mg_per_28_days > limit.mg_per_28_days * TOLERANCE
    higher = next((c for c in dosing.comparators if c.source_kind == "policy_conditional"), None)
    if (
        over
        and higher
        and higher.mg_per_28_days
        and requested.mg_per_28_days <= higher.mg_per_28_days * TOLERANCE
    ):
        # above the standard limit, within one the policy grants only under a condition the engine
        # does not check: never `met` by resemblance to the higher row
        evidence += [
            Evidence(chunk_id=c, doc_id=policy_doc_id, quote=higher.dose_text)
            for c in higher.chunk_ids[:1]
            if c
        ]
        numbers = re.findall(
            r"\d+(?:\.\d+)?",
            f"{requested.arithmetic} {limit.mg_per_28_days} {higher.mg_per_28_days} {limit.arithmetic}",
        )
        return Finding(
            "not_met",
            f"{requested.arithmetic}; above the standard limit of {format_mg(limit.mg_per_28_days)} per "
            f"28 days ({limit.dose_text}). The policy allows up to {format_mg(higher.mg_per_28_days)} per "
            f"28 days only under a condition the engine does not check ({higher.dose_text}): a reviewer "
            "may approve the dose only if the record shows that condition is met.",
            evidence,
            numbers,
        )
    return Finding(
        "not_met" if over else "met",
        f"{requested.arithmetic}; the limit is {format_mg(limit.mg_per_28_days)} per 28 days"
        f" ({limit.dose_text}): {'above' if over else 'within'} the limit.",
        evidence,
        re.findall(r"\d+(?:\.\d+)?", f"{requested.arithmetic} {limit.mg_per_28_days} {limit.arithmetic}"),
    )


def dose_limit_criterion(dosing: DosingAnalysis, policy_doc_id: str, finding: Finding) -> Criterion:
    """D1, when the policy's tree has no dose criterion of its own."""
    limit = next(c for c in dosing.comparators if c.source_kind == "policy")
    return Criterion(
        id="D1",
        kind="dose_limit",
        logic="leaf",
        status=finding.status,
        text=f"Requested dose within the policy's limit for this indication ({limit.dose_text})",
        rationale=finding.rationale,
        evidence=finding.evidence,
        computed=finding.computed,
    )
