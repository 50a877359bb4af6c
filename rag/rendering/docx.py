"""DOCX rendering with python-docx, for writers who edit in Word; same content and order as md.

Citations are superscript bracketed numbers ("[1, 3]"); the criteria are one table row per
criterion (depth-first, indented by depth) with a shaded status cell. Each cited statement carries
a Word comment quoting the passages it cites (the references' `passages`; a criterion's rationale
quotes its evidence), and each statement verification found unsupported carries a comment saying
so. The reference list is in AMA style with the journal name in italics (`rag.rendering.ama`).
"""

from __future__ import annotations

import re
from io import BytesIO

from docx import Document
from docx.document import Document as DocxDocument
from docx.enum.text import WD_COLOR_INDEX
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Cm, Pt, RGBColor
from docx.table import Table, _Cell
from docx.text.paragraph import Paragraph
from docx.text.run import Run

from rag.rendering import ama
from rag.rendering import wording as w
from rag.types import Assessment, Bullet, Reference, Section

CRITERIA_COLUMNS: tuple[str, ...] = ("ID", "Criterion", "Status", "Rationale", "Sources")
STATUS_FILL = {"met": "C6EFCE", "not_met": "FFC7CE", "insufficient": "FFEB9C"}
VERDICT_COLOUR = {
    "indicated": RGBColor(0x1E, 0x7E, 0x34),
    "not_indicated": RGBColor(0xB7, 0x1C, 0x1C),
    "insufficient_information": RGBColor(0xA1, 0x5C, 0x00),
}
WARN_COLOUR = RGBColor(0xA1, 0x5C, 0x00)


COMMENT_AUTHOR, COMMENT_INITIALS = "meddraft", "MD"
QUOTE_CHARS = 700  # a passage longer than this is cut at a word and ends in "…"
_HEADING_MARKS = re.compile(r"(?m)^#{1,6}\s+")  # Markdown heading marks in a chunk's text
_UNSUPPORTED = re.compile(r"\[unsupported: ([^\]]*)\]")


class _Passages(dict[str, tuple[Reference, str]]):
    """chunk id -> (its reference, its text): what a statement's comment quotes."""

    @classmethod
    def of(cls, assessment: Assessment) -> _Passages:
        return cls({cid: (ref, text) for ref in assessment.references for cid, text in ref.passages.items()})


def to_docx(assessment: Assessment) -> bytes:
    """The whole assessment as the bytes of a .docx file."""
    doc = Document()
    passages = _Passages.of(assessment)
    title = w.title_of(assessment)
    doc.core_properties.title = title
    doc.core_properties.author = "meddraft"
    doc.add_heading(title, level=0)
    doc.add_paragraph(assessment.question.strip(), style="Quote")
    doc.add_paragraph(f"Case: {assessment.case_id}")
    _verdict(doc, assessment)
    findings = w.findings_of(assessment)
    if findings:
        doc.add_heading(w.one_line(findings.title), level=1)
        for bullet in findings.bullets:
            _bullet(doc, bullet, passages)
    _criteria(doc, assessment)
    sections = w.ordered_sections(assessment)
    for section in sections:
        doc.add_heading(w.one_line(section.title), level=1)
        if section.key == "evidence" and section.bullets:
            _evidence(doc, assessment, section, passages)
        for bullet in section.bullets if section.key != "evidence" else []:
            _bullet(doc, bullet, passages)
        if not section.bullets:
            doc.add_paragraph().add_run(w.empty_text(section)).italic = True
        if section.key == "dosing":
            _dose_table(doc, assessment)
    if not any(section.key == "dosing" for section in sections) and w.dosing_rows(assessment):
        doc.add_heading(w.DOSING_TITLE, level=1)
        _dose_table(doc, assessment)
    flags = w.flags_to_show(assessment)
    if flags:
        doc.add_heading("Flags", level=1)
        for flag in flags:
            p = doc.add_paragraph(style="List Bullet")
            p.add_run(flag.kind.replace("_", " ")).bold = True
            p.add_run(f": {w.one_line(flag.message)}")
    doc.add_heading("References", level=1)
    for ref in w.sorted_references(assessment):
        _reference(doc, ref)
    footer = doc.add_paragraph().add_run(f"Provenance: {w.provenance_text(assessment)}")
    footer.italic, footer.font.size = True, Pt(8)
    buffer = BytesIO()
    doc.save(buffer)
    return buffer.getvalue()


def _verdict(doc: DocxDocument, assessment: Assessment) -> None:
    p = doc.add_paragraph()
    label = p.add_run(f"Verdict: {w.verdict_label(assessment)}.")
    label.bold = True
    label.font.size = Pt(13)
    label.font.color.rgb = VERDICT_COLOUR[assessment.verdict.label]
    p.add_run(f" {w.one_line(assessment.verdict.summary)} ")
    p.add_run(f"({w.confidence_text(assessment)})").italic = True


def _cite(p: Paragraph, citations: list[int]) -> None:
    marker = w.cite_text(citations)
    if marker:
        p.add_run(f" {marker}").font.superscript = True


