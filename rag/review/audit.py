"""The audit trail: an append-only SQLite table beside the sessions (`<store>/sessions.sqlite`).

Rows are only ever inserted: triggers refuse UPDATE and DELETE, so a decision, once recorded,
stays as it was recorded. Every row says who (the reviewer's name as typed on the page), what (an
action and its details) and when (UTC).
"""

from __future__ import annotations

import getpass
import json
import sqlite3
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from rag.followup.sessions import connect, open_sessions_db

ACTIONS = (
    "draft_created",  # generator, model, settings hash, document hashes
    "criterion_accepted",
    "criterion_overridden",  # from, to, reason
    "followup",  # question, turn number, references cited
    "exported",  # format, sha256 of what was sent
    "signed_off",
)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS audit (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    session_id TEXT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    detail TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_session ON audit(session_id, seq);
CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
"""


class _Record(Protocol):
    case_id: str | None
    content_hash: str


class _Documents(Protocol):  # ingest.store.Store, as far as the audit reads it
    def documents(self, where: dict | None = None) -> dict[str, _Record]: ...


def cli_actor(name: str | None) -> str:
    """Who acted from the command line: `--reviewer`, else the login name, marked as such."""
    if name and name.strip():
        return " ".join(name.split())
    try:
        return f"{getpass.getuser()} (command line)"
    except (OSError, KeyError):  # no login name in a bare container
        return "(command line)"


def followup_detail(answer: Any, turn: int) -> dict[str, Any]:
    """What a `followup` row keeps: the turn number, the question and the references it cited."""
    cited = sorted({c for part in answer.answer for c in part.citations})
    return {"n": turn, "question": answer.question, "cited": cited}


def draft_created_detail(draft: Any, store: _Documents) -> dict[str, Any]:
    """What the `draft_created` row keeps: the question, the verdict, who drafted it with which
    settings, and the content hash of every document the draft could read (its references and its
    case's own documents), so a later reader can tell whether the sources changed since. Only those
    documents are read from `store` (reading all of a 100k-chunk store's took seconds)."""
    clauses: list[dict[str, Any]] = [{"case_id": draft.case_id}]
    refs = sorted({r.doc_id for r in draft.references})
    if refs:
        clauses.append({"doc_id": {"$in": refs}})
    records = store.documents(clauses[0] if len(clauses) == 1 else {"$or": clauses})
    read = set(refs) | {doc for doc, rec in records.items() if rec.case_id == draft.case_id}
    prov = draft.provenance
    return {
        "question": draft.question,
        "case_id": draft.case_id,
        "verdict": draft.verdict.label,
        "generator": prov.generator,
        "model": prov.model,
        "embedding_model": prov.embedding_model,
        "settings_hash": prov.settings_hash,
        "documents": {d: records[d].content_hash for d in sorted(read) if d in records},
    }


@dataclass(frozen=True)
class AuditEvent:
    seq: int
    at: str
    session_id: str
    actor: str
    action: str
    detail: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "at": self.at,
            "session_id": self.session_id,
            "actor": self.actor,
            "action": self.action,
            "detail": self.detail,
        }

    def line(self) -> str:
        """One readable line: when, who, what."""
        d = self.detail
        what = {
            "draft_created": lambda: (
                f"created the draft with {d.get('generator')}"
                f"{' (' + d['model'] + ')' if d.get('model') else ''}: verdict {d.get('verdict')}, "
                f"settings {d.get('settings_hash', '')[:12]}, {len(d.get('documents', {}))} documents hashed"
            ),
            "criterion_accepted": lambda: f"accepted criterion {d.get('criterion')} as {d.get('status')}",
            "criterion_overridden": lambda: (
                f"overrode criterion {d.get('criterion')} from {d.get('from')} to {d.get('to')}: "
                f"{d.get('reason')}"
            ),
            "followup": lambda: f"asked follow-up {d.get('n')}: {d.get('question')}",
            "exported": lambda: f"exported {d.get('format')} (sha256 {d.get('sha256', '')[:12]})",
            "signed_off": lambda: (
                f"signed off the draft: verdict {d.get('verdict')} (engine: {d.get('engine_verdict')})"
                f"{'; ' + d['note'] if d.get('note') else ''}"
            ),
        }.get(self.action, lambda: json.dumps(d, sort_keys=True))()
        return f"{self.seq:>4}  {self.at}  {self.actor}  {what}"


class AuditLog:
    """The `audit` table in `<folder>/sessions.sqlite`, beside the `sessions` and `turns` tables."""

    def __init__(self, folder: Path | str) -> None:
        self.path = open_sessions_db(folder, _SCHEMA)

    def _connect(self) -> sqlite3.Connection:
        return connect(self.path)

    def record(self, session_id: str, actor: str, action: str, **detail: Any) -> AuditEvent:
        """Append one event; `action` is one of `ACTIONS`."""
        if action not in ACTIONS:
            raise ValueError(f"unknown audit action {action!r}: one of {', '.join(ACTIONS)}")
        at = datetime.now(UTC).isoformat(timespec="seconds")
        body = json.dumps(detail, sort_keys=True)
        with self._connect() as db:
            cursor = db.execute(
                "INSERT INTO audit (at, session_id, actor, action, detail) VALUES (?, ?, ?, ?, ?)",
                (at, session_id, actor, action, body),
            )
            seq = int(cursor.lastrowid or 0)
        return AuditEvent(seq, at, session_id, actor, action, detail)

    def events(self, session_id: str) -> list[AuditEvent]:
        """Every event of one session, oldest first."""
        with self._connect() as db:
            rows = db.execute(
                "SELECT seq, at, session_id, actor, action, detail FROM audit WHERE session_id = ? "
                "ORDER BY seq",
                (session_id,),
            ).fetchall()
        return [
            AuditEvent(r["seq"], r["at"], r["session_id"], r["actor"], r["action"], json.loads(r["detail"]))
            for r in rows
        ]
