"""The ingest manifest: which documents are wholly in the store (SQLite beside the Chroma folder).

A document is written in three steps: its row is put in the manifest as `pending` (with the ids of
every chunk it will have), its chunks are upserted and its stale chunks deleted, then its row is
marked `complete`. A run killed at any point leaves at most the documents it was writing
`pending`; the next run removes their chunks and ingests them again. "Unchanged" is decided here
(a complete row with the same content hash), never from chunk metadata.

`<store>/manifest.sqlite`, one table:

    documents(collection, doc_id, state 'pending'|'complete', source_path, source_root,
              content_hash, chunk_ids JSON list in chunk order, kind, case_id, title, updated_at)
    PRIMARY KEY (collection, doc_id)

One writer at a time per store folder: `write_lock` takes an exclusive `flock` on
`<store>/ingest.lock` (released by the kernel when the process dies, even by kill -9).
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from ingest.errors import StoreError

MANIFEST_FILE = "manifest.sqlite"
LOCK_FILE = "ingest.lock"
PENDING, COMPLETE = "pending", "complete"
LOCK_PATIENCE_S = 3.0  # how long a writer waits for the lock before naming who holds it

_SOURCE_INDEX = "CREATE INDEX IF NOT EXISTS documents_source ON documents (collection, source_path)"
_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS documents (
    collection   TEXT NOT NULL,
    doc_id       TEXT NOT NULL,
    state        TEXT NOT NULL CHECK (state IN ('pending', 'complete')),
    source_path  TEXT NOT NULL,
    source_root  TEXT,
    content_hash TEXT NOT NULL,
    chunk_ids    TEXT NOT NULL,
    kind         TEXT NOT NULL,
    case_id      TEXT,
    title        TEXT NOT NULL DEFAULT '',
    updated_at   TEXT NOT NULL,
    PRIMARY KEY (collection, doc_id)
);
{_SOURCE_INDEX};
PRAGMA user_version = 1;
"""
_COLUMNS = (
    "doc_id, state, source_path, source_root, content_hash, chunk_ids, kind, case_id, title, updated_at"
)


@dataclass
class Entry:
    """One document as the manifest knows it."""

    doc_id: str
    state: str
    source_path: str
    source_root: str | None
    content_hash: str
    chunk_ids: list[str]
    kind: str
    case_id: str | None = None
    title: str = ""
    updated_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))

    @property
    def n_chunks(self) -> int:
        return len(self.chunk_ids)

    @property
    def complete(self) -> bool:
        return self.state == COMPLETE


