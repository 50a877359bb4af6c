"""Sentence boundaries for clinical and scientific text (no model, deterministic)."""

from __future__ import annotations

import re

# Abbreviations after which a period does not end a sentence.
_ABBREV = {
    "e.g",
    "i.e",
    "vs",
    "dr",
    "mr",
    "mrs",
    "ms",
    "prof",
    "fig",
    "figs",
    "no",
    "nos",
    "approx",
    "ca",
    "cf",
    "al",
    "etc",
    "inc",
    "ltd",
    "co",
    "jr",
    "sr",
    "st",
    "vol",
    "pp",
    "p",
    "ed",
    "eds",
    "jan",
    "feb",
    "mar",
    "apr",
    "jun",
    "jul",
    "aug",
    "sep",
    "sept",
    "oct",
    "nov",
    "dec",
    "u.s",
    "b.i.d",
    "t.i.d",
    "q.i.d",
    "q.d",
    "p.o",
    "s.c",
    "i.v",
    "i.m",
    "ref",
    "refs",
    "tab",
    "tabs",
    "dept",
    "univ",
    "ph.d",
    "m.d",
}
# a run of dots is a leader ('Active infection? ...... NO'), not the end of a sentence
_BOUNDARY = re.compile(r"(?:(?<!\.)\.|[!?])[\"')\]]*\s+(?=[\"'(\[]?[A-Z0-9•])|\n\s*\n")
_WORD_BEFORE = re.compile(r"([A-Za-z][A-Za-z.]*)$")


def sentence_spans(text: str, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """Character spans of the sentences of text[start:end], whitespace trimmed."""
    end = len(text) if end is None else end
    spans: list[tuple[int, int]] = []
    cursor = start
    for match in _BOUNDARY.finditer(text, start, end):
        cut = match.start() + 1 if text[match.start()] in ".!?" else match.start()
        if text[match.start()] == ".":
            word = _WORD_BEFORE.search(text, max(start, match.start() - 12), match.start())
            if word:
                token = word.group(1).lower()
                if token in _ABBREV or (len(token) == 1 and token.isalpha()):
                    continue
        # keep closing quotes/brackets with the sentence
        while cut < end and text[cut] in "\"')]":
            cut += 1
        _append(spans, text, cursor, cut)
        cursor = match.end()
    _append(spans, text, cursor, end)
    return spans


def _append(spans: list[tuple[int, int]], text: str, start: int, end: int) -> None:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    if end > start:
        spans.append((start, end))


def split_sentences(text: str) -> list[str]:
    return [text[s:e] for s, e in sentence_spans(text)]
