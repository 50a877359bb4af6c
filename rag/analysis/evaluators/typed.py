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
from rag.analysis.evaluators.common import EXCLUDES, RULED_OUT, Finding, quote
from rag.analysis.evaluators.diagnosis import not_reached, ruled_out
from rag.analysis.evaluators.history import check_test, test_result, treated_after_positive
from rag.analysis.evaluators.measures import check_change, check_threshold
from rag.analysis.evaluators.therapy import check_prior_therapy, enough_distinct, prior_therapy_leaf
from rag.analysis.lexicon import class_members, tests
from rag.analysis.policy import Node as TextNode
from rag.analysis.policy import core_phrase, names_indication
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
_EXCLUSION_WORDING = re.compile(r"^\s*(?:not covered|exclu\w*|not (?:used|given|administered))\b", re.I)
_CITATION = re.compile(r"\s*\((?:[^()]*\s)?(?:19|20)\d{2}\)")
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
            # the diagnosis is ruled out whatever its sub-criteria say: they are not reached
            status, rationale, evidence = "not_met", out.rationale, evidence + out.evidence
            children = [not_reached(c, node.id) for c in children]
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
    text = _CITATION.sub("", text)  # '(ACR 2021)' names a guideline, not a drug or a test
    if leaf_type == "prior_therapy" and node.leaf.drugs:
        text = f"{text} (for example, {', '.join(node.leaf.drugs)})"  # the drugs the leaf names
    text_node = TextNode(node.id, text, "leaf", 0, 0, node.chunk_id or "")
    if leaf_type == "age" and (finding := _age(node, facts)):
        return finding
    if leaf_type == "diagnosis" and (finding := _diagnosis(node, facts)):
        return finding
    if leaf_type == "concurrent_use" and (finding := _cotherapy(node, facts)):
        return finding
    if leaf_type == "product":
        return _product(node, facts)
    if leaf_type == "test_result" and node.leaf.test:
        aliases = tests().get(node.leaf.test, [])
        names = [a for a in [node.leaf.test, *aliases] if len(a) > 2 or a.isupper()]
        if finding := test_result(facts, names, node.leaf.window_days):
            if finding.status == "not_met" and "positive_treated" in node.leaf.accepts:
                return treated_after_positive(facts, names) or finding
            return finding
    if leaf_type == "prior_therapy" and (finding := prior_therapy_leaf(node, text, facts)):
        return finding if finding.status != "met" else enough_distinct(node, finding)
    if (
        leaf_type == "measurement"
        and node.leaf.operator is None
        and (finding := _documented_value(node, facts))
    ):
        return finding
    if leaf_type == "measurement" and node.leaf.change and node.leaf.value is not None:
        names = [node.leaf.name, *re.findall(r"\(([A-Z][A-Za-z0-9-]{1,9})\)", node.text)]
        found = check_change(
            list(dict.fromkeys(names)), node.leaf.operator or ">=", node.leaf.value, node.leaf.change, facts
        )
        if found is not None:
            return found
    if leaf_type == "measurement" and node.leaf.operator and (finding := _threshold(node, facts)):
        return finding
    for evaluator in EVALUATORS.get(leaf_type, []):
        finding = evaluator(text_node, facts)
        if finding is not None:
            if leaf_type == "prior_therapy" and finding.status == "met":
                return enough_distinct(node, finding)
            return finding
    if leaf_type == "free_text" and not (node.leaf and node.leaf.read_by_wording):
        return Finding(
            "insufficient",
            f"{_reviewer('the policy review marks it for a person to read from the record')}.",
        )
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
        what = "free-text requirement" if leaf_type == "free_text" else "documentation requirement"
        return Finding(
            "insufficient", f"{_reviewer(f'the engine cannot check this {what} against the record')}."
        )
    return Finding(
        "insufficient",
        f"{_reviewer(f'the engine could not read this {_words(leaf_type)} criterion')}.",
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
    """Any of the names the policy gives ('typical CIDP or a CIDP variant'), its core without
    severity words and its abbreviation ('RA'), by presence with its assertion: negated,
    family, planned and uncertain mentions do not count."""
    names = [
        n.strip() for name in node.leaf.names for n in re.split(r"\s+or\s+(?:an?\s+)?", name) if n.strip()
    ]
    names += [core_phrase(n) for n in names]
    names += [a for n in names for a in re.findall(r"\b[A-Z][A-Za-z]?[A-Z]{1,5}\b", n)]
    names += [facts.definitions[a] for a in list(names) if a in facts.definitions]
    names = [n for n in dict.fromkeys(names) if n and (len(n) > 3 or n.isupper())]
    mentions = [m for m in facts.mentions(names) if "FAMILY" not in m.categories]
    affirmed = [m for m in mentions if m.assertion in ("present", "historical")]
    negated = [m for m in mentions if m.assertion == "negated"]
    if affirmed:
        m = min(affirmed, key=lambda a: a.in_header)  # the first outside a note's banner, if any
        return Finding("met", f"Documented: {quote(m)}.", [m.evidence()])
    if negated:
        m = negated[0]
        return Finding(
            "not_met",
            f"{RULED_OUT}: {quote(m)}.",
            [m.evidence()],
        )
    return None


def _cotherapy(node: PolicyNode, facts: CaseFacts) -> Finding | None:
    """'Will be used in combination with methotrexate, unless contraindicated or not tolerated':
    the required drug is current (continued, ongoing) in the record, or the exception is. A
    required class is met by any of its members ('continue prednisone' for 'systemic glucocorticoid')."""
    leaf = node.leaf
    if not leaf.required:
        return None
    names = list(dict.fromkeys([*leaf.required, *class_members("; ".join(leaf.required))[0]]))
    current, stopped = [], []
    for m in facts.mentions(names):
        sentence = m.sentence.text
        if m.assertion in ("negated", "family", "hypothetical"):
            continue
        if _STOPPED.search(sentence):
            stopped.append(m)
        elif _ONGOING.search(sentence) or _CURRENT_LIST.search(m.sentence.section or ""):
            current.append(m)
    if current:
        m = current[0]
        return Finding(
            "met",
            f"{m.term} continues with it: {quote(m)}.",
            [x.evidence() for x in current[:2]],
        )
    if leaf.unless and stopped and any(_INTOLERANT.search(m.sentence.text) for m in stopped):
        m = next(m for m in stopped if _INTOLERANT.search(m.sentence.text))
        return Finding(
            "met",
            f"The exception applies ({leaf.unless}): {quote(m)}.",
            [m.evidence()],
        )
    return Finding("insufficient", f"No current use of {', '.join(leaf.required)} with it is documented.")


def _product(node: PolicyNode, facts: CaseFacts) -> Finding:
    """A preferred product meets it outright; a non-preferred one needs what the policy asks."""
    leaf = node.leaf
    requested = {n.lower() for n in [facts.request.drug, *facts.request.drug_aliases] if n}
    requested |= {w.lower() for w in re.findall(r"[A-Za-z][\w-]+", facts.request.drug or "")}
    preferred = [p for p in leaf.preferred if p.lower() in requested]
    if preferred:
        return Finding("met", f"{preferred[0]} is a preferred product under the policy.")
    other = [p for p in leaf.non_preferred if p.lower() in requested]
    if other:
        return Finding(
            "insufficient",
            f"{_reviewer(f'{other[0]} is not a preferred product')}: {shorten(node.text, 200)}",
        )
    return Finding(
        "insufficient",
        f"{_reviewer('the requested product is not among the preferred')} ({', '.join(leaf.preferred)}).",
    )


_ONGOING = re.compile(
    r"\bcontinu\w*|\bongoing\b|\bcurrent(?:ly)?\b|\bremain(?:s|ed)? on\b|\bwill be given with\b|"
    r"\bcombination\b|\bconcomitant|\btaper(?:ing|ed)?\b|\bdo not stop\b|\bsince\b",
    re.I,
)
# a list of what the patient takes now ('Discharge medications', 'Current medications', 'Active meds')
_CURRENT_LIST = re.compile(r"\b(?:discharge|current|active|home|present)\s+(?:medications?|meds)\b", re.I)
_STOPPED = re.compile(r"\bstopped\b|\bdiscontinu\w*|\bceased\b|\bheld\b|\btapered off\b|\bcompleted\b", re.I)
_INTOLERANT = re.compile(r"intoleran|not tolerated|contraindicat|adverse|hepatotox|cytopenia", re.I)


_OP_WORDS = {">=": "≥", ">": ">", "<=": "≤", "<": "<", "=": "="}


def _threshold(node: PolicyNode, facts: CaseFacts) -> Finding | None:
    """The typed threshold in a canonical wording ('BSA ≥ 10%') for the threshold evaluator, so
    that a clause like 'at least 10% of body surface area (BSA) is affected' reads the same."""
    leaf = node.leaf
    if leaf.value is None:
        return None
    names = [leaf.name, *re.findall(r"\(([A-Z][A-Za-z0-9-]{1,9})\)", node.text)]
    unit = leaf.unit or ""
    for name in dict.fromkeys(names):
        canonical = f"{name} {_OP_WORDS[leaf.operator]} {leaf.value:g}{unit}"
        finding = check_threshold(TextNode(node.id, canonical, "leaf", 0, 0, node.chunk_id or ""), facts)
        if finding is not None and finding.status != "insufficient":
            return finding
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
                f"{name} {value.group(0)} is documented: {quote(mention)}.",
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
        finding = Finding("not_met", f'{EXCLUDES}: "{node.text}" names {named}.')
    elif node.leaf and node.leaf.type == "dose_limit":
        finding = dose or Finding(
            "insufficient", f"{_reviewer('the requested dose could not be compared with the limit')}."
        )
    else:
        finding = check_exclusion(
            TextNode(node.id, f"Not: {node.text}", "leaf", 0, 0, node.chunk_id or ""), facts
        ) or Finding(
            "insufficient", f"{_reviewer('the engine cannot check this exclusion against the record')}."
        )
    return Criterion(
        id=node.id,
        text=node.text if _EXCLUSION_WORDING.match(node.text) else f"Exclusion does not apply: {node.text}",
        logic="leaf",
        status=finding.status,
        rationale=finding.rationale,
        evidence=policy_evidence + finding.evidence,
        # 'the requested dose exceeds the limits in Section III' is the policy's dose criterion:
        # no second one (D1) is added beside it, and the draft states it as the dose
        kind="dose_limit" if node.leaf and node.leaf.type == "dose_limit" else "exclusion",
        computed=finding.computed,
    )
