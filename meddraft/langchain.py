"""The LangChain door: meddraft's case-scoped hybrid search as a retriever, the assessment as a
tool, and ingestion from LangChain `Document`s. Needs the extra: `pip install -e '.[langchain]'`.

    from meddraft.langchain import MeddraftRetriever, ingest_documents, meddraft_assess_tool

    retriever = MeddraftRetriever(settings="my-store", case_id="mcas-001", k=5)
    docs = retriever.invoke("omalizumab dosing in mast cell disorders")   # chunk ids, ranks in metadata
    tool = meddraft_assess_tool("my-store")                                # JSON of `assess --format json`
    ingest_documents(loader.load(), "my-store", kind="clinical_note", case_id="mcas-001")

The retriever runs exactly the search `meddraft search` runs (`rag.retrieval.hybrid.Retriever`,
scoped by `rag.retrieval.scope`): a retriever for case A never sees another case's notes.

Tracing: LangChain sends every run's inputs and outputs (here: patient notes) to LangSmith when
`LANGSMITH_TRACING` / `LANGCHAIN_TRACING_V2` is "true". This module never turns it on and logs a
warning, once per process, when it finds it on.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any

try:
    from langchain_core.callbacks import CallbackManagerForRetrieverRun
    from langchain_core.documents import Document
    from langchain_core.retrievers import BaseRetriever
    from langchain_core.tools import StructuredTool, ToolException
except ImportError as exc:  # the extra is not installed
    raise ImportError(
        "meddraft.langchain needs langchain-core, which is not installed: "
        "run `pip install -e '.[langchain]'` (or `pip install 'meddraft[langchain]'`)"
    ) from exc
from pydantic import BaseModel, Field, PrivateAttr, ValidationError, field_validator

from rag.components import require_store
from rag.settings import Settings, load_settings

# what a LangChain user passes to name their store (meddraft.langchain has no --store)
_NO_STORE_FIX = "pass the settings or path of the store that holds your documents (or use ingest_documents)"

__all__ = ["MeddraftRetriever", "hit_document", "ingest_documents", "meddraft_assess_tool", "to_settings"]

log = logging.getLogger(__name__)

TRACING_ENV = ("LANGSMITH_TRACING", "LANGSMITH_TRACING_V2", "LANGCHAIN_TRACING_V2", "LANGCHAIN_TRACING")
SOURCE_PREFIX = "langchain:"  # the recorded source of an ingested LangChain Document (never read)
_warned = False


def tracing_enabled() -> bool:
    """Whether the environment turns on LangChain's hosted tracing (LangSmith)."""
    return any(os.environ.get(name, "").strip().lower() == "true" for name in TRACING_ENV)


def warn_if_tracing() -> None:
    """Log once per process that tracing is on: runs, with patient text, would leave the machine."""
    global _warned
    if _warned or not tracing_enabled():
        return
    _warned = True
    on = ", ".join(n for n in TRACING_ENV if os.environ.get(n, "").strip().lower() == "true")
    log.warning(
        "LangChain tracing is on (%s): the inputs and outputs of every run, patient notes included, "
        "are sent to LangSmith. Unset %s unless that service may hold patient data.",
        on,
        on,
    )


def to_settings(settings: Settings | str | Path | None) -> Settings:
    """meddraft settings as given, or the defaults (env, meddraft.toml) with a store path."""
    if isinstance(settings, Settings):
        return settings
    overrides = {"store.path": str(settings)} if settings is not None else None
    return load_settings(overrides=overrides)


# --- the retriever ------------------------------------------------------------------------------


def hit_document(hit: Any, rank: int) -> Document:
    """A meddraft `Hit` as a LangChain `Document`; metadata values are plain JSON types."""
    meta = {
        "chunk_id": hit.chunk_id,
        "doc_id": hit.doc_id,
        "kind": hit.kind,
        "title": hit.title,
        "source": hit.source,
        "year": hit.year,
        "date": hit.date,
        "case_id": hit.case_id,
        "section": hit.section,
        "page": hit.page_start,
        "page_end": hit.page_end,
        "locator": hit.locator,
        "rank": rank,
        "score": hit.score,
        "dense_rank": hit.dense_rank,
        "bm25_rank": hit.bm25_rank,
    }
    return Document(page_content=hit.text, metadata=meta, id=hit.chunk_id)


