"""JSON output: the `Assessment` contract itself (DESIGN.md, "The assessment")."""

from __future__ import annotations

from rag.types import Assessment


def to_json(assessment: Assessment) -> str:
    return assessment.model_dump_json(indent=2)
