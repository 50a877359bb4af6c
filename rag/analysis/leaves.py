"""What kind of requirement a criterion is, and its parameters: the leaf types of the schema.

Each reader recognises one family by its wording (age, specialty, concurrent use, test result,
prior therapy, measurement, dose limit, documentation, diagnosis) and returns the typed leaf with
what it could read. Names of drugs, classes, tests and specialties come from the lexicon data;
nothing here knows a drug, payer or condition. A criterion none of them reads is `FreeText`: the
engine never decides it, a reviewer does.
"""

from __future__ import annotations

import re

from rag.analysis import lexicon
from rag.analysis.criteria import (
    Age,
    ConcurrentUse,
    Diagnosis,
    Documentation,
    DoseLimitLeaf,
    FreeText,
    Leaf,
    Measurement,
    PriorTherapy,
    Specialty,
    TestResult,
)
from rag.analysis.record import QUANTITY, TIME_UNIT, duration_days, number_value
from rag.analysis.responses import read_response

_AGE_MIN = re.compile(
    r"(?:≥|>=|at least|aged?)\s*(\d{1,2})\s*(?:years?|yrs?)(?:\s+of\s+age)?"
    r"|(\d{1,2})\s*(?:years?|yrs?)\s*(?:of\s+age\s+)?(?:and|or)\s+(?:older|over|above)"
    r"|(?:age|aged)\s+(\d{1,2})\s*(?:years?)?\s*(?:or|and)\s+(?:older|over|above)",
    re.I,
)
_AGE_RANGE = re.compile(r"(?:age[sd]?\s+)?(\d{1,2})\s*(?:to|-|–|through)\s*(\d{1,2})\s*years", re.I)
_AGE_MAX = re.compile(r"(?:younger than|under|<)\s*(\d{1,2})\s*years", re.I)
_AGE_CONTEXT = re.compile(r"years? of age|\bage\b|\baged\b|years? (?:and|or) older", re.I)
_SPECIALTY = re.compile(r"prescribed by|in consultation with|specialist", re.I)
_CONCURRENT = re.compile(
    r"in combination with|concomitant|concurrent|"
    r"not (?:be )?(?:used|receiving|given|administered)\b[^.]*\bwith",
    re.I,
)
_TEST_WORDS = re.compile(r"screen|tested|test\b|assay|result", re.I)
_POSITIVE_TREATED = re.compile(r"if (?:the result (?:is|was) )?positive|positive (?:result|test)", re.I)
_THERAPY = re.compile(
    r"inadequate response|failure|failed|trial|tried|intoleran|contraindicat|refractory|"
    r"previously (?:been )?treated|loss of response|non-?response|despite",
    re.I,
)
_DOSE = re.compile(
    r"dose (?:does not|must not|not to) exceed|quantity limit|dosing (?:limit|table)|"
    r"limits? in (?:the |section )|dose and quantity|weight-based as listed|dose matched to body weight",
    re.I,
)
_DOCUMENTATION = re.compile(r"^\s*(?:chart notes|documentation|medical record)", re.I)
_HAS_CONDITION = re.compile(
    r"^(?:the\s+)?(?:member|patient|individual)\s+has\s+(?:a\s+|an\s+)?"
    r"(?P<name>(?:moderately|moderate|severely|severe|active|chronic|confirmed)\b[^;:]{3,120})$",
    re.I,
)
_DIAGNOSIS = re.compile(r"\bdiagnos[ie]s|\bconfirmed\b|\bwith (?:active |moderate|severe)", re.I)
_MEASURE = re.compile(
    r"(?P<name>[A-Za-z][\w%/-]*(?:\s+[A-Za-z][\w-]*){0,3}?)\s*(?:score\s*)?(?:of\s*)?"
    r"(?P<op>≥|>=|≤|<=|>|<|at least|greater than or equal to|less than|more than|below|above)\s*"
    r"(?P<value>\d+(?:[.,]\d+)?)\s*(?P<unit>%|mg/L|mg/dL|IU/mL|kUA/L|mm/h|points?|units?|kg/m2|"
    r"kg/m²|cells/(?:µL|uL|mm3)|g/dL|mmol/L)?",
    re.I,
)
_MEASURE_AFTER = re.compile(
    r"(?:at least|≥)\s*(?P<value>\d+(?:\.\d+)?)\s*(?P<unit>%)\s*(?:of\s+)?"
    r"(?P<name>(?:body surface area|BSA)\b)",
    re.I,
)
_WINDOW = re.compile(rf"within (?:the )?(?:past |last |prior |previous )?({QUANTITY})\s*({TIME_UNIT})", re.I)
_MIN_TRIAL = re.compile(
    rf"(?:minimum|at least|a)\s+(?:of\s+)?({QUANTITY})[\s-]*({TIME_UNIT})\b(?:\s+trial)?"
    rf"|({QUANTITY})[\s-]*({TIME_UNIT})\s+trial"
    rf"|for (?:at least |a (?:combined )?total of (?:at least )?)?({QUANTITY})\s*({TIME_UNIT})",
    re.I,
)
_COUNT = re.compile(r"\b(?:at least\s+)?(one|two|three|four|1|2|3|4)\b\s+(?:different\s+)?", re.I)
_MEASURE_TRAILING = re.compile(
    r"(?P<name>\b[\w/-]+)?\s*(?:score|count|level|index|of)?\s*(?:of\s+)?(?<![A-Za-z])(?P<value>\d+(?:[.,]\d+)?)\s*"
    r"(?P<unit>%|mg/L|mg/dL|IU/mL|kUA/L|mm/h|cells/(?:µL|uL|mm3)|kg/m2|kg/m²|g/dL|points?)?\s*"
    r"(?P<op>or (?:greater|more|higher|above)|and (?:above|over)|or (?:less|lower|below|fewer))\b",
    re.I,
)
_TRAILING_OPS = {
    "or greater": ">=", "or more": ">=", "or higher": ">=", "or above": ">=", "and above": ">=",
    "and over": ">=", "or less": "<=", "or lower": "<=", "or below": "<=", "or fewer": "<=",
}  # fmt: skip
_OPS = {
    "≥": ">=",
    ">=": ">=",
    "at least": ">=",
    "greater than or equal to": ">=",
    "≤": "<=",
    "<=": "<=",
    ">": ">",
    "more than": ">",
    "above": ">",
    "<": "<",
    "less than": "<",
    "below": "<",
}


