"""Text helpers every stage shares: shortening at a word boundary, first sentences, amounts."""

from __future__ import annotations

import re

ELLIPSIS = "…"


def shorten(text: str, size: int) -> str:
    """`text` in at most `size` characters, cut at a word boundary and marked with an ellipsis."""
    flat = re.sub(r"\s+", " ", text).strip()
    if len(flat) <= size:
        return flat
    cut = flat[: size - 1]
    if " " in cut and not flat[size - 1].isspace():
        cut = cut[: cut.rindex(" ")]  # never cut a word in half
    return cut.rstrip(" ,;:-([{") + ELLIPSIS


def numbers(text: str) -> list[str]:
    """The numbers written in `text` ('1,200 mg every 14 days' -> ['1200', '14'])."""
    return re.findall(r"\d+(?:\.\d+)?", text.replace(",", ""))


_CLAUSE_BREAK = re.compile(r"\s[—–]\s|;\s|:\s")  # where a long item's leading clause ends


def leading_clause(text: str, size: int, least: int = 30) -> str:
    """`text` up to the end of its leading clause (before an em or en dash, a semicolon or a colon
    that comes after at least `least` characters) when that fits in `size`; else `shorten(text,
    size)`. A policy option such as "History of failure to a minimum 3-month trial of one
    conventional DMARD — methotrexate, … — unless contraindicated" keeps its whole leading clause
    instead of stopping mid-phrase."""
    flat = re.sub(r"\s+", " ", text).strip()
    if len(flat) <= size:
        return flat
    for found in _CLAUSE_BREAK.finditer(flat, least):
        if found.start() > size:
            break
        return flat[: found.start()].rstrip(" ,")
    return shorten(flat, size)


_BOUNDARY = re.compile(r"(?:[.;:!?]|\s\|)\s+")  # where a quoted window may start: after a clause


def around(text: str, start: int, end: int, size: int) -> str:
    """At most `size` characters of `text` that hold `text[start:end]` (a term in a long table row
    or run-on line), from the start of its clause when that fits, cut at word boundaries and
    marked with an ellipsis where cut. Short text comes back whole, as `shorten` gives it."""
    flat = re.sub(r"\s+", " ", text).strip()
    if len(flat) <= size:
        return flat
    prefix = re.sub(r"\s+", " ", text[:start]).lstrip()
    start, end = len(prefix), len(prefix) + len(re.sub(r"\s+", " ", text[start:end]))
    if end <= size - 1:
        return shorten(flat, size)
    begin = max(0, start - size // 3)
    clause = [m.end() for m in _BOUNDARY.finditer(flat, begin, start)]
    begin = clause[-1] if clause else flat.find(" ", begin) + 1 if begin else 0
    begin = min(begin, start)
    window = shorten(flat[begin:], size - 1)
    return (ELLIPSIS if begin else "") + window


_EMPHASIS = re.compile(r"\*\*|__|`|(?<![\w*])\*(?=\S)|(?<=\S)\*(?![\w*])")


def plain(text: str) -> str:
    """Text as a reader sees it: Markdown emphasis and code marks removed, whitespace collapsed."""
    return re.sub(r"\s+", " ", _EMPHASIS.sub("", text)).strip()


def first_sentence(text: str, size: int = 200) -> str:
    """The first sentence of a rationale, shortened to `size` characters."""
    return shorten(re.split(r"(?<=[.)])\s+(?=[A-Z])", text.strip())[0], size)


def amount(value: float, *, grouped: bool = False) -> str:
    """A dose amount as readers write it: whole from 1,000 up, one decimal from 1, else 3 digits.

    1200 -> '1200' ('1,200' grouped), 133.33 -> '133.3', 9.6 -> '9.6', 80.0 -> '80', 0.025 -> '0.025'.
    """
    if abs(value) >= 1000:
        return f"{value:,.0f}" if grouped else f"{value:.0f}"
    if abs(value) >= 1:
        return f"{value:.1f}".removesuffix(".0")
    return f"{value:.3g}"
