"""What is being requested: drug, dose regimen, indication, and the patient facts dosing needs.

Sources, in order: the question (the reviewer's words), then the case's `request` documents
(prior-authorization forms: tables, "Label: value" lines, prose). Nothing here knows any drug.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from rag.analysis.dates import first_date
from rag.analysis.dosing import parse_regimen
from rag.errors import MeddraftError
from rag.retrieval.passages import SourceDoc
from rag.types import RequestInfo

_UNIT = r"(?:mg|g|mcg|µg|ug|units?|iu|ml|mL)(?:/kg)?"
_DOSE = rf"\d[\d,]*(?:\.\d+)?\s*{_UNIT}\b"
# "Is <drug> [(Brand)] <dose>", allowing a leading 'maintenance', 'continued', ...
_DRUG_BEFORE_DOSE = re.compile(
    rf"(?P<drug>[A-Za-z][A-Za-z0-9\-]*(?:\s+[A-Za-z][A-Za-z0-9\-]*)?)\s*(?:\((?P<alias>[^)]{{2,40}})\)\s*)?(?={_DOSE})",
    re.I,
)
_LEAD_WORDS = {
    "is",
    "are",
    "should",
    "would",
    "does",
    "maintenance",
    "continued",
    "the",
    "a",
    "an",
    "of",
    "for",
    "with",
    "request",
    "requested",
    "initial",
    "new",
    "start",
    "starting",
    "dose",
    "doses",
    "weekly",
    "once",
    "then",
    "every",
    "and",
    "or",
    "iv",
    "sc",
}
_INDICATION = [
    re.compile(
        r"\bfor\s+(?P<x>[^?]+?)\s+in\s+(?:this|the|a|an)\s+(?:\w+\s+){0,3}?(?:patient|adult|child|member|woman|man|person)\b",
        re.I,
    ),
    re.compile(
        r"\b(?:patient|adult|child|member|woman|man|person|adolescent)\s+with\s+(?:an?\s+)?(?P<x>[^?]+?)(?=\s+who\b|\s+after\b|\s+despite\b|,|\?|$)",
        re.I,
    ),
    re.compile(
        r"\bfor\s+(?:the\s+)?(?:treatment|management|prevention)\s+of\s+(?P<x>[^?]+?)(?=\s+who\b|,|\?|$)",
        re.I,
    ),
    # 'for a 52-year-old with hidradenitis suppurativa who ...'
    re.compile(
        r"\b\d{1,3}[- ](?:year|month)s?[- ]old\s+(?:\w+\s+){0,2}?with\s+(?:an?\s+)?(?P<x>[^?]+?)"
        r"(?=\s+who\b|\s+after\b|\s+despite\b|,|\?|$)",
        re.I,
    ),
    # 'being evaluated for giant cell arteritis', 'suspected of having ...'
    re.compile(
        r"\b(?:being\s+)?(?:evaluated|worked\s+up|assessed|investigated)\s+for\s+(?:possible\s+|suspected\s+)?"
        r"(?P<x>[^?]+?)(?=\s+with\b|\s+who\b|,|\?|$)",
        re.I,
    ),
    # 'Is X indicated for plaque psoriasis?', 'medically necessary for Crohn's disease'
    re.compile(
        r"\b(?:indicated|necessary|appropriate|approved|covered)\s+for\s+(?!(?:this|the|a|an)\s)"
        r"(?P<x>[^?]+?)(?=\s+who\b|\s+after\b|\s+in\s+(?:this|a|an|the)\b|,|\?|$)",
        re.I,
    ),
]
_FIELD_LINE = re.compile(
    r"^\s*(?:[-*]\s+)?(?:\*\*)?(?P<label>[A-Za-z][A-Za-z0-9 /()&-]{1,40}?)(?:\*\*)?"
    r"\s*:\s*(?:\*\*)?\s*(?P<value>\S.*)$"
)
_TABLE_ROW = re.compile(r"^\s*\|\s*(?P<label>[^|]{1,40}?)\s*\|\s*(?P<value>[^|]+?)\s*\|")
_ICD = re.compile(r"\b[A-TV-Z]\d{2}(?:\.[0-9A-Z]{1,4})?\b")


class RequestError(MeddraftError):
    """The question and the request documents do not say what is being requested."""


@dataclass
class Fields:
    """Label -> values from forms: table rows and 'Label: value' lines, labels lower-cased."""

    values: dict[str, list[tuple[str, str, str]]]  # label -> [(value, doc_id, chunk_id)]

    def get(self, *labels: str) -> tuple[str, str, str] | None:
        for wanted in labels:
            for label, items in self.values.items():
                if label == wanted or label.startswith(wanted + " "):
                    return items[0]
        return None


def read_fields(docs: list[SourceDoc]) -> Fields:
    values: dict[str, list[tuple[str, str, str]]] = {}
    for doc in docs:
        offset = 0
        for line in doc.text.split("\n"):
            start = offset
            offset += len(line) + 1
            match = _TABLE_ROW.match(line) or _FIELD_LINE.match(line)
            if not match:
                continue
            label = re.sub(r"\s+", " ", match.group("label").strip(" *").lower())
            value = match.group("value").strip(" *|")
            if label and value and not set(value) <= {"-", ":", " "}:
                chunk_id = doc.chunk_at(start, start + len(line)).chunk_id
                values.setdefault(label, []).append((value, doc.doc_id, chunk_id))
    return Fields(values)


def find_drug(question: str, fields: Fields) -> tuple[str, list[str]]:
    for match in _DRUG_BEFORE_DOSE.finditer(question):
        words = [w for w in match.group("drug").split() if w.lower() not in _LEAD_WORDS]
        if words:
            drug = " ".join(words)
            aliases = _aliases(drug, match.group("alias"))
            return drug, aliases
    field = fields.get("drug", "medication", "medication requested", "product")
    if field:
        value = field[0]
        name = re.match(r"\s*([A-Za-z][A-Za-z0-9\-]*(?:\s+[a-z][A-Za-z\-]*){0,3})", value)
        alias = re.search(r"\(([^)]{2,40})\)", value)
        if name:
            drug = re.split(r"\s+\d", name.group(1))[0].strip()
            return drug, _aliases(drug, alias.group(1) if alias else None)
    raise RequestError(
        "no identifiable drug: name the drug and its dose in the question "
        "(e.g. 'Is DRUG 300 mg SC every 4 weeks medically indicated ...') or in the case's "
        "request document ('Drug: ...')"
    )


def _aliases(drug: str, alias: str | None) -> list[str]:
    names = []
    if alias:
        names += [a.strip() for a in re.split(r"[,/;]| or ", alias) if a.strip()]
    base = re.match(r"^([a-z]{5,})-[a-z]{4}$", drug.lower())  # biosimilar suffix (-adaz)
    if base:
        names.append(base.group(1))
    return [n for n in dict.fromkeys(names) if n.lower() != drug.lower()]


def find_indication(question: str, fields: Fields, docs: list[SourceDoc]) -> list[str]:
    """Indication phrases: from the question, then the request's diagnosis lines."""
    found: list[str] = []
    for pattern in _INDICATION:
        match = pattern.search(question)
        if match:
            found.append(match.group("x").strip(" ,."))
    from_form: list[str] = []
    for doc in docs:  # "## Diagnosis" sections of request forms: first line with an ICD code
        for sentence in doc.sentences:
            if "diagnos" in sentence.section.lower() and _ICD.search(sentence.text):
                from_form.append(sentence.clean)
                break
    for label in ("primary", "primary diagnosis", "diagnosis", "indication"):
        field = fields.get(label)
        if field:
            from_form.append(field[0])
    for text in from_form[:1]:  # the primary diagnosis only: other items may be other requests
        text = re.sub(
            r"^(?:primary|secondary|diagnosis)\s*:\s*",
            "",
            _ICD.sub("", text.replace("*", "")),
            flags=re.I,
        )
        text = re.sub(r"\([^)]*\)", "", text)
        found.append(re.split(r";|\s+-\s+|,", text)[0].strip(" -:,.*"))
    cleaned = [re.sub(r"\s+", " ", f) for f in found if len(f) > 3 and (len(f.split()) > 1 or len(f) >= 8)]
    return list(dict.fromkeys(cleaned))


