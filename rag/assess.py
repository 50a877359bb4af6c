"""The public API: `assess(question, case_id)` -> a verified `Assessment`.

Analysis (deterministic) decides; the generator writes; citations are numbered and verified
against what was retrieved for this draft. Nothing of another case is ever read: every store
query is scoped to the case.
"""

from __future__ import annotations

import time

from ingest.store import Store
from rag.analysis import Analysis, analyse
from rag.citations import ChunkInfo, number_citations, verify
from rag.models import Assessment, Hit, Provenance, flatten
from rag.policy import core_phrase
from rag.retrieve import Retriever
from rag.settings import Settings, load_settings

LITERATURE = ["systematic_review", "study", "guideline"]
CASE_KINDS = ["clinical_note", "request"]


def section_queries(analysis: Analysis) -> dict[str, tuple[list[str], list[str] | None, bool, int]]:
    """Targeted queries per purpose: (queries, kinds, scoped to the case, hits allowed per doc)."""
    drug = analysis.request.drug
    indication = max(analysis.indications, key=len, default="") or analysis.request.indication or ""
    core = core_phrase(indication) or indication
    return {
        "evidence": (
            [
                f"{drug} {indication} response rate efficacy",
                f"{drug} {core} systematic review outcomes",
                f"{drug} {core} most common dose",
                f"{drug} complete response partial response percentage of patients results",
            ],
            LITERATURE,
            False,
            6,
        ),
        "patient": (
            [
                f"{indication} diagnosis work-up results",
                f"prior treatments failed for {core}",
                f"emergency department visits hospitalizations episodes {core}",
                "current symptoms trajectory plan",
            ],
            CASE_KINDS,
            True,
            3,
        ),
        "pitfalls": (
            [
                f"{core} diagnosis caveats misdiagnosis",
                f"{drug} safety warnings adverse events",
                f"{core} comorbidities triggers",
            ],
            [*LITERATURE, "drug_label"],
            False,
            3,
        ),
        "policy": ([f"{drug} {indication} coverage criteria"], ["policy"], False, 3),
    }


def retrieve_for(analysis: Analysis, retriever: Retriever, settings: Settings) -> list[Hit]:
    hits: dict[str, Hit] = {}
    for queries, kinds, scoped, per_doc in section_queries(analysis).values():
        found = retriever.search_many(
            queries,
            case_id=analysis.case_id if scoped else None,
            kinds=kinds,
            k_per_query=settings.retrieval.k_per_query,
            k_total=settings.retrieval.k_total,
            per_doc_cap=max(per_doc, settings.retrieval.per_doc_cap),
        )
        for hit in found:
            hits.setdefault(hit.chunk_id, hit)
    return list(hits.values())


def _chunk_infos(
    store: Store, analysis: Analysis, hits: list[Hit], assessment: Assessment
) -> dict[str, ChunkInfo]:
    infos: dict[str, ChunkInfo] = {}
    for hit in hits:
        infos[hit.chunk_id] = ChunkInfo(hit.chunk_id, hit.doc_id, hit.text, hit.model_dump())
    cited = {e.chunk_id for c in flatten(assessment.criteria) for e in c.evidence}
    cited |= {cid for s in assessment.sections for b in s.bullets for cid in b.chunk_ids}
    cited |= {cid for c in assessment.dosing.comparators for cid in c.chunk_ids}
    missing = sorted(cited - set(infos))
    for item in store.get(ids=missing) if missing else []:
        case = item.metadata.get("case_id") or None
        if case not in (None, analysis.case_id):
            continue  # never let another case's chunk into this draft, whatever cited it
        infos[item.id] = ChunkInfo(item.id, item.metadata["doc_id"], item.text, item.metadata)
    return infos


def _read_by_analysis(analysis: Analysis) -> set[str]:
    read = {cid for d in analysis.facts.docs for cid in d.chunk_ids}
    if analysis.policy:
        read |= set(analysis.policy.doc.chunk_ids)
    if analysis.label_doc:
        read |= set(analysis.label_doc.chunk_ids)
    read |= {cid for c in analysis.dosing.comparators for cid in c.chunk_ids}
    return read


def assess(
    question: str,
    case_id: str,
    settings: Settings | None = None,
    *,
    store: Store | None = None,
    embedder=None,
    generator=None,
    retriever: Retriever | None = None,
) -> Assessment:
    """Draft, number and verify an assessment of `question` for `case_id`."""
    from rag.components import build_embedder, build_generator, build_store

    started = time.perf_counter()
    settings = settings or load_settings()
    store = store or build_store(settings)
    embedder = embedder or build_embedder(settings)
    store.check_model(embedder.name)
    analysis = analyse(
        question,
        case_id,
        store=store,
        embedder=embedder,
        min_similarity=settings.analysis.section_min_similarity,
    )
    retriever = retriever or Retriever(store, embedder)
    hits = retrieve_for(analysis, retriever, settings)
    generator = generator or build_generator(settings)
    retrieved = {h.chunk_id for h in hits} | _read_by_analysis(analysis)
    provenance = Provenance(
        generator=generator.name,
        model=getattr(generator, "model", None),
        endpoint_host=getattr(generator, "endpoint_host", None),
        embedding_model=embedder.name,
        store=store.location,
        settings_hash=settings.hash(),
        retrieved_chunk_ids=sorted(retrieved),
    )
    assessment = generator.generate(question, hits, analysis, provenance)
    chunks = _chunk_infos(store, analysis, hits, assessment)
    number_citations(assessment, chunks)
    unsupported, checked = verify(assessment, chunks, retrieved)
    assessment.provenance.unsupported_statements = unsupported
    assessment.provenance.checked_statements = checked
    assessment.provenance.seconds = round(time.perf_counter() - started, 3)
    return assessment
