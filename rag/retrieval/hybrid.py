"""Hybrid retrieval: dense (Chroma) and BM25 (bm25s) over one scoped chunk set, fused by RRF.

Case scoping and the kind filter are one Chroma `where` clause (`rag.retrieval.scope.where`) used
by both halves: the dense query runs with it, and the BM25 index is built only from the chunks
`Store.get(where=...)` returns. Nothing of another case is fetched, so nothing has to be filtered
out afterwards.
"""

from __future__ import annotations

import json
from collections import OrderedDict, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import bm25s

from ingest.documents import KINDS
from ingest.store import Store, StoredChunk
from rag.errors import CaseNotFoundError, MeddraftError, StoreError
from rag.retrieval import scope
from rag.retrieval.fusion import FusionSettings, ranked
from rag.types import Hit

RRF_K = 60
_TOKEN_PATTERN = r"(?u)[^\W_]+"  # runs of letters or digits: numbers are kept, even "9"
_CACHE_SIZE = 8


class QueryEmbedder(Protocol):
    def embed(self, texts: Sequence[str]) -> list[list[float]]: ...


def tokenize(texts: Sequence[str]) -> list[list[str]]:
    """Lower-case, split on non-alphanumerics, keep numbers, drop English stopwords."""
    return bm25s.tokenize(
        list(texts),
        lower=True,
        token_pattern=_TOKEN_PATTERN,
        stopwords="en",
        return_ids=False,
        show_progress=False,
    )


def understood(where: dict[str, Any]) -> bool:
    """True for the clause shapes `scope.where` builds: field equality, `$in`, `$and`."""
    if "$and" in where:
        return len(where) == 1 and all(understood(c) for c in where["$and"])
    return all(
        not key.startswith("$") and (not isinstance(v, dict) or set(v) == {"$in"}) for key, v in where.items()
    )


def matches(meta: dict[str, Any], where: dict[str, Any]) -> bool:
    """Whether chunk metadata satisfies a clause of the shapes `understood` accepts."""
    if "$and" in where:
        return all(matches(meta, clause) for clause in where["$and"])
    for key, wanted in where.items():
        value = meta.get(key)
        if isinstance(wanted, dict):
            if value not in wanted["$in"]:
                return False
        elif value != wanted:
            return False
    return True


def rrf(rank: int | None, k: int = RRF_K) -> float:
    return 1.0 / (k + rank) if rank else 0.0


def _lexical_text(item: StoredChunk) -> str:
    # the same context the dense side embeds (Chunk.embed_text): title and section path
    meta = item.metadata
    head = " > ".join(p for p in (meta.get("title"), meta.get("section")) if p)
    return f"{head}\n{item.text}" if head else item.text


@dataclass
class LexicalIndex:
    """BM25 over one scoped chunk set (exactly what `Store.get(where=...)` returned)."""

    items: list[StoredChunk]
    model: bm25s.BM25 | None = None
    position: dict[str, int] = field(default_factory=dict)

    @classmethod
    def build(cls, items: list[StoredChunk]) -> LexicalIndex:
        index = cls(items=items, position={c.id: i for i, c in enumerate(items)})
        if items:
            index.model = bm25s.BM25()
            index.model.index(tokenize([_lexical_text(c) for c in items]), show_progress=False)
        return index

    def rank(self, query: str, n: int) -> list[tuple[StoredChunk, float]]:
        """Best `n` chunks with a positive BM25 score, best first."""
        tokens = tokenize([query])[0]
        if self.model is None or not tokens:
            return []
        docs, scores = self.model.retrieve([tokens], k=min(n, len(self.items)), show_progress=False)
        return [(self.items[int(d)], float(s)) for d, s in zip(docs[0], scores[0], strict=True) if s > 0]


