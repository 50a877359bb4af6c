"""Dose and quantity limits: the rows of a policy's dosing tables and limit sentences, per indication.

A PDF table reaches us as lines, with cells wrapped over several of them. A row starts at a line
that names an indication (its name or its abbreviation, as the policy itself defines it: "Psoriatic
arthritis (PsA)"); the lines after it belong to that row until the next one. Each regimen in a row
becomes a `DoseLimit`: loading or maintenance, route, a weight band ("> 55 kg to 85 kg: 390 mg"),
and a condition when the policy allows it only in some cases ("300 mg every 4 weeks if ...").
"""

from __future__ import annotations

import re

from rag.analysis.acronyms import find_definitions
from rag.analysis.criteria import DoseLimit, Indication, PolicyCriteria
from rag.analysis.dosing import find_regimens
from rag.analysis.layout import lines_of

_LOADING = re.compile(r"\bloading\b|\binduction\b|\bweeks? 0\b|\bat weeks?\b|\bonce\b|\bday 1\b", re.I)
_MAINTENANCE = re.compile(r"\bmaintenance\b|\bevery\b|\bthen\b|\bq\d+w\b|\bper \d+ (?:days|weeks)\b", re.I)
_CONDITION = re.compile(
    r"^[^.;]{0,12}?\b(?:if|only|when|where|for (?:a )?patients? who|after|in patients with)\b", re.I
)
_CONDITION_LINE = re.compile(r"\bmay be (?:approved|authorized) only\b|\bonly (?:for|if|when)\b", re.I)
# a regimen whose own sentence grants it only in some cases: 'Dose escalation to 40 mg every week
# ... may be approved for adults with a partial response after 16 weeks', 'Members not taking
# concomitant methotrexate: up to 40 mg every week', '... may be approved with documented loss of
# response'. The engine does not check such a condition, so the limit must not count as the standard one.
_CONDITION_SENTENCE = re.compile(
    r"\bmay be (?:approved|authori[sz]ed|allowed)\b[^.]{0,80}?\b(?:with|after|if|when|for (?:adults|"
    r"patients|members|children) (?:with|who))\b|\b(?:partial|inadequate|suboptimal|loss of) response\b"
    r"|\bnot taking\b",
    re.I,
)
_COURSE_LIMIT = re.compile(
    r"(?P<mg>\d{1,3}(?:,\d{3})*|\d+)\s*mg\s+per\s+course\b[^.]{0,60}?"
    r"(?:\b1\s+course\s+per|not\s+sooner\s+than\s+every|every)\s+(?P<weeks>\d+)\s+weeks",
    re.I,
)
_BAND = re.compile(
    r"(?P<a>[<>≤≥]=?)\s*(?P<x>\d+(?:\.\d+)?)\s*kg(?:\s*(?:to|-|–)\s*(?P<y>\d+(?:\.\d+)?)\s*kg)?\s*:?\s*$",
    re.I,
)


def read_limits(
    policy: PolicyCriteria, text: str, spans: list[tuple[int, int, Indication | None]], pages: int, locate
) -> None:
    """Fill each indication's `dose_limits` from the dosing sections' spans of `text`."""
    names = _row_names(policy, text)
    for start, end, owner in spans:
        current = [owner] if owner else policy.indications[:1] if len(policy.indications) == 1 else []
        row: list[tuple[str, int, int]] = []
        rows: list[tuple[list[Indication], list[tuple[str, int, int]]]] = []
        for line in lines_of(text[start:end], pages):
            named = [] if owner else _names_row(names, line.text)
            if named:
                if row:
                    rows.append((current, row))
                current, row = named, []
            row.append((line.text.strip(), start + line.start, start + line.end))
        if row:
            rows.append((current, row))
        for indications, parts in rows:
            for indication in indications:
                indication.dose_limits += _row_limits(indication, parts, locate)


