"""A compact, reviewable digest of a compiled policy: what tests compare with hand-checked files."""

from __future__ import annotations

from rag.analysis.criteria import DoseLimit, Node, PolicyCriteria


def digest(policy: PolicyCriteria) -> dict:
    return {
        "doc_id": policy.doc_id,
        "indications": [
            {
                "name": i.name,
                "initial": _lines(i.initial),
                "continuation": _lines(i.continuation),
                "limits": [_limit(x) for x in i.dose_limits],
                "exclusions": [_node(x) for x in i.exclusions],
            }
            for i in policy.indications
        ],
        "exclusions": [_node(x) for x in policy.exclusions],
        "experimental": list(policy.experimental),
    }


def _lines(tree: Node | None) -> list[str]:
    return [_node(n) for n in tree.walk()] if tree else []


def _node(node: Node) -> str:
    if node.logic != "leaf":
        return f"{node.id} {node.logic}{node.n or ''}"
    leaf = node.leaf
    kind = leaf.type if leaf else "free_text"
    detail = ""
    if kind == "age":
        detail = f"{leaf.min_years if leaf.min_years is not None else ''}-{leaf.max_years or ''}"
    elif kind == "diagnosis":
        detail = leaf.names[0]
    elif kind == "measurement":
        value = "" if leaf.value is None else f"{leaf.value:g}"
        detail = f"{leaf.name} {leaf.operator or 'documented'} {value}{leaf.unit or ''}"
        if leaf.change:
            detail += f" ({leaf.change} from baseline)"
    elif kind == "prior_therapy":
        names = (leaf.classes + leaf.drugs)[:3]
        days = f" min={leaf.min_duration_days:.0f}d" if leaf.min_duration_days else ""
        detail = f"n={leaf.count}{days} {names}"
    elif kind == "specialty":
        detail = str(sorted(leaf.specialties))
    elif kind == "concurrent_use":
        detail = f"excluded={leaf.excluded[:3]} required={leaf.required}"
    elif kind == "test_result":
        window = f" window={leaf.window_days:.0f}d" if leaf.window_days else ""
        detail = f"{leaf.test} {leaf.accepts}{window}"
    return f"{node.id} {kind} {detail}".rstrip()


def _limit(limit: DoseLimit) -> str:
    amount = (
        f"{limit.mg:g} mg"
        if limit.mg is not None
        else f"{limit.per_kg_mg:g} mg/kg"
        if limit.per_kg_mg is not None
        else "? mg"
    )
    every = f" every {limit.every_days:g}d" if limit.every_days else ""
    band = ""
    if limit.weight_min_kg is not None or limit.weight_max_kg is not None:
        band = f" weight {limit.weight_min_kg or ''}-{limit.weight_max_kg or ''}"
    condition = " conditional" if limit.condition else ""
    return f"{amount}{every} {limit.phase}{' ' + limit.route if limit.route else ''}{band}{condition}"
