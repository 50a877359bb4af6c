"""The dose limit: the requested mg per 28 days against the policy's limit for the indication."""

from __future__ import annotations

import re

from rag.analysis.dosing import format_mg
from rag.analysis.evaluators.common import Finding
from rag.text import plain
from rag.types import Criterion, DosingAnalysis, Evidence

TOLERANCE = 1.01  # rounding in the policy's own arithmetic is not an excess


def exceeds(value: float, limit: float) -> bool:
    """Above `limit` by more than the rounding of the policy's own arithmetic."""
    return value > limit * TOLERANCE


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
    over = exceeds(requested.mg_per_28_days, limit.mg_per_28_days)
    higher = next((c for c in dosing.comparators if c.source_kind == "policy_conditional"), None)
    if (
        over
        and higher
        and higher.mg_per_28_days
        and not exceeds(requested.mg_per_28_days, higher.mg_per_28_days)
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
    for_weight = f" for a weight of {limit.weight_kg:g} kg" if limit.weight_kg else ""
    finding = Finding(
        "not_met" if over else "met",
        f"{requested.arithmetic}; the limit{for_weight} is {format_mg(limit.mg_per_28_days)} per 28 days"
        f" ({limit.dose_text}): {'above' if over else 'within'} the limit.",
        evidence,
        re.findall(
            r"\d+(?:\.\d+)?",
            f"{requested.arithmetic} {limit.mg_per_28_days} {limit.arithmetic} {limit.weight_kg or ''}",
        ),
    )
    return _with_one_time_dose(finding, dosing, policy_doc_id)


def _with_one_time_dose(finding: Finding, dosing: DosingAnalysis, policy_doc_id: str) -> Finding:
    """The requested one-time (induction) dose against the policy's one-time dose for the patient's
    weight, added to the maintenance finding: above it is `not_met`; a weight-banded induction with
    no documented weight, or an induction that cannot be read in mg, is `insufficient` (never `met`
    because the maintenance dose is within its limit)."""
    single = dosing.one_time()
    loading = dosing.loading
    if single is None or loading is None:
        return finding
    asked = plain(loading.dose_text)
    evidence = finding.evidence + [
        Evidence(chunk_id=c, doc_id=policy_doc_id, quote=single.dose_text) for c in single.chunk_ids[:1] if c
    ]
    if single.dose_mg is None or loading.dose_mg is None:
        why = (
            f"the policy sets it by body weight ({single.dose_text}) and no weight is documented"
            if single.dose_mg is None
            else f"it could not be read in mg ({loading.arithmetic})"
        )
        status = "not_met" if finding.status == "not_met" else "insufficient"
        text = f"{finding.rationale} The requested one-time dose, {asked}, cannot be checked: {why}."
        return Finding(status, text, evidence, finding.computed)
    over = exceeds(loading.dose_mg, single.dose_mg)
    relation = "above" if over else "below" if exceeds(single.dose_mg, loading.dose_mg) else "equal to"
    weight = f" for the patient's weight of {single.weight_kg:g} kg" if single.weight_kg else ""
    working = f" ({loading.arithmetic.split(';')[0]})" if loading.per_kg else ""
    text = (
        f"{finding.rationale} The requested one-time dose, {asked}{working}, is {relation} the "
        f"policy's {format_mg(single.dose_mg)}{weight} ({single.dose_text})."
    )
    numbers = re.findall(r"\d+(?:\.\d+)?", f"{loading.arithmetic} {single.dose_mg} {single.weight_kg or ''}")
    return Finding("not_met" if over else finding.status, text, evidence, finding.computed + numbers)


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
