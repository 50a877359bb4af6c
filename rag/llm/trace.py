"""What a model call reports back, with no client import: results, traces and progress hooks.

The CLI imports `Hooks` from here, so showing progress never imports the `openai` SDK.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class ChatResult:
    content: str
    finish_reason: str | None
    attempts: int
    response_format: str


@dataclass
class Trace:
    """What a structured call took: for provenance and for debugging."""

    calls: int = 0
    reasks: int = 0
    errors: list[str] = field(default_factory=list)
    response_format: str | None = None


@dataclass
class Hooks:
    """Progress for the terminal: characters received so far, and notes (retries, re-asks)."""

    on_text: Callable[[int], None] = lambda received: None
    on_note: Callable[[str], None] = lambda message: None
