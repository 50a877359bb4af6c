"""Rendering: an `Assessment` in, a document out (Markdown, JSON, HTML, DOCX, or a plug-in's).

Output formats are plug-ins: a renderer is a function `Assessment -> str | bytes` registered under
the `meddraft.renderers` entry point, the built-ins exactly like a third party's, and the CLI's
`--format` choices are read from this registry. `rag.rendering.wording` holds the words every format
shares; `rag.rendering.answer` renders follow-up answers.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from importlib.metadata import EntryPoint, entry_points

from rag.errors import MeddraftError
from rag.types import Assessment

GROUP = "meddraft.renderers"
Renderer = Callable[[Assessment], str | bytes]
_registered: dict[str, Renderer] = {}


@cache
def _entry_points() -> dict[str, EntryPoint]:
    return {ep.name: ep for ep in entry_points(group=GROUP)}


def register(name: str, renderer: Renderer) -> None:
    """Register a renderer at run time (tests, notebooks); entry points are the usual way."""
    _registered[name] = renderer


def formats() -> list[str]:
    """Every output format, built-ins first, without importing any renderer."""
    builtin = ["md", "json", "html", "docx"]
    names = {*_entry_points(), *_registered}
    return [f for f in builtin if f in names] + sorted(names - set(builtin))


def render(assessment: Assessment, fmt: str) -> str | bytes:
    """Render `assessment` as `fmt` (one of `formats()`): bytes for binary formats, else str."""
    key = fmt.strip().lower()
    renderer = _registered.get(key)
    if renderer is None:
        entry = _entry_points().get(key)
        if entry is None:
            raise MeddraftError(f"unknown output format {fmt!r}: choose one of {', '.join(formats())}")
        renderer = entry.load()
    return renderer(assessment)
