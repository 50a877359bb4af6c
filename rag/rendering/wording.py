"""The wording every output format shares, so that all say the same things in the same words
and the same order: title, question, verdict, criteria, sections, dosing, flags, references,
provenance.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any, NamedTuple

from rag.rendering import ama
from rag.text import amount, plain
from rag.types import SECTION_TITLES, Assessment, Bullet, Criterion, Reference, Section

VERDICT_LABELS: dict[str, str] = {
    "indicated": "Medically indicated",
    "not_indicated": "NOT medically indicated",
    "insufficient_information": "Insufficient information to decide",
}
STATUS_BADGES: dict[str, str] = {
    "met": "MET",
    "not_met": "NOT MET",
    "insufficient": "INSUFFICIENT",
}
LOGIC_WORDS: dict[str, str] = {"all": "all of the following", "any": "one of the following"}
SECTION_ORDER: tuple[str, ...] = tuple(SECTION_TITLES)  # evidence ... recommendation
FINDINGS = "findings"  # the deciding findings: after the verdict, before the criteria
DOSING_TITLE = "The dosing question"
# Evidence is read by source: guidelines first, then systematic reviews, then trials and studies.
EVIDENCE_GROUPS: dict[str, str] = {
    "guideline": "Guidelines",
    "systematic_review": "Systematic reviews",
    "study": "Trials and studies",
}
# What an empty section says, in words a reader can act on.
EMPTY_SECTION: dict[str, str] = {
    "evidence": "No literature on the requested drug was found in the library.",
    "patient_context": "No further patient context bears on the criteria or the dose.",
    "dosing": "No dose could be compared.",
    "pitfalls": "No caveat specific to this drug, indication and patient was found in the sources.",
    "recommendation": "No recommendation was drafted.",
}
OTHER_SOURCES = "Other sources"
OTHER_INDICATIONS = "Other indications (context only)"
DOSING_COLUMNS: tuple[str, ...] = ("Regimen", "Dose", "mg / 28 days", "Arithmetic", "Sources")
_SMALL_WORDS = frozenset(
    {"a", "an", "and", "as", "at", "by", "for", "in", "of", "on", "or", "the", "to", "vs", "with"}
)


class EvidenceDoc(NamedTuple):
    """One cited document of the Evidence section and the statements drawn from it."""

    ref: Reference | None
    bullets: list[Bullet]


class EvidenceGroup(NamedTuple):
    title: str  # 'Guidelines', 'Systematic reviews', ...
    docs: list[EvidenceDoc]


class DoseRow(NamedTuple):
    """One row of the dosing table: the request first, then each comparator."""

    label: str
    dose_text: str
    mg_per_28_days: str
    arithmetic: str
    citations: list[int]


# --- shared wording -----------------------------------------------------------------------------


def headline(text: str) -> str:
    """Title-case lower-case words, leaving acronyms (COPD) and small words (for, of) alone."""
    words = []
    for i, word in enumerate(text.split()):
        if word.islower() and (i == 0 or word not in _SMALL_WORDS):
            word = word[0].upper() + word[1:]
        words.append(word)
    return " ".join(words)


def title_of(assessment: Assessment) -> str:
    """'<Drug> for <Indication>: Medical Necessity Assessment'; the question without a request."""
    request = assessment.request
    if request is None or not request.drug.strip():
        return one_line(assessment.question)
    subject = headline(request.drug)
    if request.indication.strip():
        subject = f"{subject} for {headline(request.indication)}"
    return f"{subject}: Medical Necessity Assessment"


def verdict_label(assessment: Assessment) -> str:
    """The verdict; a model's verdict that the deterministic analysis disputes says so."""
    verdict = assessment.verdict
    label = VERDICT_LABELS[verdict.label]
    if verdict.analysis_label and verdict.analysis_label != verdict.label:
        label += f" (the model's; the deterministic analysis says {VERDICT_LABELS[verdict.analysis_label]})"
    return label


def confidence_text(assessment: Assessment) -> str:
    return f"confidence {assessment.verdict.confidence:.0%}"


