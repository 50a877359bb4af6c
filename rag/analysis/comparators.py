"""The requested dose beside the policy's limit, the label and the literature, in mg per 28 days."""

from __future__ import annotations

import re

from ingest.store import Store
from rag.analysis.criteria import DoseLimit, Indication
from rag.analysis.dosing import find_regimens, format_mg, parse_regimen
from rag.analysis.policy import core_phrase, find_policy_docs
from rag.retrieval.passages import SourceDoc, literature_catalogue, load_documents, units
from rag.retrieval.scope import LITERATURE_KINDS
from rag.types import ONE_TIME_DOSE, Dose, DoseComparator, DosingAnalysis, RequestInfo

_LIMIT_WORDS = re.compile(r"maximum|\bmax\b|up to|limit|not (?:to )?exceed|no more than|covered dose", re.I)
_TYPICAL = re.compile(
    r"most common|most frequent|commonly|median|typical|usual|standard|recommended|most often|most used",
    re.I,
)
_GENERIC_LABEL = re.compile(
    r"^(?:adults?|children|pediatric|ages?|maximum|max|quantity|maintenance|induction|loading|"
    r"initial|note|dose|dosing|limit|weight|patients?|members?)\b",
    re.I,
)


def drug_names(request: RequestInfo) -> list[str]:
    return [request.drug, *request.drug_aliases]


def label_doc(store: Store, request: RequestInfo) -> SourceDoc | None:
    """The drug's label, when one is in the store."""
    ids = find_policy_docs(literature_catalogue(store, ["drug_label"]), drug_names(request))
    docs = load_documents(store, ids[:1])
    return docs[0] if docs else None


def _regimens(text: str, weight: float | None) -> list[Dose]:
    return [d for _, _, d in find_regimens(text, weight_kg=weight) if d.mg_per_28_days]


def _other_product(line: str, names: list[str]) -> bool:
    head = re.match(r"^([A-Z][\w-]+):", line)
    return bool(
        head
        and not _GENERIC_LABEL.match(head.group(1))
        and head.group(1).lower() not in {n.lower() for n in names}
    )


def dosing_analysis(
    store: Store, request: RequestInfo, indication: Indication | None, label: SourceDoc | None
) -> DosingAnalysis:
    """The request against the policy's limit for the indication, the label and the literature."""
    weight = request.patient_weight_kg
    comparators: list[DoseComparator] = []
    if indication is not None and (limit := policy_limit(indication, request)):
        comparators.append(limit)
        if (higher := policy_limit(indication, request, conditional=True)) and (
            (higher.mg_per_28_days or 0) > (limit.mg_per_28_days or 0)
        ):
            comparators.append(higher)
    loading_text = request.dose.loading_text if request.dose else None
    loading = parse_regimen(loading_text, weight_kg=weight) if loading_text else None
    if (
        loading
        and indication is not None
        and (single := policy_single_dose(indication, request, loading.route))
    ):
        comparators.append(single)  # only beside a requested one-time dose: else it answers nothing
    if label:
        comparators += _label_comparators(label, request, weight)
    comparators += _literature_comparators(store, request, weight)
    summary = _dose_summary(request.dose, comparators)
    return DosingAnalysis(
        requested=request.dose,
        loading=loading,
        comparators=comparators,
        summary=summary,
    )


CONDITIONAL = "policy_conditional"  # a comparator's source_kind: a policy limit granted under a condition


def policy_limit(
    indication: Indication, request: RequestInfo, *, conditional: bool = False
) -> DoseComparator | None:
    """The policy's highest unconditional maintenance limit that fits the request's route and the
    patient's weight, in mg per 28 days; a limit that holds only under a condition is left out.
    With `conditional`, the highest of the limits granted only under a condition instead (dose
    escalation after a partial response, members not taking a co-medication)."""
    weight = request.patient_weight_kg
    route = (request.route or (request.dose.route if request.dose else None) or "").upper()
    best: tuple[float, DoseLimit, Dose] | None = None
    for limit in indication.dose_limits:
        if bool(limit.condition) != conditional or limit.phase == "loading" or not limit.every_days:
            continue
        if route and limit.route and limit.route.upper() != route:
            continue
        if weight is not None and not _in_band(limit, weight):
            continue
        if not _for_age(limit.text, request.patient_age):
            continue  # 'Members 4 to 17 years: ...' is not the limit for an adult
        dose = _limit_dose(limit, weight)
        if dose is not None and (best is None or dose.mg_per_28_days > best[0]):
            best = (dose.mg_per_28_days, limit, dose)
    if best is None:
        return None
    _, limit, dose = best
    if conditional:
        label, kind = f"Policy limit under a condition ({indication.name})", CONDITIONAL
    else:
        label, kind = f"Policy limit ({indication.name})", "policy"
    text = (limit.condition or limit.text) if conditional else limit.text  # the condition is what matters
    comparator = _comparator(label, kind, dose, text, limit.chunk_id or "")
    if _by_weight(limit):
        comparator.weight_kg = weight
    return comparator