def _bullet(doc: DocxDocument, bullet: Bullet, passages: _Passages) -> None:
    p = doc.add_paragraph(style="List Bullet")
    statement = p.add_run(w.one_line(bullet.text))
    _cite(p, bullet.citations)
    quotes = [_quote(*passages[cid]) for cid in dict.fromkeys(bullet.chunk_ids) if cid in passages]
    if not bullet.supported:
        warn = p.add_run(f" {w.unsupported_text(bullet.unsupported_reason)}")
        warn.bold = True
        warn.font.color.rgb = WARN_COLOUR
        warn.font.highlight_color = WD_COLOR_INDEX.YELLOW
        _comment(doc, [statement, warn], [_flag(bullet.unsupported_reason), *quotes])
    elif quotes:
        _comment(doc, [statement, *p.runs[1:]], quotes)


def _flag(reason: str | None) -> str:
    why = f": {w.one_line(reason)}" if reason else ""
    return (
        f"UNSUPPORTED{why}. Verification found no cited passage that supports this statement; "
        "check it against the sources or remove it before sign-off."
    )


def _quote(ref: Reference, text: str) -> str:
    """'[n] Title: "passage"', the passage cut at a word when long."""
    passage = w.one_line(_HEADING_MARKS.sub(" ", text))
    if len(passage) > QUOTE_CHARS:
        passage = passage[:QUOTE_CHARS].rsplit(" ", 1)[0] + "…"
    return f"[{ref.n}] {w.one_line(ref.title)}: \u201c{passage}\u201d"


def _comment(doc: DocxDocument, runs: list[Run], paragraphs: list[str]) -> None:
    """One Word comment over `runs`, a paragraph per item of `paragraphs`."""
    comment = doc.add_comment(runs, paragraphs[0], author=COMMENT_AUTHOR, initials=COMMENT_INITIALS)
    for text in paragraphs[1:]:
        comment.add_paragraph(text)


def _reference(doc: DocxDocument, ref: Reference) -> None:
    """'n. ' and the AMA citation, the journal name in italics."""
    p = doc.add_paragraph(f"{ref.n}. ")
    for text, italic in ama.segments(ref):
        p.add_run(text).italic = italic or None


def _shade(cell: _Cell, fill: str) -> None:
    shading = OxmlElement("w:shd")
    shading.set(qn("w:val"), "clear")
    shading.set(qn("w:color"), "auto")
    shading.set(qn("w:fill"), fill)
    cell._tc.get_or_add_tcPr().append(shading)


def _table(doc: DocxDocument, columns: tuple[str, ...]) -> Table:
    table = doc.add_table(rows=1, cols=len(columns))
    table.style = "Table Grid"
    for cell, name in zip(table.rows[0].cells, columns, strict=True):
        cell.text = ""
        cell.paragraphs[0].add_run(name).bold = True
        _shade(cell, "F2F2F2")
    return table


def _criteria(doc: DocxDocument, assessment: Assessment) -> None:
    doc.add_heading("Criteria check", level=1)
    policy = w.policy_line(assessment.policy)
    if policy:
        doc.add_paragraph(f"Policy: {policy}")
    if not assessment.criteria:
        doc.add_paragraph().add_run("No policy criteria were found for this request.").italic = True
        return
    table = _table(doc, CRITERIA_COLUMNS)
    by_doc = {ref.doc_id: ref for ref in assessment.references}
    for depth, criterion in w.walk(assessment.criteria):
        ident, text, status, rationale, sources = table.add_row().cells
        ident.text = criterion.id
        para = text.paragraphs[0]
        para.paragraph_format.left_indent = Cm(0.5 * depth)
        para.add_run(w.criterion_heading(criterion).removeprefix(f"{criterion.id}. "))
        if criterion.deciding:
            para.add_run(" (deciding)").bold = True
        status.text = ""
        status.paragraphs[0].add_run(w.STATUS_BADGES[criterion.status]).bold = True
        _shade(status, STATUS_FILL[criterion.status])
        rationale.text = ""
        run = rationale.paragraphs[0].add_run(w.one_line(criterion.rationale))
        sources.text = w.cite_text(criterion.citations)
        cited = [e for e in criterion.evidence if e.quote and e.doc_id in by_doc]
        quotes = [_quote(by_doc[e.doc_id], e.quote) for e in cited]
        flagged = _UNSUPPORTED.search(criterion.rationale)
        if flagged:
            _comment(doc, [run], [_flag(flagged.group(1)), *quotes])
        elif quotes:
            _comment(doc, [run], quotes)


def _evidence(doc: DocxDocument, assessment: Assessment, section: Section, passages: _Passages) -> None:
    """Evidence by source kind (a level-2 heading each), then by document (its title in bold)."""
    if note := w.evidence_note(assessment):
        doc.add_paragraph().add_run(note).italic = True
    for group in w.evidence_groups(assessment, section):
        doc.add_heading(group.title, level=2)
        if note := w.evidence_note(assessment, group):
            doc.add_paragraph().add_run(note).italic = True
        for source in group.docs:
            if source.ref is not None:
                doc.add_paragraph().add_run(w.source_line(source.ref)).bold = True
            for bullet in source.bullets:
                _bullet(doc, bullet, passages)


def _dose_table(doc: DocxDocument, assessment: Assessment) -> None:
    rows = w.dosing_rows(assessment)
    if not rows:
        return
    table = _table(doc, w.DOSING_COLUMNS)
    for i, row in enumerate(rows):
        cells = table.add_row().cells
        values = (row.label, row.dose_text, row.mg_per_28_days, row.arithmetic)
        for cell, value in zip(cells, (*values, w.cite_text(row.citations)), strict=True):
            cell.text = value
            if i == 0:  # the requested dose
                for run in cell.paragraphs[0].runs:
                    run.bold = True