_WEIGHT = re.compile(
    r"\b(?:(?:body|dosing|current)\s+)?(?:weight|wt|weighs?)(?!\s*(?:loss|gain|change|reduction|decrease|increase))"
    r"\b[^.\d\n]{0,20}?(?P<n>\d+(?:\.\d+)?)\s*(?P<u>kg|lbs?)\b",
    re.I,
)
_AGE = [
    # 'Age: 57', 'aged 6', 'Age 8 months' - not 'since age 12', 'onset at age 30'
    re.compile(
        r"(?<!since )(?<!at )(?<!by )(?<!from )(?<!until )\b(?:age|aged)\s*[:=]?\s*(?P<n>\d{1,3})"
        r"\s*(?P<u>years?|yrs?|months?|mos?)?\b(?!\s*(?:at|of) (?:onset|diagnosis))",
        re.I,
    ),
    re.compile(r"\b(?P<n>\d{1,3})[- ](?P<u>year|month)s?[- ]old\b", re.I),
    re.compile(r"\b(?P<n>\d{1,3})\s*(?P<u>yo|y/o|y\.o\.)(?=\W)", re.I),
    re.compile(
        r"(?<![\w/.-])(?P<n>\d{1,2})\s?(?P<u>[MF])\b(?=\s+(?:w/|with|presents|pt\b|patient|here|seen|s/p))"
    ),
]


