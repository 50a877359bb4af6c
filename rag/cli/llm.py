"""CLI pieces shared by every command that drafts: generator and format flags, progress, output,
failures."""

from __future__ import annotations

import argparse
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console
from rich.markup import escape

from rag.errors import LLMOutputError
from rag.settings import Settings


def add_generator_args(parser: argparse.ArgumentParser) -> None:
    from rag.drafting import names

    parser.add_argument(
        "--generator",
        choices=["auto", *names()],
        help="who writes: extractive (offline, default), openai (the configured endpoint), or auto "
        "(openai only when llm.base_url is set)",
    )
    parser.add_argument("--model", dest="llm_model", metavar="NAME", help="model name (llm.model)")
    parser.add_argument(
        "--base-url", dest="llm_base_url", metavar="URL", help="OpenAI-compatible endpoint (llm.base_url)"
    )


def format_arg(parser: argparse.ArgumentParser) -> None:
    """`--format` with the registered output formats, and `--out`."""
    from rag.rendering import formats

    parser.add_argument("--format", choices=formats(), default="md", help="output format")
    parser.add_argument("-o", "--out", metavar="FILE", help="write here instead of standard output")


def write_output(assessment, fmt: str, out: str | None, err: Console) -> int:
    """Render and write to `out`, or to standard output (binary formats need `out`)."""
    import sys

    from rag.rendering import render

    rendered = render(assessment, fmt)
    if out:
        path = Path(out)
        if isinstance(rendered, bytes):
            path.write_bytes(rendered)
        else:
            path.write_text(rendered, encoding="utf-8")
        err.print(f"written to {path}", highlight=False)
        return 0
    if isinstance(rendered, bytes):
        err.print(f"{fmt} is a binary format: give --out FILE.{fmt}")
        return 2
    sys.stdout.write(rendered)
    return 0


@contextmanager
def spinner(err: Console, settings: Settings, what: str = "drafting"):
    """A spinner; with a model, the characters streamed so far and notes on retries and re-asks."""
    if settings.generator_name() != "openai":
        with err.status(f"{what} ...", spinner="dots"):
            yield None
        return
    from rag.llm.trace import Hooks

    label = f"{what} with {settings.llm.model} at {settings.llm.base_url or 'api.openai.com'}"
    with err.status(f"{label} ...", spinner="dots") as status:

        def on_text(received: int) -> None:
            status.update(f"{label}: {received:,} characters received")

        def on_note(message: str) -> None:
            err.print(f"[yellow]note[/] {escape(message)}", highlight=False)

        yield Hooks(on_text=on_text, on_note=on_note)


def save_failure(settings: Settings, exc: LLMOutputError, err: Console) -> Path:
    """Keep the raw output of a failed draft for debugging; say where it is."""
    folder = Path(settings.store.path) / "llm-failures"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{datetime.now(UTC).strftime('%Y%m%dT%H%M%S%f')}.txt"
    errors = "\n".join(f"- attempt {i}: {e}" for i, e in enumerate(exc.errors, 1))
    path.write_text(f"{exc}\n\nerrors:\n{errors}\n\nraw output of the last attempt:\n{exc.raw_output}\n")
    err.print(f"the model's raw output is kept in {path}", highlight=False)
    return path
