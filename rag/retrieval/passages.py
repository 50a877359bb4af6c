"""Documents rebuilt from their stored chunks, split into citable sentences.

Analysis reads whole documents (a policy section, a case's notes); every sentence keeps the id of
the chunk it came from, so each decision can cite the exact chunk. Every read here goes through
`rag.retrieval.scope`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cached_property
from itertools import pairwise

from ingest.store import Store, StoredChunk
from ingest.text import sentence_spans
from rag.retrieval import scope
from rag.types import Hit

_LINE_UNIT = re.compile(r"^\s*(?:#{1,6}\s|[-*+•]\s|\d{1,3}[.)]\s|[a-zA-Z][.)]\s|\|)")
_MARKUP = re.compile(r"^\s*(?:#{1,6}\s+|[-*+•]\s+|\d{1,3}[.)]\s+|[a-zA-Z][.)]\s+)|\*\*|__|`")


@dataclass(frozen=True)
class Sentence:
    text: str
    start: int
    end: int
    doc_id: str
    chunk_id: str
    kind: str
    date: str | None
    section: str

    @property
    def clean(self) -> str:
        """Readable text: list markers, emphasis and table pipes removed."""
        text = _MARKUP.sub("", self.text)
        if text.lstrip().startswith("|"):
            cells = [c.strip() for c in text.strip().strip("|").split("|")]
            text = table_row([c for c in cells if c and not set(c) <= {"-", ":"}])
        return re.sub(r"\s+", " ", text).strip()


def table_row(cells: list[str]) -> str:
    """A table row as one readable statement: 'Famotidine 40 mg BID, 2021-06-01 to present: some
    reduction in heartburn' (the subject, its details, then the last cell, usually the outcome)."""
    if len(cells) <= 2:
        return ": ".join(cells)
    head, *middle, last = cells
    details = ", ".join(middle)
    joint = " " if re.match(r"\d", middle[0]) else ", "
    return f"{head}{joint}{details}: {last}"


@dataclass
class SourceDoc:
    doc_id: str
    kind: str
    title: str
    source: str | None
    year: int | None
    date: str | None
    case_id: str | None
    text: str
    chunks: list[Hit] = field(default_factory=list)  # in text order, with their offsets

    def chunk_at(self, start: int, end: int | None = None) -> Hit:
        """The chunk holding the character span (largest overlap)."""
        end = start + 1 if end is None else end
        best, overlap = self.chunks[0], -1
        for chunk in self.chunks:
            size = min(end, chunk.char_end) - max(start, chunk.char_start)
            if size > overlap:
                best, overlap = chunk, size
        return best

    def chunks_in(self, start: int, end: int) -> list[Hit]:
        """The chunks that overlap the character span."""
        return [c for c in self.chunks if c.char_start < end and c.char_end > start]

    @cached_property
    def sentences(self) -> list[Sentence]:
        out: list[Sentence] = []
        for start, end in units(self.text):
            for s, e in sentence_spans(self.text, start, end):
                chunk = self.chunk_at(s, e)
                out.append(
                    Sentence(
                        self.text[s:e], s, e, self.doc_id, chunk.chunk_id, self.kind, self.date, chunk.section
                    )
                )
        return out

    @property
    def chunk_ids(self) -> list[str]:
        return [c.chunk_id for c in self.chunks]


def units(text: str) -> list[tuple[int, int]]:
    """Paragraphs, list items, headings and table rows: sentences never cross them."""
    units: list[tuple[int, int]] = []
    offset = 0
    current: list[int] | None = None
    for line in text.split("\n"):
        start, end = offset, offset + len(line)
        offset = end + 1
        if not line.strip():
            current = None
            continue
        if current is None or _LINE_UNIT.match(line):
            current = [start, end]
            units.append((start, end))
            if re.match(r"\s*#{1,6}\s", line):
                current = None  # a heading is a line of its own
        else:
            current[1] = end
            units[-1] = (current[0], end)
    return units


