"""The vector store: with `ingest.chroma` (which opens the client), the only module that imports chromadb.

One collection holds every chunk. Its metadata records the embedding model (and its dimension)
and the chunking settings, so vectors of two models never mix: opening a store with another
model raises `StoreMismatchError`. Case notes carry their `case_id`; literature carries "".
"""

from __future__ import annotations

import json
import logging
import os
import socket
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from ingest.chroma import make_client
from ingest.config import StoreSettings
from ingest.documents import NO_CASE, Chunk
from ingest.embedding import mismatch
from ingest.errors import StoreError, StoreUnavailableError
from ingest.lexical import LexicalIndex
from ingest.manifest import Manifest
from ingest.storage import local_folder, snapshot, writable

os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
log = logging.getLogger(__name__)

_DOC_FIELDS = ("doc_id", "kind", "title", "source", "year", "date", "case_id", "url")


@dataclass
class DocRecord:
    """What the chunks say of one ingested document (read from its first chunk); whether the
    document is whole is the manifest's to say (`ingest/manifest.py`)."""

    doc_id: str
    kind: str
    title: str
    case_id: str | None
    source_path: str
    content_hash: str
    n_chunks: int
    source: str | None = None
    year: int | None = None


@dataclass
class StoredChunk:
    id: str
    text: str
    metadata: dict[str, Any]
    distance: float | None = None


def chunk_metadata(chunk: Chunk, *, source_path: str, content_hash: str, n_chunks: int) -> dict:
    meta = chunk.model_dump(exclude={"id", "text"})
    meta["chunk_index"] = meta.pop("index")
    meta["case_id"] = chunk.case_id or NO_CASE
    meta["authors"] = json.dumps(chunk.authors, ensure_ascii=False) if chunk.authors else None
    meta.update(source_path=source_path, content_hash=content_hash, n_chunks=n_chunks)
    return {k: v for k, v in meta.items() if v is not None}


DOC_PAGE = 5000  # documents read at a time (each is one id in Chroma's SQLite read)
READ_RETRIES = (0.2, 0.5, 1.0, 2.0)  # seconds between attempts when a read meets a write


def _read(call):
    """A read that an ingest running at the same time may interrupt (Chroma's "Error finding
    id" while segments are rewritten): retried a bounded number of times, then a clear error."""
    from chromadb.errors import InternalError

    for pause in (*READ_RETRIES, None):
        try:
            return call()
        except InternalError as exc:
            if "too many SQL variables" in str(exc):  # a read too large for SQLite: retrying cannot help
                raise StoreError(
                    f"the store cannot answer a read that large ({exc}): Chroma's SQLite takes about "
                    "32,000 ids or values in one read; ask for fewer at a time"
                ) from exc
            if pause is None:
                raise StoreError(
                    f"the store changed while it was read ({type(exc).__name__}: {exc}); an ingest is "
                    "probably writing to it: try again when it has finished"
                ) from exc
            time.sleep(pause)
    raise AssertionError("unreachable")