def read_leaf(text: str, *, exclusion: bool = False, drugs: tuple[str, ...] = ()) -> Leaf:
    """The typed leaf for one criterion's text; `FreeText` when no reader recognises it.

    In an exclusion ('will not be authorized when ... used in combination with another
    biologic') the combination itself is what is excluded, so no negation is needed."""
    if exclusion and (leaf := read_concurrent(text, negated=False)):
        return leaf
    if leaf := read_cotherapy(text, drugs):
        return leaf
    for reader in READERS:
        leaf = read_prior_therapy(text, drugs) if reader is read_prior_therapy else reader(text)
        if leaf is not None:
            return leaf
    return FreeText(read_by_wording=True)


def read_age(text: str) -> Age | None:
    if m := re.search(r"\b(?:age|aged)\s+(\d{1,2})\s*months?\s*(?:or|and)\s+older", text, re.I):
        return Age(min_years=round(int(m.group(1)) / 12, 3))
    if not _AGE_CONTEXT.search(text) or (
        len(text) > 220 and not text.lower().startswith(("patient", "member"))
    ):
        return None
    if m := _AGE_RANGE.search(text):
        return Age(min_years=float(m.group(1)), max_years=float(m.group(2)))
    low = _AGE_MIN.search(text)
    high = _AGE_MAX.search(text)
    if not low and not high:
        return None
    minimum = next((float(g) for g in low.groups() if g), None) if low else None
    return Age(min_years=minimum, max_years=float(high.group(1)) if high else None)


def read_specialty(text: str) -> Specialty | None:
    if not _SPECIALTY.search(text):
        return None
    names = lexicon.specialties(text)
    return Specialty(specialties=names) if names else None


def read_concurrent(text: str, *, negated: bool = True) -> ConcurrentUse | None:
    """Only a combination the text rules out ('not ... in combination with'): 'will receive
    glucocorticoids in combination with' is a co-therapy requirement, not an exclusion."""
    m = _CONCURRENT.search(text)
    if not m or _THERAPY.search(text[: m.start()]):
        return None
    if negated and not re.search(r"\bnot\b|\bno\b|\bnever\b|\bwithout\b", text[: m.end()], re.I):
        return None
    after = re.split(
        r"in combination with|concomitant(?:ly)?|concurrent(?:ly)?|\bwith\b", text, maxsplit=1, flags=re.I
    )
    tail = after[-1]
    excluded = lexicon.class_names(tail) + [
        d for d in lexicon.drug_names(tail) if d not in lexicon.class_names(tail)
    ]
    generic = re.findall(r"another (?:biologic|targeted [\w ]+?|monoclonal antibody)(?=\W|$)", tail, re.I)
    excluded = list(dict.fromkeys([*generic, *excluded]))
    return ConcurrentUse(excluded=excluded) if excluded else None


