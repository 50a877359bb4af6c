"""Which chunks a case may see: the one place that decides it.

A draft or an answer for case A may read literature (chunks of no case) and A's own notes, never
another case's. `visible_cases` is the rule; `where` turns it into the Chroma filter every store
read uses (so nothing of another case is even fetched), and `admit` asserts it once more at the
boundary where sources enter a draft or an answer.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from ingest.documents import NO_CASE
from rag.errors import ScopeError
from rag.types import Hit

LITERATURE_KINDS = ("systematic_review", "study", "guideline")  # evidence a draft quotes
CASE_KINDS = ("clinical_note", "request")


def visible_cases(case_id: str | None) -> list[str]:
    """The stored case ids a reader of `case_id` may see: literature, plus that case."""
    return [NO_CASE, case_id] if case_id else [NO_CASE]


def where(case_id: str | None, kinds: Sequence[str] | None = None, **equal: Any) -> dict[str, Any]:
    """The Chroma `where` clause for a reader of `case_id` (optionally of some kinds only)."""
    cases = visible_cases(case_id)
    clauses: list[dict[str, Any]] = [{"case_id": {"$in": cases}} if len(cases) > 1 else {"case_id": cases[0]}]
    if kinds:
        clauses.append({"kind": {"$in": sorted(set(kinds))}})
    clauses += [{key: value} for key, value in equal.items()]
    return clauses[0] if len(clauses) == 1 else {"$and": clauses}


def case_only(case_id: str) -> dict[str, Any]:
    """The clause for one case's own documents (its notes and requests, no literature)."""
    return {"case_id": case_id}


def visible(chunk_case_id: str | None, case_id: str | None) -> bool:
    """Whether a chunk stored with `chunk_case_id` may be seen by a reader of `case_id`."""
    return (chunk_case_id or NO_CASE) in visible_cases(case_id)


def admit(hits: Iterable[Hit], case_id: str | None) -> list[Hit]:
    """The boundary where sources enter a draft or an answer: every hit must be visible.

    Store reads are already scoped, so a violation is a bug upstream; it stops the draft rather
    than let another patient's text into it.
    """
    hits = list(hits)
    foreign = sorted({h.doc_id for h in hits if not visible(h.case_id, case_id)})
    if foreign:
        raise ScopeError(
            f"sources of another case reached the draft for case {case_id or '(none)'}: "
            f"{', '.join(foreign)}; nothing was drafted. This is a bug: please report it."
        )
    return hits
