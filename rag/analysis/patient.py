"""The patient record as the engine reads it: every drug, test, specialty and measured value the
case's documents mention, with its assertion, date, outcome and the sentence it comes from.

`meddraft case show CASE_ID` prints it, so a reviewer sees what the engine believes before reading
a verdict. Names come from the lexicon (drugs, classes, tests, specialties); values from
"NAME value unit" statements.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, Field

from rag.analysis import lexicon
from rag.analysis.evaluators.history import result_of
from rag.analysis.medications import outcomes_of, read_tables
from rag.analysis.record import CaseFacts
from rag.analysis.request import parse_request
from rag.retrieval.passages import SourceDoc
from rag.text import shorten

Kind = Literal["medication", "test", "measurement", "specialty"]
_VALUE = re.compile(
    r"\b(?P<name>[A-Z][A-Za-z0-9-]{1,9})\b\s*(?:score\s*)?[:=]?\s*(?P<value>\d+(?:\.\d+)?)\s*"
    r"(?P<unit>%|mg/L|mg/dL|mm/h|IU/mL|kg|µg/g|g/dL|points?)?(?![\d/.-])"
)
_NOT_MEASURES = {
    "ICD",
    "DOB",
    "MRN",
    "NPI",
    "HCPCS",
    "CPT",
    "NDC",
    "ID",
    "SC",
    "IV",
    "PO",
    "BID",
    "TID",
    "QD",
}


class RecordItem(BaseModel):
    kind: Kind
    name: str
    value: str | None = None
    status: str = Field(description="Assertion (present, negated, family, hypothetical ...) or result.")
    outcome: str | None = Field(None, description="For drugs: inadequate response, intolerance, ongoing ...")
    date: str | None = None
    start: str | None = Field(None, description="For a drug read from a table: when it was started.")
    stop: str | None = Field(None, description="When it was stopped (none: ongoing or not stated).")
    duration_days: float | None = Field(None, description="How long it was taken, from the row.")
    quote: str
    doc_id: str
    chunk_id: str


class PatientRecord(BaseModel):
    case_id: str
    drug: str = ""
    dose: str = ""
    indication: str = ""
    age: float | None = None
    weight_kg: float | None = None
    items: list[RecordItem] = Field(default_factory=list)


def extract_record(case_id: str, docs: list[SourceDoc], question: str = "") -> PatientRecord:
    request = parse_request(question or "What is requested?", docs)
    facts = CaseFacts(case_id, docs, request, lambda texts: [], {})
    items: list[RecordItem] = []
    rows: dict[str, list[tuple[int, int]]] = {}
    for doc in docs:
        for entry in read_tables(doc.text, facts.as_of):
            rows.setdefault(doc.doc_id, []).append((entry.start_offset, entry.end_offset))
            outcome = ", ".join(entry.outcomes) or None
            detail = f" ({shorten(entry.outcome_text, 80)})" if outcome and entry.outcome_text else ""
            items.append(
                RecordItem(
                    kind="medication",
                    name=entry.drug,
                    value=entry.dose or None,
                    status="present",
                    outcome=f"{outcome}{detail}" if outcome else None,
                    date=entry.start.isoformat() if entry.start else None,
                    start=entry.start.isoformat() if entry.start else None,
                    stop=entry.stop.isoformat() if entry.stop else ("ongoing" if entry.ongoing else None),
                    duration_days=entry.duration_days,
                    quote=shorten(entry.row, 200),
                    doc_id=doc.doc_id,
                    chunk_id=doc.chunk_at(entry.start_offset, entry.end_offset).chunk_id,
                )
            )
    drugs = sorted({n for d in docs for n in lexicon.drug_names(d.text)})
    for m in facts.mentions(drugs) if drugs else []:
        if any(a <= m.sentence.start < b for a, b in rows.get(m.sentence.doc_id, [])):
            continue  # the table row was read above, cell by cell
        found = outcomes_of(m.sentence.text)
        items.append(_item("medication", m.term, m, facts, outcome=found[0] if found else None))
    for name, aliases in lexicon.tests().items():
        for m in facts.mentions([a for a in aliases if len(a) > 2 or a.isupper()]):
            items.append(_item("test", name, m, facts, value=result_of(m.sentence.text, m.start)))
    for name in lexicon.specialty_names():
        for m in facts.mentions(lexicon.specialty_aliases(name)):
            items.append(_item("specialty", name, m, facts))
    for s in facts.sentences:
        for v in _VALUE.finditer(s.text):
            if v["name"].upper() in _NOT_MEASURES or not re.search(r"[A-Z]{2}", v["name"]):
                continue
            if re.fullmatch(r"(?:19|20)\d{2}", v["value"]) or len(s.text) > 600:
                continue  # a year, or a page header run together with a table
            value = f"{v['value']}{v['unit'] or ''}"
            items.append(
                RecordItem(
                    kind="measurement",
                    name=v["name"],
                    value=value,
                    status="present",
                    date=_date(facts, s),
                    quote=shorten(s.clean, 200),
                    doc_id=s.doc_id,
                    chunk_id=s.chunk_id,
                )
            )
    unique = {(i.kind, i.name, i.quote): i for i in items}
    return PatientRecord(
        case_id=case_id,
        drug=request.drug,
        dose=request.dose.dose_text if request.dose else "",
        indication=request.indication,
        age=request.patient_age,
        weight_kg=request.patient_weight_kg,
        items=sorted(unique.values(), key=lambda i: (i.kind, i.name.lower(), i.date or "")),
    )


def _item(kind: Kind, name: str, m, facts: CaseFacts, *, outcome=None, value=None) -> RecordItem:
    return RecordItem(
        kind=kind,
        name=name,
        value=value,
        status=m.assertion,
        outcome=outcome,
        date=_date(facts, m.sentence),
        quote=m.excerpt(200),
        doc_id=m.sentence.doc_id,
        chunk_id=m.sentence.chunk_id,
    )


def _date(facts: CaseFacts, sentence) -> str | None:
    when = facts.sentence_date(sentence)
    return when.isoformat() if when else None