class Retriever:
    """Hybrid search over a `Store`; BM25 indexes are cached per (where clause, chunk count)."""

    def __init__(
        self,
        store: Store,
        embedder: QueryEmbedder,
        *,
        rrf_k: int = RRF_K,
        fusion: FusionSettings | None = None,
    ) -> None:
        self.store = store
        self.embedder = embedder
        self.rrf_k = rrf_k  # across the queries of `search_many`
        self.fusion = fusion or FusionSettings()  # dense with BM25 (`rag.retrieval.fusion`)
        self._lexical: OrderedDict[tuple[str, int], LexicalIndex] = OrderedDict()
        self._cases: tuple[int, list[str]] | None = None

    # --- public -------------------------------------------------------------------------------

    def search(
        self,
        query: str,
        *,
        case_id: str | None = None,
        kinds: Sequence[str] | None = None,
        k: int = 10,
        candidates: int = 50,
    ) -> list[Hit]:
        """Top `k` chunks for `query` in the scope (literature, plus `case_id`'s chunks)."""
        _check_queries([query])
        where = self._prepare(case_id, kinds, k)
        [vector] = self.embedder.embed([query])
        return self._search(query, vector, where, k, max(candidates, k))

    def search_many(
        self,
        queries: Sequence[str],
        *,
        case_id: str | None = None,
        kinds: Sequence[str] | None = None,
        k_per_query: int = 10,
        k_total: int = 20,
        per_doc_cap: int = 3,
        candidates: int = 50,
    ) -> list[Hit]:
        """Several queries fused by RRF across queries, at most `per_doc_cap` chunks a document.

        Each hit keeps the ranks of the query that ranked it best; `score` is the fused score.
        """
        queries = [queries] if isinstance(queries, str) else list(queries)
        _check_queries(queries)
        if per_doc_cap < 1 or k_total < 1:
            raise MeddraftError("k_total and per_doc_cap must be at least 1")
        where = self._prepare(case_id, kinds, k_per_query)
        vectors = self.embedder.embed(queries)
        fused: dict[str, float] = defaultdict(float)
        best: dict[str, Hit] = {}
        for query, vector in zip(queries, vectors, strict=True):
            for rank, hit in enumerate(
                self._search(query, vector, where, k_per_query, max(candidates, k_per_query)), 1
            ):
                fused[hit.chunk_id] += rrf(rank, self.rrf_k)
                if hit.chunk_id not in best or hit.score > best[hit.chunk_id].score:
                    best[hit.chunk_id] = hit
        per_doc: dict[str, int] = defaultdict(int)
        out: list[Hit] = []
        for chunk_id in sorted(fused, key=lambda i: (-fused[i], i)):
            hit = best[chunk_id]
            if per_doc[hit.doc_id] >= per_doc_cap:
                continue
            per_doc[hit.doc_id] += 1
            out.append(hit.model_copy(update={"score": fused[chunk_id]}))
            if len(out) == k_total:
                break
        return out

    def candidates(
        self,
        query: str,
        *,
        case_id: str | None = None,
        kinds: Sequence[str] | None = None,
        n: int = 50,
    ) -> tuple[list[StoredChunk], list[tuple[StoredChunk, float]]]:
        """The two unfused candidate lists for `query`: dense (with distances) and BM25 (with scores)."""
        _check_queries([query])
        where = self._prepare(case_id, kinds, n)
        [vector] = self.embedder.embed([query])
        return self.store.query(vector, n, where=where), self._index(where).rank(query, n)

    def case_ids(self) -> list[str]:
        """Cases in the store (cached until the store's chunk count changes)."""
        count = self.store.count()
        if self._cases is None or self._cases[0] != count:
            self._cases = (count, self.store.case_ids())
        return self._cases[1]

    # --- internals ----------------------------------------------------------------------------

    def _prepare(self, case_id: str | None, kinds: Sequence[str] | None, k: int) -> dict:
        if k < 1:
            raise MeddraftError(f"k must be at least 1, not {k}")
        kinds = [kinds] if isinstance(kinds, str) else kinds
        unknown = sorted(set(kinds or ()) - set(KINDS))
        if unknown:
            raise MeddraftError(f"unknown kind {', '.join(unknown)}: use one of {', '.join(KINDS)}")
        if self.store.count() == 0:
            raise StoreError(f"the store at {self.store.location} is empty: run `meddraft ingest PATH` first")
        name = getattr(self.embedder, "name", None)
        if name:
            self.store.check_model(name)
        if case_id and case_id not in self.case_ids():
            self._cases = None  # a case ingested a moment ago must not be refused from cache
            if case_id not in self.case_ids():
                raise CaseNotFoundError(case_id, self.case_ids())
        return scope.where(case_id, kinds)

    def _index(self, where: dict, *, rebuild: bool = False) -> LexicalIndex:
        key = (json.dumps(where, sort_keys=True), self.store.count())
        if rebuild or key not in self._lexical:
            for old in [k for k in self._lexical if k[1] != key[1]]:
                del self._lexical[old]  # the store changed: indexes of other scopes are stale too
            self._lexical[key] = LexicalIndex.build(self.store.get(where=where))
            while len(self._lexical) > _CACHE_SIZE:
                self._lexical.popitem(last=False)
        self._lexical.move_to_end(key)
        return self._lexical[key]

    def _search(self, query: str, vector: Sequence[float], where: dict, k: int, candidates: int) -> list[Hit]:
        # The cache key's chunk count misses an edit that keeps the count: a dense hit the index
        # lacks, or a BM25-only hit the store lost, means the index is stale; rebuild it once.
        for rebuild in (False, True):
            lexical = self._index(where, rebuild=rebuild)
            dense = self.store.query(vector, candidates, where=where)
            hits = self._fuse(dense, lexical.rank(query, candidates), k)
            lexical_only = [h.chunk_id for h in hits if h.dense_rank is None]
            fresh = self._refetch(lexical_only, where)
            stale = len(fresh) < len(lexical_only) or any(d.id not in lexical.position for d in dense)
            if not stale:
                break
        # BM25-only hits come from the cache: take text and metadata as the store has them now
        return [
            Hit.of(fresh[h.chunk_id], **_ranks(h)) if h.chunk_id in fresh else h
            for h in hits
            if h.dense_rank is not None or h.chunk_id in fresh
        ]

    def _refetch(self, ids: list[str], where: dict) -> dict[str, StoredChunk]:
        """BM25-only hits as the store has them now, still in scope.

        These ids came from an index built from a scoped query; fetching by id alone is about
        60 times faster than with the `where` clause, and `matches` re-checks the scope on the
        fetched metadata (a chunk edited out of scope since is dropped). A clause `matches` does
        not understand falls back to the store's own filter.
        """
        if not ids:
            return {}
        if not understood(where):
            return {c.id: c for c in self.store.get(ids=ids, where=where)}
        return {c.id: c for c in self.store.get(ids=ids) if matches(c.metadata, where)}

    def _fuse(self, dense: list[StoredChunk], lexical: list[tuple[StoredChunk, float]], k: int) -> list[Hit]:
        items: dict[str, StoredChunk] = {}
        ranks: dict[str, dict[str, Any]] = defaultdict(dict)
        for rank, item in enumerate(dense, 1):
            items[item.id] = item
            ranks[item.id].update(dense_rank=rank, dense_distance=item.distance)
        for rank, (item, score) in enumerate(lexical, 1):
            items.setdefault(item.id, item)
            ranks[item.id].update(bm25_rank=rank, bm25_score=score)
        fused = ranked(
            [(d.id, d.distance if d.distance is not None else 1.0) for d in dense],
            [(item.id, score) for item, score in lexical],
            self.fusion,
        )
        return [Hit.of(items[i], score=score, **ranks[i]) for i, score in fused[:k]]


def _ranks(hit: Hit) -> dict[str, Any]:
    keys = ("score", "dense_rank", "bm25_rank", "dense_distance", "bm25_score")
    return {key: getattr(hit, key) for key in keys}


def _check_queries(queries: Sequence[str]) -> None:
    if not queries or any(not q or not q.strip() for q in queries):
        raise MeddraftError("empty query: give the words to search for")
