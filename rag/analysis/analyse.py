"""The deterministic analysis, step by step: request -> policy section -> criteria -> verdict, doses.

No model is involved; every decision carries the chunks it rests on.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from ingest.store import Store
from rag.analysis.comparators import dosing_analysis, drug_names, label_doc
from rag.analysis.evaluators.coverage import coverage_criteria
from rag.analysis.evaluators.dose_limit import dose_limit_criterion, dose_limit_finding
from rag.analysis.evaluators.typed import evaluate
from rag.analysis.policy import find_policy_docs
from rag.analysis.record import CaseFacts
from rag.analysis.request import parse_request
from rag.analysis.select import Choice, choose, phase_of
from rag.analysis.verdict import confidence, verdict_of
from rag.errors import CaseNotFoundError, StoreError
from rag.retrieval import scope
from rag.retrieval.passages import SourceDoc, literature_catalogue, load_case, load_documents
from rag.settings import Settings
from rag.types import (
    Assessment,
    Criterion,
    DosingAnalysis,
    Flag,
    Provenance,
    RequestInfo,
    Section,
    Verdict,
    VerdictInfo,
)


@dataclass
class Analysis:
    question: str
    case_id: str
    request: RequestInfo
    facts: CaseFacts
    policy: Choice | None
    criteria: list[Criterion]
    verdict: Verdict
    deciding: list[Criterion]
    confidence: float
    dosing: DosingAnalysis
    label_doc: SourceDoc | None = None
    messages: list[str] = field(default_factory=list)

    @property
    def flags(self) -> list[Flag]:
        return [*self.request.disagreements, *self.facts.flags]

    def assessment(
        self,
        question: str,
        verdict: VerdictInfo,
        criteria: list[Criterion],
        sections: list[Section],
        provenance: Provenance,
        flags: list[Flag],
    ) -> Assessment:
        """The draft a generator wrote, with what the analysis contributes (request, policy, doses)."""
        return Assessment(
            question=question,
            case_id=self.case_id,
            verdict=verdict,
            criteria=criteria,
            sections=sections,
            dosing=self.dosing,
            provenance=provenance,
            request=self.request,
            policy=self.policy_info(),
            flags=flags,
        )

    def policy_info(self) -> dict | None:
        """The policy used, for the assessment: doc id, title, section and the sections weighed."""
        if not self.policy:
            return None
        policy = self.policy
        return {
            "doc_id": policy.doc.doc_id,
            "title": policy.doc.title,
            "section": policy.indication.name if policy.indication else None,
            "phase": policy.phase,
            "criteria_source": policy.criteria.source,
            "criteria_hash": policy.criteria.source_hash,
            "criteria_accepted": policy.criteria.accepted,
            "candidates": [{"section": t, "similarity": s} for t, s in policy.candidates[:5]],
        }

    @property
    def indications(self) -> list[str]:
        return self.request.indication_terms or ([self.request.indication] if self.request.indication else [])


def analyse(question: str, case_id: str, settings: Settings, *, store: Store, embedder) -> Analysis:
    """Analyse `question` for `case_id`; reads the `analysis` group of the settings."""
    if store.is_empty():
        raise StoreError(f"the store at {store.location} is empty: run `meddraft ingest PATH` first")
    docs = load_case(store, case_id)
    if not docs:
        raise CaseNotFoundError(case_id, store.case_ids())
    request = parse_request(question, docs)
    vectors = {k: np.asarray(v) for k, v in store.vectors(scope.case_only(case_id)).items()}
    facts = CaseFacts(case_id, docs, request, embedder.embed, vectors)
    indications = _expanded(request, facts)
    request.indication_terms = indications
    messages: list[str] = []

    policy = _find_policy(store, request, indications, embedder, settings, question, docs, messages)
    label = label_doc(store, request)
    dosing = dosing_analysis(store, request, policy.indication if policy else None, label)
    dose = dose_limit_finding(dosing, policy.doc.doc_id) if policy else None
    criteria: list[Criterion] = []
    if policy is not None:
        tree = policy.tree
        if tree is not None:
            top = tree.children if tree.logic == "all" and tree.children else [tree]
            context = " ".join(t for n in tree.walk() for t in (n.text, *n.notes))
            criteria = [evaluate(n, facts, policy.doc.doc_id, dose=dose, context=context) for n in top]
        elif policy.indication is None:
            listed = ", ".join(t for t, _ in policy.candidates) or "none"
            messages.append(
                f"No section of {policy.doc.title} applies to '{request.indication or 'the indication'}' "
                f"(sections: {listed}); the decision needs another policy or a medical director review."
            )
        criteria += coverage_criteria(policy, facts, indications, dose=dose)
        has_dose_leaf = any(c.kind == "dose_limit" for top in criteria for c in _flat(top))
        if dose is not None and not has_dose_leaf and policy.indication is not None:
            criteria.append(dose_limit_criterion(dosing, policy.doc.doc_id, dose))
    verdict, deciding = verdict_of(criteria)
    if (policy is None or policy.indication is None) and verdict != "not_indicated":
        # without the applicable section nothing can be approved; a listed exclusion still denies
        verdict, deciding = "insufficient_information", []
    for c in deciding:
        c.deciding = True
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
        label,
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
    # and the abbreviation the case defines for a term written out ('CIDP' for the long name)
    written = {t.lower() for t in out}
    out += [short for short, long in facts.definitions.items() if long.lower() in written]
    # or the initialism the record uses without defining it ('typical CIDP')
    for text in list(out):
        words = re.findall(r"[A-Za-z]+", text)
        initials = "".join(w[0] for w in words).upper()
        if len(words) >= 3 and any(re.search(rf"\b{initials}\b", d.text) for d in facts.docs):
            out.append(initials)
    return list(dict.fromkeys(out))


def _find_policy(store, request, indications, embedder, settings, question, docs, messages) -> Choice | None:
    catalogue = literature_catalogue(store, ["policy"])
    ids = find_policy_docs(catalogue, drug_names(request))
    if not ids:
        messages.append(f"No coverage policy for {request.drug} is in the store: ingest the payer's policy.")
        return None
    request_text = "\n".join(d.text for d in docs if d.kind == "request")
    phase = phase_of(question, request_text)
    analysis = settings.analysis
    return choose(
        load_documents(store, ids),
        indications,
        embedder.embed,
        analysis.section_min_similarity,
        phase,
        tuple(analysis.criteria_files),
    )


def _flat(criterion: Criterion) -> list[Criterion]:
    return [criterion, *(c for child in criterion.children for c in _flat(child))]