def read_cotherapy(text: str, drugs: tuple[str, ...] = ()) -> ConcurrentUse | None:
    """'DRUG will be used in combination with AGENT, unless contraindicated' and 'receiving ...
    CLASS in combination with the product': what must be given with it (classes and drugs from
    the lexicon)."""
    m = _CONCURRENT.search(text)
    if not m or re.search(r"\bnot\b|\bno\b|\bnever\b|\bwithout\b", text[: m.end()], re.I):
        return None
    if not re.search(
        r"\b(?:will|is|are|be|being|currently)\b[^.;]*\b(?:used|receiv\w*|given|taken)\b", text, re.I
    ):
        return None
    own = {d.lower() for d in drugs}
    named = [*lexicon.class_names(text), *lexicon.drug_names(text)]
    required = [n for n in dict.fromkeys(named) if n.lower() not in own and not _covers(n, own)]
    if not required:
        return None
    unless = re.search(r"\bunless\b([^.;]+)", text, re.I)
    return ConcurrentUse(required=required, unless=unless.group(1).strip() if unless else None)


def _covers(name: str, drugs: set[str]) -> bool:
    """A class named after the policy's own drug ('DRUG agent') is not a co-therapy."""
    return any(d in name.lower() for d in drugs)


def read_test(text: str) -> TestResult | None:
    tests = lexicon.tests_named(text)
    if not tests or not _TEST_WORDS.search(text) or _THERAPY.search(text):
        return None
    accepts = ["negative"]
    if _POSITIVE_TREATED.search(text) or re.search(
        r"latent|treatment .*(?:initiated|started|completed)", text, re.I
    ):
        accepts.append("positive_treated")
    window = _WINDOW.search(text)
    days = duration_days(number_value(window.group(1)), window.group(2)) if window else None
    return TestResult(test=tests[0], accepts=accepts, window_days=days)


def read_prior_therapy(text: str, own: tuple[str, ...] = ()) -> PriorTherapy | None:
    """What must have been tried; the policy's own drug ('DRUG is prescribed to reduce ...') is
    never a prior therapy."""
    if not _THERAPY.search(text):
        return None
    classes = lexicon.class_names(text)
    skip = {c.lower() for c in classes} | {d.lower() for d in own}
    drugs = [d for d in lexicon.drug_names(text) if d.lower() not in skip]
    if not classes and not drugs and not re.search(r"\bDMARDs?\b|\bNSAIDs?\b|biologic|immunomodulator", text):
        return None
    count, count_of = 1, "drugs"
    if m := re.search(
        r"\b(one|two|three|1|2|3)\b\s+(?:different\s+)?(?:of the following|(?:[\w-]+\s+){0,2}?"
        r"(?:agents|drugs|classes|therapies|treatments|medications|NSAIDs|DMARDs|biologics|"
        r"inhibitors|antagonists|blockers|steroids|corticosteroids|immunosuppressants)\b)",
        text,
        re.I,
    ):
        count = int(number_value(m.group(1)))
        count_of = "classes" if re.search(r"different classes|classes", m.group(0), re.I) else "drugs"
    minimum = None
    if m := _MIN_TRIAL.search(text):
        groups = [g for g in m.groups() if g]
        minimum = duration_days(number_value(groups[0]), groups[1])
    outcomes = []
    if re.search(
        r"inadequate|failure|failed|loss of response|non-?response|refractory|despite|trial", text, re.I
    ):
        outcomes.append("inadequate_response")
    if re.search(r"intoleran|adverse", text, re.I):
        outcomes.append("intolerance")
    if re.search(r"contraindicat", text, re.I):
        outcomes.append("contraindication")
    return PriorTherapy(
        drugs=drugs,
        classes=classes,
        count=count,
        count_of=count_of,
        min_duration_days=minimum,
        outcomes=outcomes or ["inadequate_response"],
    )


def read_dose_limit(text: str) -> DoseLimitLeaf | None:
    return DoseLimitLeaf() if _DOSE.search(text) else None


