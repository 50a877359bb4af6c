"""Drafting: an `Analysis` and retrieved `Hit`s in, an `Assessment` with numbered, verified
citations out.

A generator writes the draft; `citations` numbers and verifies what it wrote. Generators are
plug-ins: each is a factory registered under the `meddraft.generators` entry point, built-ins
exactly like a third party's (`pyproject.toml` lists `extractive` and `openai`), so adding one is
one module and one line. Only the chosen generator's module is imported, so the offline path never
imports a model client.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from importlib.metadata import EntryPoint, entry_points
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from rag.errors import ConfigError

if TYPE_CHECKING:
    from rag.analysis import Analysis
    from rag.settings import Settings
    from rag.types import Assessment, Hit, Provenance

GROUP = "meddraft.generators"


@runtime_checkable
class Generator(Protocol):
    """Writes an assessment from the analysis and the hits retrieved for it."""

    name: str
    model: str | None  # the model that wrote it, None for offline generators
    endpoint_host: str | None
    prompt_versions: dict[str, int]

    def generate(
        self, question: str, hits: list[Hit], analysis: Analysis, provenance: Provenance
    ) -> Assessment: ...


Factory = Callable[..., Generator]  # factory(settings, *, hooks=None) -> Generator


@cache
def _entry_points() -> dict[str, EntryPoint]:
    return {ep.name: ep for ep in entry_points(group=GROUP)}


_registered: dict[str, Factory] = {}


def register(name: str, factory: Factory) -> None:
    """Register a generator at run time (tests, notebooks); entry points are the usual way."""
    _registered[name] = factory


def names() -> list[str]:
    """Every generator that can be chosen, without importing any of them."""
    return sorted({*_entry_points(), *_registered})


def factory(name: str) -> Factory:
    if name in _registered:
        return _registered[name]
    entry = _entry_points().get(name)
    if entry is None:
        raise ConfigError(f"unknown generator {name!r}: choose one of {', '.join(names())}")
    return entry.load()


def build_generator(settings: Settings, *, hooks: Any = None) -> Generator:
    """The generator the settings name; a model only when one is configured (never a fallback)."""
    return factory(settings.generator_name())(settings, hooks=hooks)
