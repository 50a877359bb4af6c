"""One criteria tree from an outline block: its items nested, or the clauses of its sentence.

Branch logic comes from the sentence that introduces a list ("ALL of the following", "ONE of the
following", "TWO of the following") or from the connectors between items ("; and", "; or"); a
leaf is typed by `rag.analysis.leaves`. An option of a list reads with the sentence that
introduces it; "Approve ... if the patient is ≥ 2 years of age, has tried ... and ..." is split
into one requirement per clause.
"""

from __future__ import annotations

import re
from contextvars import ContextVar

from rag.analysis.criteria import Node
from rag.analysis.layout import Block
from rag.analysis.leaves import read_leaf

_ALL = re.compile(r"\ball of the following|\bALL\b|\beach of the following|\bboth\b", re.I)


_ANY = re.compile(r"\b(?:one|any|either) of the following|\bat least one\b|\beither\b|\bany of\b", re.I)


_ANY_CAPS = re.compile(r"\bONE\b|\bANY\b|\bEITHER\b")


_N_OF = re.compile(r"\b(two|three|four|2|3|4)\b (?:or more )?of the following", re.I)


_CONNECTOR = re.compile(r"[;,]?\s*\b(?:and|or|AND|OR)\s*$|[;,]\s*$")


INTRO_CONDITION = re.compile(
    r"\b(?:if|when|(?:for|in) (?:members|patients|individuals)(?: who)?)\b\s+"
    r"(?:the (?:patient|member|individual)\s+)?",
    re.I,
)


_WITH_DIAGNOSIS = re.compile(
    r"\bwith (?:a )?(?:confirmed )?(?:diagnosis of )?(?P<name>(?:moderate|severe|active|chronic)[^;.]+)", re.I
)


_POPULATION = re.compile(r"(?:adults?|pediatric|children|adolescents?|members? (?:aged?|\d))\b", re.I)


_NUMBER = {"two": 2, "three": 3, "four": 4, "2": 2, "3": 3, "4": 4}


_APPROVAL = re.compile(
    r"^(?:initial )?(?:authorization|approval|reauthorization|re-?approval)(?: duration)?"
    r"(?: is| of| for|:)|^(?:initial |reauthorization )?approval:|authorization is for no more than|"
    r"is for no more than \d+ months",
    re.I,
)


_APPROVAL_SENTENCE = re.compile(
    r"\b(?:approv\w*|authori[sz]ation|may be granted|medically necessary)\b", re.I
)


DRUGS: ContextVar[tuple[str, ...]] = ContextVar("policy_drugs", default=())


def label(block: Block) -> str:
    """The title-like head of an item: text up to the first '. ' or the end of its first line."""
    text = block.head or block.text
    m = re.match(r"(.+?[a-z)\]])\.\s+[A-Z]", text)
    label = m.group(1) if m else text
    return label.strip().rstrip(".:")


def tree(block: Block, locate, *, drop_label: bool, prefix: str = "", position: int = 1) -> Node | None:
    """The criteria under a block: its items, or the clauses of its own sentence."""
    items = [c for c in block.children if c.kind in ("item", "intro")]
    page, chunk_id = locate(block.start, block.end)
    own = block.marker if block.marker and not block.style.startswith("bullet") else str(position)
    ident = f"{prefix}{own}" if block.kind == "item" else (prefix.rstrip(".") or "1")
    text = strip_connector(block.text)
    if drop_label and block.kind == "item":
        text = text[len(label(block)) :].lstrip(" .:") or text
    notes = [n.text for n in block.notes]
    if not items:
        clauses = _clauses(text) if _APPROVAL_SENTENCE.search(text) else _inline_options(text)
        if len(clauses) > 1:
            children = [leaf(f"{ident}.{i}", clause, page, chunk_id) for i, clause in enumerate(clauses, 1)]
            return Node(
                id=ident,
                text=text,
                logic=_logic(text, children),
                n=_n(text),
                children=children,
                page=page,
                chunk_id=chunk_id,
                notes=notes,
            )
        if not text or (_APPROVAL.search(text) and not INTRO_CONDITION.search(text)):
            return None  # 'Initial approval: 6 months' is how long, not what is required
        return leaf(ident, clauses[0] if clauses else text, page, chunk_id, notes)
    children = []
    for i, child in enumerate(items, 1):
        node = tree(
            child, locate, drop_label=False, prefix=f"{ident}." if block.kind == "item" else "", position=i
        )
        if node is not None:
            children.append(in_context(node, text))
    if not children:
        return None
    logic = _logic(text, children, items)
    if all(_POPULATION.match(c.text) for c in children) and len(children) > 1:
        logic = "any"  # 'Adults ...' and 'Pediatric members, age 6 to 17 ...': one applies
    return Node(
        id=ident,
        text=text,
        logic=logic,
        n=_n(text),
        children=children,
        page=page,
        chunk_id=chunk_id,
        notes=notes,
    )


def in_context(node: Node, parent_text: str) -> Node:
    """An option of a list reads with the sentence that introduces it: under 'Inadequate response
    to at least 28 days of one of the following:', 'crisaborole' is a prior-therapy requirement."""
    if node.logic != "leaf" or (node.leaf and node.leaf.type != "free_text"):
        return node
    if not re.search(r"of the following|:\s*$", parent_text, re.I):
        return node
    pattern = r"\b(?:at least )?(?:one|any|all|each|two|both) of the following,?"
    intro = re.sub(pattern, "", parent_text, flags=re.I).strip()
    leaf = read_leaf(f"{intro} {node.text}", drugs=DRUGS.get())
    if leaf.type not in ("prior_therapy", "concurrent_use", "test_result"):
        return node
    return node.model_copy(update={"leaf": leaf, "context": intro})


