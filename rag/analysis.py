"""Deterministic clinical analysis: request -> policy section -> criteria check -> verdict, doses.

No model is involved; every decision carries the chunks it rests on.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from ingest.errors import CaseNotFoundError, StoreError
from ingest.store import Store
from rag.criteria import confidence, coverage_criteria, evaluate, verdict_of
from rag.dosing import find_regimens, format_mg
from rag.facts import CaseFacts
from rag.models import (
    Criterion,
    Dose,
    DoseComparator,
    DosingAnalysis,
    Evidence,
    Flag,
    RequestInfo,
    Verdict,
)
from rag.policy import PolicyMatch, core_phrase, find_policy_docs, select_section
from rag.request import parse_request
from rag.sources import SourceDoc, literature_catalogue, load_case, load_documents, units

_LIMIT_WORDS = re.compile(r"maximum|\bmax\b|up to|limit|not (?:to )?exceed|no more than|covered dose", re.I)
_TYPICAL = re.compile(
    r"most common|most frequent|commonly|median|typical|usual|standard|recommended|most often|most used",
    re.I,
)
_GENERIC_LABEL = re.compile(
    r"^(?:adults?|children|pediatric|ages?|maximum|max|quantity|maintenance|induction|loading|"
    r"initial|note|dose|dosing|limit|weight|patients?|members?)\b",
    re.I,
)


@dataclass
class Analysis:
    question: str
    case_id: str
    request: RequestInfo
    facts: CaseFacts
    policy: PolicyMatch | None
    criteria: list[Criterion]
    verdict: Verdict
    deciding: list[Criterion]
    confidence: float
    dosing: DosingAnalysis
    label_doc: SourceDoc | None = None
    messages: list[str] = field(default_factory=list)

    @property
    def flags(self) -> list[Flag]:
        return self.facts.flags

    def policy_info(self) -> dict | None:
        """The policy used, for the assessment: doc id, title, section and the sections weighed."""
        if not self.policy:
            return None
        policy = self.policy
        return {
            "doc_id": policy.doc.doc_id,
            "title": policy.doc.title,
            "section": policy.section.title if policy.section else None,
            "candidates": [{"section": t, "similarity": s} for t, s in policy.candidates[:5]],
        }

    @property
    def indications(self) -> list[str]:
        return self.request.indication_terms or ([self.request.indication] if self.request.indication else [])


def _names(request: RequestInfo) -> list[str]:
    return [request.drug, *request.drug_aliases]


def analyse(question: str, case_id: str, *, store: Store, embedder, min_similarity: float = 0.5) -> Analysis:
    if store.is_empty():
        raise StoreError(f"the store at {store.location} is empty: run `meddraft ingest PATH` first")
    docs = load_case(store, case_id)
    if not docs:
        raise CaseNotFoundError(case_id, store.case_ids())
    request = parse_request(question, docs)
    vectors = {k: np.asarray(v) for k, v in store.vectors({"case_id": case_id}).items()}
    facts = CaseFacts(case_id, docs, request, embedder.embed, vectors)
    indications = _expanded(request, facts)
    request.indication_terms = indications
    messages: list[str] = []

    policy = _find_policy(store, request, indications, embedder, min_similarity, messages)
    criteria: list[Criterion] = []
    if policy is not None:
        if policy.section and policy.section.root:
            heading = policy.section.heading
            context = policy.doc.text[heading.start : heading.end]
            criteria = [evaluate(n, facts, policy.doc.doc_id, context) for n in policy.section.root.children]
        elif policy.section is None:
            listed = ", ".join(t for t, _ in policy.candidates) or "none"
            messages.append(
                f"No section of {policy.doc.title} applies to '{request.indication or 'the indication'}' "
                f"(sections: {listed}); the decision needs another policy or a medical director review."
            )
        criteria += coverage_criteria(policy, facts, indications)

    dosing = _dosing(store, request, policy, embedder)
    limit = next((c for c in dosing.comparators if c.source_kind == "policy"), None)
    if limit and request.dose and request.dose.mg_per_28_days and limit.mg_per_28_days:
        over = request.dose.mg_per_28_days > limit.mg_per_28_days * 1.01
        criteria.append(
            Criterion(
                id="D1",
                kind="dose_limit",
                logic="leaf",
                status="not_met" if over else "met",
                text=f"Requested dose within the policy's limit for this indication ({limit.dose_text})",
                rationale=(
                    f"{request.dose.arithmetic}; the limit is {format_mg(limit.mg_per_28_days)} per 28 days"
                    f" ({limit.dose_text}): {'above' if over else 'within'} the limit."
                ),
                evidence=[
                    Evidence(chunk_id=c, doc_id=policy.doc.doc_id, quote=limit.dose_text)
                    for c in limit.chunk_ids[:1]
                ],
                computed=re.findall(r"\d+(?:\.\d+)?", f"{request.dose.arithmetic} {limit.mg_per_28_days}"),
            )
        )
    if policy is None or (policy.section is None and not criteria):
        verdict, deciding = "insufficient_information", []
    else:
        verdict, deciding = verdict_of(criteria)
    for c in deciding:
        c.deciding = True
    label_doc = _label_doc(store, request)
    return Analysis(
        question,
        case_id,
        request,
        facts,
        policy,
        criteria,
        verdict,
        deciding,
        confidence(verdict, deciding, criteria),
        dosing,
        label_doc,
        messages,
    )


def _expanded(request: RequestInfo, facts: CaseFacts) -> list[str]:
    out = []
    for text in request.indication_terms or [request.indication]:
        if not text:
            continue
        out.append(text)
        for short in re.findall(r"\b[A-Z][A-Z0-9-]{1,9}\b", text):
            long = facts.definitions.get(short)
            if long:
                out.append(re.sub(rf"\b{re.escape(short)}\b", long, text))
    return list(dict.fromkeys(out))


def _find_policy(store, request, indications, embedder, min_similarity, messages) -> PolicyMatch | None:
    catalogue = literature_catalogue(store, ["policy"])
    ids = find_policy_docs(catalogue, _names(request))
    if not ids:
        messages.append(f"No coverage policy for {request.drug} is in the store: ingest the payer's policy.")
        return None
    best: PolicyMatch | None = None
    for doc in load_documents(store, ids):
        match = select_section(doc, indications, embedder.embed, min_similarity)
        score = match.candidates[0][1] if match.candidates else 0.0
        if best is None or (match.section is not None, score) > (
            best.section is not None,
            best.candidates[0][1] if best.candidates else 0,
        ):
            best = match
    return best


def _label_doc(store: Store, request: RequestInfo) -> SourceDoc | None:
    ids = find_policy_docs(literature_catalogue(store, ["drug_label"]), _names(request))
    docs = load_documents(store, ids[:1])
    return docs[0] if docs else None


def _regimens(text: str, weight: float | None) -> list[Dose]:
    return [d for _, _, d in find_regimens(text, weight_kg=weight) if d.mg_per_28_days]


def _other_product(line: str, names: list[str]) -> bool:
    head = re.match(r"^([A-Z][\w-]+):", line)
    return bool(
        head
        and not _GENERIC_LABEL.match(head.group(1))
        and head.group(1).lower() not in {n.lower() for n in names}
    )


def _dosing(store: Store, request: RequestInfo, policy: PolicyMatch | None, embedder) -> DosingAnalysis:
    weight = request.patient_weight_kg
    comparators: list[DoseComparator] = []
    if policy and policy.section:
        lines = [(t, c) for t, c in policy.section.dosing if not _other_product(t, _names(request))]
        limited = [(t, c) for t, c in lines if _LIMIT_WORDS.search(t)] or lines
        best = None
        for text, chunk_id in limited:
            for dose in _regimens(text, weight):
                if best is None or dose.mg_per_28_days > best[0].mg_per_28_days:
                    best = (dose, text, chunk_id)
        if best:
            dose, text, chunk_id = best
            comparators.append(
                _comparator(f"Policy limit ({policy.section.title})", "policy", dose, text, chunk_id)
            )
    label = _label_doc(store, request)
    if label:
        comparators += _label_comparators(label, request, weight)
    comparators += _literature_comparators(store, request, weight)
    summary = _dose_summary(request.dose, comparators)
    return DosingAnalysis(requested=request.dose, comparators=comparators, summary=summary)


def _label_comparators(label: SourceDoc, request: RequestInfo, weight: float | None) -> list[DoseComparator]:
    cores = [c.lower() for c in (core_phrase(i) for i in request.indication_terms) if c]
    rows = []
    for start, end in units(label.text):
        text = label.text[start:end]
        for dose in _regimens(text, weight):
            rows.append((any(c in text.lower() for c in cores), dose, text, label.chunk_at(start, end)[0]))
    if not rows:
        return []
    matching = [r for r in rows if r[0]]
    pick = max(matching or rows, key=lambda r: r[1].mg_per_28_days)
    what = "for this indication" if matching else "(highest labeled dose, any indication)"
    _, dose, text, chunk_id = pick
    return [
        _comparator(f"Label {what}", "drug_label", dose, re.sub(r"\s+", " ", text.strip(" |-*")), chunk_id)
    ]


def _literature_comparators(store: Store, request: RequestInfo, weight: float | None) -> list[DoseComparator]:
    kinds = ["systematic_review", "study", "guideline"]
    catalogue = literature_catalogue(store, kinds)
    cores = [c for c in (core_phrase(i) for i in request.indication_terms) if c]
    names = _names(request)
    docs = load_documents(store, [m["doc_id"] for m in catalogue])
    out = []
    for doc in docs:
        if not any(re.search(rf"\b{re.escape(n)}\b", doc.text, re.I) for n in names):
            continue
        about_drug = any(re.search(rf"\b{re.escape(n)}\b", doc.title, re.I) for n in names)
        for s in doc.sentences:
            names_drug = any(re.search(rf"\b{re.escape(n)}\b", s.text, re.I) for n in names)
            if not _TYPICAL.search(s.text) or not (about_drug or names_drug):
                continue
            doses = _regimens(s.text, weight)
            if doses:
                dose = doses[0]
                relevant = any(c.lower() in doc.text.lower() for c in cores)
                out.append((relevant, doc, s, dose))
    out.sort(key=lambda r: (not r[0], -(r[1].year or 0)))
    seen: set[tuple[str, float]] = set()
    out = [
        r
        for r in out
        if (r[1].doc_id, r[3].mg_per_28_days) not in seen and not seen.add((r[1].doc_id, r[3].mg_per_28_days))
    ]
    return [
        _comparator(f"Literature: {doc.title}", "literature", dose, s.clean, s.chunk_id)
        for _, doc, s, dose in out[:3]
    ]


def _comparator(label: str, kind: str, dose: Dose, text: str, chunk_id: str) -> DoseComparator:
    return DoseComparator(
        label=label,
        source_kind=kind,
        dose_mg=dose.dose_mg,
        interval_days=dose.interval_days,
        mg_per_28_days=dose.mg_per_28_days,
        dose_text=text,
        arithmetic=dose.arithmetic,
        chunk_ids=[chunk_id],
    )


def _dose_summary(requested: Dose | None, comparators: list[DoseComparator]) -> str:
    if requested is None or not requested.mg_per_28_days:
        return "The requested dose could not be normalised to mg per 28 days."
    parts = [f"Requested: {requested.arithmetic}."]
    for c in comparators:
        if c.mg_per_28_days:
            ratio = requested.mg_per_28_days / c.mg_per_28_days
            parts.append(f"{c.label}: {format_mg(c.mg_per_28_days)} per 28 days ({ratio:.1f}x).")
    return " ".join(parts)