def rebuild(chunks: list[StoredChunk]) -> list[SourceDoc]:
    """Group chunks by document and lay their texts back at their offsets."""
    by_doc: dict[str, list[StoredChunk]] = {}
    for chunk in chunks:
        by_doc.setdefault(chunk.metadata["doc_id"], []).append(chunk)
    docs = []
    for doc_id, parts in by_doc.items():
        parts.sort(key=lambda c: c.metadata.get("char_start", 0))
        size = max(c.metadata.get("char_end", 0) for c in parts)
        buffer = [" "] * size
        for c in parts:
            start = c.metadata.get("char_start", 0)
            buffer[start : start + len(c.text)] = c.text
        text = "".join(buffer)
        # gaps between chunks were whitespace (often newlines): keep paragraph breaks
        for prev, nxt in pairwise(parts):
            gap = slice(prev.metadata["char_end"], nxt.metadata["char_start"])
            if gap.stop - gap.start > 0:
                text = text[: gap.start] + "\n" * (gap.stop - gap.start) + text[gap.stop :]
        meta = parts[0].metadata
        docs.append(
            SourceDoc(
                doc_id=doc_id,
                kind=meta["kind"],
                title=meta.get("title", doc_id),
                source=meta.get("source"),
                year=meta.get("year"),
                date=meta.get("date"),
                case_id=meta.get("case_id") or None,
                text=text,
                chunks=[Hit.of(c) for c in parts],
            )
        )
    return sorted(docs, key=lambda d: (d.date or "", d.doc_id))


def load_case(store: Store, case_id: str) -> list[SourceDoc]:
    """Every document of one case (the store query is scoped to that case)."""
    return rebuild(store.get(where=scope.case_only(case_id)))


def load_documents(store: Store, doc_ids: list[str], case_id: str | None = None) -> list[SourceDoc]:
    """Whole documents by id, as a reader of `case_id` may see them (literature by default)."""
    if not doc_ids:
        return []
    ids = {"doc_id": doc_ids[0]} if len(doc_ids) == 1 else {"doc_id": {"$in": list(doc_ids)}}
    return rebuild(store.get(where=scope.where(case_id, **ids)))


def fetch(store: Store, chunk_ids: list[str], case_id: str | None) -> list[Hit]:
    """Chunks by id, as a reader of `case_id` may see them: others are not even fetched."""
    if not chunk_ids:
        return []
    return [Hit.of(c) for c in store.get(ids=sorted(set(chunk_ids)), where=scope.where(case_id))]


def literature_catalogue(store: Store, kinds: list[str]) -> list[dict]:
    """First-chunk metadata of every literature document of the given kinds."""
    where = scope.where(None, kinds, chunk_index=0)
    return [c.metadata | {"first_text": c.text} for c in store.get(where=where)]


def text_sentences(text: str) -> list[str]:
    """Readable sentences of a passage (list markers, emphasis and table pipes removed).

    Short list items are joined to the line that introduces them ("Of 77 patients: complete
    response: 14 (18%); partial response: 47 (61%)"), so a result reads as one statement.
    """
    out: list[str] = []
    joinable = False  # the last statement introduces a list ("...:") and holds the items joined since
    for start, end in units(text):
        is_item = bool(re.match(r"\s*(?:[-*+•]|\d{1,3}[.)]|[a-zA-Z][.)])\s", text[start:end]))
        for s, e in sentence_spans(text, start, end):
            clean = Sentence(text[s:e], s, e, "", "", "", None, "").clean
            if not clean or re.fullmatch(r"[#\W\d]*", clean) or text[s:e].lstrip().startswith("#"):
                joinable = False
                continue
            if is_item and joinable and len(clean) <= 90 and out:
                out[-1] = (
                    f"{out[-1].rstrip(';:')}{':' if out[-1].endswith(':') else ';'} {clean.rstrip(';.')}"
                )
                continue
            out.append(clean)
            joinable = clean.endswith(":")  # an item of its own (a long one) holds no list
    return [re.sub(r"::", ":", o) for o in out]