def _row_limits(indication: Indication, parts: list[tuple[str, int, int]], locate) -> list[DoseLimit]:
    joined = " ".join(p for p, _, _ in parts)
    conditional_row = bool(_CONDITION_LINE.search(joined))
    out = []
    offset = 0
    spans = []
    for text, start, _ in parts:
        spans.append((offset, start))
        offset += len(text) + 1
    if course := _COURSE_LIMIT.search(joined):
        # '2,000 mg per course; 1 course per 16 weeks' / 'not sooner than every 16 weeks'
        weeks = float(course["weeks"])
        page, chunk_id = locate(parts[0][1], parts[0][1] + 1)
        out.append(
            DoseLimit(
                mg=float(course["mg"].replace(",", "")),
                every_days=weeks * 7,
                phase="maintenance",
                indication=indication.name,
                text=joined[max(0, course.start() - 20) : course.end() + 10].strip(),
                page=page,
                chunk_id=chunk_id,
            )
        )
    for s, e, dose in find_regimens(joined):
        if not (dose.dose_mg or dose.per_kg):
            continue
        before, after = joined[max(0, s - 40) : s], joined[e : e + 60]
        band = _BAND.search(before)
        per_kg = re.search(r"(\d+(?:\.\d+)?)\s*(mg|g)/kg", joined[s:e])
        cap = re.search(r"max(?:imum)?\.?\s*(?:of\s*)?(\d+(?:,\d{3})*(?:\.\d+)?)\s*mg", after, re.I)
        phase = (
            "loading"
            if _LOADING.search(joined[s:e] + " " + after[:12]) and not dose.interval_days
            else ("maintenance" if dose.interval_days else "any")
        )
        # the condition as the whole sentence that states it: a draft quotes it to the reviewer
        condition = None
        sentence = _sentence_at(joined, s, e)
        if _CONDITION.search(after) or _CONDITION_SENTENCE.search(sentence):
            condition = sentence
        elif conditional_row and (line := _CONDITION_LINE.search(joined)):
            condition = _sentence_at(joined, line.start(), line.end())
        line_start = max((st for off, st in spans if off <= s), default=parts[0][1])
        page, chunk_id = locate(line_start, line_start + 1)
        out.append(
            DoseLimit(
                mg=dose.dose_mg,
                per_kg_mg=float(per_kg.group(1)) * (1000 if per_kg.group(2) == "g" else 1)
                if per_kg and dose.per_kg
                else None,
                cap_mg=float(cap.group(1).replace(",", "")) if cap and dose.per_kg else None,
                every_days=dose.interval_days,
                phase=phase,
                route=dose.route,
                weight_min_kg=_band_min(band),
                weight_max_kg=_band_max(band),
                indication=indication.name,
                condition=condition,
                text=sentence,
                page=page,
                chunk_id=chunk_id,
            )
        )
    return out


def _sentence_at(text: str, start: int, end: int) -> str:
    """The sentence of a row that holds a regimen, without list marks: what a draft quotes."""
    left = max(text.rfind(". ", 0, start), text.rfind("; ", 0, start), text.rfind(" - ", 0, start))
    right_candidates = [i for i in (text.find(". ", end), text.find("; ", end)) if i != -1]
    right = min(right_candidates) + 1 if right_candidates else len(text)
    return re.sub(r"^[\s|:;.-]+|[\s|;-]+$", "", text[left + 1 if left >= 0 else 0 : right]).strip()


def _band_min(band: re.Match | None) -> float | None:
    if band is None:
        return None
    if band.group("y") or band.group("a").startswith((">", "≥")):
        return float(band.group("x"))
    return None


def _band_max(band: re.Match | None) -> float | None:
    if band is None:
        return None
    if band.group("y"):
        return float(band.group("y"))
    return float(band.group("x")) if band.group("a").startswith(("<", "≤")) else None


def _row_names(policy: PolicyCriteria, text: str) -> list[tuple[str, Indication]]:
    """Every way a table row can name an indication: its name, its first words, its abbreviations."""
    abbreviations = find_definitions([text])
    names: list[tuple[str, Indication]] = []
    for indication in policy.indications:
        full = re.sub(r"\s*\([^)]*\)", "", indication.name).strip()
        names.append((full, indication))
        names += [(short, indication) for short in re.findall(r"\(([A-Za-z-]{2,10})\)", indication.name)]
        names += [
            (short, indication)
            for short, long in abbreviations.items()
            if long.lower() in indication.name.lower() or _first_words(long) == _first_words(full)
        ]
        names += [(p.strip(), indication) for p in re.split(r"\band\b", full) if len(p.strip()) > 3]
        first = full.split()[0] if full.split() else ""
        if len(first) >= 8 and sum(i.name.lower().startswith(first.lower()) for i in policy.indications) == 1:
            names.append((first, indication))  # 'Hidradenitis' wrapped away from 'suppurativa'

    return sorted(names, key=lambda n: -len(n[0]))


def _first_words(text: str) -> str:
    return " ".join(re.findall(r"[a-z]+", text.lower())[:2])


def _names_row(names: list[tuple[str, Indication]], line: str) -> list[Indication]:
    """The indications a line opens a row for: names at its start ('CD, UC IV induction')."""
    head = re.sub(r"^\|\s*", "", line.strip())  # a Markdown table row starts with its first cell
    if not any(re.match(rf"{re.escape(name)}\b", head, re.I if len(name) > 5 else 0) for name, _ in names):
        return []
    head = re.split(r"\d", head, maxsplit=1)[0]
    found: list[Indication] = []
    for name, indication in names:
        flags = re.I if len(name) > 5 else 0
        if re.search(rf"(?<![\w-]){re.escape(name)}(?![\w-])", head, flags) and indication not in found:
            found.append(indication)
    return found
