"""Files -> documents -> chunks -> embeddings -> store, idempotently and crash-safely.

A document is either wholly in the store or not at all. Its manifest row is written `pending`
first, then its chunks, then the row is marked `complete` (`ingest/manifest.py`); chunks are
batched across files for the model, and a document is marked as soon as its last chunk lands.
A run starts by removing every document a killed run left `pending` and ingesting its file
again; when Chroma's chunk count differs from the manifest's, every document is verified and
the inconsistent ones are treated the same way (`meddraft repair` always verifies).

Unchanged files (a complete manifest row with the same content hash, from the same path) are
skipped without parsing; changed files get their new chunks embedded and their stale chunks
deleted (chunks whose id survives keep their vectors); files that disappeared from a folder that
is ingested again are removed. PDFs are parsed in a worker process with time and memory limits
(`ingest/parsing.py`); the next PDF of a batch is sent to it before this process embeds the file
in hand, so parsing and the model run at once. A file that fails is reported with its reason,
its previous version, if any, stays in the store, and the rest of the batch lands.

`Indexer.ingest_documents` takes documents built in memory (`meddraft.langchain` builds them from
LangChain `Document`s) down the same path from chunking on; their recorded source is never read.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from ingest.chunking import Chunker
from ingest.config import ChunkingSettings, IngestSettings, stable_hash
from ingest.documents import Chunk, Document
from ingest.embedding import Embedder
from ingest.errors import DocumentError, DuplicateDocumentError
from ingest.integrity import StoreStatus, store_status, verify
from ingest.loaders import PARSER_VERSION, SUPPORTED, SourceFile, discover, file_hash, load
from ingest.manifest import COMPLETE, Entry, Manifest, write_lock
from ingest.parsing import Parser
from ingest.report import STATUSES, FileOutcome, IngestReport, Progress
from ingest.store import Store, chunk_metadata

__all__ = [
    "STATUSES",
    "FileOutcome",
    "Indexer",
    "IngestReport",
    "Progress",
    "StoreStatus",
    "store_status",
]
# chunks queued (across files) before the model embeds them, sorted by length within this window;
# (a window of 256 was tried: it left the kill -9 tests no moment with one document half written)
EMBED_BATCH = 64


@dataclass
class _Open:
    """A document whose chunks are being written: how many are still queued, what goes after."""

    remaining: int
    stale: list[str] = field(default_factory=list)


@dataclass
class _Run:
    """What one run knows: the manifest's complete documents, and what this run has claimed."""

    key: str
    passwords: list[str]
    manifest: Manifest
    parser: Parser
    claimed: dict[str, str] = field(default_factory=dict)  # doc id -> path, for this run
    digests: dict[Path, str] = field(default_factory=dict)

    def existing(self, doc_id: str) -> Entry | None:
        """The store's complete document with this id (read from the manifest when asked)."""
        return self.manifest.find(doc_id=doc_id)

    def previous(self, path: Path | str) -> Entry | None:
        """The store's complete document ingested from this file."""
        return self.manifest.find(source_path=str(path))

    def digest(self, source: SourceFile) -> str:
        """The file's content hash (read once, also when its parse was started ahead)."""
        if source.path not in self.digests:
            self.digests[source.path] = file_hash(source, self.key) if source.path.stat().st_size else ""
        return self.digests[source.path]

    def send_ahead(self, source: SourceFile) -> None:
        """Start parsing `source` in the worker while this process embeds the file before it, when
        it is a PDF that has to be parsed (new or changed)."""
        try:
            digest = self.digest(source)
        except OSError:  # gone or unreadable: `Indexer._one` reports it in its turn
            return
        previous = self.previous(source.path)
        if not (previous and previous.content_hash == digest):
            self.parser.send_ahead(source, passwords=self.passwords, content_hash=digest)


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
        self._open: dict[str, _Open] = {}

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
        """Bring the store in step with `paths` (files or folders)."""
        return self._run(paths, passwords, rebuild, progress, thorough=False)

    def ingest_documents(
        self, documents: Sequence[Document], *, progress: Progress | None = None
    ) -> IngestReport:
        """Bring documents built in memory (e.g. from LangChain `Document`s) into the store, with
        the same chunking, manifest and crash safety as files. `doc.path` names the source (it is
        recorded, never read); `doc.content_hash` hashes the content; an unchanged document is
        skipped. Nothing else in the store is removed."""
        return self._run([], (), False, progress, thorough=False, documents=documents)

    def repair(self, *, passwords: Iterable[str] = (), progress: Progress | None = None) -> IngestReport:
        """Verify every document against the manifest; remove the inconsistent ones and ingest
        their files again (a document whose file is gone is only removed)."""
        return self._run([], passwords, False, progress, thorough=True)

    def _run(
        self,
        paths: Sequence[Path | str],
        passwords: Iterable[str],
        rebuild: bool,
        progress: Progress | None,
        thorough: bool,
        documents: Sequence[Document] = (),
    ) -> IngestReport:
        started = time.perf_counter()
        progress = progress or Progress()
        report = IngestReport()
        self._pending, self._open = [], {}
        self.store.require_writable()
        with write_lock(self.store.settings.path, self.store.location), Parser(self.settings) as parser:
            self.store.claim()  # on a server: only from the folder that wrote it
            if rebuild:
                self.store.drop()
            if self.store.identity():
                self.store.check_model(self.embedder.name)
            again = self._recover(report, thorough)
            self.store.manifest.index_sources()
            run = _Run(
                self.chunking_key(), [*self.settings.passwords, *passwords], self.store.manifest, parser
            )
            sources = self._sources(paths, report)
            named = {s.path for s in sources}
            sources += [s for s in again if s.path not in named]
            progress.files(len(sources) + len(documents))
            seen_paths: set[str] = set()
            for i, source in enumerate(sources):
                seen_paths.add(str(source.path))
                outcome = self._one(source, run, report, progress, then=sources[i + 1 : i + 2])
                report.outcomes.append(outcome)
                progress.file_done(outcome)
            for doc in documents:
                outcome = self._one_document(doc, run, report, progress)
                report.outcomes.append(outcome)
                progress.file_done(outcome)
            self._flush(progress, report)
            roots = [Path(p).resolve() for p in paths if Path(p).is_dir()]
            for entry in self.store.manifest.within(roots):
                gone = entry.source_path not in seen_paths and entry.doc_id not in run.claimed
                if gone:
                    self._remove(entry.doc_id)
                    report.outcomes.append(
                        FileOutcome(Path(entry.source_path), "removed", entry.doc_id, entry.n_chunks)
                    )
        report.seconds = time.perf_counter() - started
        return report

    # --- recovery -----------------------------------------------------------------------------

    def _recover(self, report: IngestReport, thorough: bool) -> list[SourceFile]:
        """Remove what a killed run left half-written (and, when verifying, every inconsistent
        document); return the files to ingest again."""
        manifest = self.store.manifest
        again: list[SourceFile] = []
        for entry in manifest.entries("pending").values():
            n = self._remove(entry.doc_id)
            back = _source_of(entry.source_path, entry.source_root)
            report.recovered.append(
                f"{entry.doc_id} was left incomplete by an interrupted ingest ({n} chunks in the store, "
                f"{entry.n_chunks} expected): removed{', and its file ingested again' * bool(back)}"
            )
            again += back
        expected = manifest.chunk_count(COMPLETE)
        if not thorough and manifest.exists() and self.store.count() == expected:
            return again
        check = verify(self.store)
        adoptable = {e.doc_id: e for e in check.adoptable}
        manifest.adopt(adoptable.values())
        report.adopted = len(adoptable)
        for problem in check.problems:
            if problem.doc_id in adoptable:
                continue
            self._remove(problem.doc_id)
            back = _source_of(problem.source_path, problem.source_root) if problem.source_path else []
            again_note = ", and its file ingested again" * bool(back)
            report.recovered.append(f"{problem.message}: removed{again_note}")
            again += back
        return again

    def _remove(self, doc_id: str) -> int:
        """Remove a document: marked pending first, so a crash half-way is finished next time."""
        manifest = self.store.manifest
        manifest.mark_pending(doc_id)
        removed = self.store.delete_document(doc_id)
        manifest.forget(doc_id)
        return removed

    # --- one file -----------------------------------------------------------------------------

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
        self, source: SourceFile, run: _Run, report: IngestReport, progress: Progress, then=()
    ) -> FileOutcome:
        """Ingest one file; `then` (the next file, if any) starts parsing while this one embeds."""
        path = source.path
        try:
            if path.suffix.lower() not in SUPPORTED:
                load(source)  # raises the unsupported-type error with its message
            digest = run.digest(source)
            previous = run.previous(path)
            if previous and previous.content_hash == digest:
                if previous.doc_id in run.claimed:
                    raise DuplicateDocumentError(
                        path, f"id {previous.doc_id!r} is also used by {run.claimed[previous.doc_id]}"
                    )
                run.claimed[previous.doc_id] = str(path)
                return FileOutcome(path, "unchanged", previous.doc_id, previous.n_chunks)
            try:
                doc = run.parser.parse(source, passwords=run.passwords, content_hash=digest)
            finally:  # also after a failure: the next file is parsed while this one is reported
                for following in then:
                    run.send_ahead(following)
            self._check_unique(doc, run)
            run.claimed[doc.id] = str(path)
            status = "updated" if previous or run.existing(doc.id) else "added"  # before it is written
            if previous and previous.doc_id != doc.id:  # the file's id changed
                self._remove(previous.doc_id)
            n = self._write(doc, source, progress, report)
            return FileOutcome(path, status, doc.id, n, warnings=doc.warnings)
        except DocumentError as exc:
            return FileOutcome(path, "failed", reason=exc.message)

    def _one_document(
        self, doc: Document, run: _Run, report: IngestReport, progress: Progress
    ) -> FileOutcome:
        """One in-memory document: skipped when unchanged, else written like a parsed file."""
        try:
            digest = stable_hash([PARSER_VERSION, run.key, doc.content_hash], 32)
            previous = run.existing(doc.id)
            self._check_unique(doc, run)
            run.claimed[doc.id] = str(doc.path)
            if previous and previous.content_hash == digest and previous.source_path == str(doc.path):
                return FileOutcome(doc.path, "unchanged", doc.id, previous.n_chunks)
            before = run.previous(doc.path)
            if before and before.doc_id != doc.id:  # the source's id changed
                self._remove(before.doc_id)
            n = self._write(replace(doc, content_hash=digest), SourceFile(doc.path, None), progress, report)
            return FileOutcome(doc.path, "updated" if previous else "added", doc.id, n, warnings=doc.warnings)
        except DocumentError as exc:
            return FileOutcome(doc.path, "failed", reason=exc.message)

    def _check_unique(self, doc: Document, run: _Run) -> None:
        if doc.id in run.claimed:
            raise DuplicateDocumentError(
                doc.path,
                f"id {doc.id!r} is also used by {run.claimed[doc.id]}: give each file its own id",
            )
        other = run.existing(doc.id)
        if other and other.source_path != str(doc.path) and Path(other.source_path).exists():
            raise DuplicateDocumentError(
                doc.path,
                f"id {doc.id!r} is already used by {other.source_path}: give each file its own id",
            )

    def _write(self, doc: Document, source: SourceFile, progress: Progress, report: IngestReport) -> int:
        """Chunk a document, mark it pending, queue its new chunks, drop its stale chunks once the
        new ones are in; it is marked complete when its last chunk lands (`_landed`)."""
        chunks = self.chunker.chunk(doc)
        if not chunks:
            raise DocumentError(doc.path, "no text to index after parsing")
        self.store.manifest.begin(
            Entry(
                doc.id,
                "pending",
                str(doc.path),
                str(source.root) if source.root else None,
                doc.content_hash,
                [c.id for c in chunks],
                doc.meta.kind,
                doc.meta.case_id,
                doc.title,
            )
        )
        old_ids = set(self.store.chunk_ids(doc.id))
        metas = [
            chunk_metadata(c, source_path=str(doc.path), content_hash=doc.content_hash, n_chunks=len(chunks))
            for c in chunks
        ]
        kept = [(c.id, m) for c, m in zip(chunks, metas, strict=True) if c.id in old_ids]
        fresh = [(c, m) for c, m in zip(chunks, metas, strict=True) if c.id not in old_ids]
        if kept:
            self.store.update_metadata([i for i, _ in kept], [m for _, m in kept])
        self._open[doc.id] = _Open(len(fresh), sorted(old_ids - {c.id for c in chunks}))
        progress.chunks(len(fresh))
        self._pending.extend(fresh)
        if not fresh:
            self._landed(doc.id)
        self._flush(progress, report, full_batches_only=True)
        return len(chunks)

    def _landed(self, doc_id: str) -> None:
        """Every new chunk of the document is in: delete its stale chunks, then mark it complete."""
        done = self._open.pop(doc_id)
        if done.stale:
            self.store.delete(done.stale)
        self.store.manifest.mark_complete(doc_id)

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
            for chunk, _ in batch:
                state = self._open[chunk.doc_id]
                state.remaining -= 1
                if state.remaining == 0:
                    self._landed(chunk.doc_id)


def _source_of(path: str, root: str | None) -> list[SourceFile]:
    """The file to ingest again, if it is still there (found under `root` when it was)."""
    file = Path(path)
    if not file.is_file():
        return []
    base = Path(root) if root and file.is_relative_to(root) else None
    return [SourceFile(file, base)]
