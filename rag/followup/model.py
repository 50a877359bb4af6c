"""Follow-up answers written by the configured model, under the draft's guarantees.

The model reads the draft (verdict, criteria, statements), the conversation so far and keyed
sources: the chunks the draft cites plus a fresh search scoped to the session's case. Its
statements cite keys, which are bound to chunks, numbered with the draft's own reference numbers
(new documents appended) and verified like a draft's statements.
"""

from __future__ import annotations

from pydantic import Field

from ingest.store import Store
from rag.drafting.citations import statement_problem
from rag.followup.answers import NOT_FOUND, Answer, AnswerPart, Numbering
from rag.llm.client import LLMClient
from rag.llm.prompts import chat_messages
from rag.llm.schema import (
    Out,
    OutputProblem,
    Statement,
    bind_citations,
    json_object,
    parse_model,
    statement_schema,
)
from rag.llm.sourcekeys import SourceSet, build_sources
from rag.retrieval import scope
from rag.retrieval.hybrid import Retriever
from rag.retrieval.passages import fetch
from rag.types import Assessment, Hit, flatten


class FollowupOut(Out):
    found: bool
    statements: list[Statement] = Field(default_factory=list)


def followup_schema(keys: list[str], text_max_chars: int) -> dict:
    statements = {"type": "array", "items": statement_schema(keys, text_max_chars), "maxItems": 5}
    return json_object({"found": {"type": "boolean"}, "statements": statements})


SHAPE = '{"found": true, "statements": [{"text": "...", "citations": ["S1"]}]}'


def validate_followup(text: str, sources: SourceSet) -> FollowupOut:
    out = parse_model(text, FollowupOut)
    if problem := bind_citations(out.statements, "text", sources):
        raise OutputProblem(problem)
    if out.found and not out.statements:
        raise OutputProblem('"found" is true but there are no statements')
    return out


def answer_with_model(
    assessment: Assessment,
    question: str,
    history: list[dict],
    *,
    store: Store,
    retriever: Retriever,
    llm: LLMClient,
    k: int = 10,
) -> Answer:
    """The model's answer to a follow-up, cited with the session's numbers and verified."""
    chunks = _session_chunks(assessment, question, store, retriever, k)
    sources = build_sources(chunks, llm.settings.context_tokens)
    messages = chat_messages(
        "followup",
        draft=draft_text(assessment),
        history=history_text(history),
        sources=sources.render(),
        question=question,
        shape=SHAPE,
    )
    out, _ = llm.structured(
        messages,
        schema=followup_schema(sources.keys, llm.settings.text_max_chars),
        validate=lambda text: validate_followup(text, sources),
        name="answer",
    )
    info = {c.chunk_id: c for c in chunks}
    numbering = Numbering(assessment)
    parts = []
    for statement in out.statements if out.found else []:
        chunk_ids = sources.chunk_ids(statement.citations)
        problem = statement_problem(statement.text, chunk_ids, info, set(info), [])
        parts.append(
            AnswerPart(
                text=statement.text,
                citations=[numbering.cite(info[cid]) for cid in chunk_ids],
                supported=problem is None,
                unsupported_reason=problem,
            )
        )
    return Answer(
        session_id=assessment.session_id or "",
        question=question,
        answer=parts or [AnswerPart(text=NOT_FOUND)],
        references=numbering.references,
        generator="openai",
        model=llm.model,
    )


def _session_chunks(
    assessment: Assessment, question: str, store: Store, retriever: Retriever, k: int
) -> list[Hit]:
    """A search scoped to the session's case first, then the draft's cited chunks (same scope)."""
    cited = [cid for ref in assessment.references for cid in ref.chunk_ids]
    request = assessment.request
    context = " ".join(x for x in (request.drug, request.indication) if x) if request else ""
    hits = retriever.search(f"{question} {context}".strip(), case_id=assessment.case_id, k=k)
    seen = {h.chunk_id for h in hits}
    hits += [h for h in fetch(store, cited, assessment.case_id) if h.chunk_id not in seen]
    return scope.admit(hits, assessment.case_id)


def draft_text(assessment: Assessment) -> str:
    lines = [f"Verdict: {assessment.verdict.label}. {assessment.verdict.summary}"]
    lines += [f"Criterion {c.id} ({c.status}): {c.text} {c.rationale}" for c in flatten(assessment.criteria)]
    for section in assessment.sections:
        lines += [f"{section.title}: {b.text}" for b in section.bullets]
    return "\n".join(lines)


def history_text(history: list[dict]) -> str:
    if not history:
        return "(none)"
    lines = []
    for turn in history[-6:]:
        lines.append(f"Q: {turn['question']}")
        lines += [f"A: {part['text']}" for part in turn["answer"].get("answer", [])]
    return "\n".join(lines)
