"""A model proposes a policy's criteria tree; a reviewer decides (`policy export --generator openai`).

The model never writes quotes. It sees the policy as numbered lines (the outline the layout reader
found: headings, items, notes and table rows, without background, references, coding tables and
history) and answers, per indication, a flat list of nodes: which line, under which line, with
what logic (all / any / at least n / leaf) and, for a leaf, its type and parameters in the same
schema the parser fills (`rag.analysis.criteria`). Every node's text, page and chunk therefore
come from the policy itself, whatever the model says.

The answer is checked (`read_answer`): unknown or repeated lines, a parent that is not an earlier
branch, a branch without children, `at_least` without a feasible n, a leaf without parameters or
with parameters the schema rejects. Each problem goes back to the model in a bounded re-ask
(`LLMClient.structured`). The validated tree is a `PolicyCriteria` marked `proposed_by`: the engine
refuses to assess with it until `meddraft policy accept` has turned it into a reviewed file.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from pydantic import TypeAdapter, ValidationError

from rag.analysis import criteria as schema
from rag.analysis.compile import role_of
from rag.analysis.criteria import Indication, Node, PolicyCriteria
from rag.analysis.layout import Block, outline
from rag.llm.prompts import load_prompt
from rag.llm.schema import OutputProblem, parse_json

# Fields the policy supplies (quotes, pages) or the parser sets: never asked of the model.
_SOURCE_FIELDS = {"text", "page", "chunk_id", "read_by_wording", "indication"}
_LEAF_MODELS: tuple[type, ...] = (
    schema.Age,
    schema.Diagnosis,
    schema.Measurement,
    schema.PriorTherapy,
    schema.Specialty,
    schema.ConcurrentUse,
    schema.TestResult,
    schema.DoseLimitLeaf,
    schema.Product,
    schema.Documentation,
    schema.FreeText,
)
_LEAF = TypeAdapter(schema.Leaf)
_MAX_INDICATIONS = 12


@dataclass(frozen=True)
class PolicyLine:
    """One line of the policy as the model sees it: `L12`, its label path and its exact text."""

    key: str
    label: str  # the policy's own numbering, joined by dots ('I.A.2'), or '' for a heading
    kind: str  # heading | item | note | table | text | intro
    text: str
    start: int
    end: int


def policy_lines(text: str, pages: int = 0) -> list[PolicyLine]:
    """The policy's outline as numbered lines, without the sections that are never criteria."""
    out: list[PolicyLine] = []
    ignore_level: int | None = None

    def visit(block: Block, labels: tuple[str, ...]) -> None:
        nonlocal ignore_level
        level = block.level if block.kind == "heading" else 0
        if block.kind == "heading":
            if ignore_level is not None and level <= ignore_level:
                ignore_level = None
            if ignore_level is None and role_of(block.head or block.title) == "ignore":
                ignore_level = level
        if ignore_level is not None:
            return
        path = (*labels, block.marker) if block.marker and not block.style.startswith("bullet") else labels
        if block.kind == "item" and len(path) == 1 and role_of(block.head or block.title) == "ignore":
            return  # 'V. References' as a numbered section
        out.append(
            PolicyLine(f"L{len(out) + 1}", ".".join(path), block.kind, block.text, block.start, block.end)
        )
        for note in block.notes:
            out.append(
                PolicyLine(f"L{len(out) + 1}", ".".join(path), "note", note.text, note.start, note.end)
            )
        for child in block.children:
            visit(child, path)

    for block in outline(text, pages):
        visit(block, ())
    return out


def _closed(node: Any) -> Any:
    """A JSON schema with every property required (nullable where optional) and no extras."""
    if isinstance(node, dict):
        node = {k: _closed(v) for k, v in node.items() if k not in ("default", "title", "description")}
        if node.get("type") == "object" and "properties" in node:
            node["properties"] = {k: v for k, v in node["properties"].items() if k not in _SOURCE_FIELDS}
            node["required"] = list(node["properties"])
            node["additionalProperties"] = False
        return node
    if isinstance(node, list):
        return [_closed(v) for v in node]
    return node


def answer_schema(lines: list[PolicyLine]) -> dict:
    """What the model returns: indications, each with flat initial and continuation node lists."""
    keys = [line.key for line in lines]
    defs: dict[str, Any] = {}
    leaves = []
    for model in _LEAF_MODELS:
        generated = model.model_json_schema(ref_template="#/$defs/{model}")
        defs.update(_closed(generated.pop("$defs", {})))
        defs[model.__name__] = _closed(generated)
        leaves.append({"$ref": f"#/$defs/{model.__name__}"})
    node = {
        "type": "object",
        "properties": {
            "line": {"type": "string", "enum": keys},
            "parent": {"type": "string", "enum": ["", *keys]},
            "logic": {"type": "string", "enum": ["all", "any", "at_least", "leaf"]},
            "n": {"type": "integer"},
            "leaf": {"anyOf": [*leaves, {"type": "null"}]},
        },
        "required": ["line", "parent", "logic", "n", "leaf"],
        "additionalProperties": False,
    }
    indication = {
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "initial": {"type": "array", "items": {"$ref": "#/$defs/ProposedNode"}, "maxItems": len(keys)},
            "continuation": {
                "type": "array",
                "items": {"$ref": "#/$defs/ProposedNode"},
                "maxItems": len(keys),
            },
        },
        "required": ["name", "initial", "continuation"],
        "additionalProperties": False,
    }
    defs["ProposedNode"] = node
    return {
        "type": "object",
        "properties": {
            # bounded, so a model that loops stops at the schema instead of the output limit
            "indications": {"type": "array", "items": indication, "minItems": 1, "maxItems": _MAX_INDICATIONS}
        },
        "required": ["indications"],
        "additionalProperties": False,
        "$defs": defs,
    }


