"""A policy's text as an outline: headings, numbered and bulleted items nested, notes, tables.

Payers write policies in many layouts: Markdown headings or capitalised lines, roman-numeral,
lettered and numbered sections in any mix and depth, bullets (● ○ ▪), "A)", "(a)", criteria
wrapped over several lines by PDF extraction with the indentation lost, running headers and page
footers, "Note:" paragraphs between items, tables. This module reads the structure only: which
lines are headings, which are items and under what, and where each starts and ends. What the
structure means (indications, initial or continuation, criteria types) is `rag.analysis.compile`.

Nesting does not rely on indentation: the first marker style met under an item nests below it,
and a style already open closes everything below it (as legal and clinical outlines are read).
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

_BULLETS = "●○▪•◦■□➢►–-*"
_ROMAN = r"(?:x{0,3})(?:ix|iv|v?i{0,3})"
_MARKER = re.compile(
    rf"""^\s*(?:
        (?P<bullet>[{re.escape(_BULLETS)}]|o(?=\s+[A-Z]))\s+
      | \(?(?P<label>{_ROMAN}|[A-Za-z]|\d{{1,2}}|{_ROMAN.upper()})(?P<close>[.)])\s+
    )""",
    re.X,
)
_PAGE_LINE = re.compile(r"\bpage\s+\d+(?:\s+of\s+\d+)?\b", re.I)
_TABLE = re.compile(r"^\s*\|")
_NOTE = re.compile(r"^\s*(?:>\s*)?(?:\*\*)?note\b[:.)]?", re.I)
_HASH_HEADING = re.compile(r"^\s*(#{1,6})\s+(.*)$")
_EMPHASIS = re.compile(r"\*\*|__|(?<!\w)\*(?!\s)|`")
_END_OF_SENTENCE = re.compile(r"[.:;!?]\s*$|\b(?:and|or)\s*$", re.I)
_SMALL = {"a", "an", "and", "as", "at", "by", "for", "in", "of", "on", "or", "the", "to", "with", "non"}


@dataclass
class Block:
    """A heading, an item, a note or a table row of the outline."""

    kind: str  # heading | item | note | table | text
    text: str
    start: int
    end: int
    marker: str = ""  # the item's label as written ("I", "A", "1", "a", "i", "●")
    head: str = ""  # an item's or heading's first line, before wrapped lines were joined
    style: str = ""  # the marker's style: roman_upper, upper, arabic, lower, roman_lower, bullet:●
    level: int = 0  # heading level (1 = top)
    explicit: bool = False  # a Markdown '#' heading (not a line that merely reads like one)
    children: list[Block] = field(default_factory=list)
    notes: list[Block] = field(default_factory=list)

    def walk(self) -> list[Block]:
        out = [self]
        for child in self.children:
            out.extend(child.walk())
        return out

    @property
    def title(self) -> str:
        """The first sentence or the label-like head of the block ('Giant Cell Arteritis')."""
        return re.split(r"(?<=[a-z)])\.\s|:\s", self.text, maxsplit=1)[0].strip().rstrip(".:")


@dataclass
class Line:
    text: str
    start: int
    end: int
    after_blank: bool = False  # an empty line came before it


def lines_of(text: str, pages: int = 0) -> list[Line]:
    """Non-empty lines with their offsets, without running headers, footers and page numbers."""
    out: list[Line] = []
    offset = 0
    blank = False
    for raw in text.split("\n"):
        start, end = offset, offset + len(raw)
        offset = end + 1
        if raw.strip():
            out.append(Line(raw, start, end, blank))
        blank = not raw.strip()
    repeated = _running_lines(out, pages)
    return [
        ln
        for ln in out
        if _norm(ln.text) not in repeated and not _PAGE_LINE.search(ln.text) and not _is_page_number(ln.text)
    ]


def _norm(text: str) -> str:
    return re.sub(r"\d+", "#", text.strip().lower())


def _is_page_number(text: str) -> bool:
    return bool(re.fullmatch(r"\s*(?:-\s*)?\d{1,3}(?:\s*-)?\s*", text))


def _running_lines(lines: list[Line], pages: int) -> set[str]:
    """Lines repeated on (nearly) every page that are not criteria: running headers and footers."""
    if pages < 2:
        return set()
    counts = Counter(_norm(ln.text) for ln in lines)
    need = max(2, pages - 1)
    return {
        text
        for text, n in counts.items()
        if n >= need and len(text) > 12 and not _MARKER.match(text) and not _END_OF_SENTENCE.search(text)
    }


def _style(label: str, last: dict[str, str]) -> str:
    """The marker style of a label. A lone i, v or x (I, V, X) is a letter when it follows the
    letter before it ('h' then 'i'), a numeral otherwise ('i' opening a run, 'v' after 'iv')."""
    if label.isdigit():
        return "arabic"
    case = "upper" if label.isupper() else "lower"
    roman = re.fullmatch(_ROMAN, label.lower()) is not None
    if len(label) > 1 or not roman:
        return f"roman_{case}" if roman and len(label) > 1 else case
    letter = last.get(case)
    if letter and len(letter) == 1 and ord(label.lower()) == ord(letter.lower()) + 1:
        return case
    if label.lower() == "i" or last.get(f"roman_{case}"):
        return f"roman_{case}"
    return case


def _heading_level(text: str) -> int:
    """1 or 2 for lines that read as headings (no Markdown marks); 0 otherwise."""
    clean = _EMPHASIS.sub("", text).strip()
    if not clean or len(clean) > 90 or _END_OF_SENTENCE.search(clean) or clean.endswith(","):
        return 0
    words = re.findall(r"[A-Za-z][\w'’-]*", clean)
    if not words or (not clean[0].isupper() and not clean[0].isdigit()):
        return 0
    letters = [c for c in clean if c.isalpha()]
    if letters and sum(c.isupper() for c in letters) / len(letters) > 0.8 and len(letters) > 3:
        return 1
    capitalised = [w for w in words if w[0].isupper() or w.lower() in _SMALL or not w[0].isalpha()]
    return 2 if len(words) <= 12 and len(capitalised) >= max(1, len(words) - 1) else 0


def outline(text: str, pages: int = 0) -> list[Block]:
    """The blocks of a policy's text, items nested under their parents, headings flat and levelled."""
    blocks: list[Block] = []
    stack: list[Block] = []  # open items, outermost first
    styles: dict[str, str] = {}  # last label per style, to tell 'i' the letter from 'i' the numeral
    last: Block | None = None
    previous_text = ""
    for ln in lines_of(text, pages):
        raw = ln.text
        hashes = _HASH_HEADING.match(raw)
        marker = _MARKER.match(_EMPHASIS.sub("", raw) if raw.lstrip().startswith("**") else raw)
        if hashes:
            last = _heading(
                blocks, stack, _EMPHASIS.sub("", hashes.group(2)).strip(), ln, len(hashes.group(1))
            )
            last.explicit = True
        elif _TABLE.match(raw):
            last = Block("table", raw.strip(), ln.start, ln.end)
            _attach(blocks, stack, last, as_child=False)
        elif _NOTE.match(raw):
            last = Block("note", _clean(re.sub(r"^\s*>\s*", "", raw)), ln.start, ln.end)
            (stack[-1].notes if stack else blocks).append(last)
        elif marker:
            body = raw[marker.end() :] if not raw.lstrip().startswith("**") else _strip_label(raw)
            label = marker.group("bullet") or marker.group("label")
            style = f"bullet:{label}" if marker.group("bullet") else _style(label, styles)
            if not marker.group("bullet"):
                styles[style] = label
            last = Block("item", _clean(body), ln.start, ln.end, marker=label, style=style, head=_clean(body))
            if _heading_level(last.head) == 1 and not marker.group("bullet"):
                stack.clear()  # 'I. CRITERIA FOR INITIAL APPROVAL': a numbered section, not a criterion
            _push(blocks, stack, last)
        elif (level := _heading_level(raw)) and _closed(previous_text):
            last = _heading(blocks, stack, _clean(raw), ln, level + 1)
        elif (
            last is not None
            and last.kind in ("item", "text", "note")
            and not (ln.after_blank and not raw.startswith((" ", "\t")))
            and not _ends_paragraph(previous_text, raw)
        ):
            last.text = f"{last.text} {_clean(raw)}".strip()
            last.end = ln.end
        else:
            if ln.after_blank:
                stack.clear()  # a paragraph after an empty line is not part of the list above it
            last = Block("text", _clean(raw), ln.start, ln.end)
            _attach(blocks, stack, last, as_child=False)
        if last is not None and last.kind == "text" and last.text.endswith(":") and last not in stack:
            # 'Members must meet all of the following criteria:' introduces the items below it
            if last in blocks:
                blocks.remove(last)
            elif stack:
                stack[-1].children.remove(last)
            last.kind, last.style = "intro", "intro"
            stack.clear()
            blocks.append(last)
            stack.append(last)
        previous_text = raw
    return blocks


