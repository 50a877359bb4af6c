"""The typed objects every stage hands on, and the output contract.

One chain of types carries a source from the store to a citation:
`ingest.documents.Document` -> `Chunk` (stored) -> `Hit` (a chunk as rag reads it, with the ranks
that found it) -> `Reference` (a cited document and the hits cited in it). Analysis, drafting and
rendering add the assessment's own objects (`Criterion`, `Bullet`, `Dose`, `Assessment`). Field
descriptions double as the JSON schema a model fills (see DESIGN.md, "The assessment").
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ingest.documents import locator
from ingest.store import StoredChunk

Verdict = Literal["indicated", "not_indicated", "insufficient_information"]
Status = Literal["met", "not_met", "insufficient"]
Logic = Literal["all", "any", "leaf"]
SectionKey = Literal["findings", "evidence", "patient_context", "dosing", "pitfalls", "recommendation"]
SECTION_TITLES: dict[str, str] = {  # the sections a generator writes, in their order
    "evidence": "Evidence",
    "patient_context": "Patient-specific clinical context",
    "dosing": "The dosing question",
    "pitfalls": "Pitfalls and caveats",
    "recommendation": "Recommendation",
}
Assertion = Literal["present", "negated", "historical", "uncertain", "pending", "family", "hypothetical"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


# --- retrieval ----------------------------------------------------------------------------------


class _Document(_Model):
    """What identifies a source document wherever it is shown or cited."""

    doc_id: str
    title: str
    kind: str
    source: str | None = None
    year: int | None = None
    date: str | None = Field(None, description="Encounter or publication date (ISO).")
    url: str | None = None
    authors: list[str] = Field(default_factory=list, description='"Family GN" or "Given Family", in order.')
    doi: str | None = None
    pmid: str | None = None
    journal: str | None = None
    volume: str | None = None
    issue: str | None = None
    pages: str | None = Field(None, description="The article's page range in its journal.")

    def bibliographic(self) -> dict[str, Any]:
        """The fields a reference list is written from (the same on a hit and its reference)."""
        return {name: getattr(self, name) for name in _Document.model_fields}


class Hit(_Document):
    """One chunk as rag reads it, with the ranks that found it (zero when it was read, not ranked)."""

    chunk_id: str
    text: str
    case_id: str | None = None
    section: str = ""
    page_start: int | None = None
    page_end: int | None = None
    char_start: int = Field(0, description="Offset of the chunk in its document's text.")
    char_end: int = 0
    source_path: str | None = Field(None, description="The file it was ingested from.")
    score: float = Field(0.0, description="Fused reciprocal-rank score.")
    dense_rank: int | None = Field(None, description="1-based rank in the dense list, if any.")
    bm25_rank: int | None = Field(None, description="1-based rank in the BM25 list, if any.")
    dense_distance: float | None = None
    bm25_score: float | None = None

    @classmethod
    def of(cls, item: StoredChunk, **ranks: Any) -> Hit:
        """The stored chunk as rag reads it (metadata fields typed), with any ranks given."""
        m = item.metadata
        return cls(
            chunk_id=item.id,
            doc_id=m.get("doc_id", ""),
            text=item.text,
            kind=m.get("kind", ""),
            title=m.get("title") or m.get("doc_id", ""),
            source=m.get("source"),
            year=m.get("year"),
            case_id=m.get("case_id") or None,
            section=m.get("section", ""),
            page_start=m.get("page_start"),
            page_end=m.get("page_end"),
            date=m.get("date"),
            url=m.get("url"),
            authors=_authors(m.get("authors")),
            doi=m.get("doi"),
            pmid=m.get("pmid"),
            journal=m.get("journal"),
            volume=m.get("volume"),
            issue=m.get("issue"),
            pages=m.get("pages"),
            char_start=m.get("char_start", 0),
            char_end=m.get("char_end", 0),
            source_path=m.get("source_path"),
            **ranks,
        )

    @property
    def locator(self) -> str:
        """Where this chunk is: 'p. 3', 'pp. 3-4' or 'section: A > B' (as ingestion says it)."""
        return locator(self.page_start, self.page_end, self.section)


# --- dosing -------------------------------------------------------------------------------------


class Dose(_Model):
    """A dose regimen normalised to mg per 28 days (maintenance phase)."""

    drug: str | None = None
    dose_mg: float | None = Field(None, description="Maintenance dose in mg (after weight).")
    dose_text: str = Field("", description="The dose as written, e.g. '1 g/kg every 3 weeks'.")
    per_kg: bool = Field(False, description="True when the written dose is per kg of body weight.")
    weight_kg: float | None = None
    interval_days: float | None = Field(None, description="Days between maintenance doses.")
    mg_per_28_days: float | None = None
    loading_text: str | None = Field(None, description="Loading regimen, when one precedes it.")
    route: str | None = None
    arithmetic: str = Field("", description="How mg_per_28_days was computed, shown to readers.")


ONE_TIME_DOSE = "policy_single"  # a comparator's source_kind: the policy's one-time (induction) dose


class DoseComparator(_Model):
    label: str = Field(description="Where the comparator comes from, e.g. 'policy limit'.")
    source_kind: str = Field(description="drug_label | policy | literature")
    dose_mg: float | None = None
    interval_days: float | None = None
    mg_per_28_days: float | None = None
    dose_text: str = ""
    arithmetic: str = ""
    chunk_ids: list[str] = Field(default_factory=list)
    citations: list[int] = Field(default_factory=list)
    weight_kg: float | None = Field(
        None, description="The patient's weight the row was chosen for (weight bands, per-kg rows)."
    )


class DosingAnalysis(_Model):
    requested: Dose | None = None
    loading: Dose | None = Field(None, description="The requested one-time (loading, induction) dose, in mg.")
    comparators: list[DoseComparator] = Field(default_factory=list)
    summary: str = ""

    def one_time(self) -> DoseComparator | None:
        """The policy's one-time dose beside a requested one (dose_mg None: it needs the weight)."""
        return next((c for c in self.comparators if c.source_kind == ONE_TIME_DOSE), None)