def leaf(
    ident: str, text: str, page, chunk_id, notes: list[str] | None = None, *, exclusion: bool = False
) -> Node:
    text = strip_connector(text)
    leaf = read_leaf(text, exclusion=exclusion, drugs=DRUGS.get())
    if leaf.type == "age" and (m := _WITH_DIAGNOSIS.search(text)):
        # 'Individual is ≥ 18 years of age with a diagnosis of moderately to severely active RA'
        age = Node(
            id=f"{ident}.1",
            text=text[: m.start()].strip(" ,;"),
            logic="leaf",
            leaf=leaf,
            page=page,
            chunk_id=chunk_id,
        )
        diagnosis_text = f"Diagnosis of {m.group('name').strip(' ,;')}"
        diagnosis = Node(
            id=f"{ident}.2",
            text=diagnosis_text[0].upper() + diagnosis_text[1:],
            logic="leaf",
            leaf=read_leaf(f"Diagnosis of {m.group('name')}"),
            page=page,
            chunk_id=chunk_id,
        )
        return Node(
            id=ident,
            text=text,
            logic="all",
            children=[age, diagnosis],
            page=page,
            chunk_id=chunk_id,
            notes=notes or [],
        )
    return Node(id=ident, text=text, logic="leaf", leaf=leaf, page=page, chunk_id=chunk_id, notes=notes or [])


def strip_connector(text: str) -> str:
    previous = None
    while previous != text:
        previous = text
        text = _CONNECTOR.sub("", text).strip()
    return re.sub(r"^(?:and|or)\s+", "", text, flags=re.I)


def _logic(text: str, children: list[Node], items: list[Block] | None = None) -> str:
    head = re.split(r"(?<=following)", text, maxsplit=1)[0] if "following" in text else text
    if _N_OF.search(head):
        return "at_least"
    if re.search(r"\bALL\b|\ball of the following|each of the following", head):
        return "all"
    if _ANY.search(head) or _ANY_CAPS.search(head):
        return "any"
    if items:
        ends = [re.search(r"\b(and|or)\s*$", b.text, re.I) for b in items[:-1]]
        words = [m.group(1).lower() for m in ends if m]
        if words and words.count("or") > words.count("and"):
            return "any"
    return "all"


def _n(text: str) -> int | None:
    m = _N_OF.search(text)
    return _NUMBER[m.group(1).lower()] if m else None


_INLINE_LIST = re.compile(
    r"\b(?:at least )?(?:one|any|either|two|three|all|both) of the following\s*:\s*(?P<list>.+)$", re.I
)


def _inline_options(text: str) -> list[str]:
    """'Disease activity is documented by at least ONE of the following: CDAI ≥ 220; HBI ≥ 7; or
    endoscopic evidence ...' -> the options, each one requirement; else the text itself. Options
    are split at ';' outside brackets (at ', or' only when there is no ';')."""
    m = _INLINE_LIST.search(text)
    if not m:
        return [text] if text else []
    listed = m.group("list")
    parts = (
        _split_outside_brackets(listed, ";")
        if ";" in _outside_brackets(listed)
        else _split_outside_brackets(listed, ", or ")
    )
    parts = [re.sub(r"^(?:or|and)\s+", "", p.strip(" .;"), flags=re.I) for p in parts]
    parts = [p for p in parts if len(p) > 2]
    return parts if len(parts) > 1 else [text]


def _outside_brackets(text: str) -> str:
    """The text with everything inside (), [] and {} blanked out."""
    out, depth = [], 0
    for ch in text:
        depth += ch in "([{"
        out.append(ch if depth == 0 else " ")
        depth -= ch in ")]}" and depth > 0
    return "".join(out)


def _split_outside_brackets(text: str, separator: str) -> list[str]:
    shadow = _outside_brackets(text).lower()
    parts, start = [], 0
    for m in re.finditer(re.escape(separator.lower()), shadow):
        parts.append(text[start : m.start()])
        start = m.end()
    parts.append(text[start:])
    return parts


def _clauses(text: str) -> list[str]:
    """'Approve ... if the patient is ≥ 2 years of age, has tried X, and the medication is
    prescribed by ...' -> the requirements, one each. A criterion that is not such a sentence is
    one requirement; a sentence ending in 'ONE of the following: a; b; or c' gives a, b and c."""
    m = INTRO_CONDITION.search(text)
    if not m or not _APPROVAL_SENTENCE.search(text[: m.start()]):
        return [text] if text else []
    body = text[m.end() :]
    body = re.split(r"(?<=\.)\s+(?:Continuation|Reauthorization)\b", body)[0]
    if listed := re.search(r"\bof the following:\s*(.+)$", body):
        parts = re.split(r";\s*(?:or\s+|and\s+)?", listed.group(1))
    else:
        parts = re.split(
            r";\s*(?:and\s+)?|,?\s+when\s+(?=prescribed)|\s+and\s+(?=not\s+used)|\s+who\s+(?=have|has)"
            r"|,\s+(?:and\s+)?(?=(?:has|is|was|the|had|must|receives?|will)\b)"
            r"|\s+and\s+(?=the\b|has\b|is\b)",
            body,
        )
    out = []
    for part in parts:
        part = part.strip().rstrip(".")
        if not part:
            continue
        if re.match(r"(?:is|has|had|was|will|receives?)\b", part):
            part = f"Patient {part}"
        out.append(part[0].upper() + part[1:])
    return out
