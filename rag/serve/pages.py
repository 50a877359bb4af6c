"""The pages: cases, a case, a document, a draft with its review, follow-ups and exports.

Server-rendered with Jinja2 (autoescaped, strict); a little plain JavaScript (`static/desk.js`)
calls the JSON API for the actions. The draft keeps the Markdown rendering's structure and words
(`rag.rendering.wording`).
"""

from __future__ import annotations

from functools import cache
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, PackageLoader, StrictUndefined

from rag.rendering import ama, formats
from rag.rendering import wording as w
from rag.review.decisions import STATUS_WORDS, VERDICT_WORDS
from rag.serve.desk import MEDIA_TYPES, Desk, SessionView

router = APIRouter(include_in_schema=False)


@cache
def environment() -> Environment:
    env = Environment(
        loader=PackageLoader("rag.serve", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["one_line"] = w.one_line
    env.globals.update(
        STATUS_BADGES=w.STATUS_BADGES,
        STATUS_WORDS=STATUS_WORDS,
        VERDICT_WORDS=VERDICT_WORDS,
        criterion_heading=w.criterion_heading,
        reference_line=ama.html,
        unsupported_text=w.unsupported_text,
        source_line=w.source_line,
        evidence_groups=w.evidence_groups,
        evidence_note=w.evidence_note,
        empty_text=w.empty_text,
    )
    return env


def render(template: str, **values: Any) -> str:
    return environment().get_template(template).render(**values)


def _page(template: str, **values: Any) -> HTMLResponse:
    return HTMLResponse(render(template, **values))


def _desk(request: Request) -> Desk:
    return request.app.state.desk


@router.get("/", response_class=HTMLResponse)
def cases_page(request: Request) -> HTMLResponse:
    return _page("cases.html.j2", catalogue=_desk(request).catalogue())


@router.get("/cases/{case_id}", response_class=HTMLResponse)
def case_page(request: Request, case_id: str) -> HTMLResponse:
    case = _desk(request).case(case_id)
    last = case["drafts"][0]["question"] if case["drafts"] else ""
    return _page("case.html.j2", case=case, question=last)


@router.get("/documents/{doc_id}", response_class=HTMLResponse)
def document_page(request: Request, doc_id: str, case: str | None = None) -> HTMLResponse:
    doc = _desk(request).document(doc_id, case)
    return _page("document.html.j2", doc=doc, case_id=case)


def _chunk_for(draft) -> Any:
    """`chunk_for(n, chunk_ids)`: the statement's chunk that reference n cites (or '')."""
    by_n = {r.n: r.chunk_ids for r in draft.references}

    def chunk_for(n: int, chunk_ids: list[str]) -> str:
        return next((c for c in chunk_ids if c in by_n.get(n, [])), "")

    return chunk_for


def draft_values(view: SessionView) -> dict[str, Any]:
    draft = view.draft
    references = w.sorted_references(draft)
    return {
        "view": view,
        "a": draft,
        "engine": view.engine,
        "title": w.title_of(draft),
        "verdict_label": w.verdict_label(draft),
        "engine_label": w.verdict_label(view.engine),
        "confidence": w.confidence_text(draft),
        "policy": w.policy_line(draft.policy),
        "findings": w.findings_of(draft),
        "sections": w.ordered_sections(draft),
        "walk": list(w.walk(draft.criteria)),
        "decisions": view.review.decisions,
        "dosing_title": w.DOSING_TITLE,
        "dosing_columns": w.DOSING_COLUMNS,
        "dosing_rows": w.dosing_rows(draft),
        "flags": w.flags_to_show(draft),
        "references": references,
        "ref_numbers": {ref.n for ref in references},
        "provenance": w.provenance_items(draft),
        "chunk_for": _chunk_for(draft),
        "formats": [f for f in formats() if f in MEDIA_TYPES],
        "evidence_of": _evidence_of(draft),
    }


def _evidence_of(draft):
    """`evidence_of(criterion, n)`: the quote of the criterion's evidence that reference n cites."""
    by_n = {r.n: set(r.chunk_ids) for r in draft.references}

    def evidence_of(criterion, n: int) -> tuple[str, str]:
        for e in criterion.evidence:
            if e.chunk_id in by_n.get(n, set()):
                return e.chunk_id, e.quote
        return "", criterion.rationale

    return evidence_of


@router.get("/sessions/{session_id}", response_class=HTMLResponse)
def draft_page(request: Request, session_id: str) -> HTMLResponse:
    return _page("draft.html.j2", **draft_values(_desk(request).view(session_id)))
