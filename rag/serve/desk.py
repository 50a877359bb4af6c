"""The reviewer's desk without the web: every action the page and the API offer, as library calls.

A `Desk` keeps the long-lived parts warm (store, embedder, retriever), the sessions and the audit
trail, and records each action in the trail with the reviewer's name. FastAPI never appears here;
`rag.serve.api` and `rag.serve.pages` call these methods and map the errors to HTTP statuses.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass
from typing import Any

from rag.errors import MeddraftError
from rag.followup.sessions import SessionStore
from rag.review import AuditLog, Review, review_of, reviewed
from rag.review.audit import draft_created_detail, followup_detail
from rag.review.decisions import STATUS_WORDS, find_criterion
from rag.settings import Settings
from rag.types import Assessment

UNNAMED = "(unnamed reviewer)"
MEDIA_TYPES = {
    "md": "text/markdown; charset=utf-8",
    "json": "application/json",
    "html": "text/html; charset=utf-8",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
}


class EmptyStoreError(MeddraftError):
    """Nothing has been ingested into the store the server reads."""


class NotFoundError(MeddraftError):
    """A document, criterion or reference number the session does not have."""


class ReviewInputError(MeddraftError):
    """A review action that cannot be recorded as given (no reason, no reviewer, no change)."""


class SignedOffError(MeddraftError):
    """The draft was signed off: its review can no longer change."""


@dataclass
class SessionView:
    """One session as the page shows it: the engine's draft, the review, the draft as reviewed."""

    session_id: str
    engine: Assessment
    review: Review
    draft: Assessment
    turns: list[dict]
    events: list


def _name(reviewer: str | None) -> str:
    return " ".join((reviewer or "").split()) or UNNAMED


