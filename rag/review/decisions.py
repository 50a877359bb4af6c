"""The draft as reviewed: the audit trail's decisions applied to a copy of the engine's draft.

A reviewer accepts a criterion or overrides its status with a reason. The last decision on a
criterion counts. Parents that were not decided themselves are recombined from their children
(all / any, as the engine combines them), and the verdict is read again from the reviewed criteria;
when it differs from the engine's, the draft says so and names the overrides that changed it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rag.analysis.verdict import combine, verdict_of
from rag.review.audit import AuditEvent
from rag.types import Assessment, Criterion, Flag, Status, flatten

STATUS_WORDS = {"met": "met", "not_met": "not met", "insufficient": "insufficient information"}
VERDICT_WORDS = {
    "indicated": "indicated",
    "not_indicated": "not indicated",
    "insufficient_information": "insufficient information",
}


@dataclass(frozen=True)
class Decision:
    """A reviewer's last word on one criterion."""

    criterion: str
    action: str  # accepted | overridden
    status: Status
    engine_status: Status
    reviewer: str
    at: str
    reason: str = ""

    @property
    def changed(self) -> bool:
        return self.status != self.engine_status


@dataclass
class Review:
    """Every decision on one draft, folded from its audit trail."""

    decisions: dict[str, Decision] = field(default_factory=dict)
    signed_off: AuditEvent | None = None

    @property
    def overrides(self) -> list[Decision]:
        return [d for d in self.decisions.values() if d.changed]


def review_of(events: list[AuditEvent]) -> Review:
    """The review state the trail describes (the last decision per criterion counts)."""
    review = Review()
    for e in events:
        d = e.detail
        if e.action == "criterion_accepted":
            review.decisions[d["criterion"]] = Decision(
                d["criterion"], "accepted", d["status"], d["status"], e.actor, e.at
            )
        elif e.action == "criterion_overridden":
            review.decisions[d["criterion"]] = Decision(
                d["criterion"], "overridden", d["to"], d["from"], e.actor, e.at, d.get("reason", "")
            )
        elif e.action == "signed_off":
            review.signed_off = e
    return review


def find_criterion(assessment: Assessment, criterion_id: str) -> Criterion | None:
    return next((c for c in flatten(assessment.criteria) if c.id == criterion_id), None)


def _note(decision: Decision) -> str:
    day = decision.at[:10]
    if decision.changed:
        return (
            f"Reviewer {decision.reviewer} changed the status from {STATUS_WORDS[decision.engine_status]} "
            f"to {STATUS_WORDS[decision.status]} on {day} because {decision.reason.rstrip('.')}."
        )
    return f"Reviewer {decision.reviewer} accepted this status on {day}."


def _recombine(criterion: Criterion, decided: set[str]) -> Status:
    """A parent not decided by the reviewer follows its reviewed children."""
    for child in criterion.children:
        child.status = _recombine(child, decided)
    if criterion.id in decided or not criterion.children or criterion.logic not in ("all", "any"):
        return criterion.status
    return combine(criterion.logic, [c.status for c in criterion.children])


def reviewed(assessment: Assessment, review: Review) -> Assessment:
    """A copy of `assessment` with the reviewer's decisions, reasons, verdict and sign-off in it."""
    draft = assessment.model_copy(deep=True)
    if not review.decisions and review.signed_off is None:
        return draft
    for decision in review.decisions.values():
        criterion = find_criterion(draft, decision.criterion)
        if criterion is None:
            continue
        criterion.status = decision.status
        criterion.rationale = f"{criterion.rationale} {_note(decision)}".strip()
    decided = set(review.decisions)
    for top in draft.criteria:
        top.status = _recombine(top, decided)
    engine = assessment.verdict.label
    label = engine
    if review.overrides and draft.criteria and engine_had_section(assessment):
        label, deciding = verdict_of(draft.criteria)
        for criterion in flatten(draft.criteria):
            criterion.deciding = False
        for criterion in deciding:
            criterion.deciding = True
    for decision in review.overrides:
        draft.flags.append(
            Flag(
                kind="reviewer_override",
                message=f"Criterion {decision.criterion}: {_note(decision)}",
            )
        )
    if label != engine:
        names = ", ".join(d.criterion for d in review.overrides)
        draft.verdict.label = label
        draft.verdict.summary = (
            f"The reviewed verdict is {VERDICT_WORDS[label]}; the engine's verdict was "
            f"{VERDICT_WORDS[engine]}. The reviewer overrode criteria {names}. "
            f"Engine summary: {assessment.verdict.summary}"
        )
        draft.flags.append(
            Flag(
                kind="verdict_changed_by_review",
                message=f"The reviewed verdict ({VERDICT_WORDS[label]}) differs from the engine's "
                f"({VERDICT_WORDS[engine]}) because of the overrides of criteria {names}.",
            )
        )
    if review.signed_off is not None:
        s = review.signed_off
        note = f" Note: {s.detail['note']}" if s.detail.get("note") else ""
        draft.flags.append(
            Flag(
                kind="signed_off",
                message=f"Reviewer {s.actor} signed off this draft on {s.at[:10]} with the verdict "
                f"{VERDICT_WORDS[draft.verdict.label]}.{note}",
            )
        )
    return draft


def engine_had_section(assessment: Assessment) -> bool:
    """Whether the engine found the policy section that applies (without one nothing is approved)."""
    return bool(assessment.policy) and bool(assessment.policy.get("section", True))
