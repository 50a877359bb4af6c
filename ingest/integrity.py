"""Is the store what the manifest says? `meddraft status [--verify]` and the checks `repair` runs.

`verify` counts the chunk ids actually present in Chroma per document (one paged scan of the
collection) and compares them with the ids the manifest recorded when the document was marked
complete: missing chunks, chunks the manifest does not list, documents left `pending` by an
interrupted run and chunks of documents the manifest does not know are each one problem.
`store_status` reports documents from the manifest and chunks as Chroma counts them.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from ingest.manifest import COMPLETE, Entry, writer_pid
from ingest.store import Store


@dataclass
class Problem:
    """One document whose chunks in the store are not what the manifest says."""

    doc_id: str
    kind: str  # incomplete | missing | unlisted | unrecorded
    message: str
    source_path: str | None = None
    source_root: str | None = None


@dataclass
class Verification:
    documents: int
    chunks: int
    problems: list[Problem] = field(default_factory=list)
    adoptable: list[Entry] = field(default_factory=list)  # whole documents of a store with no manifest

    @property
    def ok(self) -> bool:
        return not self.problems


def verify(store: Store) -> Verification:
    """Compare every document's chunk ids in the store with the manifest's."""
    present: dict[str, dict[str, dict]] = {}
    for chunk_id, meta in store.scan():
        present.setdefault(str(meta.get("doc_id", "")), {})[chunk_id] = meta
    entries = store.manifest.entries()
    result = Verification(
        documents=sum(1 for e in entries.values() if e.complete),
        chunks=sum(len(c) for c in present.values()),
    )
    for doc_id, entry in entries.items():
        have = set(present.pop(doc_id, {}))
        problem = _against_entry(entry, have)
        if problem:
            result.problems.append(problem)
    legacy = not store.manifest.exists()  # written before the manifest: whole documents are fine
    for doc_id, chunks in sorted(present.items()):
        _unrecorded(doc_id, chunks, result, legacy)
    return result


def _against_entry(entry: Entry, have: set[str]) -> Problem | None:
    where = (entry.source_path, entry.source_root)
    want = set(entry.chunk_ids)
    if not entry.complete:
        message = (
            f"{entry.doc_id} was left incomplete by an interrupted ingest "
            f"({len(have & want)} of {len(want)} chunks present)"
        )
        return Problem(entry.doc_id, "incomplete", message, *where)
    missing, unlisted = want - have, have - want
    if missing:
        message = (
            f"{entry.doc_id} has {len(want) - len(missing)} of its {len(want)} chunks in the store "
            f"({len(missing)} missing)"
        )
        return Problem(entry.doc_id, "missing", message, *where)
    if unlisted:
        message = f"{entry.doc_id} has {len(unlisted)} chunks in the store that the manifest does not list"
        return Problem(entry.doc_id, "unlisted", message, *where)
    return None


def _unrecorded(doc_id: str, chunks: dict[str, dict], result: Verification, legacy: bool) -> None:
    """Chunks of a document the manifest does not know (a store written before the manifest, or
    written behind its back). Whole by their own metadata (one content hash, chunk indexes 0..n-1
    with n the count they record), the document can be adopted as complete; else it is removed."""
    metas = list(chunks.values())
    first = min(metas, key=lambda m: m.get("chunk_index", 0))
    expected = int(first.get("n_chunks", -1))
    indexes = sorted(int(m.get("chunk_index", -1)) for m in metas)
    whole = len({m.get("content_hash") for m in metas}) == 1 and indexes == list(range(expected))
    source = first.get("source_path") or None
    if whole:
        order = sorted(chunks, key=lambda cid: chunks[cid].get("chunk_index", 0))
        result.adoptable.append(
            Entry(
                doc_id,
                COMPLETE,
                str(source or ""),
                None,
                str(first.get("content_hash", "")),
                order,
                str(first.get("kind", "")),
                first.get("case_id") or None,
                str(first.get("title", "")),
            )
        )
        if legacy:
            return
        how = "all of them by their own metadata, so repair records it"
    else:
        how = f"of the {max(expected, 0)} their metadata names, so repair removes it"
    message = f"{doc_id} has {len(chunks)} chunks in the store but no manifest entry ({how})"
    result.problems.append(Problem(doc_id, "unrecorded", message, source))


@dataclass
class StoreStatus:
    location: str
    embedding_model: str | None
    chunking: dict
    documents: int
    chunks: int
    by_kind: dict[str, dict[str, int]]
    by_case: dict[str, dict[str, int]]
    expected_chunks: int = 0  # what the manifest's complete documents add up to
    incomplete: int = 0  # documents left pending by an interrupted run
    manifest: bool = True  # False: a store written before the manifest (counts from chunk metadata)
    writer: str | None = None  # pid of an ingest or repair writing to the store now
    problems: list[str] | None = None  # with --verify: one sentence per inconsistent document

    def to_dict(self) -> dict:
        return self.__dict__.copy()

    @property
    def consistent(self) -> bool:
        return self.chunks == self.expected_chunks and not self.incomplete


def store_status(store: Store, *, check: bool = False) -> StoreStatus:
    """Documents and chunks per kind and case; with `check`, every document verified."""
    identity = store.identity()
    rows: list[tuple[str, str | None, int]]  # kind, case, chunks
    entries = store.manifest.entries()
    if store.manifest.exists():
        rows = [(e.kind, e.case_id, e.n_chunks) for e in entries.values() if e.complete]
    else:
        rows = [(r.kind, r.case_id, r.n_chunks) for r in store.documents().values()]
    by_kind: dict[str, Counter] = {}
    by_case: dict[str, Counter] = {}
    for kind, case_id, n in rows:
        by_kind.setdefault(kind, Counter()).update(documents=1, chunks=n)
        if case_id:
            by_case.setdefault(case_id, Counter()).update(documents=1, chunks=n)
    status = StoreStatus(
        location=store.location,
        embedding_model=identity.get("embedding_model"),
        chunking={k.removeprefix("chunking_"): v for k, v in identity.items() if k.startswith("chunking_")},
        documents=len(rows),
        chunks=store.count(),
        by_kind={k: dict(v) for k, v in sorted(by_kind.items())},
        by_case={k: dict(v) for k, v in sorted(by_case.items())},
        expected_chunks=sum(n for _, _, n in rows),
        incomplete=sum(1 for e in entries.values() if not e.complete),
        manifest=store.manifest.exists() or store.is_empty(),
        writer=writer_pid(store.settings.path),
    )
    if check:
        status.problems = [p.message for p in verify(store).problems]
    return status
