"""How two criteria trees of one policy differ: the parse against a model's proposal or a review.

Nodes are matched by their quote (the policy's own words), so a renumbering is no difference; what
is reported is a node only one side has, and for a node both have, a change of logic, of n, of leaf
type or of the leaf's parameters. Indications are matched by name.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from rag.analysis.criteria import Indication, Node, PolicyCriteria

_WORD = re.compile(r"[a-z0-9]+")


@dataclass
class Diff:
    lines: list[str] = field(default_factory=list)
    same: int = 0
    added: int = 0
    removed: int = 0
    changed: int = 0

    def summary(self) -> str:
        return (
            f"{self.same} nodes the same, {self.changed} changed, {self.added} only in the proposal, "
            f"{self.removed} only in the parse"
        )


def _key(text: str) -> str:
    return " ".join(_WORD.findall(text.lower()))


def _shape(node: Node) -> dict:
    shape: dict = {"logic": f"at_least {node.n}" if node.logic == "at_least" else node.logic}
    if node.logic == "leaf":
        shape["type"] = node.leaf.type if node.leaf else "free_text"
        if node.leaf is not None and node.leaf.type != "dose_limit":
            shape["params"] = node.leaf.model_dump(
                exclude={"type", "read_by_wording"}, exclude_defaults=True, mode="json"
            )
    return shape


def _label(node: Node) -> str:
    kind = node.leaf.type if node.logic == "leaf" and node.leaf else node.logic
    return f"{node.id} [{kind}] {node.text[:100]}"


def _match(indication: Indication, others: list[Indication]) -> Indication | None:
    words = set(_WORD.findall(indication.name.lower()))
    best, score = None, 0.0
    for other in others:
        theirs = set(_WORD.findall(other.name.lower()))
        overlap = len(words & theirs) / max(1, len(words | theirs))
        if overlap > score:
            best, score = other, overlap
    return best if score >= 0.5 else None


def diff(base: PolicyCriteria, other: PolicyCriteria) -> Diff:
    """What `other` (a proposal or a reviewed file) changes in `base` (the parse)."""
    out = Diff()
    unmatched = list(other.indications)
    for indication in base.indications:
        mine = _match(indication, unmatched)
        if mine is None:
            out.lines.append(f"- indication {indication.name!r} (only in the parse)")
            out.removed += sum(len(t.walk()) for t in (indication.initial, indication.continuation) if t)
            continue
        unmatched.remove(mine)
        head = f"== {indication.name}" + (f" (proposal: {mine.name})" if mine.name != indication.name else "")
        body = []
        for phase in ("initial", "continuation"):
            body += _tree_diff(phase, getattr(indication, phase), getattr(mine, phase), out)
        if body:
            out.lines += [head, *body]
    for indication in unmatched:
        out.lines.append(f"+ indication {indication.name!r} (only in the proposal)")
        out.added += sum(len(t.walk()) for t in (indication.initial, indication.continuation) if t)
    return out


def _tree_diff(phase: str, base: Node | None, other: Node | None, out: Diff) -> list[str]:
    mine = {_key(n.text): n for n in base.walk()} if base else {}
    theirs = {_key(n.text): n for n in other.walk()} if other else {}
    lines = []
    for key, node in theirs.items():
        if key not in mine:
            lines.append(f"  + {phase}: {_label(node)}")
            out.added += 1
    for key, node in mine.items():
        if key not in theirs:
            lines.append(f"  - {phase}: {_label(node)}")
            out.removed += 1
            continue
        before, after = _shape(node), _shape(theirs[key])
        if before == after:
            out.same += 1
            continue
        out.changed += 1
        changes = [
            f"{name} {json.dumps(before.get(name), ensure_ascii=False)} -> "
            f"{json.dumps(after.get(name), ensure_ascii=False)}"
            for name in ("logic", "type", "params")
            if before.get(name) != after.get(name)
        ]
        lines.append(f"  ~ {phase}: {node.id} {node.text[:80]}: {'; '.join(changes)}")
    return lines