_ONE_TIME = re.compile(r"induction|loading|\bonce\b|single|one[- ]time|initial dose", re.I)
# a row that also states a repeat ('6 mg/kg IV once, then 1.75 mg/kg every 4 weeks, maximum 300
# mg per maintenance infusion') mixes phases: which number caps which dose is not read
_REPEATS = re.compile(r"\bevery\b|\bq\s*\d|\bweekly\b|\bmonthly\b|\bthen\b|maintenance", re.I)


def policy_single_dose(
    indication: Indication, request: RequestInfo, route: str | None = None
) -> DoseComparator | None:
    """The policy's one-time dose for the indication (an IV induction set by weight band: '≤ 55
    kg: 260 mg; > 55 kg to 85 kg: 390 mg; > 85 kg: 520 mg'), for the patient's weight: rows with a
    dose and no repeat interval that are weight-banded, or say induction, loading, once or single
    and state no repeat; on `route` (of the requested one-time dose) when both name one. With
    weight-banded or per-kg rows and no documented weight, a comparator without a dose: the engine
    cannot say what the dose is, and says so rather than pick a row."""
    weight = request.patient_weight_kg
    rows = [
        limit
        for limit in indication.dose_limits
        if not limit.every_days
        and limit.phase != "maintenance"
        and not limit.condition
        and (limit.mg is not None or limit.per_kg_mg is not None)
        and (_banded(limit) or (_ONE_TIME.search(limit.text) and not _REPEATS.search(limit.text)))
        and not (route and limit.route and limit.route.upper() != route.upper())
        and _for_age(limit.text, request.patient_age)
    ]
    if not rows:
        return None
    label = f"Policy one-time dose ({indication.name})"
    by_weight = [r for r in rows if _by_weight(r)]  # bands, or mg per kg
    if by_weight and weight is None:
        return DoseComparator(
            label=label,
            source_kind=ONE_TIME_DOSE,
            dose_text="; ".join(r.text for r in by_weight),
            arithmetic="set by body weight; no weight is documented",
            chunk_ids=list(dict.fromkeys(r.chunk_id for r in by_weight if r.chunk_id))[:2],
        )
    fitting = [r for r in rows if weight is None or not _by_weight(r) or _in_band(r, weight)]
    doses = [(d, r) for r in fitting if (d := _single_mg(r, weight)) is not None]
    if not doses:
        return None
    (mg, written), row = max(doses, key=lambda t: t[0][0])
    return DoseComparator(
        label=label,
        source_kind=ONE_TIME_DOSE,
        dose_mg=mg,
        dose_text=row.text,
        arithmetic=f"one dose of {written}" + (f" for a weight of {weight:g} kg" if _by_weight(row) else ""),
        chunk_ids=[row.chunk_id] if row.chunk_id else [],
        weight_kg=weight if _by_weight(row) else None,
    )


def _single_mg(limit: DoseLimit, weight: float | None) -> tuple[float, str] | None:
    """One dose of a limit row in mg and how it was worked out (per-kg rows need the weight)."""
    if limit.mg is not None:
        return limit.mg, format_mg(limit.mg)
    if limit.per_kg_mg is None or not weight:
        return None
    mg = limit.per_kg_mg * weight
    written = f"{limit.per_kg_mg:g} mg/kg x {weight:g} kg = {format_mg(mg)}"
    if limit.cap_mg is not None and mg > limit.cap_mg:
        mg, written = limit.cap_mg, f"{written}, capped at {format_mg(limit.cap_mg)}"
    return mg, written


def _banded(limit: DoseLimit) -> bool:
    return limit.weight_min_kg is not None or limit.weight_max_kg is not None


def _by_weight(limit: DoseLimit) -> bool:
    """Whether the row's dose depends on the patient's weight (a weight band or mg per kg)."""
    return _banded(limit) or limit.per_kg_mg is not None


_AGE_RANGE = re.compile(r"\b(\d{1,2})\s*(?:to|-|–)\s*(\d{1,2})\s*(?:years|yrs)\b", re.I)
_AGE_UNDER = re.compile(r"\b(?:under|younger than|below|less than)\s*(\d{1,2})\s*(?:years|yrs)\b", re.I)
_AGE_OVER = re.compile(r"\b(\d{1,2})\s*(?:years|yrs)(?:\s+of\s+age)?\s+(?:and|or)\s+older\b", re.I)


