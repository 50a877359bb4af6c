"""Source material for a model: chunks under opaque keys (S1, S2, ...), quoted and delimited.

The keys say nothing about the document (no ids, no case numbers), so a model cannot invent a
plausible one; unknown keys are caught by validation. Text inside a source is data: sentences that
address automated reviewers are withheld, and anything that looks like our delimiters is defused.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from rag.analysis import Analysis
from rag.models import Hit, flatten
from rag.safety import looks_like_instruction
from rag.sources import SourceDoc, text_sentences

WITHHELD = "[sentence withheld: it addresses automated reviewers]"
_DELIMITER = re.compile(r"</?\s*source\b", re.I)
_INLINE_KEY = re.compile(r"\s*\[((?:S\d+)(?:\s*,\s*S\d+)*)\]")


@dataclass(frozen=True)
class Source:
    key: str
    chunk_id: str
    doc_id: str
    kind: str
    title: str
    text: str


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
            f'<source key="{s.key}" kind="{s.kind}" title="{_attr(s.title)}">\n{s.text}\n</source>'
            for s in self.sources
        )


def build_sources(items: list[tuple[str, str, str, str, str]], budget_tokens: int) -> SourceSet:
    """Key (chunk_id, doc_id, kind, title, text) items in order until the token budget is spent.

    The first item is always kept; tokens are estimated at four characters each.
    """
    sources: list[Source] = []
    seen: set[str] = set()
    used = 0
    for chunk_id, doc_id, kind, title, text in items:
        if chunk_id in seen or not text.strip():
            continue
        clean = defuse(text)
        cost = len(clean) // 4 + 20
        if sources and used + cost > budget_tokens:
            continue
        used += cost
        seen.add(chunk_id)
        sources.append(Source(f"S{len(sources) + 1}", chunk_id, doc_id, kind, title, clean))
    return SourceSet(sources)


def defuse(text: str) -> str:
    """Withhold sentences addressed to automated reviewers; neutralise delimiter look-alikes."""
    for sentence in text_sentences(text):
        if looks_like_instruction(sentence):
            text = text.replace(sentence, WITHHELD)
    return _DELIMITER.sub(lambda m: m.group(0).replace("<", "‹"), text).strip()


def split_inline_keys(text: str) -> tuple[str, list[str]]:
    """'... 300 mg [S3, S4].' -> ('... 300 mg.', ['S3', 'S4']): models often cite inline too."""
    keys = [k.strip() for group in _INLINE_KEY.findall(text) for k in group.split(",")]
    return _INLINE_KEY.sub("", text).strip(), keys


def draft_items(hits: list[Hit], analysis: Analysis) -> list[tuple[str, str, str, str, str]]:
    """What a draft's model reads, most important first.

    The chunks the analysis decided on (criteria evidence, deciding criteria first; the request;
    the policy section; dose comparators), then the retrieved hits by fused score. Never a chunk
    of another case, whatever retrieval returned.
    """
    known = {
        cid: (cid, doc.doc_id, doc.kind, doc.title, doc.text[start:end])
        for doc in _docs(analysis)
        for start, end, cid, _ in doc.spans
    }
    ranked = sorted(hits, key=lambda h: -h.score)
    for hit in ranked:
        if hit.case_id in (None, analysis.case_id):
            known.setdefault(hit.chunk_id, (hit.chunk_id, hit.doc_id, hit.kind, hit.title, hit.text))
    deciding = {c.id for c in analysis.deciding}
    wanted = [
        e.chunk_id
        for c in sorted(flatten(analysis.criteria), key=lambda c: c.id not in deciding)
        for e in c.evidence
    ]
    wanted += analysis.request.source_chunk_ids
    if analysis.policy and analysis.policy.section:
        heading = analysis.policy.section.heading
        wanted += [cid for s, e, cid, _ in analysis.policy.doc.spans if s < heading.end and e > heading.start]
    wanted += [cid for comparator in analysis.dosing.comparators for cid in comparator.chunk_ids]
    wanted += [hit.chunk_id for hit in ranked]
    return [known[cid] for cid in wanted if cid in known]


def _docs(analysis: Analysis) -> list[SourceDoc]:
    docs = list(analysis.facts.docs)
    if analysis.policy:
        docs.append(analysis.policy.doc)
    if analysis.label_doc:
        docs.append(analysis.label_doc)
    return docs


def _attr(text: str) -> str:
    return text.replace('"', "'").replace("<", "‹").replace(">", "›")