class Manifest:
    """The manifest of one collection; the file is created on the first write only."""

    def __init__(self, folder: Path | str, collection: str) -> None:
        self.path = Path(folder) / MANIFEST_FILE
        self.collection = collection
        self._conn: sqlite3.Connection | None = None

    def exists(self) -> bool:
        return self.path.is_file()

    def _db(self) -> sqlite3.Connection:
        if self._conn is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            if conn.execute("PRAGMA user_version").fetchone()[0] == 0:  # a new file
                conn.execute("PRAGMA journal_mode=WAL")
                conn.executescript(_SCHEMA)
            conn.execute("PRAGMA synchronous=NORMAL")  # WAL: durable across a killed process
            self._conn = conn
        return self._conn

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    # --- reads --------------------------------------------------------------------------------

    def entries(self, state: str | None = None) -> dict[str, Entry]:
        """Rows of this collection by doc id (all, or those in `state`); {} without a manifest."""
        if not self.exists():
            return {}
        sql = f"SELECT {_COLUMNS} FROM documents WHERE collection = ?"
        args: list[str] = [self.collection]
        if state is not None:
            sql += " AND state = ?"
            args.append(state)
        rows = self._db().execute(sql + " ORDER BY doc_id", args).fetchall()
        return {row[0]: _entry(row) for row in rows}

    def find(self, *, doc_id: str | None = None, source_path: str | None = None, state: str = COMPLETE):
        """The row in `state` with this doc id or from this source file, or None: an ingest of a
        few files into a 40,000-document store asks for what it needs instead of reading every
        row (0.3 s of a one-note ingest)."""
        if not self.exists():
            return None
        key, value = ("doc_id", doc_id) if doc_id is not None else ("source_path", source_path)
        sql = f"SELECT {_COLUMNS} FROM documents WHERE collection = ? AND state = ? AND {key} = ? LIMIT 1"
        row = self._db().execute(sql, (self.collection, state, value)).fetchone()
        return _entry(row) if row else None

    def within(self, roots: Iterable[Path], state: str = COMPLETE) -> list[Entry]:
        """Rows in `state` whose source file lies under one of the folders `roots`."""
        if not self.exists():
            return []
        sql = (
            f"SELECT {_COLUMNS} FROM documents WHERE collection = ? AND state = ? "
            "AND substr(source_path, 1, ?) = ? ORDER BY doc_id"
        )
        found: dict[str, Entry] = {}
        for root in roots:
            prefix = str(root).rstrip("/") + "/"
            for row in self._db().execute(sql, (self.collection, state, len(prefix), prefix)):
                found[row[0]] = _entry(row)
        return list(found.values())

    def index_sources(self) -> None:
        """Index rows by source file (manifests written before the index had none); a writer
        calls it under the write lock."""
        if self.exists():
            self._db().execute(_SOURCE_INDEX)

    def chunk_count(self, state: str) -> int:
        """How many chunks the documents in `state` hold, counted by SQLite (at 40,000 documents
        reading every row into an `Entry` to add them up took 0.2-0.3 s of a one-note ingest)."""
        if not self.exists():
            return 0
        sql = (
            "SELECT COALESCE(SUM(json_array_length(chunk_ids)), 0) FROM documents "
            "WHERE collection = ? AND state = ?"
        )
        return int(self._db().execute(sql, (self.collection, state)).fetchone()[0])

    # --- writes -------------------------------------------------------------------------------

    def begin(self, entry: Entry) -> None:
        """Record that `entry`'s chunks are about to be written (state pending)."""
        entry.state = PENDING
        self._put([entry])

    def mark_pending(self, doc_id: str) -> None:
        """A complete document is about to lose chunks (removal)."""
        self._db().execute(
            "UPDATE documents SET state = ?, updated_at = ? WHERE collection = ? AND doc_id = ?",
            (PENDING, _now(), self.collection, doc_id),
        )

    def mark_complete(self, doc_id: str) -> None:
        """The document's chunks are all in the store: written last, after the chunks."""
        self._db().execute(
            "UPDATE documents SET state = ?, updated_at = ? WHERE collection = ? AND doc_id = ?",
            (COMPLETE, _now(), self.collection, doc_id),
        )

    def adopt(self, entries: Iterable[Entry]) -> None:
        """Record documents already wholly in the store (a store written before the manifest)."""
        self._put(list(entries))

    def forget(self, doc_id: str) -> None:
        self._db().execute(
            "DELETE FROM documents WHERE collection = ? AND doc_id = ?", (self.collection, doc_id)
        )

    def clear(self) -> None:
        self._db().execute("DELETE FROM documents WHERE collection = ?", (self.collection,))

    def _put(self, entries: list[Entry]) -> None:
        db = self._db()
        db.execute("BEGIN IMMEDIATE")
        try:
            db.executemany(
                f"INSERT OR REPLACE INTO documents (collection, {_COLUMNS}) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        self.collection,
                        e.doc_id,
                        e.state,
                        e.source_path,
                        e.source_root,
                        e.content_hash,
                        json.dumps(e.chunk_ids),
                        e.kind,
                        e.case_id,
                        e.title,
                        _now(),
                    )
                    for e in entries
                ],
            )
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")


def _entry(row: tuple) -> Entry:
    values = list(row)
    values[5] = json.loads(values[5])  # chunk_ids
    return Entry(*values)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


# --- one writer per store folder -------------------------------------------------------------

_held: dict[Path, int] = {}
_held_guard = threading.Lock()


@contextmanager
def write_lock(folder: Path | str, location: str) -> Iterator[None]:
    """Hold the store's writer lock (re-entrant within this process) or fail with who holds it."""
    try:
        import fcntl
    except ImportError:  # no flock on this platform: one writer is the user's to ensure
        yield
        return
    path = (Path(folder) / LOCK_FILE).resolve()
    with _held_guard:
        if path in _held:
            _held[path] += 1
            nested = True
        else:
            nested = False
    if nested:
        try:
            yield
        finally:
            with _held_guard:
                _held[path] -= 1
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+", encoding="utf-8") as handle:
        if not _try_lock(handle, fcntl, patience_s=LOCK_PATIENCE_S):
            handle.seek(0)
            pid = handle.read().strip() or "?"
            raise StoreError(
                f"another `meddraft ingest` or `meddraft repair` (pid {pid}) is writing to the store at "
                f"{location}: wait for it to finish, or use another --store"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        with _held_guard:
            _held[path] = 1
        try:
            yield
        finally:
            with _held_guard:
                del _held[path]
            fcntl.flock(handle, fcntl.LOCK_UN)


def _try_lock(handle, fcntl, patience_s: float) -> bool:
    """Take the exclusive lock, waiting out readers (`writer_pid` holds a shared one briefly)."""
    deadline = time.monotonic() + patience_s
    while True:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.05)


def writer_pid(folder: Path | str) -> str | None:
    """The pid of the process writing to the store now, or None (readers use it to qualify)."""
    try:
        import fcntl
    except ImportError:
        return None
    path = Path(folder) / LOCK_FILE
    if not path.is_file():
        return None
    if path.resolve() in _held:
        return str(os.getpid())
    with open(path, encoding="utf-8") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return handle.read().strip() or "?"
        fcntl.flock(handle, fcntl.LOCK_UN)
    return None