def _for_age(text: str, age: float | None) -> bool:
    """Whether a limit row written for an age band ('Members 4 to 17 years') fits the patient;
    True when the row names no band or the age is unknown."""
    if age is None:
        return True
    if m := _AGE_RANGE.search(text):
        return float(m.group(1)) <= age <= float(m.group(2)) + 0.99
    if m := _AGE_UNDER.search(text):
        return age < float(m.group(1))
    if m := _AGE_OVER.search(text):
        return age >= float(m.group(1))
    return True


def _limit_dose(limit: DoseLimit, weight: float | None) -> Dose | None:
    """A limit row in mg per 28 days, with the arithmetic shown (per-kg rows need the weight)."""
    one = _single_mg(limit, weight)
    if one is None:
        return None
    mg, written = one
    per_28 = round(mg * 28 / limit.every_days, 1)
    every = limit.every_days
    arithmetic = f"{written} every {every:g} days = {mg:g} x 28/{every:g} = {format_mg(per_28)} per 28 days"
    return Dose(
        dose_mg=mg,
        interval_days=limit.every_days,
        mg_per_28_days=per_28,
        dose_text=limit.text,
        arithmetic=arithmetic,
    )


def _in_band(limit: DoseLimit, weight: float) -> bool:
    low, high = limit.weight_min_kg, limit.weight_max_kg
    return (low is None or weight > low) and (high is None or weight <= high)


def _label_comparators(label: SourceDoc, request: RequestInfo, weight: float | None) -> list[DoseComparator]:
    cores = [c.lower() for c in (core_phrase(i) for i in request.indication_terms) if c]
    rows = []
    for start, end in units(label.text):
        text = label.text[start:end]
        for dose in _regimens(text, weight):
            rows.append(
                (any(c in text.lower() for c in cores), dose, text, label.chunk_at(start, end).chunk_id)
            )
    if not rows:
        return []
    matching = [r for r in rows if r[0]]
    pick = max(matching or rows, key=lambda r: r[1].mg_per_28_days)
    what = "for this indication" if matching else "(highest labeled dose, any indication)"
    _, dose, text, chunk_id = pick
    return [
        _comparator(f"Label {what}", "drug_label", dose, re.sub(r"\s+", " ", text.strip(" |-*")), chunk_id)
    ]


def _literature_comparators(store: Store, request: RequestInfo, weight: float | None) -> list[DoseComparator]:
    kinds = list(LITERATURE_KINDS)
    catalogue = literature_catalogue(store, kinds)
    cores = [c for c in (core_phrase(i) for i in request.indication_terms) if c]
    names = drug_names(request)
    docs = load_documents(store, [m["doc_id"] for m in catalogue])
    out = []
    for doc in docs:
        if not any(re.search(rf"\b{re.escape(n)}\b", doc.text, re.I) for n in names):
            continue
        about_drug = any(re.search(rf"\b{re.escape(n)}\b", doc.title, re.I) for n in names)
        for s in doc.sentences:
            names_drug = any(re.search(rf"\b{re.escape(n)}\b", s.text, re.I) for n in names)
            if not _TYPICAL.search(s.text) or not (about_drug or names_drug):
                continue
            doses = _regimens(s.text, weight)
            if doses:
                dose = doses[0]
                relevant = any(c.lower() in doc.text.lower() for c in cores)
                out.append((relevant, doc, s, dose))
    out.sort(key=lambda r: (not r[0], -(r[1].year or 0)))
    seen: set[tuple[str, float]] = set()
    out = [
        r
        for r in out
        if (r[1].doc_id, r[3].mg_per_28_days) not in seen and not seen.add((r[1].doc_id, r[3].mg_per_28_days))
    ]
    return [
        _comparator(f"Literature: {doc.title}", "literature", dose, s.clean, s.chunk_id)
        for _, doc, s, dose in out[:3]
    ]


def _comparator(label: str, kind: str, dose: Dose, text: str, chunk_id: str) -> DoseComparator:
    return DoseComparator(
        label=label,
        source_kind=kind,
        dose_mg=dose.dose_mg,
        interval_days=dose.interval_days,
        mg_per_28_days=dose.mg_per_28_days,
        dose_text=text,
        arithmetic=dose.arithmetic,
        chunk_ids=[chunk_id],
    )


def _dose_summary(requested: Dose | None, comparators: list[DoseComparator]) -> str:
    if requested is None or not requested.mg_per_28_days:
        return "The requested dose could not be normalised to mg per 28 days."
    parts = [f"Requested: {requested.arithmetic}."]
    for c in comparators:
        if c.mg_per_28_days:
            ratio = requested.mg_per_28_days / c.mg_per_28_days
            parts.append(f"{c.label}: {format_mg(c.mg_per_28_days)} per 28 days ({ratio:.1f}x).")
    return " ".join(parts)
