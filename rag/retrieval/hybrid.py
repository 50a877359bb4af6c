"""Hybrid retrieval: dense (Chroma) and BM25 (the store's lexical index) over one scope, fused.

Case scoping and the kind filter are one `where` clause (`rag.retrieval.scope.where`) used by
both halves: the lexical index (`ingest.lexical`, kept beside the store and written with it)
applies it as its filter, and scopes the dense half's nearest ids the same way before any chunk
is read (see `_dense`). Nothing of another case is read. How the two lists become one ranking is
`rag.retrieval.fusion`'s.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Sequence
from typing import Any, Protocol

from ingest.documents import KINDS
from ingest.store import Store, StoredChunk
from rag.errors import CaseNotFoundError, MeddraftError, StoreError
from rag.retrieval import scope
from rag.retrieval.fusion import FusionSettings, ranked
from rag.types import Hit

log = logging.getLogger(__name__)
RRF_K = 60  # across the queries of `search_many`
COUNT_TTL_S = 1.0  # how long a read of the chunk count is trusted


class QueryEmbedder(Protocol):
    def embed(self, texts: Sequence[str]) -> list[list[float]]: ...


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


class Retriever:
    """Hybrid search over a `Store` and its lexical index, fused by `fusion`."""

    def __init__(
        self,
        store: Store,
        embedder: QueryEmbedder,
        *,
        fusion: FusionSettings | None = None,
        rrf_k: int = RRF_K,
    ) -> None:
        self.store = store
        self.embedder = embedder
        self.fusion = fusion or FusionSettings()
        self.rrf_k = rrf_k  # across queries (`search_many`); one query's halves use `fusion`
        self._synced = -1  # the chunk count at which the lexical index last matched the store
        self._cases: tuple[int, list[str]] | None = None
        self._counted: tuple[float, int] | None = None

    # --- public -------------------------------------------------------------------------------

    def search(
        self,
        query: str,
        *,
        case_id: str | None = None,
        kinds: Sequence[str] | None = None,
        k: int = 10,
        candidates: int | None = None,
    ) -> list[Hit]:
        """Top `k` chunks for `query` in the scope (literature, plus `case_id`'s chunks)."""
        _check_queries([query])
        where = self._prepare(case_id, kinds, k)
        [vector] = self.embedder.embed([query])
        return self._search(query, vector, where, k, max(candidates or self.fusion.depth, k))

    def search_many(
        self,
        queries: Sequence[str],
        *,
        case_id: str | None = None,
        kinds: Sequence[str] | None = None,
        k_per_query: int = 10,
        k_total: int = 20,
        per_doc_cap: int = 3,
        candidates: int | None = None,
    ) -> list[Hit]:
        """Several queries fused by RRF across queries, at most `per_doc_cap` chunks a document.

        Each hit keeps the ranks of the query that ranked it best; `score` is the fused score.
        """
        queries = [queries] if isinstance(queries, str) else list(queries)
        _check_queries(queries)
        if per_doc_cap < 1 or k_total < 1:
            raise MeddraftError("k_total and per_doc_cap must be at least 1")
        where = self._prepare(case_id, kinds, k_per_query)
        depth = max(candidates or self.fusion.depth, k_per_query)
        vectors = self.embedder.embed(queries)
        denses = self._dense(vectors, where, depth)
        fused: dict[str, float] = defaultdict(float)
        best: dict[str, Hit] = {}
        for query, vector, dense in zip(queries, vectors, denses, strict=True):
            for rank, hit in enumerate(self._search(query, vector, where, k_per_query, depth, dense), 1):
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

    def _count(self) -> int:
        """The store's chunk count, read again after COUNT_TTL_S (a count costs 17 ms at 100k)."""
        now = time.monotonic()
        if self._counted is None or now - self._counted[0] > COUNT_TTL_S or self._counted[1] == 0:
            self._counted = (now, self.store.count())
        return self._counted[1]

    def case_ids(self) -> list[str]:
        """Cases in the store (cached until the store's chunk count changes)."""
        count = self._count()
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
        count = self._count()
        if count == 0:
            raise StoreError(f"the store at {self.store.location} is empty: run `meddraft ingest PATH` first")
        self._sync_lexical(count)
        name = getattr(self.embedder, "name", None)
        if name:
            self.store.check_model(name)
        if case_id and case_id not in self.case_ids():
            self._cases = None  # a case ingested a moment ago must not be refused from cache
            if case_id not in self.case_ids():
                raise CaseNotFoundError(case_id, self.case_ids())
        return scope.where(case_id, kinds)

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
        dense, lexical = self._halves(query, vector, where, n)
        chunks = self._refetch(list(dict.fromkeys([i for i, _ in dense] + [i for i, _ in lexical])), where)
        return (
            [StoredChunk(i, chunks[i].text, chunks[i].metadata, distance=d) for i, d in dense if i in chunks],
            [(chunks[i], score) for i, score in lexical if i in chunks],
        )

    def _halves(
        self, query: str, vector: Sequence[float], where: dict, n: int
    ) -> tuple[list[tuple[str, float]], list[tuple[str, float]]]:
        """The `n` nearest chunk ids (with their cosine distances) and the `n` best BM25 chunk ids
        (with their scores), both in scope; no chunk is read yet."""
        return self._dense([vector], where, n)[0], self.store.lexical.rank(query, n, where)

    def _dense(
        self, vectors: Sequence[Sequence[float]], where: dict, n: int
    ) -> list[list[tuple[str, float]]]:
        """For each vector, the `n` nearest chunk ids in scope, all vectors in one store call.

        Chroma's filtered query costs 0.6 s at 100k chunks when the filter keeps most of them (a
        case's scope: all the literature), so the nearest ids and distances of the whole collection
        come first, without text or metadata; the lexical index, which knows each chunk's case and
        kind, keeps those in scope. Only the hits that make the final list are read, and their
        scope is checked again on what the store holds. When too few are left, the filtered query
        answers instead; when the scope is so narrow that too few are expected (one case's notes,
        one kind in a small store), it answers at once."""
        over = 2 * n + 20
        if where and self._narrow(where, over, n):
            return self.store.nearest(vectors, n, where)
        lists = self.store.nearest(vectors, over)
        allowed = self.store.lexical.within(list({i for nearest in lists for i, _ in nearest}), where)
        kept = [[(i, d) for i, d in nearest if i in allowed][:n] for nearest in lists]
        short = [j for j, nearest in enumerate(lists) if len(kept[j]) < n and len(nearest) == over]
        if short:
            for j, filtered in zip(
                short, self.store.nearest([vectors[j] for j in short], n, where), strict=True
            ):
                kept[j] = filtered
        return kept

    def _narrow(self, where: dict, over: int, n: int) -> bool:
        """Whether `over` nearest chunks of the whole collection would hold fewer than `n` in scope,
        were the scope's chunks spread evenly (an estimate: it only saves a store call)."""
        try:
            share = self.store.lexical.count_within(where) / max(self._count(), 1)
        except ValueError:  # a clause the lexical index cannot read: the filtered query can
            return True
        return share * over < n

    def _sync_lexical(self, count: int, *, force: bool = False) -> None:
        """Bring the lexical index level with the store when they differ (a store made before
        the index existed, a killed writer, a server collection written from another folder)."""
        if not force and self._synced == count:
            return
        try:
            if force or self.store.lexical.count() != count:
                self.store.lexical.sync(self.store)
            self._synced = count
        except (OSError, ValueError) as exc:  # another process holds the index's writer
            log.warning("lexical index not brought up to date (%s): searching it as it is", exc)

    def _search(
        self,
        query: str,
        vector: Sequence[float],
        where: dict,
        k: int,
        candidates: int,
        dense: list[tuple[str, float]] | None = None,
    ) -> list[Hit]:
        """The top `k` for one query; `dense` is its dense half when the caller asked for several
        queries' at once (a second attempt, after the lexical index is mended, asks again)."""
        for attempt in (1, 2):
            if dense is not None and attempt == 1:
                lexical = self.store.lexical.rank(query, candidates, where)
            else:
                dense, lexical = self._halves(query, vector, where, candidates)
            scores = dict(ranked(dense, lexical, self.fusion))
            ranks: dict[str, dict[str, Any]] = defaultdict(dict)
            for rank, (chunk_id, distance) in enumerate(dense, 1):
                ranks[chunk_id].update(dense_rank=rank, dense_distance=distance)
            for rank, (chunk_id, score) in enumerate(lexical, 1):
                ranks[chunk_id].update(bm25_rank=rank, bm25_score=score)
            best = list(scores)[:k]  # `ranked` is best first
            # only the hits kept are read: from the store as it is now, and still in scope
            fresh = self._refetch(best, where)
            if all(i in fresh for i in best) or attempt == 2:
                break
            self._sync_lexical(self.store.count(), force=True)  # the index holds removed chunks
        return [Hit.of(fresh[i], score=scores[i], **ranks[i]) for i in best if i in fresh]

    def _refetch(self, ids: list[str], where: dict) -> dict[str, StoredChunk]:
        """Chunks by id as the store has them now, still in scope.

        The ids were scoped already (by the lexical index); fetching by id alone is far faster
        than with the `where` clause (at 100k chunks, 1 ms against 10 s), and `matches` re-checks
        the scope on the fetched metadata (a chunk edited out of scope since is dropped). A clause
        `matches` does not understand falls back to the store's own filter.
        """
        if not ids:
            return {}
        if not understood(where):
            return {c.id: c for c in self.store.get(ids=ids, where=where)}
        return {c.id: c for c in self.store.get(ids=ids) if matches(c.metadata, where)}


def _check_queries(queries: Sequence[str]) -> None:
    if not queries or any(not q or not q.strip() for q in queries):
        raise MeddraftError("empty query: give the words to search for")