def _closed(previous: str) -> bool:
    """Whether the line before can end a paragraph (so a title-like line after it is a heading):
    it closes a sentence, or ends in a full word rather than a connector, a comma or a hyphen."""
    previous = previous.strip()
    if not previous or _END_OF_SENTENCE.search(previous):
        return True
    last = re.findall(r"[A-Za-z]+", previous[-25:])
    return bool(last) and last[-1].lower() not in _SMALL and previous[-1] not in ",-–(/"


def _strip_label(raw: str) -> str:
    """'**1. Giant Cell Arteritis.** Approve ...' -> 'Giant Cell Arteritis. Approve ...'."""
    text = _EMPHASIS.sub("", raw)
    m = _MARKER.match(text)
    return text[m.end() :] if m else text


def _ends_paragraph(previous: str, line: str) -> bool:
    """A blank-free PDF line starts a new paragraph when the previous one closed a sentence with a
    period and this one starts with a capital (wrapped criteria end in ';', 'and', 'or' or a word)."""
    return (
        bool(re.search(r"[.!?]\s*$", previous))
        and line.lstrip()[:1].isupper()
        and not previous.endswith(("e.g.", "i.e.", "vs."))
    )


def _clean(text: str) -> str:
    return re.sub(r"\s+", " ", _EMPHASIS.sub("", text)).strip()


def _heading(blocks: list[Block], stack: list[Block], text: str, ln: Line, level: int) -> Block:
    stack.clear()
    block = Block("heading", text, ln.start, ln.end, level=level, head=text)
    blocks.append(block)
    return block


def _attach(blocks: list[Block], stack: list[Block], block: Block, *, as_child: bool) -> None:
    if (stack and as_child) or (stack and block.kind == "text"):
        stack[-1].children.append(block)
    else:
        blocks.append(block)


def _push(blocks: list[Block], stack: list[Block], item: Block) -> None:
    """Nest `item`: a style already open closes what is below it; a new style nests deeper."""
    open_styles = [b.style for b in stack]
    if item.style in open_styles:
        del stack[open_styles.index(item.style) :]
    if stack:
        stack[-1].children.append(item)
    else:
        blocks.append(item)
    stack.append(item)
