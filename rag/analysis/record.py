"""A case's facts as analysis sees them: sentences with dates, term mentions with assertion status,
durations and dates. Sentences that address automated reviewers are set aside, never used."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from functools import cached_property

import numpy as np

from rag.analysis.acronyms import find_definitions
from rag.analysis.assertions import assertion_of
from rag.analysis.dates import date_ranges, find_dates, first_date
from rag.analysis.notesections import category_at, note_sections, scoped
from rag.retrieval.passages import Sentence, SourceDoc
from rag.safety import FLAG_KIND, flag_message, looks_like_instruction
from rag.text import around, shorten
from rag.types import Assertion, Evidence, Flag, RequestInfo

_ISO = re.compile(r"\b((?:19|20)\d{2})-(\d{2})-(\d{2})\b")
_MONTHS = {
    m: i
    for i, m in enumerate(
        ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"],
        start=1,
    )
}
_MONTH_YEAR = re.compile(
    r"\b(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?\s+((?:19|20)\d{2})\b", re.I
)
_NUMBER_WORDS = {
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "several": 3,
}
NUMBER_WORD = "|".join(w for w in _NUMBER_WORDS if w != "several")  # exact numbers, for patterns
QUANTITY = rf"\d+(?:\.\d+)?|{NUMBER_WORD}"  # a number in digits or words
TIME_UNIT = r"days?|weeks?|wks?|months?|mos?|years?|yrs?"
_UNIT_DAYS = {
    "day": 1,
    "week": 7,
    "wk": 7,
    "month": 30.44,
    "mo": 30.44,
    "year": 365.25,
    "yr": 365.25,
}
_SPAN = re.compile(
    rf"(?<![\w/])(?P<n>{QUANTITY}|several)(?:\s*(?:to|-|–)\s*\d+)?[\s-]*(?P<u>{TIME_UNIT})\b"
    r"(?![\s-]+(?:ago|later|after|apart|old))",
    re.I,
)
_NOT_DURATION_BEFORE = re.compile(
    r"(?:every|each|per|q|within|in the (?:past|last|prior)|after|before|ago|/)\s*$", re.I
)
_RANGE = re.compile(rf"{_ISO.pattern}\s*(?:to|through|until|-|–|and)\s*{_ISO.pattern}", re.I)
_SINCE = re.compile(rf"\bsince\s+(?:{_ISO.pattern}|{_MONTH_YEAR.pattern}|((?:19|20)\d{{2}}))", re.I)


def to_date(text: str | None) -> date | None:
    """The first date a text states, in any common US or ISO form (`rag.analysis.dates`)."""
    return first_date(text)


def durations_days(text: str, as_of: date | None) -> list[float]:
    """Durations a sentence states: date ranges, 'since ...', '8 weeks', '4-month course'."""
    found: list[float] = [float((b - a).days) for a, b in date_ranges(text, as_of) if b > a]
    for m in _SINCE.finditer(text):
        start = to_date(m.group(0)[len("since") :])
        if start is None and m.group(m.lastindex or 0) and m.group(m.lastindex).isdigit():
            start = date(int(m.group(m.lastindex)), 7, 1)
        if start and as_of and as_of > start:
            found.append(float((as_of - start).days))
    for m in _SPAN.finditer(text):
        if _NOT_DURATION_BEFORE.search(text[max(0, m.start() - 20) : m.start()]):
            continue
        value = number_value(m.group("n"))
        unit = re.sub(r"s$", "", m.group("u").lower())
        found.append(value * _UNIT_DAYS[unit])
    return found


def number_value(text: str) -> float:
    """'12', '2.5', 'twelve' or 'several' as a number."""
    word = text.lower()
    return float(_NUMBER_WORDS[word]) if word in _NUMBER_WORDS else float(word)


def duration_days(value: float, unit: str) -> float:
    return value * _UNIT_DAYS[re.sub(r"s$", "", unit.lower())]


def term_pattern(term: str) -> re.Pattern:
    body = re.escape(term).replace(r"\ ", r"[\s-]+").replace(r"\-", r"[\s-]?")
    return re.compile(rf"(?<![\w]){body}(?:e?s)?(?![\w])", re.I)


_BANNER = re.compile(r"\|[^|]*\||\b(?:DOB|MRN|DOS|D\.O\.B\.)\b")


@dataclass
class Mention:
    sentence: Sentence
    term: str
    assertion: Assertion
    categories: list[str]
    start: int
    end: int

    @property
    def in_header(self) -> bool:
        """Whether the mention sits in a note's banner (name | DOB | MRN, the letterhead) rather
        than in what the clinician wrote: a poorer quote of the same fact."""
        return bool(_BANNER.search(self.sentence.clean))

    def excerpt(self, size: int = 160) -> str:
        """The sentence as a draft quotes it: whole when short, else the part around the mention
        (a result deep in a lab table row, a diagnosis after a demographic header)."""
        clean = self.sentence.clean
        found = term_pattern(self.term).search(clean)
        return around(clean, found.start(), found.end(), size) if found else shorten(clean, size)

    def evidence(self) -> Evidence:
        s = self.sentence
        return Evidence(chunk_id=s.chunk_id, doc_id=s.doc_id, quote=s.clean, assertion=self.assertion)


@dataclass
class CaseFacts:
    case_id: str
    docs: list[SourceDoc]
    request: RequestInfo
    embed: callable
    chunk_vectors: dict[str, np.ndarray] = field(default_factory=dict)
    flags: list[Flag] = field(default_factory=list)

    def __post_init__(self) -> None:
        for doc in self.docs:
            for s in doc.sentences:
                if looks_like_instruction(s.text):
                    self.flags.append(
                        Flag(
                            kind=FLAG_KIND, message=flag_message(doc.doc_id, s.clean), chunk_ids=[s.chunk_id]
                        )
                    )

    @cached_property
    def as_of(self) -> date:
        dated = [to_date(d.date) for d in self.docs if d.date]
        return to_date(self.request.request_date) or max((d for d in dated if d), default=date.today())

    @cached_property
    def sentences(self) -> list[Sentence]:
        flagged = {f.chunk_ids[0] + f.message for f in self.flags}
        return [
            s
            for d in self.docs
            for s in d.sentences
            if not looks_like_instruction(s.text) and (s.chunk_id + s.text) not in flagged
        ]

    @cached_property
    def note_sections(self) -> dict[str, tuple[tuple[int, int, str], ...]]:
        """Each note's sections (medspaCy's sectionizer): family history, plan, medications ..."""
        return {d.doc_id: note_sections(d.text) for d in self.docs if d.kind != "policy"}

    @cached_property
    def medication_rows(self) -> dict[str, list]:
        """Each document's medication-table rows (`rag.analysis.medications`), read by column."""
        from rag.analysis.medications import read_tables

        return {d.doc_id: read_tables(d.text, self.as_of) for d in self.docs}

    def row_at(self, mention: Mention):
        """The medication-table row a mention of a drug sits in, if it sits in one."""
        at = mention.sentence.start + mention.start
        for row in self.medication_rows.get(mention.sentence.doc_id, []):
            if row.start_offset <= at < row.end_offset:
                return row
        return None

    @cached_property
    def definitions(self) -> dict[str, str]:
        return find_definitions(d.text for d in self.docs)

    def sentence_date(self, sentence: Sentence) -> date | None:
        """The first date the sentence states (not a date of birth), else its document's date."""
        for found in find_dates(sentence.text):
            if not re.search(
                r"(?:DOB|birth|born)\W{0,4}$", sentence.text[max(0, found.start - 16) : found.start], re.I
            ):
                return found.value
        return to_date(sentence.date)

    def mentions(self, terms: list[str], sentences: list[Sentence] | None = None) -> list[Mention]:
        """Every sentence naming one of the terms, with the assertion status of that mention."""
        out: list[Mention] = []
        patterns = [(t, term_pattern(t)) for t in dict.fromkeys(t for t in terms if t and len(t) > 1)]
        for s in sentences if sentences is not None else self.sentences:
            for term, pattern in patterns:
                match = pattern.search(s.text)
                if match:
                    status, categories = assertion_of(s.text, match.start(), match.end())
                    section = category_at(self.note_sections.get(s.doc_id, ()), s.start + match.start())
                    scoped_status = scoped(status, section, s.text)
                    if scoped_status != status:
                        categories = [*categories, f"SECTION:{section}"]
                    out.append(Mention(s, term, scoped_status, categories, match.start(), match.end()))
                    break
        return out

    def related_sentences(self, text: str, top_chunks: int = 6) -> list[Sentence]:
        """Sentences of the chunks most similar to text (stored vectors, no re-embedding)."""
        if not self.chunk_vectors:
            return self.sentences
        query = np.asarray(self.embed([text])[0])
        ranked = sorted(self.chunk_vectors.items(), key=lambda kv: -float(kv[1] @ query))
        keep = [cid for cid, _ in ranked[:top_chunks]]
        order = {cid: i for i, cid in enumerate(keep)}
        chosen = [s for s in self.sentences if s.chunk_id in order]
        return sorted(chosen, key=lambda s: order[s.chunk_id])
