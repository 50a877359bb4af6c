"""Evaluate a policy's criteria tree against a case and derive the verdict from it."""

from __future__ import annotations

import re

from rag.checks import Finding, check_leaf, check_presence, concept_of
from rag.facts import CaseFacts
from rag.models import Criterion, Evidence, Status, Verdict
from rag.policy import Node, PolicyMatch, names_indication

_DIAGNOSIS_HEAD = re.compile(r"^(?:confirmed\s+)?diagnosis\s+of\b", re.I)


def combine(logic: str, statuses: list[Status]) -> Status:
    if logic == "any":
        if "met" in statuses:
            return "met"
        return "not_met" if statuses and all(s == "not_met" for s in statuses) else "insufficient"
    if "not_met" in statuses:
        return "not_met"
    return "met" if statuses and all(s == "met" for s in statuses) else "insufficient"


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


def coverage_criteria(match: PolicyMatch, facts: CaseFacts, indications: list[str]) -> list[Criterion]:
    """The indication against the policy's experimental list and the section's 'Not covered' lines."""
    out: list[Criterion] = []
    for i, (item, chunk_id) in enumerate(match.experimental, start=1):
        out.append(
            Criterion(
                id=f"P{i}",
                kind="coverage",
                logic="leaf",
                status="not_met",
                text="The requested indication is not listed as experimental, investigational or not covered",
                rationale=f'The policy lists "{item}" as experimental/investigational (not covered), '
                "which names the requested indication.",
                evidence=[Evidence(chunk_id=chunk_id, doc_id=match.doc.doc_id, quote=item)],
            )
        )
    if match.section:
        long_forms = [
            facts.definitions.get(w, "")
            for i in indications
            for w in re.findall(r"\b[A-Z][A-Z0-9-]{1,9}\b", i)
        ]
        names = [n for n in [*indications, *long_forms] if n and len(n) > 3]
        for j, node in enumerate(match.section.exclusions, start=1):
            hit = names_indication(node.text, names)
            status: Status = "not_met" if hit else "met"
            rationale = (
                f'The section excludes it: "{node.text}" names {hit}.'
                if hit
                else f'Not applicable: "{node.text[:120]}" does not name the requested indication.'
            )
            out.append(
                Criterion(
                    id=f"X{j}",
                    kind="exclusion",
                    logic="leaf",
                    status=status,
                    text=node.text,
                    rationale=rationale,
                    evidence=[Evidence(chunk_id=node.chunk_id, doc_id=match.doc.doc_id, quote=node.text)],
                )
            )
    return out


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


def finding_to_criterion(node_id: str, text: str, finding: Finding, kind: str) -> Criterion:
    return Criterion(
        id=node_id,
        text=text,
        logic="leaf",
        status=finding.status,
        rationale=finding.rationale,
        evidence=finding.evidence,
        kind=kind,
    )
