"""What a draft reads besides the analysis: targeted, scoped searches per section of the draft."""

from __future__ import annotations

from rag.analysis import Analysis
from rag.analysis.policy import core_phrase
from rag.retrieval.hybrid import Retriever
from rag.retrieval.scope import CASE_KINDS, LITERATURE_KINDS
from rag.settings import Settings
from rag.types import Hit

LITERATURE = list(LITERATURE_KINDS)
CASE = list(CASE_KINDS)


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
            CASE,
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