# --- the assessment -----------------------------------------------------------------------------


class Evidence(_Model):
    """A passage a decision rests on (chunk plus the sentence that matters)."""

    chunk_id: str
    doc_id: str
    quote: str
    assertion: Assertion | None = None


class Criterion(_Model):
    id: str = Field(description="Position in the policy tree, e.g. '1', '1.a', 'X1'.")
    text: str = Field(description="The criterion as the policy words it.")
    logic: Logic = Field(description="How children combine: all, any, or leaf.")
    status: Status
    rationale: str = Field("", description="Why this status, naming the evidence.")
    citations: list[int] = Field(default_factory=list)
    children: list[Criterion] = Field(default_factory=list)
    kind: str = Field("requirement", description="requirement | exclusion | dose_limit | coverage")
    evidence: list[Evidence] = Field(default_factory=list)
    deciding: bool = Field(False, description="True when this criterion decides the verdict.")
    computed: list[str] = Field(
        default_factory=list, description="Numbers the rationale derives (days, ages, doses)."
    )
    analysis_status: Status | None = Field(
        None, description="The deterministic analysis's status, when a model wrote this criterion."
    )


def flatten(criteria: list[Criterion]) -> list[Criterion]:
    """Every criterion of a tree, parents before their children."""
    out: list[Criterion] = []
    for c in criteria:
        out.append(c)
        out.extend(flatten(c.children))
    return out


class Bullet(_Model):
    text: str
    citations: list[int] = Field(default_factory=list)
    supported: bool = True
    unsupported_reason: str | None = None
    chunk_ids: list[str] = Field(default_factory=list, description="Sources before numbering.")
    computed: list[str] = Field(
        default_factory=list, description="Numbers derived by shown arithmetic, not quoted."
    )
    other_indication: bool = Field(
        False,
        description="Literature on the requested drug in another indication: context, not evidence.",
    )