class Desk:
    def __init__(self, settings: Settings, *, store=None, embedder=None, retriever=None, folder=None) -> None:
        """`folder` keeps the sessions and the audit trail (default: the store's folder)."""
        self.settings = settings
        self.sessions = SessionStore(folder or settings.store.path)
        self.audit = AuditLog(folder or settings.store.path)
        self._store, self._embedder, self._retriever = store, embedder, retriever
        self._lock = threading.Lock()  # one draft or answer at a time: two cores, one model

    # --- the long-lived parts, built on first use ---------------------------------------------

    @property
    def store(self):
        if self._store is None:
            from rag.components import build_store

            self._store = build_store(self.settings)
        return self._store

    @property
    def embedder(self):
        if self._embedder is None:
            from rag.components import build_embedder

            self._embedder = build_embedder(self.settings, self.store)
        return self._embedder

    @property
    def retriever(self):
        if self._retriever is None:
            from rag.components import build_retriever

            self._retriever = build_retriever(self.settings, self.store, self.embedder)
        return self._retriever

    def warm(self) -> None:
        """Load the embedding model and the clinical-text pipelines (spaCy, medspaCy) and open the
        store now, not in the first reviewer's request."""
        from rag.analysis.assertions import assertion_of
        from rag.analysis.notesections import note_sections

        self.embedder.embed(["warm up"])
        assertion_of("No fever today.", 3, 8)
        note_sections("Plan: continue treatment.")
        _ = self.retriever

    def require_documents(self) -> None:
        if self.store.count() == 0:
            raise EmptyStoreError(
                f"the store at {self.store.location} holds no documents: run "
                f"`meddraft ingest corpus/ --store {self.settings.store.path}` and reload"
            )

    # --- cases and documents ------------------------------------------------------------------

    def catalogue(self) -> dict[str, Any]:
        """Cases (with their documents), policies and the other literature in the store."""
        self.require_documents()
        cases: dict[str, list[dict]] = {}
        policies, literature = [], []
        for record in sorted(self.store.documents().values(), key=lambda r: r.doc_id):
            row = {
                "doc_id": record.doc_id,
                "kind": record.kind,
                "title": record.title,
                "source": record.source,
                "year": record.year,
                "case_id": record.case_id,
                "chunks": record.n_chunks,
            }
            if record.case_id:
                cases.setdefault(record.case_id, []).append(row)
            elif record.kind == "policy":
                policies.append(row)
            else:
                literature.append(row)
        drafts: dict[str, int] = {}
        for row in self.sessions.list():
            drafts[row["case_id"]] = drafts.get(row["case_id"], 0) + 1
        return {
            "cases": [
                {"case_id": c, "documents": docs, "drafts": drafts.get(c, 0)}
                for c, docs in sorted(cases.items())
            ],
            "policies": policies,
            "literature": literature,
        }

    def case(self, case_id: str) -> dict[str, Any]:
        """A case's documents (dates, kinds) and its past drafts; unknown case: CaseNotFoundError."""
        from rag.errors import CaseNotFoundError
        from rag.retrieval.passages import load_case

        self.require_documents()
        docs = load_case(self.store, case_id)
        if not docs:
            raise CaseNotFoundError(case_id, self.store.case_ids())
        pages = {d.doc_id: sorted({c.page_start for c in d.chunks if c.page_start}) for d in docs}
        drafts = [r for r in self.sessions.list() if r["case_id"] == case_id]
        return {
            "case_id": case_id,
            "documents": [
                {
                    "doc_id": d.doc_id,
                    "kind": d.kind,
                    "title": d.title,
                    "date": d.date,
                    "pages": len(pages[d.doc_id]),
                    "chars": len(d.text),
                }
                for d in docs
            ],
            "drafts": drafts,
            "record": self._record(case_id, docs, drafts[0]["question"]) if drafts else None,
        }

    @staticmethod
    def _record(case_id: str, docs, question: str) -> list[dict[str, Any]]:
        """The patient record as the engine read it for the latest draft (`meddraft case show`)."""
        from rag.analysis.patient import extract_record

        record = extract_record(case_id, docs, question)
        return [
            {
                "kind": i.kind,
                "name": i.name,
                "value": " · ".join(x for x in (i.value, i.outcome) if x),
                "status": i.status,
                "date": i.date or (f"{i.start or '?'} → {i.stop or '?'}" if i.start or i.stop else ""),
                "doc_id": i.doc_id,
                "quote": i.quote,
            }
            for i in record.items
        ]

    def document(self, doc_id: str, case_id: str | None):
        """One whole document as a reader of `case_id` may see it (literature without one)."""
        from rag.retrieval.passages import load_documents

        docs = load_documents(self.store, [doc_id], case_id)
        if not docs:
            where = f"case {case_id}" if case_id else "the literature and policies"
            raise NotFoundError(f"no document {doc_id!r} in {where}: pick one from the case page")
        return docs[0]

    # --- drafts -------------------------------------------------------------------------------

    def assess(self, question: str, case_id: str, generator: str = "extractive", reviewer: str = ""):
        """Draft, save and record an assessment; returns (session id, assessment)."""
        from rag.api import assess
        from rag.drafting import build_generator, names

        if generator not in names():
            raise ReviewInputError(f"unknown generator {generator!r}: choose one of {', '.join(names())}")
        self.require_documents()
        settings = self.settings.model_copy(update={"generator": generator})
        with self._lock:
            draft = assess(
                question,
                case_id,
                settings,
                store=self.store,
                embedder=self.embedder,
                generator=build_generator(settings),
                retriever=self.retriever,
            )
            session_id = self.sessions.save(draft, settings.hash())
        self.audit.record(session_id, _name(reviewer), "draft_created", **self._created(draft))
        return session_id, draft

    def _created(self, draft: Assessment) -> dict[str, Any]:
        return draft_created_detail(draft, self.store)

    def view(self, session: str) -> SessionView:
        session_id = self.sessions.resolve(session)
        engine = self.sessions.load(session_id)
        events = self.audit.events(session_id)
        review = review_of(events)
        return SessionView(
            session_id, engine, review, reviewed(engine, review), self.sessions.turns(session_id), events
        )

    def decide(
        self, session: str, criterion_id: str, action: str, status: str | None, reason: str, reviewer: str
    ) -> SessionView:
        """Accept a criterion as the engine left it, or override its status with a reason."""
        view = self.view(session)
        if view.review.signed_off is not None:
            raise SignedOffError(
                f"session {view.session_id} was signed off by {view.review.signed_off.actor}: its review "
                "is closed; draft the case again to review anew"
            )
        if not reviewer.strip():
            raise ReviewInputError("a reviewer name is required: type yours in the reviewer field")
        criterion = find_criterion(view.engine, criterion_id)
        if criterion is None:
            ids = ", ".join(c.id for c in _flat(view.engine))
            raise NotFoundError(f"no criterion {criterion_id!r} in this draft; its criteria: {ids or 'none'}")
        if action == "accept":
            self.audit.record(
                view.session_id,
                _name(reviewer),
                "criterion_accepted",
                criterion=criterion.id,
                status=criterion.status,
            )
            return self.view(view.session_id)
        if status not in STATUS_WORDS:
            raise ReviewInputError(f"an override needs a status: one of {', '.join(STATUS_WORDS)}")
        if status == criterion.status:
            raise ReviewInputError(
                f"criterion {criterion.id} is already {STATUS_WORDS[status]}: accept it instead of overriding"
            )
        if len(reason.strip()) < 3:
            raise ReviewInputError("an override needs a reason: say why the status is wrong")
        self.audit.record(
            view.session_id,
            _name(reviewer),
            "criterion_overridden",
            criterion=criterion.id,
            reason=" ".join(reason.split()),
            **{"from": criterion.status, "to": status},
        )
        return self.view(view.session_id)

    def sign_off(self, session: str, reviewer: str, note: str = "") -> SessionView:
        view = self.view(session)
        if not reviewer.strip():
            raise ReviewInputError("a reviewer name is required to sign off")
        if view.review.signed_off is not None:
            raise SignedOffError(f"session {view.session_id} was already signed off")
        self.audit.record(
            view.session_id,
            _name(reviewer),
            "signed_off",
            verdict=view.draft.verdict.label,
            engine_verdict=view.engine.verdict.label,
            overrides=len(view.review.overrides),
            note=" ".join(note.split()),
        )
        return self.view(view.session_id)

    def ask(self, session: str, question: str, reviewer: str = ""):
        """A follow-up on the session, numbered like `meddraft ask`."""
        from rag.followup import ask
        from rag.questions import check_question

        session_id = self.sessions.resolve(session)
        question = check_question(question)
        with self._lock:
            answer = ask(session_id, question, self.settings, sessions=self.sessions)
        n = len(self.sessions.turns(session_id))
        self.audit.record(session_id, _name(reviewer), "followup", **followup_detail(answer, n))
        return answer

    def export(self, session: str, fmt: str, reviewer: str = "") -> tuple[bytes, str, str]:
        """The draft as reviewed in `fmt`: (body, media type, file name)."""
        from rag.rendering import render

        if fmt not in MEDIA_TYPES:
            raise ReviewInputError(f"unknown export format {fmt!r}: choose one of {', '.join(MEDIA_TYPES)}")
        view = self.view(session)
        rendered = render(view.draft, fmt)
        body = rendered if isinstance(rendered, bytes) else rendered.encode("utf-8")
        digest = hashlib.sha256(body).hexdigest()
        self.audit.record(view.session_id, _name(reviewer), "exported", format=fmt, sha256=digest)
        return body, MEDIA_TYPES[fmt], f"meddraft-{view.session_id}.{fmt}"

    def citation(self, session: str, n: int, quote: str = "", chunk_id: str | None = None) -> dict[str, Any]:
        """The passage behind citation [n]: document, page, text and the sentence to highlight."""
        from rag.retrieval.passages import fetch
        from rag.serve.passages import highlight

        draft = self.sessions.load(session)
        ref = next((r for r in draft.references if r.n == n), None)
        if ref is None:
            raise NotFoundError(f"this draft has no reference [{n}]; it has 1 to {len(draft.references)}")
        ids = [chunk_id] if chunk_id in ref.chunk_ids else ref.chunk_ids
        hits = fetch(self.store, ids, draft.case_id)  # scoped to the session's case
        if not hits:
            raise NotFoundError(f"the passage of reference [{n}] is no longer in the store: re-ingest it")
        hit, (start, end) = highlight(hits, quote)
        return {
            "n": n,
            "doc_id": hit.doc_id,
            "title": hit.title,
            "kind": hit.kind,
            "source": hit.source,
            "year": hit.year,
            "locator": hit.locator,
            "page": hit.page_start,
            "section": hit.section,
            "chunk_id": hit.chunk_id,
            "text": hit.text,
            "highlight": [start, end],
            "document_url": f"/documents/{hit.doc_id}?case={draft.case_id}#chunk-{hit.chunk_id}",
        }


def _flat(assessment: Assessment):
    from rag.types import flatten

    return flatten(assessment.criteria)