class MeddraftRetriever(BaseRetriever):
    """meddraft's hybrid search (dense + BM25, fused by reciprocal rank), scoped to one case.

    Literature is always searched; a case's notes and request only with its `case_id`, and never
    another case's (the store query itself is scoped). The store and the embedding model are
    opened on first use and kept for every later query.
    """

    settings: Settings = Field(description="meddraft settings, or the path of a store.")
    case_id: str | None = Field(None, description="The case whose notes may be returned.")
    kinds: list[str] | None = Field(None, description="Only these kinds (policy, guideline, ...).")
    k: int = Field(8, ge=1, description="How many chunks to return.")
    _engine: Any = PrivateAttr(None)
    _lock: Any = PrivateAttr(default_factory=threading.Lock)

    @field_validator("settings", mode="before")
    @classmethod
    def _settings(cls, value: Any) -> Settings:
        return to_settings(value)

    def model_post_init(self, context: Any) -> None:
        super().model_post_init(context)
        warn_if_tracing()

    def engine(self):
        """The `rag.retrieval.hybrid.Retriever` behind `meddraft search`, built once."""
        if self._engine is None:
            from rag.components import build_retriever

            require_store(self.settings, _NO_STORE_FIX)
            self._engine = build_retriever(self.settings)
        return self._engine

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun
    ) -> list[Document]:
        with self._lock:  # batch() runs in threads; the BM25 cache is not thread-safe
            hits = self.engine().search(query, case_id=self.case_id, kinds=self.kinds, k=self.k)
        return [hit_document(hit, rank) for rank, hit in enumerate(hits, 1)]


# --- the assess tool ----------------------------------------------------------------------------


class AssessInput(BaseModel):
    """What the assess tool takes."""

    question: str = Field(
        description="The medical-necessity question, naming drug, dose, route, interval and indication, "
        "e.g. 'Is omalizumab 300 mg SC every 4 weeks medically indicated for this patient with CSU?'"
    )
    case_id: str = Field(
        description="The case whose notes and request form the patient record, e.g. mcas-001."
    )


def meddraft_assess_tool(
    settings: Settings | str | Path | None = None, *, save: bool = False, name: str = "meddraft_assess"
) -> StructuredTool:
    """A tool that drafts the assessment of a question for a case and returns it as JSON (the
    `meddraft assess --format json` contract: verdict, criteria, sections, dosing, references).
    With `save`, the draft is kept as a session (`session_id` in the JSON) for `meddraft.ask`.
    meddraft's errors (unknown case, no dose in the question, ...) reach the agent as the tool's
    answer, with what to do."""
    import meddraft

    config = to_settings(settings)
    warn_if_tracing()

    def assess(question: str, case_id: str) -> str:
        from rag.errors import MeddraftError

        try:
            require_store(config, _NO_STORE_FIX)
            assessment = meddraft.assess(question, case_id, config, save=save)
        except MeddraftError as exc:
            raise ToolException(str(exc)) from exc
        return str(meddraft.render(assessment, "json"))

    return StructuredTool.from_function(
        func=assess,
        name=name,
        description=(
            "Draft an evidence-grounded medical-necessity assessment of a drug request for one "
            "patient case: verdict (indicated, not_indicated, insufficient_information), each policy "
            "criterion met or not, evidence, dosing and references, as JSON with numbered citations."
        ),
        args_schema=AssessInput,
        handle_tool_error=True,
    )


# --- ingestion from LangChain Documents ---------------------------------------------------------

_META_KEYS = ("id", "kind", "title", "year", "date", "case_id", "url")  # taken as meddraft's own


def _page(metadata: dict[str, Any]) -> int | None:
    """1-based page: `page_number` (unstructured) as is, `page` (LangChain's PDF loaders) + 1."""
    for key, offset in (("page_number", 0), ("page", 1)):
        value = metadata.get(key)
        if isinstance(value, int) and not isinstance(value, bool) and value + offset >= 1:
            return value + offset
        if isinstance(value, str) and value.strip().isdigit():
            return int(value) + offset
    return None