class Section(_Model):
    key: SectionKey
    title: str
    bullets: list[Bullet] = Field(default_factory=list)


class VerdictInfo(_Model):
    label: Verdict
    summary: str
    confidence: float = Field(ge=0.0, le=1.0)
    analysis_label: Verdict | None = Field(
        None, description="The deterministic analysis's verdict, when a model wrote the draft."
    )


class Reference(_Document):
    """A cited document: its number in the draft and the chunks cited in it."""

    n: int
    locator: str = ""
    chunk_ids: list[str] = Field(default_factory=list)
    passages: dict[str, str] = Field(
        default_factory=dict,
        description="The cited chunks' text by chunk id: the passages a DOCX comment quotes.",
    )

    @classmethod
    def of(cls, n: int, hits: list[Hit]) -> Reference:
        """Reference `n` to the document of `hits` (all of one document, first cited first)."""
        return cls(
            n=n,
            **hits[0].bibliographic(),
            locator=places(hits),
            chunk_ids=list(dict.fromkeys(h.chunk_id for h in hits)),
            passages={h.chunk_id: h.text for h in hits if h.text},
        )


def _authors(stored: Any) -> list[str]:
    """Authors as the store keeps them (a JSON list in a string: metadata values are scalars)."""
    if not stored:
        return []
    try:
        names = json.loads(stored) if isinstance(stored, str) else stored
    except ValueError:
        return [str(stored)]
    return [str(name) for name in names] if isinstance(names, list) else [str(names)]


def places(hits: list[Hit]) -> str:
    """Where in a document the cited chunks are: a page range for PDFs, else section paths."""
    pages = sorted({p for h in hits for p in (h.page_start, h.page_end) if p})
    if pages:
        return f"p. {pages[0]}" if len(pages) == 1 else f"pp. {pages[0]}-{pages[-1]}"
    return "; ".join(list(dict.fromkeys(h.section for h in hits if h.section))[:3])


class Flag(_Model):
    """Something the writer must see: injected instructions, disagreements, gaps."""

    kind: str
    message: str
    chunk_ids: list[str] = Field(default_factory=list)


class RequestInfo(_Model):
    """What is being asked for, parsed from the question and the case's request document."""

    drug: str
    drug_aliases: list[str] = Field(default_factory=list)
    indication: str = ""
    indication_terms: list[str] = Field(default_factory=list)
    dose: Dose | None = None
    route: str | None = None
    patient_age: float | None = None
    patient_weight_kg: float | None = None
    weight_chunk_ids: list[str] = Field(
        default_factory=list,
        description="Chunks of the case's documents that state that weight.",
    )
    request_date: str | None = None
    source_chunk_ids: list[str] = Field(default_factory=list)
    disagreements: list[Flag] = Field(
        default_factory=list, description="Where the question and the request document differ."
    )


class Provenance(_Model):
    generator: str
    model: str | None = None
    endpoint_host: str | None = None
    embedding_model: str
    store: str
    settings_hash: str
    retrieved_chunk_ids: list[str] = Field(default_factory=list)
    created_at: str = Field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))
    unsupported_statements: int = 0
    checked_statements: int = 0
    seconds: float | None = None
    prompt_versions: dict[str, int] = Field(default_factory=dict, description="Prompt name -> version.")
    response_format: str | None = Field(None, description="How JSON was requested from the model.")
    model_calls: int = Field(0, description="Requests that produced an answer (re-asks included).")


class Assessment(_Model):
    question: str
    case_id: str
    verdict: VerdictInfo
    criteria: list[Criterion] = Field(default_factory=list)
    sections: list[Section] = Field(default_factory=list)
    dosing: DosingAnalysis = Field(default_factory=DosingAnalysis)
    references: list[Reference] = Field(default_factory=list)
    provenance: Provenance
    request: RequestInfo | None = None
    policy: dict | None = Field(None, description="doc_id, title and section of the policy used.")
    flags: list[Flag] = Field(default_factory=list)
    session_id: str | None = None