def one_line(text: str) -> str:
    """Collapse whitespace so a statement stays one list item or table cell."""
    return " ".join(text.split())


def cite_text(citations: Iterable[int]) -> str:
    """'[1, 3]' for citations 1 and 3; '' for none."""
    numbers = sorted(set(citations))
    return f"[{', '.join(str(n) for n in numbers)}]" if numbers else ""


def unsupported_text(reason: str | None) -> str:
    return f"⚠ unsupported: {reason}" if reason else "⚠ unsupported"


def ordered_sections(assessment: Assessment) -> list[Section]:
    """The sections after the criteria, in the order evidence, patient_context, dosing, pitfalls,
    recommendation (the deciding findings come before the criteria: see `findings_of`)."""
    body = [s for s in assessment.sections if s.key in SECTION_ORDER]
    return sorted(body, key=lambda section: SECTION_ORDER.index(section.key))


def empty_text(section: Section) -> str:
    return EMPTY_SECTION.get(section.key, "Nothing was found for this section.")


def findings_of(assessment: Assessment) -> Section | None:
    """The "Deciding findings" block, when the draft has one."""
    return next((s for s in assessment.sections if s.key == FINDINGS and s.bullets), None)


def evidence_groups(assessment: Assessment, section: Section) -> list[EvidenceGroup]:
    """The Evidence section's statements by source kind, then by document (first cited first)."""
    refs = {ref.n: ref for ref in assessment.references}
    groups: dict[str, dict[int, EvidenceDoc]] = {}
    for bullet in section.bullets:
        ref = refs.get(bullet.citations[0]) if bullet.citations else None
        title = EVIDENCE_GROUPS.get(ref.kind, OTHER_SOURCES) if ref else OTHER_SOURCES
        title = OTHER_INDICATIONS if bullet.other_indication else title
        docs = groups.setdefault(title, {})
        key = ref.n if ref else 0
        docs.setdefault(key, EvidenceDoc(ref, [])).bullets.append(bullet)
    order = [*EVIDENCE_GROUPS.values(), OTHER_SOURCES, OTHER_INDICATIONS]
    return [EvidenceGroup(t, list(groups[t].values())) for t in order if t in groups]


def evidence_note(assessment: Assessment, group: EvidenceGroup | None = None) -> str:
    """What a reader must know about a group of the Evidence (or, without a group, about the
    Evidence as a whole): literature on the drug in other indications is context, not evidence."""
    request = assessment.request
    drug = request.drug if request else "the requested drug"
    indication = request.indication if request and request.indication else "the requested indication"
    if group is not None:
        if group.title != OTHER_INDICATIONS:
            return ""
        return (
            f"These sources report on {drug} in other indications than {indication}; "
            "they are context, not evidence for this use."
        )
    section = next((s for s in assessment.sections if s.key == "evidence"), None)
    if section is not None and section.bullets and all(b.other_indication for b in section.bullets):
        return f"The library holds no guideline, systematic review or trial on {drug} for {indication}."
    return ""


def source_line(ref: Reference) -> str:
    """'Title (Source, Year)': the heading of a document's statements in the Evidence section."""
    published = ", ".join(str(x) for x in (ref.source, ref.year) if x)
    title = one_line(ref.title).rstrip(".")
    return f"{title} ({published})" if published else title


def flags_to_show(assessment: Assessment) -> list:
    """Flags not already stated in the draft's own statements (each finding once)."""
    said = {one_line(b.text) for s in assessment.sections for b in s.bullets}
    return [f for f in assessment.flags if one_line(f.message) not in said]


def walk(criteria: Iterable[Criterion], depth: int = 0) -> Iterator[tuple[int, Criterion]]:
    """Every criterion depth-first, with its depth (0 for the top level)."""
    for criterion in criteria:
        yield depth, criterion
        yield from walk(criterion.children, depth + 1)


