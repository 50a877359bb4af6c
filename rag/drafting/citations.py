"""Citation numbers and their verification.

Numbers are assigned per document in order of first use (verdict, criteria, then sections).
Verification: a citation must point at a chunk retrieved for this draft, and every number in a
statement must appear in one of the chunks it cites (or be the result of arithmetic the
statement shows); anything else is marked unsupported and counted.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from rag.types import Assessment, Bullet, Criterion, Hit, Reference, flatten

_NUMBER = re.compile(r"(?<![\w.])\d+(?:[.,]\d+)*(?:\.\d+)?")
# Criterion ids and branch summaries name the policy's own numbering, not facts.
_REFERENCES = re.compile(
    r"(?i:\bcriteri(?:on|a) [\w.]+(?:(?:,? and |, )[A-Z]?\d[\w.]*)*)"
    r"|Needs (?:all|at least one) of \d+:[^.]*\.|\(\d+(?:\.\d+)?x\)"
)
_DOC_IDS = re.compile(r"\b(?=[\w-]*[a-z])[a-z0-9]+(?:-[a-z0-9]+)+\b")  # ids such as case-001-note
_IGNORED = re.compile(r"^(?:19|20)\d{2}$")  # years appear in titles and dates of cited sources


def numbers_in(text: str) -> set[str]:
    """Numbers as written, thousands separators removed, trailing '.0' dropped."""
    out = set()
    for raw in _NUMBER.findall(text):
        value = raw.replace(",", "")
        if value.endswith(".0"):
            value = value[:-2]
        out.add(value)
    return out


def number_citations(assessment: Assessment, chunks: dict[str, Hit]) -> None:
    """Fill `citations` everywhere and build `references` (one per document, first use first)."""
    order: dict[str, int] = {}
    cited: dict[str, list[str]] = {}

    def cite(chunk_ids: Iterable[str]) -> list[int]:
        numbers = []
        for cid in chunk_ids:
            info = chunks.get(cid)
            if info is None:
                continue
            if info.doc_id not in order:
                order[info.doc_id] = len(order) + 1
            cited.setdefault(info.doc_id, [])
            if cid not in cited[info.doc_id]:
                cited[info.doc_id].append(cid)
            if order[info.doc_id] not in numbers:
                numbers.append(order[info.doc_id])
        return numbers

    for c in flatten(assessment.criteria):
        c.citations = cite(e.chunk_id for e in c.evidence)
    for section in assessment.sections:
        for bullet in section.bullets:
            bullet.citations = cite(bullet.chunk_ids)
    for comparator in assessment.dosing.comparators:
        comparator.citations = cite(comparator.chunk_ids)
    assessment.references = [
        Reference.of(n, [chunks[c] for c in cited[doc_id]])
        for doc_id, n in sorted(order.items(), key=lambda kv: kv[1])
    ]


def verify(assessment: Assessment, chunks: dict[str, Hit], retrieved: set[str]) -> tuple[int, int]:
    """Mark unsupported statements; return (unsupported, checked)."""
    unsupported = checked = 0
    statements: list[Bullet | Criterion] = [b for s in assessment.sections for b in s.bullets]
    statements += flatten(assessment.criteria)
    for item in statements:
        if isinstance(item, Criterion) and item.children and len(item.evidence) <= 1:
            continue  # a branch's support is its children's
        chunk_ids = item.chunk_ids if isinstance(item, Bullet) else [e.chunk_id for e in item.evidence]
        text = item.text if isinstance(item, Bullet) else item.rationale
        text = _DOC_IDS.sub("", _REFERENCES.sub("", text))
        checked += 1
        reason = statement_problem(text, chunk_ids, chunks, retrieved, getattr(item, "computed", []))
        if isinstance(item, Bullet):
            item.supported = reason is None
            item.unsupported_reason = reason
        elif reason:
            item.rationale += f" [unsupported: {reason}]"
        unsupported += reason is not None
    return unsupported, checked


def statement_problem(
    text: str, chunk_ids: list[str], chunks: dict[str, Hit], retrieved: set[str], computed: list[str]
) -> str | None:
    if not chunk_ids:
        return "no citation"
    stray = [c for c in chunk_ids if c not in retrieved or c not in chunks]
    if stray:
        return f"cites {len(stray)} chunk(s) not retrieved for this draft"
    source = " ".join(
        " ".join(str(x) for x in (h.text, h.title, h.year, h.date, h.section) if x)
        for h in (chunks[c] for c in chunk_ids)
    )
    available = numbers_in(source) | {n.removesuffix(".0") for n in computed}
    missing = sorted(n for n in numbers_in(text) - available if not _IGNORED.match(n) and n not in {"0", "1"})
    if missing:
        return f"number(s) {', '.join(missing)} not found in the cited source"
    return None
