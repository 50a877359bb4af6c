"""Follow-up: a saved draft (session) and a question in, an `Answer` numbered like the draft out.

Questions about the draft itself are answered from its evidence trail, policy questions from its
policy section, others from retrieval scoped to the session's case (whatever case or patient the
question names). Sources already cited keep their numbers; new ones are appended. `extractive`
answers offline; `model` answers with the configured model under the same guarantees. Sessions
(`sessions`) keep drafts and turns in SQLite beside the store.
"""

from __future__ import annotations

import json
import sqlite3
from typing import TYPE_CHECKING, Any

from rag.followup.answers import Answer
from rag.followup.sessions import SessionStore

if TYPE_CHECKING:
    from rag.settings import Settings

__all__ = ["Answer", "SessionStore", "ask"]


def ask(
    session: str,
    question: str,
    settings: Settings | None = None,
    *,
    sessions: SessionStore | None = None,
    hooks: Any = None,
) -> Answer:
    """Answer `question` about saved draft `session`; save the turn and the extended numbering.

    The model answers only when the settings choose one (never a fallback).
    """
    from rag.components import build_retriever
    from rag.settings import load_settings

    settings = settings or load_settings()
    sessions = sessions or SessionStore(settings.store.path)
    assessment = sessions.load(session)
    retriever = build_retriever(settings)
    if settings.generator_name() == "openai":
        from rag.followup.model import answer_with_model
        from rag.llm.client import LLMClient

        result = answer_with_model(
            assessment,
            question,
            sessions.turns(assessment.session_id),
            store=retriever.store,
            retriever=retriever,
            llm=LLMClient(settings.llm, hooks=hooks),
        )
    else:
        from rag.followup.extractive import answer

        result = answer(assessment, question, store=retriever.store, retriever=retriever)
    assessment.references = result.references
    try:
        sessions.update(assessment)
        sessions.add_turn(assessment.session_id, question, json.loads(result.model_dump_json()))
    except (OSError, sqlite3.Error) as exc:  # a read-only store folder: the answer still stands
        result.not_saved = f"{exc}"
    return result