def criterion_heading(criterion: Criterion) -> str:
    """The criterion's id, text and how its children combine, as one line."""
    text = f"{criterion.id}. {one_line(criterion.text)}" if criterion.id else one_line(criterion.text)
    if criterion.kind != "requirement":
        text = f"{text} ({criterion.kind.replace('_', ' ')})"
    if criterion.children and criterion.logic in LOGIC_WORDS and "of the following" not in text:
        text = f"{text.rstrip(':')}: {LOGIC_WORDS[criterion.logic]}"
    if criterion.analysis_status and criterion.analysis_status != criterion.status:
        theirs = criterion.analysis_status.replace("_", " ")
        text = f"{text} [disagreement, deterministic analysis: {theirs}]"
    return text


def policy_line(policy: dict[str, Any] | None) -> str:
    """'Title, section: X (doc_id)' from the assessment's policy dict; '' when there is none."""
    if not policy:
        return ""
    title, section, doc_id = policy.get("title"), policy.get("section"), policy.get("doc_id")
    text = str(title or doc_id or "policy")
    if section:
        text = f"{text}, section: {section}"
    if doc_id and title:
        text = f"{text} ({doc_id})"
    return text


def sorted_references(assessment: Assessment) -> list[Reference]:
    return sorted(assessment.references, key=lambda ref: ref.n)


def reference_line(ref: Reference) -> str:
    """The reference in AMA style, as plain text, with meddraft's note '(kind; locator)' (no
    leading number); `rag.rendering.ama` gives the styled forms."""
    return ama.text(ref)


def mg(value: float | None) -> str:
    """1200.0 -> '1,200'; 0.75 -> '0.75'; None -> '—'."""
    return "—" if value is None else amount(value, grouped=True)


def _dose_text(dose_text: str, dose_mg: float | None, interval_days: float | None) -> str:
    if dose_text:
        return plain(dose_text)
    if dose_mg is None:
        return "—"
    return f"{mg(dose_mg)} mg every {mg(interval_days)} days" if interval_days else f"{mg(dose_mg)} mg"


def dosing_rows(assessment: Assessment) -> list[DoseRow]:
    """The requested dose and its comparators; empty when no dose was requested."""
    dosing = assessment.dosing
    requested = dosing.requested
    if requested is None:
        return []
    rows = [
        DoseRow(
            label=f"Requested ({requested.drug})" if requested.drug else "Requested",
            dose_text=_dose_text(requested.dose_text, requested.dose_mg, requested.interval_days),
            mg_per_28_days=mg(requested.mg_per_28_days),
            arithmetic=one_line(requested.arithmetic),
            citations=[],
        )
    ]
    loading = dosing.loading
    if loading and loading.dose_mg and dosing.one_time():
        rows.append(
            DoseRow(
                label="Requested one-time dose",
                dose_text=plain(loading.dose_text),
                mg_per_28_days=mg(None),
                arithmetic=f"one dose of {one_line(loading.arithmetic.split(';')[0])}",
                citations=[],
            )
        )
    rows += [
        DoseRow(
            label=one_line(c.label),
            dose_text=_dose_text(c.dose_text, c.dose_mg, c.interval_days),
            mg_per_28_days=mg(c.mg_per_28_days),
            arithmetic=one_line(c.arithmetic),
            citations=list(c.citations),
        )
        for c in dosing.comparators
    ]
    return rows


def provenance_items(assessment: Assessment) -> list[tuple[str, str]]:
    """(label, value) pairs for the footer; the session only when there is one."""
    p = assessment.provenance
    items = [
        ("generator", p.generator),
        ("model", p.model or "none"),
        ("embedding model", p.embedding_model),
        (
            "unsupported statements",
            f"{p.unsupported_statements} of {p.checked_statements} checked",
        ),
        ("created", p.created_at),
        ("settings hash", p.settings_hash),
    ]
    if assessment.session_id:
        items.append(("session", assessment.session_id))
    return items


def provenance_text(assessment: Assessment) -> str:
    return " · ".join(f"{label}: {value}" for label, value in provenance_items(assessment))
