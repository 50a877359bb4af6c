"""Coverage: the indication against the policy's experimental list, and its policy-wide exclusions."""

from __future__ import annotations

from rag.analysis.evaluators.common import Finding
from rag.analysis.evaluators.typed import evaluate_exclusion
from rag.analysis.record import CaseFacts
from rag.analysis.select import Choice
from rag.types import Criterion, Evidence


def coverage_criteria(
    choice: Choice, facts: CaseFacts, indications: list[str], *, dose: Finding | None = None
) -> list[Criterion]:
    """P: a use the policy calls experimental names the request; X: each policy-wide exclusion."""
    out: list[Criterion] = []
    doc_id = choice.doc.doc_id
    for i, item in enumerate(choice.experimental, start=1):
        out.append(
            Criterion(
                id=f"P{i}",
                kind="coverage",
                logic="leaf",
                status="not_met",
                text=f'A covered use (the policy lists "{item}" as experimental or not covered)',
                rationale=f'The policy lists "{item}" as experimental, investigational or not covered, '
                "and it names the requested indication.",
                evidence=[Evidence(chunk_id=choice.doc.chunk_ids[0], doc_id=doc_id, quote=item)]
                if choice.doc.chunk_ids
                else [],
            )
        )
    section = choice.indication.exclusions if choice.indication else []
    for i, node in enumerate([*section, *choice.criteria.exclusions], start=1):
        criterion = evaluate_exclusion(node, facts, doc_id, dose=dose, indications=indications)
        out.append(criterion.model_copy(update={"id": f"X{i}"}))
    return out
