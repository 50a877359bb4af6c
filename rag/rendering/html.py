"""Self-contained HTML rendering: one page, inline CSS, no scripts, no external assets."""

from __future__ import annotations

from functools import cache

from jinja2 import Environment, PackageLoader, StrictUndefined

from rag.rendering import ama
from rag.rendering import wording as w
from rag.types import Assessment

TEMPLATE = "assessment.html.j2"


@cache
def environment() -> Environment:
    """The Jinja environment over `rag/rendering/templates`, autoescaping everything it renders."""
    env = Environment(
        loader=PackageLoader("rag.rendering", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["one_line"] = w.one_line
    env.globals.update(
        STATUS_BADGES=w.STATUS_BADGES,
        criterion_heading=w.criterion_heading,
        reference_line=ama.html,
        unsupported_text=w.unsupported_text,
    )
    return env


def to_html(assessment: Assessment) -> str:
    """The whole assessment as one HTML page."""
    references = w.sorted_references(assessment)
    return (
        environment()
        .get_template(TEMPLATE)
        .render(
            a=assessment,
            title=w.title_of(assessment),
            verdict_label=w.verdict_label(assessment),
            confidence=w.confidence_text(assessment),
            policy=w.policy_line(assessment.policy),
            findings=w.findings_of(assessment),
            sections=w.ordered_sections(assessment),
            evidence_groups=w.evidence_groups,
            evidence_note=w.evidence_note,
            empty_text=w.empty_text,
            source_line=w.source_line,
            flags=w.flags_to_show(assessment),
            dosing_title=w.DOSING_TITLE,
            dosing_columns=w.DOSING_COLUMNS,
            dosing_rows=w.dosing_rows(assessment),
            references=references,
            ref_numbers={ref.n for ref in references},
            provenance=w.provenance_items(assessment),
        )
    )
