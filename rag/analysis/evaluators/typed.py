"""Evaluate a compiled criteria tree: each leaf by the evaluator of its type, branches by logic.

A leaf type the engine has no evaluator for, a free-text criterion, or a typed criterion whose
evaluator cannot read it is `insufficient` with the reason "needs a reviewer: ...": never met by
resemblance. Branches combine their children by all / any / at least n.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from rag.analysis.criteria import Node as PolicyNode
from rag.analysis.evaluators import CHECKERS
from rag.analysis.evaluators.basic import check_age, check_exclusion, check_prescriber, check_presence
from rag.analysis.evaluators.common import Finding
from rag.analysis.evaluators.diagnosis import ruled_out
from rag.analysis.evaluators.history import check_prior_therapy, check_test
from rag.analysis.evaluators.measures import check_threshold
from rag.analysis.policy import Node as TextNode
from rag.analysis.policy import names_indication
from rag.analysis.record import CaseFacts
from rag.analysis.verdict import combine
from rag.text import shorten
from rag.types import Criterion, Evidence, Status

Evaluator = Callable[[TextNode, CaseFacts], Finding | None]

EVALUATORS: dict[str, list[Evaluator]] = {
    "age": [check_age],
    "specialty": [check_prescriber],
    "test_result": [check_test],
    "prior_therapy": [check_prior_therapy],
    "measurement": [check_threshold],
    "diagnosis": [check_presence],
    "concurrent_use": [check_exclusion],
}
NEEDS_REVIEWER = "needs a reviewer"
# a criterion worded as an absence ('No history of ...', 'Urticaria is not exclusively ...')
_ABSENCE = re.compile(
    r"^(?:no|not|absence of|without|neither)\b|^(?:[\w()-]+\s+){1,3}(?:is|are|was|has|have|will)\s+not\b",
    re.I,
)


def _words(identifier: str) -> str:
    return identifier.replace("_", " ")


def evaluate(
    node: PolicyNode,
    facts: CaseFacts,
    policy_doc: str,
    *,
    dose: Finding | None = None,
    kind: str = "requirement",
    context: str = "",
) -> Criterion:
    """The criterion as the draft shows it: status, rationale, and the evidence it rests on.

    `context` is the whole section's text (criteria and their definitions), which a ruled-out
    diagnosis quotes its negative markers from."""
    policy_evidence = Evidence(chunk_id=node.chunk_id or "", doc_id=policy_doc, quote=node.text)
    if node.logic != "leaf":
        children = [
            evaluate(c, facts, policy_doc, dose=dose, kind=kind, context=context) for c in node.children
        ]
        status = combine_n(node.logic, node.n, [c.status for c in children])
        rationale = _branch_rationale(node, children)
        evidence = [policy_evidence] if node.chunk_id else []
        around = context or " ".join([node.text, *(c.text for c in node.walk()), *node.notes])
        if (out := ruled_out(node.text, around, facts)) is not None:
            status, rationale, evidence = "not_met", f"{out.rationale} {rationale}", evidence + out.evidence
        return Criterion(
            id=node.id,
            text=node.text,
            logic="any" if node.logic in ("any", "at_least") else "all",
            status=status,
            rationale=rationale,
            children=children,
            evidence=evidence,
            kind=kind,
        )
    finding = evaluate_leaf(node, facts, dose=dose)
    evidence = ([policy_evidence] if node.chunk_id else []) + finding.evidence
    return Criterion(
        id=node.id,
        text=node.text,
        logic="leaf",
        status=finding.status,
        rationale=finding.rationale,
        evidence=evidence,
        kind="dose_limit" if node.leaf and node.leaf.type == "dose_limit" else kind,
        computed=finding.computed,
    )


def evaluate_leaf(node: PolicyNode, facts: CaseFacts, *, dose: Finding | None = None) -> Finding:
    leaf_type = node.leaf.type if node.leaf else "free_text"
    if leaf_type == "dose_limit":
        if dose is not None:
            return dose
        return Finding(
            "insufficient", f"{_reviewer('the requested dose could not be compared with the limit')}."
        )
    text = f"{node.context} {node.text}" if node.context else node.text
    text_node = TextNode(node.id, text, "leaf", 0, 0, node.chunk_id or "")
    if leaf_type == "age" and (finding := _age(node, facts)):
        return finding
    if leaf_type == "diagnosis" and (finding := _diagnosis(node, facts)):
        return finding
    if (
        leaf_type == "measurement"
        and node.leaf.operator is None
        and (finding := _documented_value(node, facts))
    ):
        return finding
    for evaluator in EVALUATORS.get(leaf_type, []):
        finding = evaluator(text_node, facts)
        if finding is not None:
            return finding
    if leaf_type in ("free_text", "documentation"):
        # a specific evaluator may still read it by its wording (a disease duration, a score);
        # nothing here decides by resemblance
        negative = _ABSENCE.match(node.text.strip())
        for checker in CHECKERS:
            if checker is check_exclusion and not negative:
                continue  # 'met because nothing says otherwise' only for criteria worded as an absence
            finding = checker(text_node, facts)
            if finding is not None:
                return finding
        what = "a free-text requirement" if leaf_type == "free_text" else "a documentation requirement"
        return Finding("insufficient", f"{_reviewer(what)}: {shorten(node.text, 160)}")
    return Finding(
        "insufficient",
        f"{_reviewer(f'the {_words(leaf_type)} criterion could not be read')}: {shorten(node.text, 160)}",
    )


def _age(node: PolicyNode, facts: CaseFacts) -> Finding | None:
    """The patient's age (from the question or the request) against the leaf's range."""
    age = facts.request.patient_age
    low, high = node.leaf.min_years, node.leaf.max_years
    if age is None or (low is None and high is None):
        return None
    ok = (low is None or age >= low) and (high is None or age <= high)
    wanted = " to ".join(f"{v:g}" for v in (low, high) if v is not None)
    wanted = (
        f"{low:g} to {high:g} years"
        if low is not None and high is not None
        else (f"at least {low:g} years" if low is not None else f"at most {high:g} years")
    )
    return Finding(
        "met" if ok else "not_met",
        f"Patient is {age:g} years old (requirement: {wanted}).",
        [
            Evidence(chunk_id=c, doc_id=_doc_of(facts, c), quote="")
            for c in facts.request.source_chunk_ids[:1]
        ],
        [f"{age:g}"],
    )


def _doc_of(facts: CaseFacts, chunk_id: str) -> str:
    return next((d.doc_id for d in facts.docs if chunk_id in d.chunk_ids), "")


def _diagnosis(node: PolicyNode, facts: CaseFacts) -> Finding | None:
    """Any of the names the policy gives ('typical CIDP or a CIDP variant'), by presence with its
    assertion (negated, historical, family and planned mentions do not count)."""
    names = [
        n.strip() for name in node.leaf.names for n in re.split(r"\s+or\s+(?:an?\s+)?", name) if n.strip()
    ]
    names += [a for n in names for a in re.findall(r"\b[A-Z]{3,6}\b", n) if a not in names]  # 'CIDP'
    if len(names) < 2:
        return None
    findings = [
        check_presence(TextNode(node.id, f"Diagnosis of {n}", "leaf", 0, 0, ""), facts) for n in names
    ]
    for status in ("met", "not_met"):
        chosen = [f for f in findings if f.status == status]
        if chosen and (status == "met" or len(chosen) == len(findings)):
            return chosen[0]
    return None


def _documented_value(node: PolicyNode, facts: CaseFacts) -> Finding | None:
    """'Baseline INCAT disability score documented': a value of the measure is in the record."""
    name = node.leaf.name
    for mention in facts.mentions([name]):
        tail = mention.sentence.text[mention.end : mention.end + 40]
        value = re.search(r"\d+(?:\.\d+)?", tail)
        if value and mention.assertion in ("present", "historical"):
            return Finding(
                "met",
                f'{name} {value.group(0)} is documented: "{shorten(mention.sentence.clean, 160)}" '
                f"({mention.sentence.doc_id}).",
                [mention.evidence()],
            )
    return Finding("insufficient", f"No value of {name} is documented.", [])


def _reviewer(reason: str) -> str:
    return f"{NEEDS_REVIEWER[0].upper()}{NEEDS_REVIEWER[1:]}: {reason}"


def combine_n(logic: str, n: int | None, statuses: list[Status]) -> Status:
    """all / any like `combine`; at_least n: met when n are met, not met when n can no longer be."""
    if logic != "at_least" or not n:
        return combine("any" if logic in ("any", "at_least") else "all", statuses)
    met = statuses.count("met")
    open_ = statuses.count("insufficient")
    if met >= n:
        return "met"
    return "not_met" if met + open_ < n else "insufficient"


def _branch_rationale(node: PolicyNode, children: list[Criterion]) -> str:
    word = {"all": "all", "any": "at least one", "at_least": f"at least {node.n}"}.get(node.logic, "all")
    listed = ", ".join(f"{c.id} {c.status.replace('_', ' ')}" for c in children)
    return f"Needs {word} of {len(children)}: {listed}."


def evaluate_exclusion(
    node: PolicyNode,
    facts: CaseFacts,
    policy_doc: str,
    *,
    dose: Finding | None = None,
    indications: list[str] | None = None,
) -> Criterion:
    """A policy-wide exclusion ('will not be authorized when used in combination with another
    biologic'): met when it does not apply to this patient, not met when the record shows it does."""
    policy_evidence = (
        [Evidence(chunk_id=node.chunk_id, doc_id=policy_doc, quote=node.text)] if node.chunk_id else []
    )
    named = names_indication(node.text, indications or [])
    if named:
        finding = Finding("not_met", f'The section excludes it: "{node.text}" names {named}.')
    elif node.leaf and node.leaf.type == "dose_limit":
        finding = dose or Finding(
            "insufficient", f"{_reviewer('the requested dose could not be compared with the limit')}."
        )
    else:
        finding = check_exclusion(
            TextNode(node.id, f"Not: {node.text}", "leaf", 0, 0, node.chunk_id or ""), facts
        ) or Finding(
            "insufficient", f"{_reviewer('an exclusion the engine cannot read')}: {shorten(node.text, 160)}"
        )
    return Criterion(
        id=node.id,
        text=f"Exclusion does not apply: {node.text}",
        logic="leaf",
        status=finding.status,
        rationale=finding.rationale,
        evidence=policy_evidence + finding.evidence,
        kind="exclusion",
        computed=finding.computed,
    )
