"""The JSON API behind the page (`/api/...`), documented at /docs; errors are JSON with a status."""

from __future__ import annotations

import json
from typing import Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from rag.serve.desk import Desk, SessionView

router = APIRouter(prefix="/api", tags=["api"])

ExportFormat = Literal["md", "json", "html", "docx"]


class AssessIn(BaseModel):
    question: str = Field(description="The request, e.g. 'Is DRUG 300 mg SC every 4 weeks indicated ...?'")
    case_id: str = Field(description="The patient's case id (GET /api/cases lists them).")
    generator: str = Field("extractive", description="Who writes: extractive (offline) or openai.")
    reviewer: str = Field("", description="Who asked for the draft (recorded in the audit trail).")


class AskIn(BaseModel):
    question: str = Field(description="A follow-up question about the draft.")
    reviewer: str = ""


class DecisionIn(BaseModel):
    action: Literal["accept", "override"]
    status: Literal["met", "not_met", "insufficient"] | None = Field(
        None, description="The reviewer's status (override only)."
    )
    reason: str = Field("", description="Why the engine's status is wrong (required to override).")
    reviewer: str = Field(description="The reviewer's name, as typed on the page.")


class SignOffIn(BaseModel):
    reviewer: str
    note: str = ""


def _desk(request: Request) -> Desk:
    return request.app.state.desk


def _dump(model: BaseModel) -> dict[str, Any]:
    return json.loads(model.model_dump_json())


def session_json(view: SessionView) -> dict[str, Any]:
    signed = view.review.signed_off
    return {
        "session_id": view.session_id,
        "case_id": view.engine.case_id,
        "question": view.engine.question,
        "verdict": view.draft.verdict.label,
        "engine_verdict": view.engine.verdict.label,
        "assessment": _dump(view.draft),
        "engine_assessment": _dump(view.engine),
        "decisions": [d.__dict__ | {"changed": d.changed} for d in view.review.decisions.values()],
        "signed_off": signed.as_dict() if signed else None,
        "turns": view.turns,
    }


@router.get("/cases", summary="Cases, policies and literature in the store")
def cases(request: Request) -> dict[str, Any]:
    return _desk(request).catalogue()


@router.get("/cases/{case_id}", summary="A case's documents and past drafts")
def case(request: Request, case_id: str) -> dict[str, Any]:
    return _desk(request).case(case_id)


@router.post("/assess", summary="Draft an assessment; returns the session id and the draft")
def assess(request: Request, body: AssessIn) -> dict[str, Any]:
    session_id, draft = _desk(request).assess(body.question, body.case_id, body.generator, body.reviewer)
    return {
        "session_id": session_id,
        "url": f"/sessions/{session_id}",
        "seconds": draft.provenance.seconds,
        "assessment": _dump(draft),
    }


@router.get("/sessions", summary="Saved drafts, newest first")
def sessions(request: Request) -> list[dict[str, Any]]:
    return _desk(request).sessions.list()


@router.get("/sessions/{session_id}", summary="A draft as reviewed, the engine's draft, decisions, turns")
def session(request: Request, session_id: str) -> dict[str, Any]:
    return session_json(_desk(request).view(session_id))


@router.post("/sessions/{session_id}/ask", summary="A follow-up question, numbered like the draft")
def ask(request: Request, session_id: str, body: AskIn) -> dict[str, Any]:
    return _dump(_desk(request).ask(session_id, body.question, body.reviewer))


@router.post("/sessions/{session_id}/criteria/{criterion_id}", summary="Accept or override a criterion")
def decide(request: Request, session_id: str, criterion_id: str, body: DecisionIn) -> dict[str, Any]:
    view = _desk(request).decide(
        session_id, criterion_id, body.action, body.status, body.reason, body.reviewer
    )
    return session_json(view)


@router.post("/sessions/{session_id}/signoff", summary="Sign off the draft as reviewed")
def sign_off(request: Request, session_id: str, body: SignOffIn) -> dict[str, Any]:
    return session_json(_desk(request).sign_off(session_id, body.reviewer, body.note))


@router.get("/sessions/{session_id}/citations/{n}", summary="The passage behind citation [n]")
def citation(
    request: Request,
    session_id: str,
    n: int,
    quote: str = Query("", description="The statement citing it (to find the sentence)."),
    chunk: str | None = Query(None, description="The cited chunk, when the page knows it."),
) -> dict[str, Any]:
    return _desk(request).citation(session_id, n, quote, chunk)


@router.get("/sessions/{session_id}/export", summary="The draft as reviewed: md, json, html or docx")
def export(request: Request, session_id: str, format: ExportFormat = "md", reviewer: str = "") -> Response:
    body, media_type, filename = _desk(request).export(session_id, format, reviewer)
    return Response(
        body, media_type=media_type, headers={"Content-Disposition": f'attachment; filename="{filename}"'}
    )


@router.get("/sessions/{session_id}/audit", summary="The session's audit trail, oldest first")
def audit(request: Request, session_id: str) -> list[dict[str, Any]]:
    desk = _desk(request)
    return [event.as_dict() for event in desk.audit.events(desk.sessions.resolve(session_id))]
