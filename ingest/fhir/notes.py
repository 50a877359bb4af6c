"""FHIR resources -> the Markdown notes of a case, written as clinics write them so that the
engine reads them unchanged: a medication table under the column headers the medication reader
knows (`rag/analysis/medications.py`), labs as `name: value (reference ...)` lines, problems with
their status in words, and refuted conditions as "ruled out".

Only clinical content is written: no names, addresses, telecoms or identifiers of the patient,
and the date of birth only as an age.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
from dataclasses import dataclass, field

from ingest.fhir.bundle import Bundle, Resource, concept_code, concept_text, day, quantity


@dataclass
class Note:
    """One document made from a bundle: what goes into its front matter, and its Markdown body."""

    key: str  # the document id's tail: '<case>-fhir-<key>'
    kind: str
    title: str
    date: str | None
    body: str
    warnings: list[str] = field(default_factory=list)


SKIP = frozenset({"entered-in-error"})
_UNITS = {"s": "second", "min": "minute", "h": "hour", "d": "day", "wk": "week", "mo": "month", "a": "year"}


def cell(text: object) -> str:
    """Text safe inside a Markdown table cell (one line, no pipes); an empty cell is '—'."""
    return " ".join(str(text or "").replace("|", "/").split()) or "—"


def notes_text(resource: Resource) -> str:
    return " ".join(n["text"] for n in resource.get("note") or [] if n.get("text"))


# --- Patient -----------------------------------------------------------------------------------


def age_on(birth: str, when: str) -> int | None:
    try:
        born, on = dt.date.fromisoformat(_full(birth)), dt.date.fromisoformat(when)
    except ValueError:
        return None
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


def _full(value: str) -> str:
    return {4: f"{value}-07-01", 7: f"{value}-15"}.get(len(value), value[:10])


def demographics(patient: Resource, as_of: str | None) -> Note:
    """Age (from the birth date, on the record's date) and sex; nothing that identifies."""
    sex = patient.get("gender") or "unknown"
    lines = ["# Demographics", ""]
    age = age_on(patient.get("birthDate", ""), as_of) if patient.get("birthDate") and as_of else None
    if age is not None:
        who = sex if sex in ("female", "male") else "patient"
        lines.append(f"The patient is a {age}-year-old {who} (age on {as_of}).")
        lines += ["", f"- Age: {age} years", f"- Sex: {sex}"]
    else:
        lines += [f"- Sex: {sex}", "- Age: not stated (no birth date or record date in the bundle)"]
    if patient.get("deceasedBoolean") or patient.get("deceasedDateTime"):
        lines.append("- Deceased")
    return Note("demographics", "clinical_note", "Demographics (from FHIR)", as_of, "\n".join(lines) + "\n")


# --- Condition ---------------------------------------------------------------------------------


def problems(bundle: Bundle) -> Note | None:
    """The problem list: active, then past, then ruled out (refuted); entered-in-error omitted."""
    groups: dict[str, list[tuple[str, str]]] = {"active": [], "past": [], "ruled out": []}
    for c in bundle.of_type("Condition"):
        verification = concept_code(c.get("verificationStatus")).lower()
        clinical = concept_code(c.get("clinicalStatus")).lower()
        name = concept_text(c.get("code"))
        if verification in SKIP or not name:
            continue
        onset = day(c.get("onsetDateTime") or (c.get("onsetPeriod") or {}).get("start")) or c.get(
            "onsetString", ""
        )
        codes = _codes(c.get("code"))
        if verification == "refuted":
            groups["ruled out"].append((onset, f"- {name}{codes}: ruled out."))
            continue
        words = [w for w in (concept_text(c.get("severity")).lower(), clinical, verification) if w]
        when = f", onset {onset}" if onset else ""
        ended = day(c.get("abatementDateTime"))
        when += f", resolved {ended}" if ended else ""
        group = "active" if clinical in ("", "active", "recurrence", "relapse") else "past"
        groups[group].append((onset, f"- {name}{codes}: {', '.join(words) or 'status not stated'}{when}."))
    if not any(groups.values()):
        return None
    body = ["# Problem List", ""]
    titles = {"active": "Active problems", "past": "Past problems", "ruled out": "Ruled out"}
    for key, rows in groups.items():
        if rows:
            body += [f"## {titles[key]}", "", *(r for _, r in sorted(rows)), ""]
    return Note(
        "problems", "clinical_note", "Problem List (from FHIR)", _latest(bundle, "Condition"), "\n".join(body)
    )


def _codes(concept: dict | None) -> str:
    systems = {"snomed": "SNOMED CT", "icd-10": "ICD-10-CM", "icd10": "ICD-10-CM", "rxnorm": "RxNorm"}
    for coding in (concept or {}).get("coding") or []:
        system = str(coding.get("system", "")).lower()
        label = next((v for k, v in systems.items() if k in system), None)
        if label and coding.get("code"):
            return f" (code {coding['code']}, {label})"
    return ""


# --- MedicationStatement / MedicationRequest --------------------------------------------------


def medication_name(bundle: Bundle, resource: Resource) -> str:
    if resource.get("medicationCodeableConcept"):
        return concept_text(resource["medicationCodeableConcept"])
    medication = bundle.resolve(resource.get("medicationReference"))
    return concept_text((medication or {}).get("code")) or (resource.get("medicationReference") or {}).get(
        "display", ""
    )


def dosage_text(dosage: dict | None) -> str:
    """Dose, route and frequency: the dosage's own text, else from doseAndRate, route and timing."""
    if not dosage:
        return ""
    if dosage.get("text"):
        return str(dosage["text"])
    parts = [quantity((r or {}).get("doseQuantity")) for r in dosage.get("doseAndRate") or []][:1]
    parts.append(concept_text(dosage.get("route")))
    timing = dosage.get("timing") or {}
    parts.append(concept_text(timing.get("code")) or _repeat(timing.get("repeat") or {}))
    if dosage.get("asNeededBoolean"):
        parts.append("as needed")
    return " ".join(p for p in parts if p).replace(" %", "%")


def _repeat(repeat: dict) -> str:
    if repeat.get("count") == 1:
        return "once"
    freq, period, unit = repeat.get("frequency", 1), repeat.get("period"), repeat.get("periodUnit")
    if not period or unit not in _UNITS:
        return ""
    name = _UNITS[unit]
    if freq == 1:
        return f"every {name}" if period == 1 else f"every {period:g} {name}s"
    per = name if period == 1 else f"{period:g} {name}s"
    return f"{freq} times every {per}" if period != 1 else f"{freq} times a {per}"


def medications(bundle: Bundle, exclude: set[int]) -> Note | None:
    """Every medication taken, one table row each, with its outcome in words (stopped or completed
    ones with their reason as prior therapy); plans (draft, intended) and the requested drug are
    not medication history."""
    rows = []
    for r in bundle.of_type("MedicationStatement", "MedicationRequest"):
        status = r.get("status", "")
        if id(r) in exclude or status in SKIP | {"draft", "intended", "not-taken", "cancelled"}:
            continue
        name = medication_name(bundle, r)
        if not name:
            continue
        dosage = (r.get("dosage") or r.get("dosageInstruction") or [None])[0]
        start, stop = _period(r, dosage)
        given = r.get("statusReason") or []  # a list on MedicationStatement, one concept on a request
        reasons = [x for x in map(concept_text, given if isinstance(given, list) else [given]) if x]
        outcome = {"active": "Ongoing (active)", "on-hold": "On hold"}.get(status, status.capitalize())
        if reasons:
            outcome += f". Reason: {'; '.join(reasons)}"
        if note := notes_text(r):
            outcome += f". Note: {note}"
        why = "; ".join(concept_text(c) for c in r.get("reasonCode") or [] if concept_text(c))
        rows.append((start or "", name, dosage_text(dosage), stop, outcome, why))
    if not rows:
        return None
    table = [
        "| Medication | Dose | Start | Stop | Status and reason | Indication |",
        "|---|---|---|---|---|---|",
    ]
    for start, name, dose, stop, outcome, why in sorted(rows):
        table.append("| " + " | ".join(cell(x) for x in (name, dose, start, stop, outcome, why)) + " |")
    body = "# Medication History\n\n## Medications: past and current\n\n" + "\n".join(table) + "\n"
    dates = [d for row in rows for d in (row[0], row[3]) if d]
    return Note(
        "medications", "clinical_note", "Medication History (from FHIR)", max(dates, default=None), body
    )


def _period(r: Resource, dosage: dict | None) -> tuple[str, str]:
    period = r.get("effectivePeriod") or ((dosage or {}).get("timing") or {}).get("repeat", {}).get(
        "boundsPeriod"
    )
    if period:
        return day(period.get("start")), day(period.get("end"))
    start = day(r.get("effectiveDateTime") or r.get("authoredOn"))
    return start, ""


# --- Observation, Procedure ----------------------------------------------------------------------


def observation_value(o: Resource) -> str:
    if "valueQuantity" in o:
        return quantity(o["valueQuantity"]).replace(" %", "%")
    if "valueCodeableConcept" in o:
        return concept_text(o["valueCodeableConcept"])
    for key in ("valueString", "valueInteger", "valueBoolean"):
        if key in o:
            return str(o[key])
    if o.get("valueRange"):
        low, high = (quantity(o["valueRange"].get(k)) for k in ("low", "high"))
        return f"{low} to {high}"
    parts = [f"{concept_text(c.get('code'))} {observation_value(c)}" for c in o.get("component") or []]
    return "; ".join(p.strip() for p in parts if p.strip())


def labs(bundle: Bundle) -> Note | None:
    """Each observation on one line: name, value, reference range, interpretation, date."""
    rows = []
    for o in bundle.of_type("Observation"):
        value = observation_value(o)
        if o.get("status") in SKIP | {"cancelled"} or not value:
            continue
        name = concept_text(o.get("code"))
        when = day(
            o.get("effectiveDateTime") or (o.get("effectivePeriod") or {}).get("start") or o.get("issued")
        )
        extra = []
        if ranges := o.get("referenceRange"):
            rr = ranges[0]
            low, high = quantity(rr.get("low")), quantity(rr.get("high"))
            extra.append(
                f"reference {rr.get('text') or (f'{low} to {high}' if low and high else low or high)}"
            )
        if interp := "; ".join(concept_text(c) for c in o.get("interpretation") or []):
            extra.append(f"interpretation {interp}")
        tail = f" ({'; '.join(extra)})" if extra else ""
        rows.append((when, name, f"- {name}: {value}{tail}, {when or 'date not stated'}."))
    if not rows:
        return None
    body = "# Laboratory Results and Measurements\n\n## Results\n\n" + "\n".join(r for *_, r in sorted(rows))
    return Note(
        "labs",
        "clinical_note",
        "Laboratory Results and Measurements (from FHIR)",
        max((r[0] for r in rows if r[0]), default=None),
        body + "\n",
    )


def procedures(bundle: Bundle) -> Note | None:
    """Procedures and non-drug treatments (phototherapy, surgery), one table row each."""
    rows = []
    for p in bundle.of_type("Procedure"):
        if p.get("status") in SKIP or not concept_text(p.get("code")):
            continue
        period = p.get("performedPeriod") or {}
        start = day(period.get("start") or p.get("performedDateTime"))
        outcome = "; ".join(x for x in (concept_text(p.get("outcome")), notes_text(p)) if x)
        status = {"not-done": "Not done", "in-progress": "Ongoing (in progress)"}.get(p.get("status", ""), "")
        outcome = ". ".join(x for x in (status or p.get("status", "").capitalize(), outcome) if x)
        why = "; ".join(concept_text(c) for c in p.get("reasonCode") or [] if concept_text(c))
        rows.append((start, concept_text(p["code"]), day(period.get("end")), outcome, why))
    if not rows:
        return None
    table = ["| Treatment or procedure | Start | Stop | Outcome | Indication |", "|---|---|---|---|---|"]
    for start, name, stop, outcome, why in sorted(rows):
        table.append("| " + " | ".join(cell(x) for x in (name, start, stop, outcome, why)) + " |")
    dates = [d for r in rows for d in (r[0], r[2]) if d]
    body = "# Procedures\n\n## Procedures and treatments\n\n" + "\n".join(table) + "\n"
    return Note("procedures", "clinical_note", "Procedures (from FHIR)", max(dates, default=None), body)


# --- DocumentReference -----------------------------------------------------------------------------

_TEXT_TYPES = ("text/plain", "text/markdown")


def documents(bundle: Bundle, warnings: list[str]) -> list[Note]:
    """A note for each DocumentReference carrying text inline; URLs are never fetched (what is
    skipped is said in `warnings`)."""
    out = []
    for n, ref in enumerate(bundle.of_type("DocumentReference")):
        if ref.get("status") in SKIP:
            continue
        when = day(ref.get("date") or ((ref.get("context") or {}).get("period") or {}).get("start"))
        title = ref.get("description") or concept_text(ref.get("type")) or "Clinical document"
        texts: list[str] = []
        for content in ref.get("content") or []:
            att = content.get("attachment") or {}
            kind = str(att.get("contentType", "")).split(";")[0].strip().lower()
            if att.get("data") and kind in _TEXT_TYPES:
                try:
                    texts.append(base64.b64decode(att["data"], validate=True).decode("utf-8"))
                except (binascii.Error, UnicodeDecodeError):
                    warnings.append(
                        f"DocumentReference {n + 1}: attachment is not base64 UTF-8 text, skipped"
                    )
            elif att.get("url") and not att.get("data"):
                warnings.append(f"DocumentReference {n + 1}: attachment by URL only, not fetched")
            elif att.get("data"):
                warnings.append(f"DocumentReference {n + 1}: attachment of type {kind or 'unknown'} skipped")
        text = "\n\n".join(t.strip() for t in texts if t.strip())
        if not text:
            continue
        key = f"note-{when or 'undated'}-{ref.get('id') or n + 1}"
        body = text if text.lstrip().startswith("#") else f"# {title}\n\n{text}"
        out.append(Note(key, "clinical_note", title, when or None, body + "\n"))
    return out


def _latest(bundle: Bundle, kind: str) -> str | None:
    dates = [
        day(r.get("recordedDate") or r.get("onsetDateTime") or (r.get("onsetPeriod") or {}).get("start"))
        for r in bundle.of_type(kind)
    ]
    return max((d for d in dates if d), default=None)
