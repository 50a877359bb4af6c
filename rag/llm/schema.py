"""What a model must return, and how its answer is checked: shared by drafts and follow-ups.

Validation errors are `OutputProblem`s whose text goes back to the model in a re-ask (see
`LLMClient.structured`). No `openai` here: this is plain JSON, JSON schema and pydantic.
"""

from __future__ import annotations

import json
import re
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from rag.llm.sourcekeys import SourceSet, split_inline_keys

M = TypeVar("M", bound=BaseModel)


class OutputProblem(ValueError):
    """Raised by a validator: the text goes back to the model in a re-ask."""


class Out(BaseModel):
    """Base of the models' answer schemas: unknown fields are errors."""

    model_config = ConfigDict(extra="forbid")


class Statement(Out):
    text: str = Field(min_length=1, description="One statement, in plain words.")
    citations: list[str] = Field(min_length=1, description="Keys of the sources that support it.")


def json_object(properties: dict) -> dict:
    """A closed JSON-schema object whose properties are all required (strict-mode style)."""
    return {
        "type": "object",
        "properties": properties,
        "required": list(properties),
        "additionalProperties": False,
    }


def citations_schema(keys: list[str]) -> dict:
    """One to four of this prompt's source keys."""
    return {"type": "array", "items": {"type": "string", "enum": keys}, "minItems": 1, "maxItems": 4}


def statement_schema(keys: list[str], max_chars: int) -> dict:
    return json_object(
        {"text": {"type": "string", "maxLength": max_chars}, "citations": citations_schema(keys)}
    )


def strip_fences(text: str) -> str:
    """Drop a ```json fence some models wrap around JSON when no JSON mode is available."""
    match = re.fullmatch(r"\s*```(?:json)?\s*(.*?)\s*```\s*", text, re.S)
    return match.group(1) if match else text.strip()


def parse_json(text: str) -> Any:
    """JSON or an `OutputProblem` that says where it broke.

    Raw control characters inside strings (a newline in a statement, which some servers' JSON
    grammars let through) are accepted; everything else must be valid JSON.
    """
    try:
        return json.loads(text, strict=False)
    except json.JSONDecodeError as exc:
        raise OutputProblem(
            f"the answer is not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno}); "
            "return one JSON object and nothing else"
        ) from exc


def parse_model(text: str, model: type[M]) -> M:
    """The answer as `model`, or an `OutputProblem` listing the schema errors."""
    try:
        return model.model_validate(parse_json(text))
    except ValidationError as exc:
        raise OutputProblem(f"the JSON does not match the schema: {schema_errors(exc)}") from exc


def schema_errors(exc: ValidationError, limit: int = 8) -> str:
    errors = exc.errors()
    items = [f"{'.'.join(str(p) for p in e['loc']) or '(top)'}: {e['msg']}" for e in errors[:limit]]
    more = f" (and {len(errors) - limit} more)" if len(errors) > limit else ""
    return "; ".join(items) + more


def bind_citations(items: list, field: str, sources: SourceSet) -> str | None:
    """Tidy each item's `field` (whitespace, inline `[S3]` keys moved to `citations`).

    Returns the problem to send back when any cited key is not one of `sources`, else None.
    """
    cited: list[str] = []
    for item in items:
        clean, inline = split_inline_keys(" ".join(getattr(item, field).split()))
        setattr(item, field, clean)
        item.citations = list(dict.fromkeys([*item.citations, *inline]))
        cited += item.citations
    unknown = sorted(set(sources.unknown(cited)), key=lambda k: (len(k), k))
    if not unknown:
        return None
    return f"unknown source key(s) {', '.join(unknown)}; cite only {sources.keys[0]} to {sources.keys[-1]}"
