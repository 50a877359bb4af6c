"""Gold cases: what a correct draft must decide, contain, avoid and cite (YAML, one per case)."""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from rag import MeddraftError


class GoldCriterion(BaseModel):
    model_config = ConfigDict(extra="forbid")

    match: str = Field(description="Case-insensitive regex on the criterion text.")
    status: str = Field(description="met | not_met | insufficient")
    evidence_doc: str | None = Field(None, description="The document that decides it.")


class GoldCase(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str
    case_id: str
    question: str
    expected_verdict: str
    policy_doc: str | None = None
    policy_section: str | None = Field(None, description="Substring of the applicable heading; null: none.")
    criteria: list[GoldCriterion] = Field(default_factory=list)
    key_facts: list[str] = Field(default_factory=list, description="Regexes a good draft contains.")
    forbidden: list[str] = Field(default_factory=list, description="Regexes a draft must not contain.")
    must_cite: list[str] = Field(default_factory=list, description="Document ids that must be cited.")
    must_cite_any: list[str] = Field(default_factory=list, description="At least one of these must be cited.")
    requested_mg_per_28_days: float | list[float] | None = Field(
        None, description="One value, or the acceptable values when a loading phase precedes maintenance."
    )
    notes: str = ""


def _normalised(item: dict) -> dict:
    """The shared realworld set writes `verdict` for `expected_verdict` and has no `id`."""
    if isinstance(item, dict) and "verdict" in item and "expected_verdict" not in item:
        item = dict(item)
        item["expected_verdict"] = item.pop("verdict")
        item.setdefault("id", item.get("case_id", ""))
    return item


def load_gold(path: Path | str) -> list[GoldCase]:
    """A YAML file or a folder of them; a broken file is an error naming the file."""
    path = Path(path)
    files = sorted(path.glob("*.yaml")) if path.is_dir() else [path]
    if not files:
        raise MeddraftError(f"no gold files (*.yaml) in {path}")
    cases = []
    for file in files:
        try:
            data = yaml.safe_load(file.read_text(encoding="utf-8"))
            items = data if isinstance(data, list) else [data]
            cases += [GoldCase.model_validate(_normalised(item)) for item in items]
        except (yaml.YAMLError, ValidationError) as exc:
            raise MeddraftError(f"invalid gold file {file}: {exc}") from exc
    return cases
