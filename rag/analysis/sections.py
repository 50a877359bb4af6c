"""The parts of a policy beside the criteria trees: experimental uses, policy-wide exclusions,
prescriber specialties listed per indication, preferred products, and cross-references between
criteria ("TB screening as in I.A.3")."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from rag.analysis import clauses
from rag.analysis.criteria import Indication, Node, PolicyCriteria, Product
from rag.analysis.layout import Block
from rag.analysis.leaves import read_leaf

if TYPE_CHECKING:
    from rag.analysis.compile import _Context


def section_items(block: Block, ctx: _Context, policy: PolicyCriteria, locate) -> None:
    text = block.text[len(clauses.label(block)) :].strip(" .:")
    if text:
        section_block(Block("text", text, block.start, block.end), ctx, policy, locate)
    for child in block.children:
        section_block(child, ctx, policy, locate)


def section_block(block: Block, ctx: _Context, policy: PolicyCriteria, locate) -> None:
    items = [block] if block.kind == "item" else [c for c in block.children if c.kind == "item"]
    if block.kind == "text":
        if ctx.role == "experimental":
            policy.experimental += _experimental_names(block.text)
        return
    for item in items:
        page, chunk_id = locate(item.start, item.end)
        text = clauses.strip_connector(item.text)
        if _CATCH_ALL.search(text):
            continue  # 'When the above criteria are not met and for all other indications'
        label = clauses.label(item)
        if ctx.role == "experimental" and _is_condition_name(label) and not _COMBINATION.search(text):
            policy.experimental.append(label)
        elif ctx.role in ("experimental", "exclusions"):
            # 'Concomitant use with another biologic', 'Repeat courses at intervals of less than 16
            # weeks', 'active serious infection': exclusions the record is checked against
            policy.exclusions.append(
                clauses.leaf(f"X{len(policy.exclusions) + 1}", text, page, chunk_id, exclusion=True)
            )
        elif ctx.role == "specialty":
            ctx.specialty_lines.append((text, page, chunk_id))


_CATCH_ALL = re.compile(r"above criteria are not met|for all other (?:indications|uses)", re.I)


_COMBINATION = re.compile(r"in combination|concomitant", re.I)


def _is_condition_name(label: str) -> bool:
    """'Atopic dermatitis', 'Ankylosing Spondylitis': a use, not a sentence about the patient."""
    words = label.split()
    return len(words) <= 18 and not re.search(
        r"\b(?:is|are|has|have|had|given|when|if|individual|member|patient|intervals?)\b", label, re.I
    )


def _experimental_names(text: str) -> list[str]:
    m = re.search(r"(?:including|for|following)[^:]*:\s*(.+)$", text)
    if not m:
        return []
    return [p.strip(" .") for p in re.split(r";|,\s*(?:and\s+)?|\band\b", m.group(1)) if len(p.strip()) > 3]


def specialty_line(policy: PolicyCriteria, text: str, page, chunk_id) -> None:
    """'Plaque psoriasis: a dermatologist' -> a specialty requirement of that indication."""
    if ":" not in text:
        return
    names, who = text.split(":", 1)
    requirement = f"Prescribed by or in consultation with {who.strip()}"
    for part in re.split(r",|\band\b", names):
        for indication in policy.indications:
            if part.strip() and same_indication(indication.name, part.strip()):
                node = Node(
                    id="S",
                    text=requirement,
                    logic="leaf",
                    leaf=read_leaf(requirement),
                    page=page,
                    chunk_id=chunk_id,
                )
                add_requirement(indication, node)


_PREFERRED = re.compile(
    r"((?:[A-Z][\w-]+)(?:,? (?:and|or) [A-Z][\w-]+|, [A-Z][\w-]+)*) (?:is|are) the preferred\b"
)


_PAIR = re.compile(r"\b([A-Z][a-z]{3,})\s*\(([a-z]+(?:-[a-z]{4})?)\)")


def products(policy: PolicyCriteria, text: str, blocks: list[Block], locate) -> None:
    """'Ruxience and Truxima are the preferred agents ... Requests for a non-preferred agent
    (Rituxan, Riabni) ...': a requirement on every indication that only preferred products meet
    outright. Brand and nonproprietary names are paired from the policy's own text."""
    pairs = _PAIR.findall(text)
    preferred = [n for m in _PREFERRED.findall(text) for n in re.split(r",\s*|\s+(?:and|or)\s+", m)]
    heading = next((b.text for b in blocks if b.kind == "heading"), "")
    section = " ".join(b.text for b in blocks if b.kind != "heading")
    names_in_heading = [
        n for group in re.findall(r"\(([^)]+)\)", heading) for n in re.split(r",|\band\b", group)
    ]
    non_preferred = [
        n.strip() for n in names_in_heading if n.strip()[:1].isupper() and n.strip() not in preferred
    ]

    def with_pairs(names: list[str]) -> list[str]:
        out = list(names)
        for brand, generic in pairs:
            if brand in names and generic not in out:
                out.append(generic)
        return out

    if not preferred and not non_preferred:
        return
    page, chunk_id = locate(blocks[0].start, blocks[0].end) if blocks else (None, None)
    requirement = (
        f"The requested product is a preferred agent ({', '.join(preferred)}), or: {section}".strip()
    )
    node = Node(
        id="PR",
        text=requirement,
        logic="leaf",
        leaf=Product(preferred=with_pairs(preferred), non_preferred=with_pairs(non_preferred)),
        page=page,
        chunk_id=chunk_id,
    )
    for indication in policy.indications:
        add_requirement(indication, node)