def read_measurement(text: str) -> Measurement | None:
    if m := _MEASURE_TRAILING.search(text):
        name = _measure_name(text[: m.start()]) or m.group("name")
        return Measurement(
            name=name,
            operator=_TRAILING_OPS[m.group("op").lower()],
            value=float(m.group("value").replace(",", "")),
            unit=m.group("unit"),
            window_days=_window(text),
        )
    m = _MEASURE_AFTER.search(text)
    if m:
        return Measurement(name=m.group("name"), operator=">=", value=float(m.group("value")), unit="%")
    for m in _MEASURE.finditer(text):
        name = m.group("name").strip()
        if re.fullmatch(r"(?i)(?:patient|member|is|has|age|the|a|of|with|years?)(?:\s+\w+)?", name):
            continue
        if m.group("unit") is None and not re.search(r"[A-Z]{2,}|score|index", m.group(0)):
            continue
        window = _WINDOW.search(text)
        return Measurement(
            name=name,
            operator=_OPS[m.group("op").lower()],
            value=float(m.group("value").replace(",", "")),
            unit=m.group("unit"),
            window_days=duration_days(number_value(window.group(1)), window.group(2)) if window else None,
        )
    return None


def _measure_name(before: str) -> str:
    """'Eczema Area and Severity Index (EASI) score' -> 'EASI'; else the last words before it."""
    if acronym := re.findall(r"\(([A-Z][A-Za-z0-9-]{1,9})\)", before):
        return acronym[-1]
    words = re.findall(
        r"[A-Za-z][\w/-]*", re.sub(r"\b(?:score|count|of|a|an|the|with|level)\b", " ", before, flags=re.I)
    )
    return " ".join(words[-3:])


def _window(text: str) -> float | None:
    window = _WINDOW.search(text)
    return duration_days(number_value(window.group(1)), window.group(2)) if window else None


def read_documented_measure(text: str) -> Measurement | None:
    """'Functional disability documented with a baseline INCAT disability score': a value of the
    measure must be in the record, whatever it is."""
    if not re.search(r"\bdocumented\b|\bdocumentation\b|\bbaseline\b", text, re.I):
        return None
    if not re.search(r"\b(?:score|scale|index|count|grade|stage)\b", text, re.I):
        return None
    acronyms = re.findall(r"\(([A-Z][A-Za-z0-9-]{1,9})\)", text)
    if not acronyms:
        return None
    return Measurement(name=acronyms[0], operator=None, value=None, window_days=_window(text))


def read_documentation(text: str) -> Documentation | None:
    return Documentation(what=text) if _DOCUMENTATION.search(text) else None


# 'Symptoms of esophageal dysfunction (for example dysphagia or food impaction)': the findings named
_FINDINGS = re.compile(
    r"^(?:documented\s+|clinical\s+)?(?:symptoms?|signs?|clinical (?:features|manifestations)|findings)"
    r"\s+of\b[^()]*\((?:for example|e\.g\.,?|such as|including)\s+(?P<examples>[^()]+)\)",
    re.I,
)


def read_diagnosis(text: str) -> Diagnosis | None:
    if m := _FINDINGS.match(text.strip()):
        names = [n.strip(" .") for n in re.split(r",\s*|\s+or\s+|\s+and\s+", m["examples"]) if n.strip(" .")]
        return Diagnosis(names=names)
    if m := _HAS_CONDITION.match(text):  # 'Member has moderately to severely active Crohn's disease'
        name = m.group("name").strip(" .;")
        severity = re.findall(
            r"\b(active|moderate(?:ly)?(?: to severe(?:ly)?)?|severe(?:ly)?|chronic)\b", name, re.I
        )
        return Diagnosis(names=[name], severity=list(dict.fromkeys(s.lower() for s in severity)))
    if not _DIAGNOSIS.search(text):
        return None
    m = re.search(
        r"(?:diagnosis of|diagnosed with|with a diagnosis of|with)\s+(?P<name>[^;,.]+?)"
        r"(?:\s+(?:confirmed|as|by|who|that|when|and|based)\b|[;,.]|$)",
        text,
        re.I,
    )
    name = (m.group("name") if m else text).strip()
    severity = re.findall(
        r"\b(active|moderate(?:ly)?(?: to severe(?:ly)?)?|severe|refractory|chronic)\b", name, re.I
    )
    confirmed = re.findall(r"confirmed by ([^;.]+)", text, re.I)
    return Diagnosis(
        names=[name], severity=list(dict.fromkeys(s.lower() for s in severity)), confirmed_by=confirmed
    )


READERS = [
    read_dose_limit,
    read_specialty,
    read_concurrent,
    read_test,
    read_age,
    read_prior_therapy,
    read_response,
    read_measurement,
    read_documented_measure,
    read_documentation,
    read_diagnosis,
]
