"""The lexical (BM25) index beside the store: tantivy, English stemming, scoped at query time.

`<store>/lexical-<collection>/` is a tantivy index with one document per chunk: the text the dense
side embeds (title > section, then the chunk) through tantivy's `en_stem` analyser (lower case,
Snowball English stemmer), and the chunk's case id, kind and doc id as exact terms. It is written
by `Store`'s own writes (upsert, metadata update, delete, drop), so whatever writes through `Store`
keeps it current, file by file; a query is scoped by the same `where` clause the dense half uses,
turned into a filter, so nothing is rebuilt per process or per case and a note of one case never
ranks for another.

Chroma is written first and this index second. When they disagree (a process killed between the
two, a store made before this index existed, a server collection written from another store
folder), `sync` mends the index by the difference of chunk ids, fetching only what it lacks.

Why tantivy: bm25s (used before) builds a static index in memory, with no incremental update and
no filter, so every process rebuilt it from every scoped chunk (135 ms a query at 12.6k chunks,
growing with the store). SQLite FTS5 updates in place, but its bm25() is computed row by row in
the query: 11 ms a query at 12.6k chunks before any scope, about 90 ms at 100k. tantivy (the
engine under Quickwit; Lucene's BM25, k1 = 1.2, b = 0.75) answers in about 1 ms at 12.6k,
updates in place and keeps its files beside the store.
"""

from __future__ import annotations

import json
import logging
import re
import shutil
import threading
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Protocol

from ingest.documents import context_head

log = logging.getLogger(__name__)

VERSION = "tantivy-1"  # the index layout and analyser; another version is rebuilt from the store
ANALYSER = "en_stem"
SCOPE_FIELDS = ("case_id", "kind", "doc_id")  # what a `where` clause may name
# Lucene's English stop set (also bm25s's "en"): dropped from queries only; numbers are kept
_STOP = "a an and are as at be but by for if in into is it no not of on or such that the their then there"
STOPWORDS = frozenset([*_STOP.split(), "these", "they", "this", "to", "was", "will", "with"])
WRITER_HEAP = 50_000_000
WRITER_PATIENCE_S = 30.0  # how long a write waits for another process's tantivy writer lock
_TOKEN = re.compile(r"[^\W_]+")
_INFO = "meddraft.json"


class Source(Protocol):
    """What `sync` reads from the store: every chunk id, and chunks by id."""

    def ids(self) -> list[str]: ...

    def get(self, ids: Sequence[str] | None = None, where: dict | None = None) -> list: ...


def head_of(meta: dict[str, Any]) -> str:
    """The context the dense side embeds before a chunk (`Chunk.embed_text`): title > section."""
    return context_head(meta.get("title"), meta.get("section"))


def query_terms(text: str) -> list[str]:
    """Lower-cased words and numbers of a query, stopwords dropped, each once, in order."""
    seen: dict[str, None] = {}
    for token in _TOKEN.findall(text.lower()):
        if token not in STOPWORDS:
            seen.setdefault(token, None)
    return list(seen)


def _term(value: Any) -> str:
    return f"v:{value}"  # exact terms are never empty (literature's case id is "")


def _schema():
    import tantivy

    builder = tantivy.SchemaBuilder()
    builder.add_text_field("body", tokenizer_name=ANALYSER, index_option="freq")
    builder.add_text_field("chunk_id", stored=True, tokenizer_name="raw", index_option="basic")
    for name in SCOPE_FIELDS:
        builder.add_text_field(name, tokenizer_name="raw", index_option="basic")
    return builder.build()


