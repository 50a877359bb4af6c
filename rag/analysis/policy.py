"""Payer policies by name: the drug's policy documents, whether a text names an indication, a
policy's Markdown headings, and the text form of a criterion the evaluators read.

What a policy requires is compiled into typed criteria by `rag.analysis.compile`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ingest.chunking import parse_blocks
from rag.retrieval.passages import SourceDoc


@dataclass
class Heading:
    level: int
    title: str
    start: int
    end: int  # end of the subtree


@dataclass
class Node:
    """A criterion as written in the policy, before it is checked."""

    id: str
    text: str
    logic: str  # all | any | leaf
    start: int
    end: int
    chunk_id: str
    children: list[Node] = field(default_factory=list)
    kind: str = "requirement"


def headings(doc: SourceDoc) -> list[Heading]:
    blocks = [b for b in parse_blocks(doc.text) if b.kind == "heading"]
    out = []
    for i, block in enumerate(blocks):
        end = len(doc.text)
        for later in blocks[i + 1 :]:
            if later.level <= block.level:
                end = later.start
                break
        out.append(Heading(block.level, block.title.strip(), block.start, end))
    return out


_EXCEPT = re.compile(r"\b(?:without|other than|except|excluding|not including|unless)\b[^.;]{0,40}$", re.I)


def names_indication(text: str, indications: list[str]) -> str | None:
    """The indication phrase that text names, if any.

    The core phrase ('inflammatory demyelinating polyneuropathy') only counts when the text does
    not qualify it differently ('acute ...' is not the requested 'chronic ...') and does not
    exclude it ('... without psoriatic arthritis').
    """
    for indication in indications:
        core = core_phrase(indication)
        for phrase in dict.fromkeys([indication, core if len(core.split()) >= 2 else ""]):
            if not phrase or len(phrase) < 4:
                continue
            for m in re.finditer(rf"\b{re.escape(phrase)}\b", text, re.I):
                before = text[: m.start()]
                if _EXCEPT.search(before):
                    continue
                prev = re.findall(r"[A-Za-z-]+", before)[-1:] or [""]
                if _QUALIFIERS.fullmatch(prev[0] + " ") and prev[0].lower() not in indication.lower():
                    continue
                return phrase
    return None


_QUALIFIERS = re.compile(
    r"\b(?:moderate|severe|mild|moderate-to-severe|moderate to severe|chronic|acute|refractory|"
    r"idiopathic|recurrent|persistent|uncontrolled|active|primary|secondary|adult|pediatric|"
    r"corticosteroid-dependent|steroid-dependent|new|established|known)\b[\s,-]*",
    re.I,
)


def core_phrase(text: str) -> str:
    """The disease named without severity/course qualifiers ('eosinophilic gastritis')."""
    core = _QUALIFIERS.sub("", text)
    core = re.split(r"\s+(?:with|who|after|despite|and|of the)\b|,|\(", core)[0]
    core = core.strip(" -")
    return core if len(core.split()) >= 1 and len(core) > 3 else ""


def find_policy_docs(catalogue: list[dict], names: list[str]) -> list[str]:
    """Ids of policy documents whose title or opening names the drug (or an alias)."""
    found = []
    for meta in catalogue:
        haystack = f"{meta.get('title', '')} {meta.get('first_text', '')[:600]}"
        if any(re.search(rf"(?<![\w-]){re.escape(n)}(?![\w-])", haystack, re.I) for n in names if n):
            found.append(meta["doc_id"])
    return found
