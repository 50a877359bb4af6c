"""Compile a policy's outline into `PolicyCriteria`: indications, initial and continuation trees,
typed leaves, dose limits, policy-wide exclusions and the experimental list.

It reads the roles of sections from their headings (initial approval, continuation, dosage and
quantity limits, experimental or not covered, exclusions, prescriber specialties), and skips what
is never a criterion (background, references, coding tables, history, instructions, overviews).
Two common organisations are both read: indication first (each indication with its initial and
continuation parts) and phase first (an initial section listing indications, then a continuation
section listing them again). Each criteria tree is built by `rag.analysis.clauses`; dosing tables
by `rag.analysis.quantity`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from rag.analysis import clauses, lexicon, sections
from rag.analysis.criteria import DoseLimitLeaf, Indication, Node, PolicyCriteria
from rag.analysis.layout import Block, outline
from rag.analysis.quantity import read_limits

ROLES: list[tuple[str, re.Pattern]] = [
    (
        "ignore",
        re.compile(
            r"^(?:background|references?|coding|codes?\b|applicable codes|hcpcs|icd-?10|cpt|"
            r"(?:policy |document )?(?:history|revision)|instructions? for use|overview|scope|"
            r"table of contents|benefit considerations?|clinical evidence|u\.?s\.? food|fda|"
            r"appendix|documentation\b|related|definitions?|summary|description|policy number|"
            r"effective|subject|status|publish|last review|next review|lines of business|policy type|"
            r"document #|fda-approved indications?)",
            re.I,
        ),
    ),
    ("continuation", re.compile(r"continu|re-?authori[sz]|renewal|currently receiving|repeat course", re.I)),
    ("initial", re.compile(r"\binitial\b|new start", re.I)),
    ("dosing", re.compile(r"dos(?:age|ing)\b|quantity limits?", re.I)),
    ("experimental", re.compile(r"experimental|investigational|not covered|not approved|unproven", re.I)),
    ("exclusions", re.compile(r"exclusions?|limitations?", re.I)),
    ("specialty", re.compile(r"prescriber specialt", re.I)),
    ("products", re.compile(r"\b(?:non-?)?preferred (?:agents?|products?|biosimilars?)\b", re.I)),
    (
        "criteria",
        re.compile(r"criteria|coverage rationale|medical necessity|clinical criteria|policy\b", re.I),
    ),
]


@dataclass
class _Context:
    role: str = "preamble"  # nothing is a criterion before the first criteria heading
    role_level: int = 0
    indication: Indication | None = None
    indication_level: int = 0
    dosing_owners: dict[int, Indication] = field(default_factory=dict)  # section start -> indication
    specialty_lines: list[tuple[str, int | None, str | None]] = field(default_factory=list)
    products: list[Block] = field(default_factory=list)  # the 'Non-preferred agents' section


def role_of(title: str) -> str | None:
    clean = re.sub(r"^[\W\d]*(?:(?:[IVX]+|[A-Z])[.)]\s+)?", "", title.strip()) or title
    for role, pattern in ROLES:
        if pattern.search(clean if role == "ignore" else title):
            if role == "ignore" and not pattern.match(clean):
                continue
            return role
    return None


def compile_policy(doc_id: str, title: str, text: str, *, pages: int = 0, locate=None) -> PolicyCriteria:
    """The whole policy as data. `locate(start, end) -> (page, chunk_id)` ties nodes to sources."""
    locate = locate or (lambda start, end: (None, None))
    policy = PolicyCriteria(doc_id=doc_id, title=title, drugs=lexicon.drug_names(title))
    clauses.DRUGS.set(tuple(policy.drugs))
    ctx = _Context()
    blocks = outline(text, pages)
    for block in blocks:
        _visit(block, ctx, policy, locate)
    for line, page, chunk_id in ctx.specialty_lines:
        sections.specialty_line(policy, line, page, chunk_id)
    if ctx.products:
        sections.products(policy, text, ctx.products, locate)
    sections.resolve_references(policy)
    spans = [(start, end, ctx.dosing_owners.get(start)) for start, end in _role_spans(blocks, "dosing", text)]
    read_limits(policy, text, spans, pages, locate)
    for indication in policy.indications:  # 'Dose does not exceed the limits in the table'
        for tree in (indication.initial, indication.continuation):
            for node in tree.walk() if tree else []:
                if isinstance(node.leaf, DoseLimitLeaf) and not node.leaf.limits:
                    node.leaf.limits = list(indication.dose_limits)
    return policy


def _visit(block: Block, ctx: _Context, policy: PolicyCriteria, locate) -> None:
    head = block.head or block.title
    role = role_of(head) if block.kind in ("heading", "item") else None
    level = block.level if block.kind == "heading" else 1
    if block.kind == "heading" or (block.kind == "item" and block.style.startswith("roman_upper") and role):
        if role:
            _enter_role(ctx, role, level, block)
            if role == "products":
                ctx.products.append(block)
            if role in ("criteria", "initial", "continuation") and block.kind == "item":
                for child in block.children:
                    _visit(child, ctx, policy, locate)
            elif role in ("experimental", "exclusions", "specialty") and block.kind == "item":
                sections.section_items(block, ctx, policy, locate)
            return
        explicit_sibling = block.explicit and ctx.indication is not None and level <= ctx.indication_level
        if block.kind == "heading" and (
            ctx.role in ("criteria", "initial", "continuation", "initial_part") or explicit_sibling
        ):
            if explicit_sibling:
                ctx.role = "criteria"
            ctx.indication = _indication(policy, block.text, ctx, locate, block)
            ctx.indication_level = level
            return
        return
    if ctx.role in ("ignore", "dosing", "preamble"):
        return
    if ctx.role in ("experimental", "exclusions", "specialty"):
        sections.section_block(block, ctx, policy, locate)
        return
    if ctx.role == "products":
        ctx.products.append(block)
        return
    # criteria, initial or continuation context
    if block.kind == "intro" and ctx.indication is None:
        # 'Tezspire is proven and medically necessary for the treatment of severe asthma when all
        # of the following criteria are met:' names the indication in the sentence itself
        if m := _INDICATION_IN_SENTENCE.search(block.text):
            ctx.indication = _indication(policy, m.group("name"), ctx, locate, block)
            ctx.indication_level = 99
            _visit(block, ctx, policy, locate)
            return
        for child in block.children:  # a list of indications under 'when the following are met:'
            _visit(child, ctx, policy, locate)
        return
    if block.kind == "text" and (m := _UNPROVEN.search(block.text)):
        # 'Tezspire is unproven and not medically necessary for COPD and for CRSwNP.'
        parts = re.split(r",|\band (?:for )?|\bor (?:for )?", m.group("what"))
        policy.experimental += [p.strip(" .") for p in parts if len(p.strip(" .")) > 3]
        return
    if block.kind == "text" and _CONTINUATION_FOR_ALL.match(block.text):
        # 'Continuation: approve for 1 year for each condition above if ... a documented response'
        tree = clauses.tree(block, locate, drop_label=True)
        for indication in policy.indications:
            if indication.continuation is None:
                _set_phase(indication, "continuation", tree)
        return
    if block.kind == "item" and _is_indication_item(block):
        indication = _indication(policy, clauses.label(block), ctx, locate, block)
        if not _split_phases(block, indication, locate):
            tree = clauses.tree(block, locate, drop_label=True)
            _set_phase(indication, "continuation" if ctx.role == "continuation" else "initial", tree)
        return
    if block.kind in ("intro", "item", "text") and ctx.indication is not None:
        if _split_phases(block, ctx.indication, locate):
            return
        phase_role = role_of(clauses.label(block)) if block.kind == "item" else None
        if phase_role in ("initial", "continuation"):
            _set_phase(ctx.indication, phase_role, clauses.tree(block, locate, drop_label=True))
            return
        phase = "continuation" if ctx.role == "continuation" else "initial"
        if block.kind == "text" and (m := _NOT_COVERED.match(block.text)):
            # 'Not covered: mast cell activation syndrome ... without ...' inside a section
            page, chunk_id = locate(block.start, block.end)
            ident = f"X{len(ctx.indication.exclusions) + 1}"
            node = clauses.leaf(ident, m.group("what"), page, chunk_id, exclusion=True)
            ctx.indication.exclusions.append(node.model_copy(update={"text": block.text}))
            return
        if block.kind == "text" and not clauses.INTRO_CONDITION.search(block.text):
            return
        existing = ctx.indication.continuation if phase == "continuation" else ctx.indication.initial
        if block.kind == "intro" and existing is not None and _DEFINITIONS.search(block.text):
            # 'Diagnostic criteria for criterion 1 (...):' defines terms; it is not another request
            existing.notes.append(" ".join([block.text, *(c.text for c in block.children)]))
            return
        tree = clauses.tree(block, locate, drop_label=block.kind != "item")
        if block.kind == "intro" and re.search(r"maintenance|repeat|continu|reauthori", block.text, re.I):
            phase = "continuation" if ctx.role == "continuation" else phase
        _set_phase(ctx.indication, phase, tree)


_INDICATION_IN_SENTENCE = re.compile(
    r"\bmedically necessary for (?:the )?"
    r"(?:(?:add-on )?(?:maintenance )?treatment of |members with |patients with )?"
    r"(?P<name>[^,;:]{4,80}?)\s+(?:when|if|in (?:patients|members|individuals))\b",
    re.I,
)
_UNPROVEN = re.compile(
    r"\b(?:is|are)\s+(?:unproven|experimental|investigational)\b[^.]*?\bfor\s+(?P<what>[^.]+)", re.I
)
_CONTINUATION_FOR_ALL = re.compile(
    r"^(?:continuation|reauthori[sz]ation|renewal)\b.*\b(?:each|every|all) (?:condition|indication)s?\b", re.I
)
_NOT_COVERED = re.compile(r"^\s*(?:not covered|exclusions?|excluded|limitations?)\s*:\s*(?P<what>.+)$", re.I)
_DEFINITIONS = re.compile(r"\bfor criterion\b|\bdefinitions?\b|\bas defined\b|\bdiagnostic criteria\b", re.I)


def _split_phases(block: Block, indication: Indication, locate) -> bool:
    """Children labelled 'For initial therapy' / 'For continuation of therapy' (or 'A) Initial
    Therapy', 'B) Patient is Currently Receiving ...') become the indication's two trees."""
    phases = [c for c in block.children if c.kind == "item" and _phase_of(c)]
    for child in phases:
        _set_phase(indication, _phase_of(child), clauses.tree(child, locate, drop_label=True))
    return bool(phases)


_PHASE_LABEL = re.compile(
    r"^(?:for\s+)?(?:(?P<i>initial|new start)|(?P<c>continuation|re-?authori[sz]ation|renewal|"
    r"(?:patient|member|individual)s? (?:is |are )?currently receiving))\b",
    re.I,
)


def _phase_of(block: Block) -> str | None:
    """'For initial therapy, all of the following:', 'B) Patient is Currently Receiving ...'."""
    label = clauses.label(block)
    m = _PHASE_LABEL.match(label)
    if not m or len(label.split()) > 12:
        return None
    return "initial" if m.group("i") else "continuation"


def _enter_role(ctx: _Context, role: str, level: int, block: Block) -> None:
    if (
        role == "initial"
        and ctx.indication is not None
        and level > ctx.indication_level
        and ctx.role != "initial"
    ):
        ctx.role = "initial_part"  # '### Initial authorization' under '## 1. Asthma'
        return
    if (
        role in ("continuation", "initial", "dosing")
        and ctx.indication is not None
        and level > ctx.indication_level
    ):
        ctx.role = {"initial": "initial", "continuation": "continuation", "dosing": "dosing"}[role]
        if role == "dosing":
            ctx.dosing_owners[block.start] = ctx.indication
        ctx.role_level = level
        return
    ctx.role, ctx.role_level = role, level
    if role not in ("initial", "continuation", "criteria"):
        return
    ctx.indication = None
    ctx.indication_level = level


def _is_indication_item(block: Block) -> bool:
    """'1. Giant Cell Arteritis. Approve ...', 'A. Crohn's disease (CD)': a short title first."""
    label = clauses.label(block)
    words = label.split()
    if (
        not words
        or len(words) > 9
        or re.search(r"\b(?:patient|member|individual|is|has|have|must)\b", label, re.I)
    ):
        return False
    rest = block.text[len(label) :]
    return bool(block.children) or bool(
        re.search(r"approv|authori[sz]|medically necessary|criteria", rest, re.I)
    )


