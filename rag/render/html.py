"""Self-contained HTML rendering: one page, inline CSS, no scripts, no external assets."""

from __future__ import annotations

from functools import cache

from jinja2 import Environment, PackageLoader, StrictUndefined

from rag.models import Assessment
from rag.render import (
    DOSING_COLUMNS,
    DOSING_TITLE,
    STATUS_BADGES,
    confidence_text,
    criterion_heading,
    dosing_rows,
    one_line,
    ordered_sections,
    policy_line,
    provenance_items,
    reference_line,
    sorted_references,
    title_of,
    unsupported_text,
    verdict_label,
)

TEMPLATE = "assessment.html.j2"


@cache
def environment() -> Environment:
    """The Jinja environment over `rag/templates`, autoescaping everything it renders."""
    env = Environment(
        loader=PackageLoader("rag", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["one_line"] = one_line
    env.globals.update(
        STATUS_BADGES=STATUS_BADGES,
        criterion_heading=criterion_heading,
        reference_line=reference_line,
        unsupported_text=unsupported_text,
    )
    return env


def to_html(assessment: Assessment) -> str:
    """The whole assessment as one HTML page."""
    references = sorted_references(assessment)
    return (
        environment()
        .get_template(TEMPLATE)
        .render(
            a=assessment,
            title=title_of(assessment),
            verdict_label=verdict_label(assessment),
            confidence=confidence_text(assessment),
            policy=policy_line(assessment.policy),
            sections=ordered_sections(assessment),
            dosing_title=DOSING_TITLE,
            dosing_columns=DOSING_COLUMNS,
            dosing_rows=dosing_rows(assessment),
            references=references,
            ref_numbers={ref.n for ref in references},
            provenance=provenance_items(assessment),
        )
    )
