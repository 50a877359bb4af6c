"""Structure-following chunker: headings, list items, tables, paragraphs, sentences.

A chunk never crosses a heading, a list item (a policy criterion) is never split unless it alone
exceeds the model's input, and every chunk's embedded text (title > section + text) fits the
model's maximum input: nothing is silently truncated. Offsets are exact: chunk.text ==
document.text[char_start:char_end].
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ingest.documents import Chunk, Document, embed_text
from ingest.text import sentence_spans

TokenCounter = Callable[[Sequence[str]], list[int]]
"""Counts the model's tokens (without special tokens) of each text."""

_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
_ITEM = re.compile(
    r"^(?P<indent>[ \t]*)(?:[-*+•▪◦●■]|\(?\d{1,3}[.)]|\(?[a-zA-Z][.)]|\(?[ivxIVX]{1,4}[.)])\s+\S"
)
_CAPS_HEADING = re.compile(r"^[A-Z][A-Z0-9 ,&/()'-]{3,78}:?$")
_LABEL_HEADING = re.compile(r"^[A-Z][A-Za-z/&' -]{1,40}:$")
_SPECIAL_TOKENS = 2  # [CLS] and [SEP]
_MAX_HEADER_SHARE = 3  # the header may take at most 1/3 of the budget


@dataclass
class Block:
    kind: str  # heading | item | para | table
    start: int
    end: int
    level: int = 0
    title: str = ""


def _indent(line: str) -> int:
    return len(line.expandtabs(4)) - len(line.expandtabs(4).lstrip())


def parse_blocks(text: str) -> list[Block]:
    """Split text into headings, list items, table runs and paragraphs (exact offsets)."""
    blocks: list[Block] = []
    offset = 0
    prev_blank = True
    for line in text.split("\n"):
        start, end = offset, offset + len(line)
        offset = end + 1
        stripped = line.strip()
        if not stripped:
            prev_blank = True
            continue
        last = blocks[-1] if blocks else None
        heading = _HEADING.match(line)
        if heading:
            blocks.append(Block("heading", start, end, len(heading.group(1)), heading.group(2)))
        elif stripped.startswith("|"):
            if last and last.kind == "table" and not prev_blank:
                last.end = end
            else:
                blocks.append(Block("table", start, end))
        elif _ITEM.match(line):
            blocks.append(Block("item", start, end, _indent(line)))
        elif _is_pseudo_heading(stripped, prev_blank):
            blocks.append(Block("heading", start, end, 6, stripped.rstrip(":")))
        elif last and not prev_blank and last.kind in ("item", "para", "table"):
            last.end = end  # lazy continuation of the block above
        elif last and last.kind == "item" and _indent(line) > last.level:
            last.end = end  # indented continuation paragraph of a list item
        else:
            blocks.append(Block("para", start, end))
        prev_blank = False
    return blocks


def _is_pseudo_heading(stripped: str, prev_blank: bool) -> bool:
    """ALL-CAPS lines (PDF section titles) and short 'Label:' lines (note sections)."""
    if not prev_blank and not _CAPS_HEADING.match(stripped):
        return False
    letters = [c for c in stripped if c.isalpha()]
    if len(letters) >= 4 and _CAPS_HEADING.match(stripped) and all(c.isupper() for c in letters):
        return len(stripped.split()) <= 10
    return bool(_LABEL_HEADING.match(stripped)) and len(stripped.split()) <= 4


def chunk_id(doc_id: str, index: int, text: str) -> str:
    return hashlib.sha256(f"{doc_id}\x1f{index}\x1f{text}".encode()).hexdigest()[:32]