def _indication(policy: PolicyCriteria, name: str, ctx: _Context, locate, block: Block) -> Indication:
    name = re.sub(r"^\d+\.\s*", "", name).strip().rstrip(".:")
    for existing in policy.indications:
        # a continuation section that lists the indications again (phase-first layouts) refers
        # to the ones already read; elsewhere only the same name is the same indication
        if existing.name.lower() == name.lower() or (
            ctx.role == "continuation" and sections.same_indication(existing.name, name)
        ):
            return existing
    page, chunk_id = locate(block.start, block.end)
    indication = Indication(name=name, heading=block.head or block.text, page=page, chunk_id=chunk_id)
    policy.indications.append(indication)
    return indication


def _set_phase(indication: Indication, phase: str | None, tree: Node | None) -> None:
    if tree is None:
        return
    if phase == "continuation":
        indication.continuation = _merge(indication.continuation, tree)
    else:
        indication.initial = _merge(indication.initial, tree)


def _merge(old: Node | None, new: Node) -> Node:
    """A second part for the same phase ('induction' and 'maintenance of remission'): either."""
    if old is None:
        return new
    return Node(id=old.id, text="One of the following requests", logic="any", children=[old, new])


def _role_spans(blocks: list[Block], role: str, text: str) -> list[tuple[int, int]]:
    """Character spans of the sections with `role`: from their start to the next section's."""
    starts = []
    for block in blocks:
        head = block.head or block.title
        r = role_of(head) if block.kind in ("heading", "item") else None
        if r and (block.kind == "heading" or block.style.startswith("roman_upper") or block.level):
            starts.append((block.start, r, block.level if block.kind == "heading" else 1))
    spans = []
    for i, (start, r, level) in enumerate(starts):
        if r != role:
            continue
        end = next(
            (s for s, _, lv in starts[i + 1 :] if lv <= level or _ROLE_STOP.search(text[s : s + 80])),
            len(text),
        )
        spans.append((start, end))
    return spans


_ROLE_STOP = re.compile(
    r"^\s*(?:#+\s*)?(?:[IVX]+\.\s+)?[A-Z][A-Z &/-]{6,}$|experimental|coding|applicable codes", re.M
)
