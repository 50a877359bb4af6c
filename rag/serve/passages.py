"""Which sentence of which cited chunk a statement rests on, for highlighting it in place."""

from __future__ import annotations

import re

from ingest.text import sentence_spans
from rag.retrieval.passages import units
from rag.types import Hit

_WORD = re.compile(r"[a-z0-9]+(?:\.[0-9]+)?")
_STOP = frozenset(
    ["the", "a", "an", "of", "and", "or", "to", "in", "for", "with", "was", "were", "is", "are", "be", "by"]
)


def _words(text: str) -> set[str]:
    return {w for w in _WORD.findall(text.lower()) if w not in _STOP and len(w) > 1}


def sentences(text: str) -> list[tuple[int, int]]:
    """Spans of the sentences of `text` (paragraphs, list items and table rows kept apart)."""
    return [span for start, end in units(text) for span in sentence_spans(text, start, end)]


def highlight(hits: list[Hit], quote: str) -> tuple[Hit, tuple[int, int]]:
    """The chunk and the span of its sentence that best match `quote` (the first sentence when
    there is no quote): an exact occurrence wins, else the most shared words."""
    quote = " ".join(quote.split())
    if quote:
        for hit in hits:
            at = hit.text.find(quote)
            if at >= 0:
                return hit, (at, at + len(quote))
    wanted = _words(quote)
    best: tuple[float, Hit, tuple[int, int]] | None = None
    for hit in hits:
        for start, end in sentences(hit.text) or [(0, len(hit.text))]:
            words = _words(hit.text[start:end])
            score = len(wanted & words) / (len(words) ** 0.5 or 1.0) if wanted else 0.0
            if best is None or score > best[0]:
                best = (score, hit, (start, end))
    if best is None:
        raise ValueError("no passage to highlight: give at least one chunk")
    return best[1], best[2]
