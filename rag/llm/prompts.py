"""Prompt files: `prompts/<name>.md` with a YAML header declaring name, version and variables.

    ---
    name: draft.user
    version: 3
    variables: [question, analysis, sources]
    ---
    Question: {{ question }}
    ...

The body is a Jinja2 template. Loading fails when the body uses a variable the header does not
declare (or declares one it never uses); rendering fails on a missing or an extra variable.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

import yaml
from jinja2 import Environment, StrictUndefined, TemplateError, meta

from rag.errors import PromptError


def _prompts_dir() -> Path:
    """`prompts/` of the checkout (editable installs), else the copy a wheel puts in <prefix>/share."""
    import sys

    for candidate in (
        Path(__file__).resolve().parents[2] / "prompts",
        Path(sys.prefix) / "share" / "meddraft" / "prompts",
    ):
        if candidate.is_dir():
            return candidate
    return Path(__file__).resolve().parents[2] / "prompts"


PROMPTS_DIR = _prompts_dir()
_ENV = Environment(undefined=StrictUndefined, keep_trailing_newline=False, autoescape=False)


@dataclass(frozen=True)
class Prompt:
    name: str
    version: int
    variables: tuple[str, ...]
    body: str
    path: Path

    def render(self, **values: object) -> str:
        missing = sorted(set(self.variables) - set(values))
        extra = sorted(set(values) - set(self.variables))
        if missing or extra:
            problems = []
            if missing:
                problems.append(f"missing {', '.join(missing)}")
            if extra:
                problems.append(f"unexpected {', '.join(extra)}")
            raise PromptError(
                f"prompt {self.name} v{self.version} ({self.path}): {'; '.join(problems)}; "
                f"it declares {', '.join(self.variables) or 'no variables'}"
            )
        try:
            return _ENV.from_string(self.body).render(**values).strip() + "\n"
        except TemplateError as exc:
            raise PromptError(f"prompt {self.name} ({self.path}) failed to render: {exc}") from exc


def parse_prompt(text: str, path: Path) -> Prompt:
    """Parse and check one prompt file's text."""
    if not text.startswith("---\n") or "\n---\n" not in text[4:]:
        raise PromptError(f"{path}: a prompt starts with a '---' header block (name, version, variables)")
    header_text, body = text[4:].split("\n---\n", 1)
    try:
        header = yaml.safe_load(header_text) or {}
    except yaml.YAMLError as exc:
        raise PromptError(f"{path}: header is not valid YAML: {exc}") from exc
    unknown = set(header) - {"name", "version", "variables", "description"}
    if unknown:
        raise PromptError(f"{path}: unknown header key(s) {', '.join(sorted(unknown))}")
    name, version, variables = header.get("name"), header.get("version"), header.get("variables", [])
    if not isinstance(name, str) or not isinstance(version, int) or not isinstance(variables, list):
        raise PromptError(f"{path}: header needs name (text), version (integer) and variables (a list)")
    try:
        used = meta.find_undeclared_variables(_ENV.parse(body))
    except TemplateError as exc:
        raise PromptError(f"{path}: template syntax error: {exc}") from exc
    undeclared, unused = sorted(used - set(variables)), sorted(set(variables) - used)
    if undeclared:
        raise PromptError(
            f"{path}: uses undeclared variable(s) {', '.join(undeclared)}; add them to the header"
        )
    if unused:
        raise PromptError(f"{path}: declares variable(s) {', '.join(unused)} that the text never uses")
    return Prompt(name, version, tuple(variables), body.strip("\n"), path)


@cache
def load_prompt(name: str, directory: Path = PROMPTS_DIR) -> Prompt:
    """The prompt `name` (file `<directory>/<name>.md`), checked."""
    path = directory / f"{name}.md"
    if not path.is_file():
        raise PromptError(f"prompt {name} not found at {path}")
    prompt = parse_prompt(path.read_text(encoding="utf-8"), path)
    if prompt.name != name:
        raise PromptError(f"{path}: header names it {prompt.name!r}, the file name says {name!r}")
    return prompt


def all_prompts(directory: Path = PROMPTS_DIR) -> list[Prompt]:
    return [load_prompt(p.stem, directory) for p in sorted(directory.glob("*.md"))]


def versions(names: list[str]) -> dict[str, int]:
    """`{name: version}` for the run record."""
    return {n: load_prompt(n).version for n in names}


def chat_messages(task: str, **values: object) -> list[dict]:
    """The system prompt `<task>.system` and the user prompt `<task>.user` filled with `values`."""
    return [
        {"role": "system", "content": load_prompt(f"{task}.system").render()},
        {"role": "user", "content": load_prompt(f"{task}.user").render(**values)},
    ]
