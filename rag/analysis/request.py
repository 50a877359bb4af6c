"""What is being requested: drug, dose regimen, indication, and the patient facts dosing needs.

Sources, in order: the question (the reviewer's words), then the case's `request` documents
(prior-authorization forms: tables, "Label: value" lines, prose). Nothing here knows any drug.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from rag.analysis import lexicon
from rag.analysis.dates import first_date
from rag.analysis.dosing import parse_regimen
from rag.analysis.question import _ASKED_BEFORE, _HAD_BEFORE, _INDICATION, _LEAD_WORDS
from rag.errors import MeddraftError
from rag.retrieval.passages import SourceDoc
from rag.text import shorten
from rag.types import Flag, RequestInfo

_UNIT = r"(?:mg|g|mcg|µg|ug|units?|iu|ml|mL)(?:/kg)?"
_DOSE = rf"\d[\d,]*(?:\.\d+)?\s*{_UNIT}\b"
# "Is <drug> [(Brand)] <dose>", allowing a leading 'maintenance', 'continued', ...
_DRUG_BEFORE_DOSE = re.compile(
    rf"(?P<drug>[A-Za-z][A-Za-z0-9\-]*(?:\s+[A-Za-z][A-Za-z0-9\-]*)?)\s*(?:\((?P<alias>[^)]{{2,40}})\)\s*)?(?={_DOSE})",
    re.I,
)
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
    candidates = []
    for match in _DRUG_BEFORE_DOSE.finditer(question):
        words = [w for w in match.group("drug").split() if w.lower() not in _LEAD_WORDS]
        if words:
            drug = " ".join(words)
            lead = question[max(0, match.start() - 40) : match.start() + match.group("drug").find(words[0])]
            score = (1 if _ASKED_BEFORE.search(lead) else 0) - (1 if _HAD_BEFORE.search(lead) else 0)
            candidates.append((-score, len(candidates), drug, match.group("alias")))
    if candidates:
        _, _, drug, alias = min(candidates)
        return drug, _aliases(drug, alias)
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
    for name in [drug, *names]:
        base = re.match(r"^([a-z]{5,})-[a-z]{4}$", name.lower())  # biosimilar suffix (-adaz)
        if base:
            names.append(base.group(1))
    # 'IVIG' is 'immune globulin intravenous' (the lexicon's synonyms)
    names += [s for n in [drug, *names] for s in lexicon.synonyms(n)]
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
    # a change is not a weight: 'Wt down ~5 kg since 10/2024', 'weight fell by 6 kg'
    r"(?![^.\d\n]{0,20}?\b(?:down|up|lost|loss|gain(?:ed)?|dropped|fell|decreased|increased|reduced|by)\b)"
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


_PERSON_WEIGHT = re.compile(
    r"\b(?P<n>\d+(?:\.\d+)?)[- ]?(?P<u>kg|lbs?)\s+(?:\w+[- ]year[- ]old\s+)?"
    r"(?:patient|man|woman|male|female|adult|child|boy|girl|member|adolescent)\b",
    re.I,
)


def _kg(match: re.Match) -> float:
    value = float(match["n"])
    return round(value * 0.4536, 1) if match["u"].lower().startswith("lb") else value


def question_weight(question: str) -> float | None:
    """A weight the question states: 'weighs 70 kg', 'weight 92 kg', 'for a 92 kg man'."""
    match = _WEIGHT.search(question) or _PERSON_WEIGHT.search(question)
    return _kg(match) if match else None


def find_weight(fields: Fields, docs: list[SourceDoc], question: str = "") -> float | None:
    """The patient's weight: the question's, a weight field or a 'weight/weighs N kg' statement;
    a weight loss of 6 kg is not a weight."""
    if question and (asked := question_weight(question)):
        return asked
    field = fields.get("weight", "dosing weight", "body weight")
    texts = [f"weight {field[0]}"] if field else []
    texts += [s.text for d in docs for s in d.sentences if re.search(r"weigh|\bwt\b", s.text, re.I)]
    for text in texts:
        match = _WEIGHT.search(text)
        if match:
            return _kg(match)
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
    asked = _dose_from_question(question, weight, drug)
    on_form = _dose_from_fields(fields, weight, drug)
    dose = asked
    if dose is None or (dose.mg_per_28_days is None and not dose.per_kg):
        dose = on_form or dose
    indications = find_indication(question, fields, requests)
    chunk_ids = _dose_chunks(requests, dose, weight) + sorted(
        {cid for items in fields.values.values() for _, _, cid in items}
    )
    disagreements = disagreements_of(question, fields, requests, drug, aliases, asked, on_form, weight)
    return RequestInfo(
        drug=drug,
        drug_aliases=aliases,
        indication=indications[0] if indications else "",
        indication_terms=indications,
        dose=dose,
        route=dose.route if dose else None,
        patient_age=find_age(fields, requests, on, question) or find_age(fields, docs, on),
        patient_weight_kg=weight,
        weight_chunk_ids=_weight_chunks([*requests, *docs], weight),
        request_date=request_date,
        source_chunk_ids=list(dict.fromkeys(chunk_ids))[:20],
        disagreements=disagreements,
    )


def disagreements_of(question, fields: Fields, requests, drug, aliases, asked, on_form, weight) -> list[Flag]:
    """Where the question and the request document say different things (drug, regimen, weight,
    diagnosis): the question decides, and the writer is told which document says otherwise."""
    out: list[Flag] = []
    if not question.strip() or not any(d.kind == "request" for d in requests):
        return out
    form_drug = fields.get("drug", "medication", "medication requested", "product")
    names = {n.lower() for n in [drug, *aliases]}
    if form_drug and re.search(re.escape(drug), question, re.I):
        written = form_drug[0].lower()
        known = set(lexicon.drug_names(written)) | {w for w in re.findall(r"[a-z][a-z-]{3,}", written)}
        if known and not any(n in written or n.split("-")[0] in known for n in names):
            out.append(
                Flag(
                    kind="request_disagreement",
                    message=f"The question asks about {drug}, but the request form {form_drug[1]} names "
                    f'"{shorten(form_drug[0], 80)}"; the assessment follows the question.',
                    chunk_ids=[form_drug[2]],
                )
            )
    if (
        asked is not None
        and on_form is not None
        and asked.mg_per_28_days
        and on_form.mg_per_28_days
        and abs(asked.mg_per_28_days - on_form.mg_per_28_days) > 0.5
        and not (asked.loading_text or on_form.loading_text)
    ):
        chunk = _dose_chunks(requests, on_form, weight)
        out.append(
            Flag(
                kind="request_disagreement",
                message=f"The question's regimen ({asked.dose_text}, {asked.mg_per_28_days:g} mg per 28 "
                f"days) differs from the request form's ({on_form.dose_text}, {on_form.mg_per_28_days:g} mg "
                "per 28 days); the assessment follows the question.",
                chunk_ids=chunk[:1],
            )
        )
    value = question_weight(question)
    form_weight = find_weight(fields, requests)
    if value and form_weight and abs(value - form_weight) > max(1.0, 0.03 * form_weight):
        out.append(
            Flag(
                kind="request_disagreement",
                message=f"The question gives a weight of {value:g} kg, the request documents "
                f"{form_weight:g} kg; weight-based doses use the question's.",
            )
        )
    return out


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


def _weight_chunks(docs: list[SourceDoc], weight: float | None) -> list[str]:
    """Chunks whose sentences state `weight` ('Current weight | 70.0 kg', 'Wt 70.0 kg')."""
    if weight is None:
        return []
    found = [
        sentence.chunk_id
        for doc in docs
        for sentence in doc.sentences
        if (m := _WEIGHT.search(sentence.text) or _PERSON_WEIGHT.search(sentence.text))
        and abs(_kg(m) - weight) < 0.05
    ]
    return list(dict.fromkeys(found))[:2]


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
