"""Metrics: pure functions (gold, draft) -> MetricResult(value, reason).

Citation support follows ALCE (Gao et al., 2023): citation recall = share of statements fully
supported by their citations; citation precision = share of citations that support the statement
they are attached to. Support is checked deterministically: the statement's numbers and key terms
must be found in the cited chunk.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from pydantic import BaseModel

from eval.gold import GoldCase
from eval.prose import sentences
from rag import Assessment, flatten, numbers_in

_STOP = set(
    [
        "the",
        "a",
        "an",
        "of",
        "and",
        "or",
        "to",
        "in",
        "for",
        "with",
        "on",
        "at",
        "by",
        "is",
        "are",
        "was",
        "were",
        "be",
        "been",
        "has",
        "have",
        "had",
        "this",
        "that",
        "these",
        "those",
        "it",
        "its",
        "as",
        "from",
        "not",
        "no",
        "but",
        "which",
        "who",
        "whom",
        "than",
        "then",
        "there",
        "their",
        "they",
        "them",
        "also",
        "may",
        "can",
        "should",
        "would",
        "could",
        "per",
        "patient",
        "patients",
    ]
)


# The words the engine's templates connect facts with ("the policy allows ...", "the request is 4
# times that limit", "the record rules out ..."): they frame a statement, they are not its facts, so
# they are not asked of the cited passage. The facts (names, findings, numbers) still are.
_CONNECTIVES = {
    "policy",
    "policy's",
    "request",
    "requested",
    "requests",
    "limit",
    "times",
    "record",
    "rules",
    "criterion",
    "criteria",
    "requires",
    "require",
    "cover",
    "covers",
    "covered",
    "allows",
    "documentation",
    "documented",
    "deny",
    "approve",
    "pend",
    "answer",
    "change",
    "would",
    "comes",
    "equal",
    "highest",
    "labeled",
    "published",
    "sources",
    "source",
    "exception",
    "higher",
    "needs",
    "under",
    "within",
    "defines",
    "confirms",
    "diagnosis",
    "does",
    "reviewer",
    "settled",
    "sign-off",
    "before",
    "every",
    "holds",
    "until",
}


_CRITERION_IDS = re.compile(r"(?i:\bcriteri(?:on|a) [\w.]+(?:(?:,? and |, )[A-Z]?\d[\w.]*)*)")


class MetricResult(BaseModel):
    name: str
    value: float
    reason: str
    hard: bool = False


def draft_text(draft: Assessment) -> str:
    parts = [draft.verdict.summary]
    parts += [f"{c.text} {c.rationale}" for c in flatten(draft.criteria)]
    parts += [b.text for s in draft.sections for b in s.bullets]
    return "\n".join(parts)


def verdict_accuracy(gold: GoldCase, draft: Assessment) -> MetricResult:
    ok = draft.verdict.label == gold.expected_verdict
    return MetricResult(
        name="verdict_accuracy",
        value=float(ok),
        reason=f"expected {gold.expected_verdict}, got {draft.verdict.label}",
    )


def wrong_approval(gold: GoldCase, draft: Assessment) -> MetricResult:
    """1 when the draft approves what the gold does not: the worst error a review can make."""
    wrong = draft.verdict.label == "indicated" and gold.expected_verdict != "indicated"
    return MetricResult(
        name="wrong_approval",
        value=float(wrong),
        reason=f"approved; expected {gold.expected_verdict}" if wrong else "no wrong approval",
    )


def criterion_agreement(gold: GoldCase, draft: Assessment) -> MetricResult:
    if not gold.criteria:
        return MetricResult(name="criterion_agreement", value=1.0, reason="no criteria in gold")
    flat = flatten(draft.criteria)
    wrong = []
    for expected in gold.criteria:
        hit = next((c for c in flat if re.search(expected.match, c.text, re.I)), None)
        got = hit.status if hit else "missing"
        if got != expected.status:
            wrong.append(f"{expected.match!r}: expected {expected.status}, got {got}")
    value = 1 - len(wrong) / len(gold.criteria)
    return MetricResult(
        name="criterion_agreement", value=value, reason="; ".join(wrong) or f"all {len(gold.criteria)} agree"
    )


def key_fact_recall(gold: GoldCase, draft: Assessment) -> MetricResult:
    if not gold.key_facts:
        return MetricResult(name="key_fact_recall", value=1.0, reason="no key facts in gold")
    text = draft_text(draft)
    missing = [f for f in gold.key_facts if not re.search(f, text, re.I)]
    return MetricResult(
        name="key_fact_recall",
        value=1 - len(missing) / len(gold.key_facts),
        reason=f"missing: {missing}" if missing else "all present",
    )


def forbidden_statements(gold: GoldCase, draft: Assessment) -> MetricResult:
    """Count of forbidden patterns found in the draft's own conclusions (flags quote sources)."""
    text = "\n".join(
        [draft.verdict.summary]
        + [b.text for s in draft.sections if s.key == "recommendation" for b in s.bullets]
        + [c.rationale for c in flatten(draft.criteria)]
    )
    found = [f for f in gold.forbidden if re.search(f, text, re.I)]
    return MetricResult(
        name="forbidden_statements",
        value=float(len(found)),
        reason=f"found: {found}" if found else "none",
        hard=True,
    )


