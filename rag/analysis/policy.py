"""Payer policies: find the drug's policy, the section for the indication, its criteria tree.

Policies are read the way payers write them: a heading per indication; criteria as a list
introduced by "all of the following" / "one of the following" (nesting allowed); dosing limits,
continuation criteria, "Not covered" lines, and an experimental/investigational list.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from ingest.chunking import parse_blocks
from rag.retrieval.passages import SourceDoc, units

_INTRO = re.compile(
    r"\b(?P<q>all|any|each|both|either|one|at least one|one or more|two or more|at least two)"
    r"\s+of\s+the\s+following\b",
    re.I,
)
_GENERIC_HEADING = re.compile(
    r"^\W*(?:\d+[.)]?\s*)?(policy|scope|background|definitions?|dosing|dose|quantity|continuation|"
    r"re-?authori[sz]ation|renewal|initial|coding|references?|summary|overview|appendix|"
    r"experimental|investigational|not covered|exclusions?|limitations?|general|approval|"
    r"applicable|description|clinical|documentation|coverage|criteria)\b",
    re.I,
)
_CONTINUATION = re.compile(r"continu|re-?authori|renewal|recertif", re.I)
_EXPERIMENTAL = re.compile(r"experimental|investigational|not (?:medically necessary|covered)", re.I)
_DOSING = re.compile(r"dos(?:e|ing)|quantity", re.I)
_MARKER = re.compile(r"^\s*(?:[-*+•▪◦]|\(?\d{1,3}[.)]|\(?[a-zA-Z][.)]|\(?[ivxIVX]{1,4}[.)])\s+")
_TRAILING = re.compile(r"(?:[;,]?\s*\b(?:and|or)\b\s*|[;,.]\s*)$", re.I)
_NOT_COVERED_LINE = re.compile(
    r"^\s*(?:\*\*)?(not covered|exclusions?|excluded)(?:\*\*)?\s*:\s*(?P<x>.+)$", re.I | re.M
)


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


@dataclass
class PolicySection:
    doc: SourceDoc
    heading: Heading
    score: float
    root: Node | None
    exclusions: list[Node]
    dosing: list[tuple[str, str]]  # (sentence, chunk id) of the dosing/quantity limits
    continuation: Node | None = None

    @property
    def title(self) -> str:
        return self.heading.title


@dataclass
class PolicyMatch:
    doc: SourceDoc
    section: PolicySection | None
    candidates: list[tuple[str, float]]
    experimental: list[tuple[str, str]]  # (item, chunk id) listing the indication as not covered


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


def indication_sections(doc: SourceDoc) -> list[Heading]:
    """Headings of indication sections: not generic, and holding a criteria list."""
    found = []
    for h in headings(doc):
        if _GENERIC_HEADING.match(h.title) or _EXPERIMENTAL.search(h.title):
            continue
        if _INTRO.search(doc.text[h.start : h.end]):
            found.append(h)
    # keep the innermost: the document title also "contains" every criteria list
    return [h for h in found if not any(o is not h and h.start < o.start < h.end for o in found)]


def _clean(text: str) -> str:
    text = _MARKER.sub("", text.strip())
    text = re.sub(r"\s+", " ", text.replace("**", ""))
    previous = None
    while previous != text:
        previous, text = text, _TRAILING.sub("", text).strip()
    return text


def _logic_of(text: str, default: str = "all") -> str:
    match = _INTRO.search(text)
    if not match:
        return default
    return "all" if match.group("q").lower() in ("all", "each", "both") else "any"


def parse_criteria(doc: SourceDoc, start: int, end: int, prefix: str = "") -> Node | None:
    """The criteria list introduced after `start` (first intro line), as a tree."""
    blocks = [b for b in parse_blocks(doc.text) if start <= b.start < end]
    intro_index = next(
        (i for i, b in enumerate(blocks) if b.kind != "item" and _INTRO.search(doc.text[b.start : b.end])),
        None,
    )
    if intro_index is None:
        return None
    intro = blocks[intro_index]
    items = []
    for block in blocks[intro_index + 1 :]:
        if block.kind != "item":
            break
        items.append(block)
    if not items:
        return None
    intro_text = _clean(doc.text[intro.start : intro.end])
    root = Node(
        prefix or "root",
        intro_text,
        _logic_of(intro_text),
        intro.start,
        items[-1].end,
        doc.chunk_at(intro.start, intro.end).chunk_id,
    )
    stack: list[tuple[int, Node]] = [(-1, root)]
    raw_text: dict[int, str] = {}
    for block in items:
        raw = doc.text[block.start : block.end]
        while stack and stack[-1][0] >= block.level:
            stack.pop()
        parent = stack[-1][1]
        node = Node(
            "", _clean(raw), "leaf", block.start, block.end, doc.chunk_at(block.start, block.end).chunk_id
        )
        raw_text[id(node)] = raw
        parent.children.append(node)
        stack.append((block.level, node))
    _finish(root, raw_text, prefix)
    return root


def _finish(node: Node, raw: dict[int, str], prefix: str, top: bool = True) -> None:
    """Number the children (1, 1.a, 1.a.1 ...), set their logic, fold option lists."""
    for i, child in enumerate(node.children, start=1):
        if top:
            child.id = f"{prefix}{i}"
        else:
            depth = node.id.count(".")
            child.id = f"{node.id}.{chr(96 + i) if depth % 2 == 0 else i}"
        if not child.children:
            continue
        ors = sum(1 for c in child.children if re.search(r"\bor\s*$", raw.get(id(c), "").strip()))
        child.logic = _logic_of(child.text, "any" if ors else "all")
        if _is_option_list(child):
            options = "; ".join(c.text for c in child.children)
            child.text = f"{child.text.rstrip(':')}: {options}"
            child.end = child.children[-1].end
            child.children, child.logic = [], "leaf"
        else:
            _finish(child, raw, prefix, top=False)


def _is_option_list(node: Node) -> bool:
    """Children that are bare options (drug or therapy names) belong to their parent's sentence."""
    return all(
        not c.children and len(c.text.split()) <= 8 and not re.search(r"\d", c.text) for c in node.children
    )


