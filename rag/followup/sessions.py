"""Sessions: every `assess` run and its follow-up questions, in SQLite beside the store."""

from __future__ import annotations

import json
import sqlite3
import uuid
from datetime import UTC, datetime
from pathlib import Path

from rag.errors import MeddraftError
from rag.types import Assessment

_SCHEMA = """
CREATE TABLE IF NOT EXISTS sessions (
    id TEXT PRIMARY KEY,
    created_at TEXT NOT NULL,
    question TEXT NOT NULL,
    case_id TEXT NOT NULL,
    settings_hash TEXT NOT NULL,
    assessment TEXT NOT NULL,
    retrieved TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS turns (
    session_id TEXT NOT NULL REFERENCES sessions(id),
    n INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    question TEXT NOT NULL,
    answer TEXT NOT NULL,
    PRIMARY KEY (session_id, n)
);
"""


def connect(path: Path) -> sqlite3.Connection:
    """A connection to `sessions.sqlite` with rows by column name; waits for another writer."""
    db = sqlite3.connect(path, timeout=30)
    db.row_factory = sqlite3.Row
    return db


def open_sessions_db(folder: Path | str, schema: str) -> Path:
    """`<folder>/sessions.sqlite`, created with `schema` (the sessions' tables, or the audit trail's
    beside them) when missing."""
    Path(folder).mkdir(parents=True, exist_ok=True)
    path = Path(folder) / "sessions.sqlite"
    with connect(path) as db:
        db.executescript(schema)
    return path


class SessionNotFoundError(MeddraftError):
    """No session with that id (or prefix)."""


class SessionStore:
    """`<store>/sessions.sqlite`: one row per assessment, one per follow-up turn."""

    def __init__(self, folder: Path | str) -> None:
        self.path = open_sessions_db(folder, _SCHEMA)

    def _connect(self) -> sqlite3.Connection:
        return connect(self.path)

    def save(self, assessment: Assessment, settings_hash: str) -> str:
        session_id = uuid.uuid4().hex[:12]
        assessment.session_id = session_id
        with self._connect() as db:
            db.execute(
                "INSERT INTO sessions VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    session_id,
                    datetime.now(UTC).isoformat(timespec="seconds"),
                    assessment.question,
                    assessment.case_id,
                    settings_hash,
                    assessment.model_dump_json(),
                    json.dumps(assessment.provenance.retrieved_chunk_ids),
                ),
            )
        return session_id

    def resolve(self, session: str) -> str:
        """A full id, or a unique prefix of one."""
        with self._connect() as db:
            rows = db.execute("SELECT id FROM sessions WHERE id LIKE ?", (f"{session}%",)).fetchall()
        if len(rows) == 1:
            return rows[0]["id"]
        if not rows:
            raise SessionNotFoundError(f"no session {session!r}: `meddraft sessions` lists them")
        raise SessionNotFoundError(f"{session!r} matches {len(rows)} sessions: give more of the id")

    def load(self, session: str) -> Assessment:
        session_id = self.resolve(session)
        with self._connect() as db:
            row = db.execute("SELECT assessment FROM sessions WHERE id = ?", (session_id,)).fetchone()
        return Assessment.model_validate_json(row["assessment"])

    def update(self, assessment: Assessment) -> None:
        with self._connect() as db:
            db.execute(
                "UPDATE sessions SET assessment = ? WHERE id = ?",
                (assessment.model_dump_json(), assessment.session_id),
            )

    def add_turn(self, session_id: str, question: str, answer: dict) -> int:
        with self._connect() as db:
            n = db.execute("SELECT COUNT(*) FROM turns WHERE session_id = ?", (session_id,)).fetchone()[0] + 1
            db.execute(
                "INSERT INTO turns VALUES (?, ?, ?, ?, ?)",
                (
                    session_id,
                    n,
                    datetime.now(UTC).isoformat(timespec="seconds"),
                    question,
                    json.dumps(answer),
                ),
            )
        return n

    def turns(self, session: str) -> list[dict]:
        session_id = self.resolve(session)
        with self._connect() as db:
            rows = db.execute(
                "SELECT n, question, answer FROM turns WHERE session_id = ? ORDER BY n", (session_id,)
            ).fetchall()
        return [{"n": r["n"], "question": r["question"], "answer": json.loads(r["answer"])} for r in rows]

    def list(self) -> list[dict]:
        with self._connect() as db:
            rows = db.execute(
                "SELECT s.id, s.created_at, s.case_id, s.question, s.assessment, "
                "(SELECT COUNT(*) FROM turns t WHERE t.session_id = s.id) AS turns "
                "FROM sessions s ORDER BY s.created_at DESC"
            ).fetchall()
        return [
            {
                "id": r["id"],
                "created_at": r["created_at"],
                "case_id": r["case_id"],
                "verdict": json.loads(r["assessment"])["verdict"]["label"],
                "turns": r["turns"],
                "question": r["question"],
            }
            for r in rows
        ]
