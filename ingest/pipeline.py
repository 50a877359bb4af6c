"""Files -> documents -> chunks -> embeddings -> store, idempotently.

Unchanged files (same content hash from the same path) are skipped without parsing; changed
files get their new chunks embedded and their stale chunks deleted (chunks whose id survives keep
their vectors); files that disappeared from a folder that is ingested again are removed. A file
that fails is reported with its reason and the previous version, if any, stays in the store.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ingest.chunking import Chunker
from ingest.config import ChunkingSettings, IngestSettings, stable_hash
from ingest.documents import Chunk, Document
from ingest.embedding import Embedder
from ingest.errors import DocumentError, DuplicateDocumentError
from ingest.loaders import SUPPORTED, SourceFile, discover, file_hash, load
from ingest.store import DocRecord, Store, chunk_metadata

STATUSES = ("added", "updated", "unchanged", "removed", "failed", "skipped")
EMBED_BATCH = 64


@dataclass
class FileOutcome:
    path: Path
    status: str
    doc_id: str | None = None
    chunks: int = 0
    reason: str | None = None
    warnings: list[str] = field(default_factory=list)


@dataclass
class IngestReport:
    outcomes: list[FileOutcome] = field(default_factory=list)
    seconds: float = 0.0
    chunks_embedded: int = 0
    tokens_embedded: int = 0

    def count(self, status: str) -> int:
        return sum(1 for o in self.outcomes if o.status == status)

    @property
    def failed(self) -> list[FileOutcome]:
        return [o for o in self.outcomes if o.status == "failed"]

    @property
    def changed(self) -> bool:
        return any(o.status in ("added", "updated", "removed") for o in self.outcomes)

    def summary(self) -> str:
        parts = ", ".join(f"{self.count(s)} {s}" for s in STATUSES)
        rate = self.chunks_embedded / self.seconds if self.seconds else 0.0
        line = (
            f"{parts}; {self.chunks_embedded} chunks ({self.tokens_embedded} tokens) embedded "
            f"in {self.seconds:.1f} s ({rate:.1f} chunks/s)"
        )
        return line if self.changed or self.failed else f"nothing changed: {line}"

    def to_dict(self) -> dict:
        return {
            "counts": {s: self.count(s) for s in STATUSES},
            "chunks_embedded": self.chunks_embedded,
            "tokens_embedded": self.tokens_embedded,
            "seconds": round(self.seconds, 3),
            "files": [
                {
                    "path": str(o.path),
                    "status": o.status,
                    "doc_id": o.doc_id,
                    "chunks": o.chunks,
                    "reason": o.reason,
                    "warnings": o.warnings,
                }
                for o in self.outcomes
            ],
        }


@dataclass
class Progress:
    """Hooks a front end can set to show progress; all optional."""

    files: Callable[[int], None] = lambda total: None
    file_done: Callable[[FileOutcome], None] = lambda outcome: None
    chunks: Callable[[int], None] = lambda total: None
    embedded: Callable[[int], None] = lambda n: None


class Indexer:
    """Keeps a store in step with a set of files."""

    def __init__(
        self,
        store: Store,
        embedder: Embedder,
        chunking: ChunkingSettings,
        ingest: IngestSettings | None = None,
    ) -> None:
        self.store = store
        self.embedder = embedder
        self.chunking = chunking
        self.settings = ingest or IngestSettings()
        self._chunker: Chunker | None = None
        self._pending: list[tuple[Chunk, dict]] = []

    @property
    def chunker(self) -> Chunker:
        if self._chunker is None:
            cap = self.embedder.max_tokens
            limit = min(self.chunking.max_tokens or cap, cap)
            self._chunker = Chunker(self.embedder.count_tokens, limit, self.chunking.target_tokens)
        return self._chunker

    def chunking_key(self) -> str:
        """Part of every file's content hash: new chunking settings re-chunk on re-ingest."""
        return stable_hash({"model": self.embedder.name, **self.chunking.model_dump(mode="json")})

    def ingest(
        self,
        paths: Sequence[Path | str],
        *,
        passwords: Iterable[str] = (),
        rebuild: bool = False,
        progress: Progress | None = None,
    ) -> IngestReport:
        started = time.perf_counter()
        progress = progress or Progress()
        report = IngestReport()
        passwords = [*self.settings.passwords, *passwords]
        if rebuild:
            self.store.drop()
        if self.store.identity():
            self.store.check_model(self.embedder.name)
        existing = self.store.documents()
        by_path = {rec.source_path: rec for rec in existing.values()}
        sources = self._sources(paths, report)
        progress.files(len(sources))
        seen_paths: set[str] = set()
        claimed: dict[str, str] = {}  # doc id -> path, for this run
        key = self.chunking_key()
        for source in sources:
            seen_paths.add(str(source.path))
            outcome = self._one(source, key, passwords, existing, by_path, claimed, report, progress)
            report.outcomes.append(outcome)
            progress.file_done(outcome)
        self._flush(progress, report)
        roots = [Path(p).resolve() for p in paths if Path(p).is_dir()]
        for rec in existing.values():
            gone = rec.source_path not in seen_paths and rec.doc_id not in claimed
            if gone and any(Path(rec.source_path).is_relative_to(r) for r in roots):
                self.store.delete_document(rec.doc_id)
                report.outcomes.append(
                    FileOutcome(Path(rec.source_path), "removed", rec.doc_id, rec.n_chunks)
                )
        report.seconds = time.perf_counter() - started
        return report

    def _sources(self, paths: Sequence[Path | str], report: IngestReport) -> list[SourceFile]:
        sources = []
        for raw in paths:
            if not Path(raw).exists():
                report.outcomes.append(FileOutcome(Path(raw), "failed", reason="not found: check the path"))
                continue
            for source in discover([Path(raw)]):
                if source.root and source.path.suffix.lower() not in SUPPORTED:
                    reason = f"unsupported file type '{source.path.suffix or source.path.name}'"
                    report.outcomes.append(FileOutcome(source.path, "skipped", reason=reason))
                    continue
                sources.append(source)
        return sources

    def _one(
        self,
        source: SourceFile,
        key: str,
        passwords: list[str],
        existing: dict[str, DocRecord],
        by_path: dict[str, DocRecord],
        claimed: dict[str, str],
        report: IngestReport,
        progress: Progress,
    ) -> FileOutcome:
        path = source.path
        try:
            if path.suffix.lower() not in SUPPORTED:
                load(source)  # raises the unsupported-type error with its message
            digest = file_hash(source, key) if path.stat().st_size else ""
            previous = by_path.get(str(path))
            if previous and previous.content_hash == digest:
                if previous.doc_id in claimed:
                    raise DuplicateDocumentError(
                        path, f"id {previous.doc_id!r} is also used by {claimed[previous.doc_id]}"
                    )
                claimed[previous.doc_id] = str(path)
                return FileOutcome(path, "unchanged", previous.doc_id, previous.n_chunks)
            doc = load(
                source,
                default_kind=self.settings.default_kind,
                passwords=passwords,
                content_hash=digest,
            )
            self._check_unique(doc, existing, claimed)
            claimed[doc.id] = str(path)
            if previous and previous.doc_id != doc.id:  # the file's id changed
                self.store.delete_document(previous.doc_id)
            n = self._write(doc, progress, report)
            status = "updated" if doc.id in existing or previous else "added"
            return FileOutcome(path, status, doc.id, n, warnings=doc.warnings)
        except DocumentError as exc:
            return FileOutcome(path, "failed", reason=f"{exc.reason}: {exc.detail}")

    def _check_unique(self, doc: Document, existing: dict[str, DocRecord], claimed: dict[str, str]) -> None:
        if doc.id in claimed:
            raise DuplicateDocumentError(
                doc.path,
                f"id {doc.id!r} is also used by {claimed[doc.id]}: give each file its own id",
            )
        other = existing.get(doc.id)
        if other and other.source_path != str(doc.path) and Path(other.source_path).exists():
            raise DuplicateDocumentError(
                doc.path,
                f"id {doc.id!r} is already used by {other.source_path}: give each file its own id",
            )

    def _write(self, doc: Document, progress: Progress, report: IngestReport) -> int:
        """Chunk a document, queue its new chunks for embedding, drop its stale chunks."""
        chunks = self.chunker.chunk(doc)
        if not chunks:
            raise DocumentError(doc.path, "no text to index after parsing")
        old_ids = set(self.store.chunk_ids(doc.id))
        metas = [
            chunk_metadata(c, source_path=str(doc.path), content_hash=doc.content_hash, n_chunks=len(chunks))
            for c in chunks
        ]
        kept = [(c.id, m) for c, m in zip(chunks, metas, strict=True) if c.id in old_ids]
        fresh = [(c, m) for c, m in zip(chunks, metas, strict=True) if c.id not in old_ids]
        progress.chunks(len(fresh))
        self._pending.extend(fresh)
        self._flush(progress, report, full_batches_only=True)
        if kept:
            self.store.update_metadata([i for i, _ in kept], [m for _, m in kept])
        stale = old_ids - {c.id for c in chunks}
        if stale:
            self._flush(progress, report)  # new vectors land before the old ones go
            self.store.delete(sorted(stale))
        return len(chunks)

    def _flush(self, progress: Progress, report: IngestReport, full_batches_only: bool = False) -> None:
        """Embed queued chunks in model-sized batches (across files) and write them."""
        if self._pending and not self.store.identity():
            self.store.open_for(
                self.embedder.name, self.embedder.dimension, self.chunking.model_dump(mode="json")
            )
        while len(self._pending) >= (EMBED_BATCH if full_batches_only else 1):
            batch, self._pending = self._pending[:EMBED_BATCH], self._pending[EMBED_BATCH:]
            vectors = self.embedder.embed([c.embed_text() for c, _ in batch])
            self.store.upsert([c for c, _ in batch], vectors, [m for _, m in batch])
            report.chunks_embedded += len(batch)
            report.tokens_embedded += sum(c.n_tokens for c, _ in batch)
            progress.embedded(len(batch))


@dataclass
class StoreStatus:
    location: str
    embedding_model: str | None
    chunking: dict
    documents: int
    chunks: int
    by_kind: dict[str, dict[str, int]]
    by_case: dict[str, dict[str, int]]

    def to_dict(self) -> dict:
        return self.__dict__.copy()


def store_status(store: Store) -> StoreStatus:
    identity = store.identity()
    docs = store.documents().values()
    by_kind: dict[str, Counter] = {}
    by_case: dict[str, Counter] = {}
    for rec in docs:
        by_kind.setdefault(rec.kind, Counter()).update(documents=1, chunks=rec.n_chunks)
        if rec.case_id:
            by_case.setdefault(rec.case_id, Counter()).update(documents=1, chunks=rec.n_chunks)
    return StoreStatus(
        location=store.location,
        embedding_model=identity.get("embedding_model"),
        chunking={k.removeprefix("chunking_"): v for k, v in identity.items() if k.startswith("chunking_")},
        documents=len(docs),
        chunks=store.count(),
        by_kind={k: dict(v) for k, v in sorted(by_kind.items())},
        by_case={k: dict(v) for k, v in sorted(by_case.items())},
    )