def find_weight(fields: Fields, docs: list[SourceDoc], question: str = "") -> float | None:
    """The patient's weight: a weight field or a 'weight/weighs N kg' statement; a weight loss of
    6 kg is not a weight."""
    field = fields.get("weight", "dosing weight", "body weight")
    texts = [question] + ([f"weight {field[0]}"] if field else [])
    texts += [s.text for d in docs for s in d.sentences if re.search(r"weigh|\bwt\b", s.text, re.I)]
    for text in texts:
        match = _WEIGHT.search(text)
        if match:
            value = float(match["n"])
            return round(value * 0.4536, 1) if match["u"].lower().startswith("lb") else value
    return None


def find_age(fields: Fields, docs: list[SourceDoc], on: date | None, question: str = "") -> float | None:
    """The patient's age in years: stated ('Age: 57', '74-year-old', '34M w/', 'Age 8 months' = 0.67)
    or from the date of birth; 'since age 12' is the age something began, not the patient's."""
    for text in [question, *(doc.text for doc in docs)]:
        for pattern in _AGE:
            match = pattern.search(text)
            if match:
                value = float(match["n"])
                unit = (match.groupdict().get("u") or "").lower()
                return round(value / 12, 2) if unit.startswith("mo") else value
    field = fields.get("date of birth", "dob", "birth date")
    born = first_date(field[0]) if field else None
    for doc in docs if born is None else []:
        if m := re.search(r"\b(?:DOB|date of birth)\b\s*[:#]?\s*([^\n|;]{6,20})", doc.text, re.I):
            born = first_date(m.group(1))
            if born:
                break
    if born and on:
        return float(on.year - born.year - ((on.month, on.day) < (born.month, born.day)))
    return None


def parse_request(question: str, docs: list[SourceDoc]) -> RequestInfo:
    """Combine the question with the case's request documents."""
    requests = [d for d in docs if d.kind == "request"] or docs
    fields = read_fields(requests)
    drug, aliases = find_drug(question, fields)
    request_date = max((d.date for d in requests if d.date), default=None)
    on = date.fromisoformat(request_date) if request_date else None
    weight = find_weight(fields, requests, question) or find_weight(Fields({}), docs)
    dose = _dose_from_question(question, weight, drug)
    if dose is None or (dose.mg_per_28_days is None and not dose.per_kg):
        dose = _dose_from_fields(fields, weight, drug) or dose
    indications = find_indication(question, fields, requests)
    chunk_ids = _dose_chunks(requests, dose, weight) + sorted(
        {cid for items in fields.values.values() for _, _, cid in items}
    )
    return RequestInfo(
        drug=drug,
        drug_aliases=aliases,
        indication=indications[0] if indications else "",
        indication_terms=indications,
        dose=dose,
        route=dose.route if dose else None,
        patient_age=find_age(fields, requests, on, question) or find_age(fields, docs, on),
        patient_weight_kg=weight,
        request_date=request_date,
        source_chunk_ids=list(dict.fromkeys(chunk_ids))[:20],
    )


def _dose_from_question(question: str, weight: float | None, drug: str):
    match = re.search(re.escape(drug), question, re.I)
    tail = question[match.end() :] if match else question
    tail = re.split(r"\bmedically\b|\bindicated\b|\bfor this\b|\bfor the\b", tail, maxsplit=1)[0]
    return parse_regimen(tail, weight_kg=weight, drug=drug) if re.search(_DOSE, tail) else None


def _dose_from_fields(fields: Fields, weight: float | None, drug: str):
    candidates = []
    for labels in (("sig",), ("dose and frequency",), ("maintenance dose",), ("dose",)):
        field = fields.get(*labels)
        if field:
            text = field[0]
            freq = fields.get("frequency")
            if labels == ("dose",) and freq and not re.search(r"every|weekly|daily|q\d", text, re.I):
                text = f"{text} {freq[0]}"
            loading = fields.get("loading dose")
            if labels == ("maintenance dose",) and loading:
                text = f"{loading[0]}, then {text}"
            candidates.append(text)
    for text in candidates:
        dose = parse_regimen(text, weight_kg=weight, drug=drug)
        if dose is not None and (dose.mg_per_28_days is not None or dose.per_kg):
            return dose
    return None


def _dose_chunks(docs: list[SourceDoc], dose, weight: float | None) -> list[str]:
    """Chunks of the request whose sentences state the requested regimen (first: the best)."""
    if dose is None or not dose.mg_per_28_days:
        return []
    from rag.analysis.dosing import find_regimens

    found = []
    for doc in docs:
        for sentence in doc.sentences:
            for _, _, regimen in find_regimens(sentence.text, weight_kg=weight):
                if regimen.mg_per_28_days and abs(regimen.mg_per_28_days - dose.mg_per_28_days) < 0.5:
                    found.append(sentence.chunk_id)
    return list(dict.fromkeys(found))