def _group_key(doc: Document) -> str:
    meta = doc.metadata or {}
    if meta.get("id"):
        return f"id:{meta['id']}"
    if meta.get("source"):
        return f"source:{meta['source']}"
    return "text:" + hashlib.sha256(doc.page_content.encode()).hexdigest()[:16]


def _convert(parts: list[Document], default_kind: str | None, default_case: str | None, settings: Settings):
    """One meddraft `Document` from the LangChain Documents of one source (pages in page order)."""
    from ingest.config import stable_hash
    from ingest.documents import DocMeta, Page, slugify
    from ingest.documents import Document as Parsed
    from ingest.errors import DocumentError
    from ingest.loaders import clean_text

    first = dict(parts[0].metadata or {})
    source = str(first.get("source") or "")
    key = _group_key(parts[0])
    doc_id = str(first.get("id") or (slugify(source) if source else "lc-" + key.split(":", 1)[1]))
    path = Path(SOURCE_PREFIX + (source or doc_id))
    raw = {k: first[k] for k in _META_KEYS if first.get(k) not in (None, "")}
    raw.setdefault("kind", default_kind or settings.ingest.default_kind)
    if default_case and raw["kind"] in ("clinical_note", "request"):
        raw.setdefault("case_id", default_case)
    if first.get("publisher"):
        raw["source"] = first["publisher"]
    if not raw.get("url") and re.match(r"https?://", source):
        raw["url"] = source
    raw["id"] = doc_id
    try:
        meta = DocMeta.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            ".".join(map(str, e["loc"])) + ": " + e["msg"].removeprefix("Value error, ") for e in exc.errors()
        )
        raise DocumentError(path, f"metadata: {problems}; fix the Document's metadata") from exc
    ordered = sorted(parts, key=lambda d: _page(d.metadata or {}) or 0)
    paged = any(_page(d.metadata or {}) for d in ordered)
    text, pages = "", []
    for part in ordered:
        body = clean_text(part.page_content) if part.page_content.strip() else ""
        if paged:
            number = _page(part.metadata or {}) or (pages[-1].number + 1 if pages else 1)
            pages.append(Page(number=number, start=len(text), end=len(text) + len(body)))
        text += body + "\n" * bool(paged or body)
    if not text.strip():
        raise DocumentError(path, "no text in the Document's page_content: nothing to ingest")
    if meta.title is None:
        heading = re.search(r"^#\s+(.+)$", text, re.M)
        meta.title = heading.group(1).strip() if heading else (Path(source).stem if source else doc_id)
    digest = stable_hash([meta.model_dump(mode="json"), text, [p.number for p in pages]], 32)
    return Parsed(id=doc_id, meta=meta, text=text, path=path, content_hash=digest, pages=pages)


def ingest_documents(
    docs: Iterable[Document],
    settings: Settings | str | Path | None = None,
    *,
    kind: str | None = None,
    case_id: str | None = None,
):
    """Ingest LangChain `Document`s through meddraft's pipeline (chunking, embedding, manifest).

    Documents with the same `metadata["id"]` or `metadata["source"]` are one meddraft document,
    their pages (`page`, 0-based as LangChain's PDF loaders give it, or `page_number`, 1-based)
    kept as page locators. Metadata keys `id`, `kind`, `title`, `year`, `date`, `case_id`, `url`
    are meddraft's own; `source` is recorded as where the document came from (and is its `url` when
    it is one); `publisher` is meddraft's `source`. `kind` and `case_id` apply where the metadata
    names none. Ids are deterministic (the `id`, else the slug of `source`, else a hash of the
    text), so ingesting the same Documents again changes nothing. Returns the `IngestReport`;
    a Document whose metadata cannot be used is listed in `report.failed` with its reason.
    """
    from ingest.errors import DocumentError
    from ingest.report import FileOutcome
    from rag.components import build_indexer

    config = to_settings(settings)
    warn_if_tracing()
    groups: dict[str, list[Document]] = {}
    for doc in docs:
        groups.setdefault(_group_key(doc), []).append(doc)
    parsed, failed = [], []
    for parts in groups.values():
        try:
            parsed.append(_convert(parts, kind, case_id, config))
        except DocumentError as exc:
            failed.append(FileOutcome(exc.path, "failed", reason=exc.message))
    report = build_indexer(config).ingest_documents(parsed)
    report.outcomes[:0] = failed
    return report