_REFERENCE = re.compile(
    r"\b(?:as (?:in|described (?:in|for))|requirements? (?:in|of)|see)\s+(?:criterion\s+)?"
    r"(?P<ref>(?:[IVX]+\.)?(?:[A-Z]\.)?\d+(?:\.[A-Za-z0-9]+)*|[A-Z]\.\d+|[ivx]+)?\s*(?P<where>[A-Z][A-Za-z-]{1,9})?",
)


def resolve_references(policy: PolicyCriteria) -> None:
    """'Screened for TB as in 1.A.iv', 'TB screening requirements in I.A.3 are met', 'as
    described for PsA': the referring leaf takes the parameters of the criterion it points to."""
    nodes = [
        (indication, node)
        for indication in policy.indications
        for tree in (indication.initial, indication.continuation)
        if tree
        for node in tree.walk()
        if node.leaf is not None
    ]
    for indication, node in nodes:
        m = _REFERENCE.search(node.text)
        if not m or not (m.group("ref") or m.group("where")):
            continue
        ref, where = m.group("ref"), m.group("where")
        wanted = node.leaf.type
        candidates = [
            (i, n)
            for i, n in nodes
            if n is not node
            and (wanted == "free_text" or n.leaf.type == wanted)
            and n.leaf.type != "free_text"
            and (not ref or _id_matches(n.id, ref))
            and (not where or i is indication or where.lower() in i.name.lower() or f"({where})" in i.name)
        ]
        if wanted != "free_text" and not ref:
            candidates = [c for c in candidates if c[0] is not indication]
        if candidates:
            node.leaf = candidates[0][1].leaf.model_copy(deep=True)


def _id_matches(node_id: str, ref: str) -> bool:
    """'A.iv' answers '1.A.iv'; 'A.3' answers 'I.A.3'; 'V' answers 'V'."""
    parts = ref.split(".")
    return any(node_id == ".".join(parts[i:]) for i in range(len(parts)))


def add_requirement(indication: Indication, node: Node) -> None:
    if indication.initial is None:
        indication.initial = Node(id="1", text="All of the following", logic="all", children=[node])
    elif indication.initial.logic == "all":
        if not any(c.leaf and c.leaf.type == node.leaf.type for c in indication.initial.children):
            indication.initial.children.append(node)
    else:
        indication.initial = Node(
            id=indication.initial.id,
            text="All of the following",
            logic="all",
            children=[indication.initial, node],
        )


def same_indication(a: str, b: str) -> bool:
    def key(text: str) -> set[str]:
        words = re.findall(r"[a-z][a-z'-]+", re.sub(r"\([^)]*\)", "", text.lower()))
        return {w for w in words if w not in {"and", "the", "of", "with", "for", "in"}}

    ka, kb = key(a), key(b)
    abbreviations = set(re.findall(r"\(([A-Za-z-]{2,8})\)", a)) | set(re.findall(r"\b[A-Z]{2,6}\b", a))
    if abbreviations & set(re.findall(r"\b[A-Za-z-]{2,8}\b", b)) and len(kb) <= 2:
        return True
    return bool(ka and kb) and (ka <= kb or kb <= ka)
