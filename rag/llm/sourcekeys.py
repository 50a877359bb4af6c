"""Source material for a model: chunks under opaque keys (S1, S2, ...), quoted and delimited.

The keys say nothing about the document (no ids, no case numbers), so a model cannot invent a
plausible one; unknown keys are caught by validation. Text inside a source is data: sentences that
address automated reviewers are withheld, and anything that looks like our delimiters is defused.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from rag.retrieval.passages import text_sentences
from rag.safety import looks_like_instruction
from rag.types import Hit

WITHHELD = "[sentence withheld: it addresses automated reviewers]"
_DELIMITER = re.compile(r"</?\s*source\b", re.I)


@dataclass(frozen=True)
class Source:
    """A hit as a model reads it: under an opaque key, its text defused."""

    key: str
    hit: Hit
    text: str

    @property
    def chunk_id(self) -> str:
        return self.hit.chunk_id


class SourceSet:
    """Keyed sources in prompt order; maps keys to chunk ids and back."""

    def __init__(self, sources: list[Source]) -> None:
        self.sources = sources
        self.by_key = {s.key: s for s in sources}
        self.by_chunk = {s.chunk_id: s.key for s in sources}

    @property
    def keys(self) -> list[str]:
        return [s.key for s in self.sources]

    def keys_for(self, chunk_ids: list[str]) -> list[str]:
        return [self.by_chunk[c] for c in chunk_ids if c in self.by_chunk]

    def chunk_ids(self, keys: list[str]) -> list[str]:
        return list(dict.fromkeys(self.by_key[k].chunk_id for k in keys))

    def unknown(self, keys: list[str]) -> list[str]:
        return [k for k in keys if k not in self.by_key]

    def render(self) -> str:
        return "\n\n".join(
            f'<source key="{s.key}" kind="{s.hit.kind}" title="{_attr(s.hit.title)}">\n{s.text}\n</source>'
            for s in self.sources
        )


def build_sources(hits: list[Hit], budget_tokens: int) -> SourceSet:
    """Key hits in order until the token budget is spent.

    The first item is always kept; tokens are estimated at four characters each.
    """
    sources: list[Source] = []
    seen: set[str] = set()
    used = 0
    for hit in hits:
        if hit.chunk_id in seen or not hit.text.strip():
            continue
        clean = defuse(hit.text)
        cost = len(clean) // 4 + 20
        if sources and used + cost > budget_tokens:
            continue
        used += cost
        seen.add(hit.chunk_id)
        sources.append(Source(f"S{len(sources) + 1}", hit, clean))
    return SourceSet(sources)


def defuse(text: str) -> str:
    """Withhold sentences addressed to automated reviewers; neutralise delimiter look-alikes."""
    for sentence in text_sentences(text):
        if looks_like_instruction(sentence):
            text = text.replace(sentence, WITHHELD)
    return _DELIMITER.sub(lambda m: m.group(0).replace("<", "‹"), text).strip()


_INLINE_KEY = re.compile(r"\s*\[((?:S\d+)(?:\s*,\s*S\d+)*)\]")


def split_inline_keys(text: str) -> tuple[str, list[str]]:
    """'... 300 mg [S3, S4].' -> ('... 300 mg.', ['S3', 'S4']): models often cite inline too."""
    keys = [k.strip() for group in _INLINE_KEY.findall(text) for k in group.split(",")]
    return _INLINE_KEY.sub("", text).strip(), keys


def _attr(text: str) -> str:
    return text.replace('"', "'").replace("<", "‹").replace(">", "›")
