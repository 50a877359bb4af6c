"""The public functions behind `rag`: assess, ask, search (re-exported by `rag/__init__.py`).

`assess`: the analysis (deterministic) decides; the generator writes; citations are numbered and
verified against what was read for this draft. Every store read is scoped to the case
(`rag.retrieval.scope`), and the sources a draft cites are admitted through `scope.admit`.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from ingest.store import Store
from rag.analysis import Analysis, analyse
from rag.analysis.request import RequestError
from rag.drafting import Generator, build_generator
from rag.drafting.citations import number_citations, verify
from rag.drafting.evidence import retrieve_for
from rag.drafting.findings import FINDINGS_KEY, findings_section, reasons
from rag.questions import check_question, no_drug, require_dose
from rag.retrieval import scope
from rag.retrieval.hybrid import Retriever
from rag.retrieval.passages import fetch
from rag.safety import injection_flags
from rag.settings import Settings, load_settings
from rag.types import Assessment, Hit, Provenance, flatten


def _read_by_analysis(analysis: Analysis) -> set[str]:
    read = {cid for d in analysis.facts.docs for cid in d.chunk_ids}
    if analysis.policy:
        read |= set(analysis.policy.doc.chunk_ids)
    if analysis.label_doc:
        read |= set(analysis.label_doc.chunk_ids)
    read |= {cid for c in analysis.dosing.comparators for cid in c.chunk_ids}
    return read


def _cited(assessment: Assessment) -> set[str]:
    cited = {e.chunk_id for c in flatten(assessment.criteria) for e in c.evidence}
    cited |= {cid for s in assessment.sections for b in s.bullets for cid in b.chunk_ids}
    cited |= {cid for c in assessment.dosing.comparators for cid in c.chunk_ids}
    return cited


def _has_request_form(store: Store, case_id: str) -> bool:
    from rag.retrieval.passages import load_case

    return any(d.kind == "request" for d in load_case(store, case_id))


def draft_sources(store: Store, case_id: str, hits: list[Hit], cited: set[str]) -> dict[str, Hit]:
    """Every chunk a draft may cite, by id: what was retrieved plus what the analysis read.

    Chunks are fetched through the case's scope, and the whole set passes `scope.admit`.
    """
    sources = {h.chunk_id: h for h in hits}
    sources |= {h.chunk_id: h for h in fetch(store, sorted(cited - set(sources)), case_id)}
    return {h.chunk_id: h for h in scope.admit(sources.values(), case_id)}


def assess(
    question: str,
    case_id: str,
    settings: Settings | None = None,
    *,
    store: Store | None = None,
    embedder=None,
    generator: Generator | None = None,
    retriever: Retriever | None = None,
) -> Assessment:
    """Draft, number and verify an assessment of `question` for `case_id`."""
    from rag.components import build_retriever, open_parts

    started = time.perf_counter()
    question = check_question(question)  # empty: a usage error; not English: refused
    settings = settings or load_settings()
    store, embedder = open_parts(settings, store, embedder)  # the ONNX session built beside the store
    store.check_model(embedder.name)
    try:
        analysis = analyse(question, case_id, settings, store=store, embedder=embedder)
    except RequestError as exc:  # neither the question nor the request form names a drug
        raise no_drug(question, _has_request_form(store, case_id)) from exc
    require_dose(analysis.request, [d for d in analysis.facts.docs if d.kind == "request"])
    retriever = retriever or build_retriever(settings, store, embedder)
    hits = retrieve_for(analysis, retriever, settings)
    generator = generator or build_generator(settings)
    retrieved = {h.chunk_id for h in hits} | _read_by_analysis(analysis)
    provenance = Provenance(
        generator=generator.name,
        model=generator.model,
        endpoint_host=generator.endpoint_host,
        prompt_versions=dict(generator.prompt_versions),
        embedding_model=embedder.name,
        store=store.location,
        settings_hash=settings.hash(),
        retrieved_chunk_ids=sorted(retrieved),
    )
    assessment = generator.generate(question, scope.admit(hits, case_id), analysis, provenance)
    if not any(section.key == FINDINGS_KEY for section in assessment.sections):
        assessment.sections.insert(0, findings_section(analysis, reasons(analysis)))
    assessment.flags += injection_flags(hits, assessment.flags)
    chunks = draft_sources(store, case_id, hits, _cited(assessment))
    number_citations(assessment, chunks)
    unsupported, checked = verify(assessment, chunks, retrieved)
    assessment.provenance.unsupported_statements = unsupported
    assessment.provenance.checked_statements = checked
    assessment.provenance.seconds = round(time.perf_counter() - started, 3)
    return assessment


def search(
    query: str,
    settings: Settings | None = None,
    *,
    case_id: str | None = None,
    kinds: Sequence[str] | None = None,
    k: int = 10,
) -> list[Hit]:
    """Hybrid search in the scope of `case_id` (literature only without one)."""
    from rag.components import build_retriever

    settings = settings or load_settings()
    return build_retriever(settings).search(query, case_id=case_id, kinds=kinds, k=k)


def patient_record(case_id: str, settings: Settings | None = None, question: str = "", *, store=None):
    """The case's record as the engine reads it (`meddraft case show`): drugs with outcomes and
    dates, tests with results, specialties and values, each row cited. Only this case's documents."""
    from rag.analysis.patient import extract_record
    from rag.components import build_store
    from rag.errors import CaseNotFoundError
    from rag.retrieval.passages import load_case

    settings = settings or load_settings()
    store = store or build_store(settings)
    docs = load_case(store, case_id)
    if not docs:
        raise CaseNotFoundError(case_id, store.case_ids())
    return extract_record(case_id, docs, question)