class LexicalIndex:
    """BM25 over every chunk of one collection, kept in step with the collection."""

    def __init__(self, path: Path | str, location: str) -> None:
        self.path = Path(path)
        self.location = location  # the collection it mirrors (a folder, or a server's collection)
        self._index = None
        self._lock = threading.RLock()

    # --- opening ------------------------------------------------------------------------------

    @property
    def index(self):
        if self._index is None:
            self._index = self._open()
        return self._index

    def _open(self):
        import tantivy

        info = {"version": VERSION, "location": self.location}
        try:
            marker = self.path / _INFO
            if self.path.exists() and (
                not marker.is_file() or json.loads(marker.read_text(encoding="utf-8")) != info
            ):
                shutil.rmtree(self.path)  # another layout or another collection: rebuilt by `sync`
            self.path.mkdir(parents=True, exist_ok=True)
            index = tantivy.Index(_schema(), path=str(self.path))
            marker.write_text(json.dumps(info), encoding="utf-8")
            return index
        except (OSError, ValueError, json.JSONDecodeError) as exc:
            # an unwritable folder: an index in memory, filled by `sync` on first use
            log.warning("lexical index %s cannot be written (%s): keeping it in memory", self.path, exc)
            return tantivy.Index(_schema())

    def _writer(self):
        """The index's writer; tantivy lets one process write at a time, so wait for it."""
        deadline = time.monotonic() + WRITER_PATIENCE_S
        while True:
            try:
                return self.index.writer(WRITER_HEAP, 1)
            except ValueError as exc:
                if "lock" not in str(exc).lower() or time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def _write(self, work) -> None:
        with self._lock:
            writer = self._writer()
            try:
                work(writer)
                writer.commit()
            except BaseException:
                writer.rollback()
                raise
            finally:
                writer.wait_merging_threads()  # releases the writer lock
            self.index.reload()

    # --- writes (called by Store) -------------------------------------------------------------

    def upsert(self, ids: Sequence[str], texts: Sequence[str], metadatas: Sequence[dict]) -> None:
        import tantivy

        def work(writer) -> None:
            for chunk_id, text, meta in zip(ids, texts, metadatas, strict=True):
                head = head_of(meta)
                writer.delete_documents_by_term("chunk_id", chunk_id)
                fields = {name: _term(meta.get(name, "")) for name in SCOPE_FIELDS}
                body = f"{head}\n{text}" if head else text
                writer.add_document(tantivy.Document(body=body, chunk_id=chunk_id, **fields))

        if ids:
            self._write(work)

    def delete(self, ids: Iterable[str]) -> None:
        ids = list(ids)

        def work(writer) -> None:
            for chunk_id in ids:
                writer.delete_documents_by_term("chunk_id", chunk_id)

        if ids:
            self._write(work)

    def clear(self) -> None:
        self._write(lambda writer: writer.delete_all_documents())

    # --- reads --------------------------------------------------------------------------------

    def count(self) -> int:
        with self._lock:
            self.index.reload()
            return int(self.index.searcher().num_docs)

    def count_within(self, where: dict[str, Any]) -> int:
        """How many chunks the index holds inside the scope `where` (all of them when it is empty)."""
        if not where:
            return self.count()
        with self._lock:
            self.index.reload()
            return int(self.index.searcher().search(self._scope(where), 1, count=True).count)

    def chunk_ids(self) -> set[str]:
        with self._lock:
            self.index.reload()
            searcher = self.index.searcher()
            if not searcher.num_docs:
                return set()
            from tantivy import Query

            found = searcher.search(Query.all_query(), searcher.num_docs, count=False)
            return {searcher.doc(address)["chunk_id"][0] for _, address in found.hits}

    def rank(self, query: str, n: int, where: dict[str, Any] | None = None) -> list[tuple[str, float]]:
        """Best `n` chunk ids in scope for `query` with their BM25 scores (higher is better)."""
        from tantivy import Occur, Query

        terms = query_terms(query)
        if not terms or n < 1:
            return []
        with self._lock:
            index = self.index
            index.reload()
            words = Query.boolean_query([(Occur.Should, index.parse_query(t, ["body"])) for t in terms])
            parts = [(Occur.Must, words)]
            if where:
                parts.append((Occur.Must, Query.const_score_query(self._scope(where), 0.0)))
            searcher = index.searcher()
            found = searcher.search(Query.boolean_query(parts), n, count=False)
            return [(searcher.doc(a)["chunk_id"][0], float(s)) for s, a in found.hits if s > 0]

    def within(self, ids: Sequence[str], where: dict[str, Any]) -> set[str]:
        """Which of `ids` the index holds inside the scope `where` (a chunk it lacks is not)."""
        from tantivy import Occur, Query

        if not ids:
            return set()
        with self._lock:
            index = self.index
            index.reload()
            wanted = Query.term_set_query(index.schema, "chunk_id", list(ids))
            query = Query.boolean_query([(Occur.Must, wanted), (Occur.Must, self._scope(where))])
            searcher = index.searcher()
            found = searcher.search(query, len(ids), count=False)
            return {searcher.doc(a)["chunk_id"][0] for _, a in found.hits}

    def _scope(self, where: dict[str, Any]):
        """A `where` clause of the shapes `rag.retrieval.scope.where` builds, as a tantivy filter."""
        from tantivy import Occur, Query

        schema = self.index.schema
        if "$and" in where:
            if len(where) != 1:
                raise ValueError(f"a where clause with $and and other keys: {where!r}")
            return Query.boolean_query([(Occur.Must, self._scope(c)) for c in where["$and"]])
        clauses = []
        for key, wanted in where.items():
            if key not in SCOPE_FIELDS:
                known = ", ".join(SCOPE_FIELDS)
                raise ValueError(f"the lexical index cannot filter on {key!r} (only {known})")
            if isinstance(wanted, dict):
                if set(wanted) != {"$in"}:
                    raise ValueError(f"the lexical index understands equality and $in, not {wanted!r}")
                values = [_term(v) for v in wanted["$in"]]
                clauses.append(Query.term_set_query(schema, key, values) if values else Query.empty_query())
            else:
                clauses.append(Query.term_query(schema, key, _term(wanted)))
        return clauses[0] if len(clauses) == 1 else Query.boolean_query([(Occur.Must, c) for c in clauses])

    # --- keeping in step ----------------------------------------------------------------------

    def sync(self, store: Source, page: int = 2000) -> tuple[int, int]:
        """Make the index hold exactly the store's chunks: add what it lacks, drop what the store
        no longer has. Returns (added, removed)."""
        with self._lock:
            wanted = set(store.ids())
            have = self.chunk_ids()
            extra, missing = sorted(have - wanted), sorted(wanted - have)
            if extra:
                self.delete(extra)
            for start in range(0, len(missing), page):
                chunks = store.get(ids=missing[start : start + page])
                self.upsert([c.id for c in chunks], [c.text for c in chunks], [c.metadata for c in chunks])
        if extra or missing:
            log.info("lexical index %s: %d chunks added, %d removed", self.path, len(missing), len(extra))
        return len(missing), len(extra)
