"""A diagnosis the record rules out: 'Diagnosis of X confirmed by ...' is not met when the record
says it is not X, whatever its sub-criteria say, and the reader sees why.

The markers the section's diagnostic definitions name (a mutation, a surface antigen) are quoted
when the record reports them negative: they are why the diagnosis is ruled out.
"""

from __future__ import annotations

import re

from rag.analysis.evaluators.basic import check_presence, concept_of
from rag.analysis.evaluators.common import Finding
from rag.analysis.policy import Node as TextNode
from rag.analysis.record import CaseFacts
from rag.types import Criterion

_DIAGNOSIS_HEAD = re.compile(r"^(?:confirmed\s+)?diagnosis\s+of\b", re.I)
_MARKERS = re.compile(r"\b[A-Z][A-Z0-9]{1,9}(?:\s[A-Z]\d{2,4}[A-Z])?\b")
_GENERIC_MARKERS = {"WHO", "AND", "OR", "NOT", "SC", "IV", "IM", "PO", "ICD", "FDA", "US"}


def ruled_out(text: str, context: str, facts: CaseFacts) -> Finding | None:
    """`not_met` with the quotes when the branch names a diagnosis the record negates; else None."""
    if not _DIAGNOSIS_HEAD.match(text):
        return None
    head = check_presence(TextNode("", concept_of(text), "leaf", 0, 0, ""), facts)
    if head.status != "not_met":
        return None
    support = diagnostic_negatives(context, facts, {e.quote for e in head.evidence})
    also = (
        " Also: " + "; ".join(f'"{m.sentence.clean}" ({m.sentence.doc_id})' for m in support) + "."
        if support
        else ""
    )
    return Finding("not_met", f"{head.rationale}{also}", head.evidence[:2] + [m.evidence() for m in support])


def diagnostic_negatives(context: str, facts: CaseFacts, already: set[str], limit: int = 2) -> list:
    """Negative findings on the markers a section's diagnostic definitions name."""
    markers = {m for m in _MARKERS.findall(context) if m not in _GENERIC_MARKERS}
    markers -= {short for short in facts.definitions if short in context and len(short) > 5}
    found = []
    for mention in facts.mentions(sorted(markers, key=len, reverse=True)):
        negative = mention.assertion == "negated" or re.search(
            r"\bnegative\b|not detected", mention.sentence.text[mention.start :], re.I
        )
        if negative and mention.sentence.clean not in already and "FAMILY" not in mention.categories:
            found.append(mention)
            already.add(mention.sentence.clean)
    found.sort(key=lambda m: -len(m.term))  # the most specific markers first ('KIT D816V' before 'CD2')
    picked, terms = [], set()
    for mention in found:
        if mention.term not in terms:
            picked.append(mention)
            terms.add(mention.term)
    return picked[:limit]


def not_reached(criterion: Criterion, parent: str) -> Criterion:
    """A sub-criterion of a ruled-out diagnosis: its status stands, its rationale says why it
    does not matter (and its own children's too)."""
    if criterion.status == "met":
        return criterion
    return criterion.model_copy(
        update={
            "rationale": f"Not reached: the record rules out the diagnosis of criterion {parent}.",
            "children": [not_reached(c, parent) for c in criterion.children],
        }
    )
