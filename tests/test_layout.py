"""The layout holds: stages as folders, imports one way, no cycles, eval on the public API only."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.conftest import REPO

PACKAGES = ("ingest", "rag", "eval")
MAX_LINES = 400


def _modules() -> dict[str, Path]:
    out = {}
    for package in PACKAGES:
        for path in sorted((REPO / package).rglob("*.py")):
            parts = path.relative_to(REPO).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            out[name] = path
    return out


MODULES = _modules()


def _imports(path: Path, *, top_level_only: bool) -> set[str]:
    """Our modules that `path` imports (a `from a.b import c` of a submodule names a.b.c)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    found: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            submodules = {f"{node.module}.{a.name}" for a in node.names} & set(MODULES)
            found |= submodules
            if len(submodules) < len(node.names):  # names defined in the module itself
                found.add(node.module)
    return {name for name in found if name in MODULES}


def _graph() -> dict[str, set[str]]:
    return {name: _imports(path, top_level_only=True) - {name} for name, path in MODULES.items()}


def test_no_import_cycles():
    graph = _graph()
    state: dict[str, int] = {}  # 1 visiting, 2 done
    cycles: list[list[str]] = []

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycles.append([*trail[trail.index(nxt) :], nxt] if nxt in trail else [node, nxt])
            elif nxt not in state:
                visit(nxt, [*trail, nxt])
        state[node] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    assert not cycles, cycles


def test_the_graph_sees_real_edges():
    graph = _graph()
    assert "rag.retrieval.scope" in graph["rag.retrieval.hybrid"]
    assert "rag.analysis.analyse" in graph["rag.analysis"]


def test_ingest_never_imports_rag_or_eval_and_rag_never_imports_eval():
    for name, path in MODULES.items():
        imported = _imports(path, top_level_only=False)
        if name.startswith("ingest"):
            assert not {i for i in imported if i.startswith(("rag", "eval"))}, name
        if name.startswith("rag"):
            assert not {i for i in imported if i.startswith("eval")}, name


def test_eval_uses_only_the_public_api():
    for name, path in MODULES.items():
        if name.startswith("eval"):
            private = {i for i in _imports(path, top_level_only=False) if i.startswith("rag.")}
            assert not private, f"{name} imports rag internals {sorted(private)}: use `from rag import ...`"


def test_every_stage_says_what_it_takes_and_gives():
    for name, path in MODULES.items():
        if path.name == "__init__.py" and name.count(".") <= 2 and name != "eval.benchmarks":
            doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
            assert len(doc) > 60, f"{name} has no docstring saying what the stage takes and gives"


def test_no_module_over_the_size_limit():
    long = {
        name: n for name, path in MODULES.items() if (n := len(path.read_text().splitlines())) > MAX_LINES
    }
    assert not long, long


def test_the_public_api_resolves_every_name():
    import rag

    for name in rag.__all__:
        assert getattr(rag, name) is not None, name
    assert callable(rag.assess) and callable(rag.ask) and callable(rag.render)