class Chunker:
    """Packs blocks into chunks of about `target_tokens`, never above `max_tokens`."""

    def __init__(self, count_tokens: TokenCounter, max_tokens: int, target_tokens: int) -> None:
        if max_tokens <= _SPECIAL_TOKENS + 8:
            raise ValueError(f"max_tokens={max_tokens} is too small to hold any text")
        self.count = count_tokens
        self.max_tokens = max_tokens
        self.target = min(target_tokens, max_tokens)

    def chunk(self, doc: Document) -> list[Chunk]:
        text = doc.text
        blocks = parse_blocks(text)
        counts = self.count([text[b.start : b.end] for b in blocks])
        stack: list[tuple[int, str]] = []
        groups: list[tuple[str, list[tuple[int, int, int]]]] = []  # (section, [(s, e, tokens)])
        current: list[tuple[int, int, int]] = []
        only_headings = True
        section = ""

        def flush() -> None:
            nonlocal current, only_headings
            if current:
                groups.append((section, current))
            current, only_headings = [], True

        for block, n in zip(blocks, counts, strict=True):
            if block.kind == "heading":
                if not only_headings:
                    flush()
                while stack and stack[-1][0] >= block.level:
                    stack.pop()
                stack.append((block.level, block.title))
                section = " > ".join(
                    t for lvl, t in stack if not (lvl == 1 and t.strip() == doc.title.strip())
                )
                current.append((block.start, block.end, n))
                continue
            budget = self._body_budget(doc.title, section)
            spans = [(block.start, block.end, n)] if n <= budget else self._split(text, block, budget)
            for span in spans:
                used = sum(t for _, _, t in current)
                if current and not only_headings and used + span[2] > min(self.target, budget):
                    flush()
                current.append(span)
                only_headings = False
        flush()
        return self._materialise(doc, groups)

    def _body_budget(self, title: str, section: str) -> int:
        header = " > ".join(p for p in (title, section) if p)
        header_tokens = self.count([header])[0] + 1 if header else 0
        if header_tokens > self.max_tokens // _MAX_HEADER_SHARE:
            header_tokens = self.max_tokens // _MAX_HEADER_SHARE
        return self.max_tokens - _SPECIAL_TOKENS - header_tokens

    def _split(self, text: str, block: Block, budget: int) -> list[tuple[int, int, int]]:
        """Sentences of an oversized block; words of an oversized sentence."""
        spans = sentence_spans(text, block.start, block.end)
        counts = self.count([text[s:e] for s, e in spans])
        out: list[tuple[int, int, int]] = []
        for (s, e), n in zip(spans, counts, strict=True):
            if n <= budget:
                out.append((s, e, n))
            else:
                out.extend(self._split_words(text, s, e, budget))
        return out

    def _split_words(self, text: str, start: int, end: int, budget: int) -> list[tuple[int, int, int]]:
        words = [(m.start(), m.end()) for m in re.finditer(r"\S+", text[start:end])]
        counts = self.count([text[start + s : start + e] for s, e in words])
        out: list[tuple[int, int, int]] = []
        first, used = 0, 0
        for i, n in enumerate(counts):
            if used and used + n > budget - 4:  # margin for tokens merging across spaces
                out.append((start + words[first][0], start + words[i - 1][1], used))
                first, used = i, 0
            used += n
        if words:
            out.append((start + words[first][0], start + words[-1][1], used))
        return out

    def _materialise(
        self, doc: Document, groups: list[tuple[str, list[tuple[int, int, int]]]]
    ) -> list[Chunk]:
        drafts: list[tuple[str, int, int, int]] = []
        for section, spans in groups:
            drafts.extend(self._fit(doc, section, spans))
        chunks: list[Chunk] = []
        meta = doc.meta
        for index, (section, start, end, n_tokens) in enumerate(drafts):
            body = doc.text[start:end]
            pages = doc.pages_for(start, end)
            chunk = Chunk(
                id=chunk_id(doc.id, index, body),
                doc_id=doc.id,
                index=index,
                text=body,
                kind=meta.kind,
                title=doc.title,
                source=meta.source,
                year=meta.year,
                date=meta.date.isoformat() if meta.date else None,
                case_id=meta.case_id,
                url=meta.url,
                authors=list(meta.authors),
                doi=meta.doi,
                pmid=meta.pmid,
                journal=meta.journal,
                volume=meta.volume,
                issue=meta.issue,
                pages=meta.pages,
                section=section,
                page_start=pages[0] if pages else None,
                page_end=pages[1] if pages else None,
                char_start=start,
                char_end=end,
                n_tokens=n_tokens,  # counted by `_fit` on this very embedded text
            )
            chunks.append(chunk)
        return chunks

    def _fit(
        self, doc: Document, section: str, spans: list[tuple[int, int, int]]
    ) -> list[tuple[str, int, int, int]]:
        """Exact check of the embedded text; halve the group until every piece fits. Each piece
        comes with its embedded text's token count (special tokens in), its chunk's `n_tokens`."""
        start, end = spans[0][0], spans[-1][1]
        tokens = self.count([embed_text(doc.title, section, doc.text[start:end])])[0] + _SPECIAL_TOKENS
        if tokens <= self.max_tokens:
            return [(section, start, end, tokens)]
        if len(spans) == 1:
            s, e, _ = spans[0]
            budget = self._body_budget(doc.title, section) // 2
            pieces = self._split_words(doc.text, s, e, max(budget, 8))
            if len(pieces) == 1:  # a single word longer than the model input: keep, flagged by n_tokens
                return [(section, s, e, tokens)]
            return [f for piece in pieces for f in self._fit(doc, section, [piece])]
        mid = len(spans) // 2
        return self._fit(doc, section, spans[:mid]) + self._fit(doc, section, spans[mid:])