def citation_validity(gold: GoldCase, draft: Assessment) -> MetricResult:
    """Every marker resolves to a reference and every reference is cited: 1.0 or less."""
    numbers = {r.n for r in draft.references}
    used: set[int] = set()
    dangling = []
    for item in [*(flatten(draft.criteria)), *(b for s in draft.sections for b in s.bullets)]:
        used |= set(item.citations)
        dangling += [n for n in item.citations if n not in numbers]
    for comparator in draft.dosing.comparators:
        used |= set(comparator.citations)
    uncited = sorted(numbers - used)
    ok = not dangling and not uncited
    return MetricResult(
        name="citation_validity",
        value=float(ok),
        hard=True,
        reason="ok" if ok else f"dangling {sorted(set(dangling))}, uncited {uncited}",
    )


def must_cite_recall(gold: GoldCase, draft: Assessment) -> MetricResult:
    if not gold.must_cite and not gold.must_cite_any:
        return MetricResult(name="must_cite_recall", value=1.0, reason="nothing required")
    cited = {r.doc_id for r in draft.references}
    missing = [d for d in gold.must_cite if d not in cited]
    required = len(gold.must_cite)
    if gold.must_cite_any:
        required += 1
        if not set(gold.must_cite_any) & cited:
            missing.append(f"one of {gold.must_cite_any}")
    return MetricResult(
        name="must_cite_recall",
        value=1 - len(missing) / required,
        reason=f"not cited: {missing}" if missing else "all cited",
    )


def key_terms(text: str) -> set[str]:
    return {w.lower() for w in re.findall(r"[A-Za-z][A-Za-z0-9'-]{3,}", text)} - _STOP - _CONNECTIVES


def supports(statement: str, passage: str, computed: Iterable[str] = (), min_overlap: float = 0.5) -> bool:
    """Deterministic support: numbers of the statement in the passage, and enough key terms.
    A criterion's id ('criterion 1.3', 'criteria 1, P1 and X1') is the policy's numbering, not a
    fact asked of the passage."""
    statement = _CRITERION_IDS.sub("", statement)
    numbers = numbers_in(statement) - numbers_in(" ".join(computed)) - {"0", "1"}
    if numbers - numbers_in(passage):
        return False
    terms = key_terms(statement)
    if not terms:
        return True
    return len(terms & key_terms(passage)) / len(terms) >= min_overlap


def citation_support(
    gold: GoldCase, draft: Assessment, chunk_texts: dict[str, str]
) -> tuple[MetricResult, MetricResult]:
    """ALCE-style citation recall and precision over bullets (the draft's statements).

    As in ALCE, where a statement is a sentence, a citation is precise when it supports one of
    the bullet's sentences alone, or when the bullet is supported by all its citations together
    and no longer without this one (a statement that weighs two sources needs both)."""
    statements = recall_ok = 0
    citations = precision_ok = 0
    for bullet in (b for s in draft.sections for b in s.bullets):
        if not bullet.chunk_ids:
            continue
        statements += 1
        texts = [chunk_texts.get(c, "") for c in bullet.chunk_ids]
        together = supports(bullet.text, " ".join(texts), bullet.computed)
        recall_ok += together
        for i, text in enumerate(texts):
            citations += 1
            alone = any(
                supports(sentence, text, bullet.computed, min_overlap=0.25)
                for sentence in sentences(bullet.text) or [bullet.text]
            )
            rest = " ".join(texts[:i] + texts[i + 1 :])
            needed = together and len(texts) > 1 and not supports(bullet.text, rest, bullet.computed)
            precision_ok += alone or needed
    recall = recall_ok / statements if statements else 1.0
    precision = precision_ok / citations if citations else 1.0
    return (
        MetricResult(
            name="citation_recall", value=recall, reason=f"{recall_ok}/{statements} statements supported"
        ),
        MetricResult(
            name="citation_precision", value=precision, reason=f"{precision_ok}/{citations} citations support"
        ),
    )


def unsupported_numbers(gold: GoldCase, draft: Assessment) -> MetricResult:
    n = draft.provenance.unsupported_statements
    return MetricResult(
        name="unsupported_statements",
        value=float(n),
        reason=f"{n} of {draft.provenance.checked_statements} statements",
    )


def retrieval_recall(gold: GoldCase, draft: Assessment, retrieved_docs: set[str]) -> MetricResult:
    wanted = set(gold.must_cite) | {c.evidence_doc for c in gold.criteria if c.evidence_doc}
    if not wanted:
        return MetricResult(name="retrieval_recall", value=1.0, reason="no gold documents")
    missing = sorted(wanted - retrieved_docs)
    return MetricResult(
        name="retrieval_recall",
        value=1 - len(missing) / len(wanted),
        reason=f"not retrieved: {missing}" if missing else f"all {len(wanted)} retrieved",
    )


def leakage(gold: GoldCase, draft: Assessment, chunk_cases: dict[str, str]) -> MetricResult:
    """Chunks of another case read or cited for this draft: must be 0."""
    foreign = sorted({c for c, case in chunk_cases.items() if case not in ("", gold.case_id)})
    return MetricResult(
        name="cross_case_leakage",
        value=float(len(foreign)),
        hard=True,
        reason=f"{len(foreign)} foreign chunks" if foreign else "none",
    )


def dose_agreement(gold: GoldCase, draft: Assessment) -> MetricResult:
    if gold.requested_mg_per_28_days is None:
        return MetricResult(name="dose_agreement", value=1.0, reason="no dose in gold")
    got = draft.dosing.requested.mg_per_28_days if draft.dosing.requested else None
    wanted = gold.requested_mg_per_28_days
    accepted = wanted if isinstance(wanted, list) else [wanted]
    ok = got is not None and any(abs(got - w) <= 0.01 * w for w in accepted)
    return MetricResult(
        name="dose_agreement",
        value=float(ok),
        reason=f"expected {gold.requested_mg_per_28_days} mg/28 d, got {got}",
    )
