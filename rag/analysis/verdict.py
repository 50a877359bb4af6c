"""The verdict from evaluated criteria: how branches combine, which criteria decide, confidence."""

from __future__ import annotations

from rag.types import Criterion, Status, Verdict


def combine(logic: str, statuses: list[Status]) -> Status:
    if logic == "any":
        if "met" in statuses:
            return "met"
        return "not_met" if statuses and all(s == "not_met" for s in statuses) else "insufficient"
    if "not_met" in statuses:
        return "not_met"
    return "met" if statuses and all(s == "met" for s in statuses) else "insufficient"


def verdict_of(criteria: list[Criterion]) -> tuple[Verdict, list[Criterion]]:
    """indicated when every required criterion is met; not_indicated when one clearly is not."""
    failing = [c for c in criteria if c.status == "not_met"]
    if failing:
        return "not_indicated", failing
    unknown = [c for c in criteria if c.status == "insufficient"]
    if unknown or not criteria:
        return "insufficient_information", unknown
    return "indicated", []


def confidence(verdict: Verdict, deciding: list[Criterion], criteria: list[Criterion]) -> float:
    if verdict == "insufficient_information":
        return 0.5
    if verdict == "not_indicated":
        explicit = any(e.assertion in ("negated", "present", "family") for c in deciding for e in c.evidence)
        return 0.9 if explicit else 0.75
    by_absence = sum(1 for c in criteria if c.status == "met" and len(c.evidence) <= 1)
    return round(max(0.6, 0.9 - 0.05 * by_absence), 2)
