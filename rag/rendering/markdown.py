"""Markdown rendering, in the order of the example assessment users expect."""

from __future__ import annotations

from rag.rendering import ama
from rag.rendering import wording as w
from rag.types import Assessment, Bullet, Criterion, Section

INDENT = "  "  # one nesting level of a Markdown list


def to_markdown(assessment: Assessment) -> str:
    """The whole assessment as one Markdown document ending in a newline."""
    findings = w.findings_of(assessment)
    sections = w.ordered_sections(assessment)
    blocks = [
        _header(assessment),
        _section(findings.title, findings.bullets) if findings else "",
        _criteria(assessment),
        *(_body(assessment, section) for section in sections),
        "" if any(s.key == "dosing" for s in sections) else _dosing(assessment, w.DOSING_TITLE),
        _flags(assessment),
        _references(assessment),
        f"---\n\nProvenance: {w.provenance_text(assessment)}",
    ]
    return "\n\n".join(block for block in blocks if block) + "\n"


def _with_cites(text: str, citations: list[int]) -> str:
    marker = w.cite_text(citations)
    return f"{text} {marker}" if marker else text


def _header(assessment: Assessment) -> str:
    quote = "\n".join(f"> {line}".rstrip() for line in assessment.question.strip().splitlines())
    verdict = assessment.verdict
    return (
        f"# {w.title_of(assessment)}\n\n{quote}\n\nCase: `{assessment.case_id}`\n\n"
        f"**Verdict: {w.verdict_label(assessment)}.** {w.one_line(verdict.summary)} "
        f"_({w.confidence_text(assessment)})_"
    )


def _criterion_lines(depth: int, criterion: Criterion) -> list[str]:
    pad = INDENT * depth
    line = f"{pad}- **[{w.STATUS_BADGES[criterion.status]}]** {w.criterion_heading(criterion)}"
    if criterion.deciding:
        line += " — **deciding**"
    rationale = _with_cites(w.one_line(criterion.rationale), criterion.citations)
    if not rationale:
        return [line]
    return [f"{line}\\", f"{pad}{INDENT}{rationale}"]  # backslash: hard line break


def _criteria(assessment: Assessment) -> str:
    lines = ["## Criteria check", ""]
    policy = w.policy_line(assessment.policy)
    lines += [f"Policy: {policy}", ""] if policy else []
    if not assessment.criteria:
        return "\n".join([*lines, "_No policy criteria were found for this request._"])
    for depth, criterion in w.walk(assessment.criteria):
        lines += _criterion_lines(depth, criterion)
    return "\n".join(lines)


def bullet_line(bullet: Bullet) -> str:
    """'- text [1, 3]', plus a visible warning when verification did not support it."""
    line = f"- {_with_cites(w.one_line(bullet.text), bullet.citations)}"
    if not bullet.supported:
        line += f" {w.unsupported_text(bullet.unsupported_reason)}"
    return line


def _section(title: str, bullets: list[Bullet], empty: str = "Nothing was found.") -> str:
    body = "\n".join(bullet_line(b) for b in bullets) if bullets else f"_{empty}_"
    return f"## {w.one_line(title)}\n\n{body}"


def _body(assessment: Assessment, section: Section) -> str:
    """A section after the criteria: Evidence by source, the dosing question with its table."""
    if section.key == "evidence" and section.bullets:
        lines = [f"## {w.one_line(section.title)}"]
        if note := w.evidence_note(assessment):
            lines += ["", f"_{note}_"]
        for group in w.evidence_groups(assessment, section):
            lines += ["", f"### {group.title}"]
            if note := w.evidence_note(assessment, group):
                lines += ["", f"_{note}_"]
            for doc in group.docs:
                if doc.ref is not None:
                    lines += ["", f"**{w.source_line(doc.ref)}**"]
                lines += [""] + [bullet_line(b) for b in doc.bullets]
        return "\n".join(lines)
    text = _section(section.title, section.bullets, w.empty_text(section))
    if section.key == "dosing":
        table = _dosing(assessment, "")
        return f"{text}\n\n{table}" if table else text
    return text


def _cell(text: str) -> str:
    return w.one_line(text).replace("|", "\\|") or " "


def _dosing(assessment: Assessment, title: str) -> str:
    """The dose table (under its own heading only when no dosing section introduces it)."""
    rows = w.dosing_rows(assessment)
    if not rows:
        return ""
    lines = [f"## {title}", ""] if title else []
    lines += [
        "| " + " | ".join(w.DOSING_COLUMNS) + " |",
        "|" + "|".join("---" for _ in w.DOSING_COLUMNS) + "|",
    ]
    for row in rows:
        cells = (row.label, row.dose_text, row.mg_per_28_days, row.arithmetic)
        cites = w.cite_text(row.citations)
        lines.append("| " + " | ".join(_cell(c) for c in (*cells, cites)) + " |")
    return "\n".join(lines)


def _flags(assessment: Assessment) -> str:
    flags = w.flags_to_show(assessment)
    if not flags:
        return ""
    items = [f"- **{flag.kind.replace('_', ' ')}**: {w.one_line(flag.message)}" for flag in flags]
    return "\n".join(["## Flags", "", *items])


def _references(assessment: Assessment) -> str:
    refs = w.sorted_references(assessment)
    body = [f"{ref.n}. {ama.markdown(ref)}" for ref in refs] or ["_No references._"]
    return "\n".join(["## References", "", *body])
