"""Shared pieces of the criterion checkers: the finding type, term extraction, citing."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from rag.analysis.policy import Node
from rag.analysis.record import CaseFacts, Mention
from rag.types import Evidence, Status


@dataclass
class Finding:
    status: Status
    rationale: str
    evidence: list[Evidence] = field(default_factory=list)
    computed: list[str] = field(default_factory=list)


Checker = Callable[[Node, CaseFacts], Finding | None]

# Rationale openings a reader (and the draft's findings) recognise: the record negates the
# diagnosis; the section's exclusion names the requested indication.
RULED_OUT = "The record rules it out"
EXCLUDES = "The section excludes it"

STOP = set(
    [
        "a",
        "an",
        "the",
        "of",
        "or",
        "and",
        "to",
        "in",
        "for",
        "with",
        "by",
        "on",
        "at",
        "as",
        "is",
        "be",
        "are",
        "was",
        "were",
        "any",
        "all",
        "one",
        "following",
        "least",
        "more",
        "than",
        "greater",
        "less",
        "documented",
        "documentation",
        "diagnosis",
        "member",
        "members",
        "patient",
        "patients",
        "criteria",
        "criterion",
        "must",
        "meet",
        "has",
        "have",
        "had",
        "been",
        "within",
        "before",
        "after",
        "from",
        "that",
        "this",
        "which",
        "who",
        "will",
        "not",
        "no",
        "other",
        "such",
        "example",
        "e.g",
        "including",
        "include",
        "includes",
        "use",
        "used",
        "using",
    ]
)
FAILURE = re.compile(
    r"inadequate|insufficient|fail|no (?:meaningful |significant )?(?:improvement|response|benefit)|"
    r"lack of (?:effect|efficacy|response|benefit|improvement)|nothing (?:was )?chang|"
    r"no change(?! (?:in|of) (?:the )?dos)|not at (?:target|goal)|above (?:target|goal)|"
    r"(?:high|moderate) disease activity|"
    r"persist|ongoing|uncontrolled|not controlled|did not respond|partial response|"
    r"minimal (?:improvement|benefit)|"
    r"plateau|breakthrough|remain(?:s|ed)? symptomatic|despite|refractory|worsen|flare|recurr|unresponsive",
    re.I,
)
INTOLERANCE = re.compile(
    r"intoleran|not tolerated|(?:stopped|d/c'?d|discontinued) (?:due to|for|because(?: of)?|after)"
    r"(?!\s+(?:lack|loss|no\b|inadequate|insufficient|failure|nothing|it (?:was|did) not))|"
    r"adverse|side effect|transaminitis|elevated (?:alt|ast|liver)|hepatotoxic|"
    r"allerg(?:y|ic) to|contraindicat",
    re.I,
)
AFFIRMED = ("present", "historical")


def terms_of(text: str, facts: CaseFacts) -> list[str]:
    """Names a criterion goes by: its abbreviations with their long forms, and known acronyms."""
    from rag.analysis.acronyms import find_definitions

    terms: list[str] = []
    for short, long in find_definitions([text]).items():
        terms += [short, long]
    for short, long in facts.definitions.items():
        if re.search(rf"\b{re.escape(short)}\b", text) or long.lower() in text.lower():
            terms += [short, long]
    return [t.strip() for t in dict.fromkeys(terms) if len(t.strip()) > 1]


def examples_of(text: str) -> list[str]:
    """Named options: 'for example a, b or c', 'such as a and b', '(a or b)', ': a; b; c'."""
    found: list[str] = []
    for m in re.finditer(r"(?:for example|e\.g\.,?|such as|including)\s+([^).;]+)", text, re.I):
        found += re.split(r",\s*|\s+or\s+|\s+and\s+", m.group(1))
    for m in re.finditer(r"\(([^()]{3,80})\)", text):
        found += re.split(r",\s*|\s+or\s+|\s+and\s+|/", m.group(1))
    if ":" in text:
        found += re.split(r";\s*|,\s*|\s+or\s+", text.split(":", 1)[1])
    cleaned = []
    for item in found:
        item = re.sub(r"\b\d+(?:\.\d+)?\s*%?", "", item).strip(" .,;:")
        item = re.sub(r"^(?:a|an|the|another|other)\s+", "", item, flags=re.I)
        if re.fullmatch(r"(?:days?|weeks?|wks?|months?|years?|hours?|doses?|times?|mg|kg)", item, re.I):
            continue  # '(90 days)' is a duration, not an option
        if 2 < len(item) <= 40 and item.lower() not in STOP:
            cleaned.append(item)
    return cleaned


def cite(mentions: list[Mention], limit: int = 3) -> list[Evidence]:
    seen, out = set(), []
    for m in mentions:
        key = (m.sentence.chunk_id, m.sentence.text)
        if key not in seen:
            seen.add(key)
            out.append(m.evidence())
        if len(out) >= limit:
            break
    return out


def quote(m: Mention, size: int = 160) -> str:
    return f'"{m.excerpt(size)}" ({m.sentence.doc_id})'


def latest(mentions: list[Mention], facts: CaseFacts) -> list[Mention]:
    return sorted(mentions, key=lambda m: facts.sentence_date(m.sentence) or facts.as_of.min, reverse=True)
