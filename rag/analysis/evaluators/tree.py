"""Evaluate a policy's criteria tree: leaves by the evaluators, branches by their logic."""

from __future__ import annotations

import re

from rag.analysis.evaluators import check_leaf
from rag.analysis.evaluators.basic import check_presence, concept_of
from rag.analysis.policy import Node
from rag.analysis.record import CaseFacts
from rag.analysis.verdict import combine
from rag.types import Criterion, Evidence

_DIAGNOSIS_HEAD = re.compile(r"^(?:confirmed\s+)?diagnosis\s+of\b", re.I)


def _policy_evidence(node: Node, facts_doc_id: str) -> Evidence:
    return Evidence(chunk_id=node.chunk_id, doc_id=facts_doc_id, quote=node.text)


def evaluate(node: Node, facts: CaseFacts, policy_doc: str, context: str = "") -> Criterion:
    """Check a node: leaves by the checkers, branches by their logic (and their own head)."""
    policy_ev = _policy_evidence(node, policy_doc)
    if not node.children:
        finding = check_leaf(node, facts)
        return Criterion(
            id=node.id,
            text=node.text,
            logic="leaf",
            status=finding.status,
            rationale=finding.rationale,
            evidence=[policy_ev, *finding.evidence],
            kind=node.kind,
            computed=finding.computed,
        )
    children = [evaluate(c, facts, policy_doc, context) for c in node.children]
    status = combine(node.logic, [c.status for c in children])
    word = "all" if node.logic == "all" else "at least one"
    rationale = (
        f"Needs {word} of {len(children)}: "
        + ", ".join(f"{c.id} {c.status.replace('_', ' ')}" for c in children)
        + "."
    )
    evidence: list[Evidence] = [policy_ev]
    if _DIAGNOSIS_HEAD.match(node.text):
        head = check_presence(
            Node(node.id, concept_of(node.text), "leaf", node.start, node.end, node.chunk_id), facts
        )
        if head.status == "not_met":
            status = "not_met"
            support = _diagnostic_negatives(context, facts, {e.quote for e in head.evidence})
            also = (
                " Also: " + "; ".join(f'"{m.sentence.clean}" ({m.sentence.doc_id})' for m in support) + "."
                if support
                else ""
            )
            rationale = f"{head.rationale}{also} {rationale}"
            evidence += head.evidence[:2] + [m.evidence() for m in support]
    return Criterion(
        id=node.id,
        text=node.text,
        logic=node.logic,
        status=status,
        rationale=rationale,
        children=children,
        evidence=evidence,
        kind=node.kind,
    )


_MARKERS = re.compile(r"\b[A-Z][A-Z0-9]{1,9}(?:\s[A-Z]\d{2,4}[A-Z])?\b")
_GENERIC_MARKERS = {"WHO", "AND", "OR", "NOT", "SC", "IV", "IM", "PO", "ICD", "FDA", "US"}


def _diagnostic_negatives(context: str, facts: CaseFacts, already: set[str], limit: int = 2) -> list:
    """Negative findings on the markers a section's diagnostic definitions name (e.g. a mutation,
    a surface antigen): they are why a diagnosis is ruled out, and the reader should see them."""
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
    # the most specific markers first ('KIT D816V' before 'CD2'), one quote per marker
    found.sort(key=lambda m: -len(m.term))
    picked, terms = [], set()
    for mention in found:
        if mention.term not in terms:
            picked.append(mention)
            terms.add(mention.term)
    return picked[:limit]