class Store:
    """Chunks of all documents, with the index identity kept in the collection metadata."""

    def __init__(self, settings: StoreSettings, client=None) -> None:
        self.settings = settings
        self.read_only = False
        self._copy: tempfile.TemporaryDirectory | None = None
        folder = Path(settings.path)
        if client is None and not settings.host:
            folder = local_folder(folder)
            if not writable(folder):
                # read-only commands work on a read-only folder; writes say why they cannot
                self.read_only, self._copy = True, snapshot(folder)
                folder = Path(self._copy.name) / "store"
                log.info("store %s is read-only: reading a private copy", settings.path)
        self.client = client or make_client(settings, folder)
        self._collection = None
        self.manifest = Manifest(folder, settings.collection)
        # BM25 beside the vectors, written by every write below (ingest/lexical.py)
        self.lexical = LexicalIndex(folder / f"lexical-{settings.collection}", self.location)

    @property
    def writer(self) -> str:
        """Which store folder writes a server's collection: its manifest is the only one that
        knows what is complete there."""
        return f"{socket.gethostname()}:{Path(self.settings.path).resolve()}"

    def claim(self) -> None:
        """On a server, the collection is written from one store folder only: another folder's
        recovery would take this one's half-written documents for debris and remove them."""
        col = self._existing() if self.settings.host else None
        if col is None:
            return
        meta = dict(col.metadata or {})
        owner = meta.get("meddraft_writer")
        if owner and owner != self.writer:
            raise StoreError(
                f"the collection {self.settings.collection!r} on the Chroma server {self.location} "
                f"is written from the store folder {owner}, not {self.writer}: ingest from that "
                "folder (its manifest knows what is complete), or use another store.collection"
            )
        if not owner:
            col.modify(metadata={**meta, "meddraft_writer": self.writer})

    def require_writable(self) -> None:
        """Fail before any write to a store this process may only read."""
        if self.read_only:
            raise StoreError(
                f"the store at {self.location} is read-only for this user: `meddraft ingest` and "
                "`meddraft repair` need write access to it (status, search, assess and ask work as is)"
            )

    @property
    def location(self) -> str:
        s = self.settings
        return f"chroma://{s.host}:{s.port}/{s.collection}" if s.host else str(Path(s.path).resolve())

    # --- identity -----------------------------------------------------------------------------

    def _existing(self):
        if self._collection is None:
            try:
                self._collection = self.client.get_collection(self.settings.collection)
            except StoreUnavailableError:
                raise  # a server that is down is not an empty store
            except Exception:
                return None
        return self._collection

    def identity(self) -> dict[str, Any]:
        col = self._existing()
        return dict(col.metadata or {}) if col is not None else {}

    def open_for(self, model: str, dimension: int, chunking: dict[str, Any]) -> None:
        """Create the collection for this model, or check that the existing one matches."""
        col = self._existing()
        identity = {"embedding_model": model, "embedding_dimension": dimension}
        if col is None:
            meta = {
                **identity,
                **{f"chunking_{k}": v for k, v in chunking.items() if v is not None},
                **({"meddraft_writer": self.writer} if self.settings.host else {}),
            }
            self._collection = self.client.get_or_create_collection(
                self.settings.collection,
                metadata=meta,
                configuration={"hnsw": {"space": "cosine"}},
                embedding_function=None,
            )
            return
        self.check_model(model)
        stored = dict(col.metadata or {})
        wanted = {f"chunking_{k}": v for k, v in chunking.items() if v is not None}
        if any(stored.get(k) != v for k, v in wanted.items()):
            col.modify(
                metadata={
                    **{k: v for k, v in stored.items() if not k.startswith("chunking_")},
                    **wanted,
                }
            )

    def check_model(self, model: str) -> None:
        stored = self.identity().get("embedding_model")
        if stored and stored != model:
            raise mismatch(self.location, stored, model)

    def drop(self) -> None:
        """Delete the collection and its manifest rows."""
        if self._existing() is not None:
            self.client.delete_collection(self.settings.collection)
        self._collection = None
        if self.manifest.exists():
            self.manifest.clear()
        self.lexical.clear()

    @property
    def collection(self):
        col = self._existing()
        if col is None:
            raise StoreError(f"the store at {self.location} is empty: run `meddraft ingest PATH` first")
        return col

    def is_empty(self) -> bool:
        col = self._existing()
        return col is None or col.count() == 0

    # --- writes -------------------------------------------------------------------------------

    def _batches(self, n: int, size: int | None = None) -> Iterator[slice]:
        limit = min(size or n or 1, self.client.get_max_batch_size())
        for start in range(0, n, max(limit, 1)):
            yield slice(start, start + limit)

    def upsert(
        self,
        chunks: Sequence[Chunk],
        embeddings: Sequence[Sequence[float]],
        metadatas: Sequence[dict],
    ) -> None:
        for part in self._batches(len(chunks)):
            self.collection.upsert(
                ids=[c.id for c in chunks[part]],
                documents=[c.text for c in chunks[part]],
                embeddings=[list(e) for e in embeddings[part]],
                metadatas=list(metadatas[part]),
            )
            self.lexical.upsert([c.id for c in chunks[part]], [c.text for c in chunks[part]], metadatas[part])

    def update_metadata(self, ids: Sequence[str], metadatas: Sequence[dict]) -> None:
        for part in self._batches(len(ids)):
            self.collection.update(ids=list(ids[part]), metadatas=list(metadatas[part]))
            kept = self.get(ids=ids[part])  # the title or section in the indexed text may have moved
            self.lexical.upsert([c.id for c in kept], [c.text for c in kept], [c.metadata for c in kept])

    def delete(self, ids: Sequence[str]) -> None:
        for part in self._batches(len(ids)):
            self.collection.delete(ids=list(ids[part]))
            self.lexical.delete(ids[part])

    def delete_document(self, doc_id: str) -> int:
        ids = self.chunk_ids(doc_id)
        self.delete(ids)
        return len(ids)

    # --- reads --------------------------------------------------------------------------------

    def chunk_ids(self, doc_id: str) -> list[str]:
        if self._existing() is None:
            return []
        return self.collection.get(where={"doc_id": doc_id}, include=[])["ids"]

    def ids(self, page: int = 20000) -> list[str]:
        """Every chunk id in the collection."""
        return [chunk_id for chunk_id, _ in self.scan(page, include=[])]

    def scan(self, page: int = 5000, include: Sequence[str] = ("metadatas",)) -> Iterator[tuple[str, dict]]:
        """Every chunk id actually in the collection with its metadata, a page at a time."""
        if self._existing() is None:
            return
        offset = 0
        while True:
            got = self.collection.get(include=list(include), limit=page, offset=offset)
            metas = got["metadatas"] or [None] * len(got["ids"])
            yield from zip(got["ids"], [m or {} for m in metas], strict=True)
            if len(got["ids"]) < page:
                return
            offset += page

    def documents(self, where: dict | None = None) -> dict[str, DocRecord]:
        """Ingested documents keyed by id: all, or those whose chunks match `where`; a page at a
        time (Chroma's SQLite takes about 32,000 ids a read; a 100k-chunk store has more)."""
        if self._existing() is None:
            return {}
        clause = {"$and": [{"chunk_index": 0}, where]} if where else {"chunk_index": 0}
        records: dict[str, DocRecord] = {}
        offset = 0
        while True:
            got = _read(
                partial(
                    self.collection.get, where=clause, include=["metadatas"], limit=DOC_PAGE, offset=offset
                )
            )
            for meta in got["metadatas"]:
                records[meta["doc_id"]] = DocRecord(
                    doc_id=meta["doc_id"],
                    kind=meta["kind"],
                    title=meta.get("title", ""),
                    case_id=meta.get("case_id") or None,
                    source_path=meta.get("source_path", ""),
                    content_hash=meta.get("content_hash", ""),
                    n_chunks=int(meta.get("n_chunks", 0)),
                    source=meta.get("source"),
                    year=meta.get("year"),
                )
            if len(got["ids"]) < DOC_PAGE:
                return records
            offset += DOC_PAGE

    def case_ids(self) -> list[str]:
        """Every case id that at least one ingested document carries, sorted."""
        if self._existing() is None:
            return []
        got = self.collection.get(
            where={"$and": [{"chunk_index": 0}, {"case_id": {"$ne": NO_CASE}}]},
            include=["metadatas"],
        )
        return sorted({m["case_id"] for m in got["metadatas"] if m and m.get("case_id")})

    def get(self, ids: Sequence[str] | None = None, where: dict | None = None) -> list[StoredChunk]:
        if self._existing() is None:
            return []
        got = _read(
            lambda: self.collection.get(
                ids=list(ids) if ids is not None else None,
                where=where,
                include=["documents", "metadatas"],
            )
        )
        return [
            StoredChunk(id=i, text=t or "", metadata=m or {})
            for i, t, m in zip(got["ids"], got["documents"], got["metadatas"], strict=True)
        ]

    def query(self, embedding: Sequence[float], k: int, where: dict | None = None) -> list[StoredChunk]:
        """Nearest chunks; `where` is applied inside Chroma (this is where case scoping lives)."""
        col = self.collection
        got = _read(
            lambda: col.query(
                query_embeddings=[list(embedding)],
                n_results=max(1, k),
                where=where,
                include=["documents", "metadatas", "distances"],
            )
        )
        return [
            StoredChunk(id=i, text=t or "", metadata=m or {}, distance=d)
            for i, t, m, d in zip(
                got["ids"][0],
                got["documents"][0],
                got["metadatas"][0],
                got["distances"][0],
                strict=True,
            )
        ]

    def nearest(
        self, embeddings: Sequence[Sequence[float]], k: int, where: dict | None = None
    ) -> list[list[tuple[str, float]]]:
        """For each embedding, ids and cosine distances of its `k` nearest chunks (in `where`, or
        of the whole collection): no text and no metadata of any chunk, and one call for all the
        embeddings (one round trip to a server). Chroma's filtered query is slow when the filter
        keeps most of a large collection, so callers scope the unfiltered ids themselves there and
        read only the chunks they keep."""
        if not embeddings:
            return []  # Chroma refuses an empty query
        col = self.collection
        got = _read(
            lambda: col.query(
                query_embeddings=[list(e) for e in embeddings],
                n_results=max(1, k),
                where=where,
                include=["distances"],
            )
        )
        return [
            list(zip(ids, distances, strict=True))
            for ids, distances in zip(got["ids"], got["distances"], strict=True)
        ]

    def count(self) -> int:
        col = self._existing()
        return col.count() if col is not None else 0

    def vectors(self, where: dict) -> dict[str, list[float]]:
        """Stored embeddings of the chunks matching `where` (scoped like every query)."""
        if self._existing() is None:
            return {}
        got = _read(lambda: self.collection.get(where=where, include=["embeddings"]))
        return {i: list(v) for i, v in zip(got["ids"], got["embeddings"], strict=True)}
