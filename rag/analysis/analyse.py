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
from rag.analysis.evaluators.dose_limit import dose_limit_criterion
from rag.analysis.evaluators.tree import evaluate
from rag.analysis.policy import PolicyMatch, find_policy_docs, select_section
from rag.analysis.record import CaseFacts
from rag.analysis.request import parse_request
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
            "section": policy.section.title if policy.section else None,
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

    min_similarity = settings.analysis.section_min_similarity
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

    label = label_doc(store, request)
    dosing = dosing_analysis(store, request, policy, label)
    if policy is not None and (limit := dose_limit_criterion(dosing, policy.doc.doc_id)):
        criteria.append(limit)
    if policy is None or (policy.section is None and not criteria):
        verdict, deciding = "insufficient_information", []
    else:
        verdict, deciding = verdict_of(criteria)
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
    return list(dict.fromkeys(out))


def _find_policy(store, request, indications, embedder, min_similarity, messages) -> PolicyMatch | None:
    catalogue = literature_catalogue(store, ["policy"])
    ids = find_policy_docs(catalogue, drug_names(request))
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