def _best_section(
    doc: SourceDoc, queries: list[str], embed
) -> tuple[Heading | None, list[tuple[str, float]]]:
    sections = indication_sections(doc)
    if not sections or not queries:
        return None, []
    titles = [re.sub(r"^\W*\d+[.)]?\s*", "", h.title) for h in sections]
    vectors = np.array(embed(titles + queries))
    sims = vectors[: len(titles)] @ vectors[len(titles) :].T
    scores = sims.max(axis=1)
    ranked = sorted(zip(titles, scores.tolist(), sections, strict=True), key=lambda t: -t[1])
    return ranked[0][2], [(t, round(s, 3)) for t, s, _ in ranked]


def select_section(doc: SourceDoc, queries: list[str], embed, min_similarity: float) -> PolicyMatch:
    """Best indication section for the queries; None when nothing reaches min_similarity."""
    best, candidates = _best_section(doc, queries, embed)
    experimental = experimental_items(doc, queries)
    if best is None or candidates[0][1] < min_similarity:
        return PolicyMatch(doc, None, candidates, experimental)
    if experimental and not names_indication(doc.text[best.start : best.end], queries):
        # The policy lists the indication as not covered and the nearest section never names
        # it: judging the request by another indication's criteria would be wrong.
        return PolicyMatch(doc, None, candidates, experimental)
    return PolicyMatch(doc, build_section(doc, best, candidates[0][1]), candidates, experimental)


def build_section(doc: SourceDoc, heading: Heading, score: float) -> PolicySection:
    subs = [h for h in headings(doc) if heading.start < h.start < heading.end]
    continuation = [h for h in subs if _CONTINUATION.search(h.title)]
    stop = min([h.start for h in continuation], default=heading.end)
    initial = next((h for h in subs if re.search(r"initial", h.title, re.I)), None)
    start = initial.start if initial else heading.start
    root = parse_criteria(doc, start, initial.end if initial else stop)
    cont = parse_criteria(doc, continuation[0].start, continuation[0].end, "C") if continuation else None
    exclusions = []
    body = doc.text[heading.start : heading.end]
    for i, match in enumerate(_NOT_COVERED_LINE.finditer(body), start=1):
        s = heading.start + match.start()
        exclusions.append(
            Node(
                f"X{i}",
                _clean(match.group(0)),
                "leaf",
                s,
                heading.start + match.end(),
                doc.chunk_at(s).chunk_id,
                kind="exclusion",
            )
        )
    dosing_heads = [h for h in subs if _DOSING.search(h.title)]
    dosing = []
    for h in dosing_heads:
        for start, end in units(doc.text):
            if h.start < start < h.end:
                dosing.append((_clean(doc.text[start:end]), doc.chunk_at(start, end).chunk_id))
    return PolicySection(doc, heading, score, root, exclusions, dosing, cont)


def experimental_items(doc: SourceDoc, queries: list[str]) -> list[tuple[str, str]]:
    """Items of experimental / not-covered lists that name the indication (lexically: an
    embedding cannot see the 'without' in 'arthritis without psoriatic arthritis')."""
    items: list[tuple[str, str]] = []
    for h in headings(doc):
        if not _EXPERIMENTAL.search(h.title):
            continue
        for block in parse_blocks(doc.text[h.start : h.end]):
            if block.kind == "item":
                s = h.start + block.start
                items.append((_clean(doc.text[s : h.start + block.end]), doc.chunk_at(s).chunk_id))
    return [(item, chunk_id) for item, chunk_id in items if names_indication(item, queries)]


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