def messages(title: str, lines: list[PolicyLine]) -> list[dict]:
    listing = "\n".join(
        f"{line.key} [{line.kind}{' ' + line.label if line.label else ''}] {line.text}" for line in lines
    )
    return [
        {"role": "system", "content": load_prompt("criteria.system").render()},
        {"role": "user", "content": load_prompt("criteria.user").render(title=title, lines=listing)},
    ]


def read_answer(
    raw: str, lines: list[PolicyLine], doc_id: str, title: str, locate, proposed_by: str
) -> PolicyCriteria:
    """The model's answer as a `PolicyCriteria`, or an `OutputProblem` saying what to fix."""
    data = parse_json(raw)
    if not isinstance(data, dict) or not isinstance(data.get("indications"), list) or not data["indications"]:
        raise OutputProblem("the answer needs an 'indications' list with at least one indication")
    by_key = {line.key: line for line in lines}
    indications: list[Indication] = []
    for i, item in enumerate(data["indications"]):
        if not isinstance(item, dict) or not str(item.get("name", "")).strip():
            raise OutputProblem(f"indications[{i}] needs a non-empty 'name'")
        name = str(item["name"]).strip()
        trees = {}
        for phase in ("initial", "continuation"):
            nodes = item.get(phase) or []
            if not isinstance(nodes, list):
                raise OutputProblem(f"indications[{i}].{phase} must be a list of nodes")
            trees[phase] = _tree(nodes, by_key, f"indications[{i}].{phase}", locate)
        if trees["initial"] is None and trees["continuation"] is None:
            raise OutputProblem(f"indication {name!r} has no initial and no continuation criteria")
        indications.append(
            Indication(name=name, initial=trees["initial"], continuation=trees["continuation"])
        )
    return PolicyCriteria(
        doc_id=doc_id, title=title, indications=indications, source="model", proposed_by=proposed_by
    )


def _tree(items: list, by_key: dict[str, PolicyLine], where: str, locate) -> Node | None:
    nodes: dict[str, Node] = {}
    roots: list[Node] = []
    for j, item in enumerate(items):
        at = f"{where}[{j}]"
        if not isinstance(item, dict):
            raise OutputProblem(f"{at} must be an object with line, parent, logic, n and leaf")
        key, parent, logic = item.get("line"), item.get("parent") or "", item.get("logic")
        if key not in by_key:
            raise OutputProblem(f"{at}: line {key!r} is not one of the numbered lines")
        if key in nodes:
            raise OutputProblem(f"{at}: line {key} is used twice in the same tree")
        if logic not in ("all", "any", "at_least", "leaf"):
            raise OutputProblem(f"{at}: logic must be all, any, at_least or leaf, not {logic!r}")
        node = _node(item, by_key[key], at, locate)
        if parent:
            if parent not in nodes:
                raise OutputProblem(f"{at}: parent {parent!r} must be a line listed earlier in this tree")
            if nodes[parent].logic == "leaf":
                raise OutputProblem(f"{at}: parent {parent} is a leaf; make it all, any or at_least")
            nodes[parent].children.append(node)
        else:
            roots.append(node)
        nodes[key] = node
    for key, node in nodes.items():
        if node.logic != "leaf" and not node.children:
            raise OutputProblem(f"{where}: {key} is a branch ({node.logic}) without children; make it a leaf")
        if node.logic == "at_least" and not (node.n and 1 <= node.n <= len(node.children)):
            raise OutputProblem(
                f"{where}: {key} is at_least with n={node.n} but has {len(node.children)} children"
            )
    if not roots:
        return None
    if len(roots) == 1:
        return roots[0]
    return Node(id="", text="All of the following", logic="all", children=roots)


def _node(item: dict, line: PolicyLine, at: str, locate) -> Node:
    page, chunk_id = locate(line.start, line.end)
    logic = item["logic"]
    leaf = None
    if logic == "leaf":
        if not isinstance(item.get("leaf"), dict):
            raise OutputProblem(f"{at}: a leaf needs 'leaf' with its type and parameters")
        try:
            leaf = _LEAF.validate_python(item["leaf"])
        except ValidationError as exc:
            first = exc.errors()[0]
            field = ".".join(str(p) for p in first["loc"])
            raise OutputProblem(f"{at}.leaf.{field}: {first['msg']}") from exc
    n = item.get("n") if logic == "at_least" else None
    return Node(
        id=line.label or line.key,
        text=line.text,
        logic=logic,
        n=n if isinstance(n, int) else None,
        leaf=leaf,
        page=page,
        chunk_id=chunk_id,
    )


def provenance(model: str, host: str, today: date | None = None) -> str:
    return f"{model} at {host} on {(today or date.today()).isoformat()}"


def propose(client, doc_id: str, title: str, text: str, *, pages: int = 0, locate=None) -> PolicyCriteria:
    """Ask the configured model for the policy's tree (validated, re-asked within llm.max_reasks)."""
    locate = locate or (lambda start, end: (None, None))
    lines = policy_lines(text, pages)
    by = provenance(client.model, client.endpoint_host)

    def validate(raw: str) -> PolicyCriteria:
        return read_answer(raw, lines, doc_id, title, locate, by)

    proposal, _trace = client.structured(
        messages(title or doc_id, lines), schema=answer_schema(lines), validate=validate, name="criteria"
    )
    return proposal
