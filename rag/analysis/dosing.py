"""Deterministic dose parsing: free-text regimens -> `Dose`, normalised to mg per 28 days.

Pure functions, no I/O, no drug names. The maintenance phase is what gets normalised; loading,
induction or titration steps around it are kept as text in `Dose.loading_text`. Where a text
gives a range or alternatives ("150 mg or 300 mg", "every 3 to 4 weeks"), the highest exposure
is used (largest dose, shortest interval) and the arithmetic says so, because doses are compared
against limits. A month is 28 days.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass

from rag.analysis.surface import per_square_metre
from rag.text import amount
from rag.types import Dose

_WORDS = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6,
    "seven": 7, "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12,
}  # fmt: skip
_WORD = "|".join(_WORDS)
_NUM = r"(?:(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?|\.\d+)"  # 600, 2.4, 1,200
_N = rf"(?:{_NUM}|\b(?:{_WORD})\b)"  # a number in digits or words
_UNIT = r"(?:mcg|[µμu]g|micrograms?|milligrams?|mg|grams?|g|ml|units?|iu)(?:/kg)?"
# A unit must end the word; '/' is allowed only before a period ('mg/day', 'mg/month').
# This drops concentrations and lab values: mg/mL, mg/dL, mg/kg/min, 300 mg/2 mL.
_UNIT_END = r"(?:(?![\w/])|(?=/\s*(?:\d+\s*)?(?:days?|d|wks?|weeks?|months?|mo|dose)\b))"
_DEVICE = r"(?:syringes?|pens?|injections?|vials?|autoinjectors?|units?|tablets?|capsules?)"
_FACTORS = {"mg": 1.0, "milligram": 1.0, "g": 1000.0, "gram": 1000.0, "mcg": 0.001,
            "ug": 0.001, "µg": 0.001, "μg": 0.001, "microgram": 0.001}  # fmt: skip

_AMOUNT = re.compile(
    rf"""(?<![\w./])
    (?:(?P<count>{_WORD})\s+(?:separate\s+)?|(?P<ncount>\d+)\s*[x×]\s*)?  # two 300 mg pens, 2 x
    (?P<values>(?:{_NUM}\s*(?:{_UNIT}(?![\w/])\s*(?:,\s*(?:or\s+)?|(?:or|to)\s+|[-–]\s*)
                              |(?:or|to)\s+|[-–]\s*))*)       # '150 mg or ', '0.4 to ', '5 mg, '
    (?P<value>{_NUM})\s*(?P<unit>{_UNIT}){_UNIT_END}
    (?P<device>(?:\s+(?:separate|single-dose|prefilled))*\s+{_DEVICE}\b
               (?:\s+or\s+{_DEVICE}\b)?)?                    # syringes, pens or syringes
    """,
    re.I | re.X,
)
_VALUE = re.compile(rf"({_NUM})\s*({_UNIT})?", re.I)

# Frequencies: each pattern with the rule that turns its match into (interval days, note).
_MONTH_NOTE = "a month counted as 28 days"


def _days(unit: str) -> float:
    return {"h": 1 / 24, "d": 1.0, "w": 7.0, "m": 28.0}[unit[0].lower()]


def _num(s: str) -> float:
    return float(_WORDS.get(s.lower()) or s.replace(",", ""))


def _every(m: re.Match) -> tuple[float, str]:
    n = min(_num(m["n"]), _num(m["n2"] or m["n"]))
    notes = [f"shortest interval of '{m[0]}'" if m["n2"] else ""]
    return n * _days(m["u"]), "; ".join(filter(None, [*notes, _month(m["u"])]))


def _month(unit: str) -> str:
    return _MONTH_NOTE if unit[0].lower() == "m" else ""


def _times(m: re.Match) -> tuple[float, str]:
    k = {"once": 1, "twice": 2, "thrice": 3}.get(m["k"].lower()) or _num(m["kn"])
    return _days(m["u"]) / k, _month(m["u"])


_WORD_FREQ = {"daily": 1.0, "nightly": 1.0, "weekly": 7.0, "monthly": 28.0, "fortnightly": 14.0}
_ABBR = {"qd": 1.0, "bid": 0.5, "tid": 1 / 3, "qid": 0.25, "qod": 2.0, "qw": 7.0, "qwk": 7.0,
         "qow": 14.0, "qhs": 1.0}  # fmt: skip


def _word(m: re.Match) -> tuple[float, str]:
    w = re.sub(r"[\s-]", "", m[0].lower())
    if w == "biweekly":
        return 14.0, "'biweekly' read as every 2 weeks; it can also mean twice weekly"
    return _WORD_FREQ.get(w, 1.0), _month(w)


_FREQS: list[tuple[re.Pattern[str], Callable[[re.Match], tuple[float, str]]]] = [
    # every 2 weeks, every two weeks, every 14 days, every 3 to 4 weeks, every 2 or 4 weeks
    (rf"\bevery\s+(?P<n>{_N})(?:\s*(?:to|or|-|–)\s*(?P<n2>{_N}))?\s*"
     r"(?P<u>hours?|hrs?|days?|weeks?|wks?|months?)\b", _every),
    (r"\bevery\s+other\s+(?P<u>day|week|month)\b", lambda m: (2 * _days(m["u"]), _month(m["u"]))),
    # once weekly, twice daily, three times weekly, once a month, 2 times per week, once-weekly
    (rf"\b(?P<k>once|twice|thrice|(?P<kn>{_N})\s*(?:times|x|×))[\s-]*(?:(?:a|per|every|each)\s+|/\s*)?"
     r"(?P<u>daily|day|weekly|week|monthly|month)\b", _times),
    # per week, every day, /day, /month; per 28 days, per 4 weeks (already normalised)
    (r"(?:\b(?:every|each|per)\s+|/\s*)(?P<u>day|d|week|wk|month|mo)\b",
     lambda m: (_days(m["u"]), _month(m["u"]))),
    (rf"(?:\bper\s+|/\s*)(?P<n>{_N})\s*(?P<u>days?|weeks?|wks?|months?)\b",
     lambda m: (_num(m["n"]) * _days(m["u"]), _month(m["u"]))),
    (r"\b(?:daily|nightly|weekly|monthly|fortnightly|bi-?weekly)\b", _word),
    (r"\b(?:q\.?d|b\.?i\.?d|t\.?i\.?d|q\.?i\.?d|q\.?o\.?d|q\.?wk?|q\.?o\.?w|q\.?h\.?s)\b\.?",
     lambda m: (_ABBR[m[0].lower().replace(".", "")], "")),
    # q2w, Q4W, q3w, q12h, q14d
    (r"\bq\s?(?P<n>\d+)\s?(?P<u>h|hrs?|hours?|d|days?|w|wks?|weeks?|m|mos?|months?)\b",
     lambda m: (int(m["n"]) * _days(m["u"]), _month(m["u"]))),
]  # fmt: skip
_FREQ_RES = [(re.compile(p, re.I), rule) for p, rule in _FREQS]

_ROUTE = re.compile(
    r"(?P<SC>\b(?:SC|SQ|SubQ|subQ)\b|(?i:\bsub-?cutaneous(?:ly)?\b|\bsubcut\b))"
    r"|(?P<IV>\bIV\b|(?i:\bintravenous(?:ly)?\b))"
    r"|(?P<IM>\bIM\b|(?i:\bintramuscular(?:ly)?\b))"
    r"|(?P<oral>\bPO\b|\bp\.o\.|(?i:\boral(?:ly)?\b|\bby\s+mouth\b))"
)
# Qualifiers after a dose that still belong to it: route, notes, timing, phase length.
_TAIL = re.compile(
    rf"""(?:\s*(?:{_ROUTE.pattern}
      | \([^()\n]*\)                                            # (loading), (two 300 mg pens)
      | once | single\s+dose | total
      | (?:as\s+an?\s+)?(?:loading|initial|induction|maintenance)(?:\s+dose)?
      | (?:(?:on|at|from|starting)\s+)?(?:days?|weeks?)\s+\d+(?:\s*(?:,|and|or|to|-)\s*\d+)*
      | (?:(?:divided|split|given)\s+)?over\s+{_N}(?:\s*(?:to|-)\s*{_N})?\s+(?:consecutive\s+)?days
      | for\s+(?:up\s+to\s+)?(?P<dur>{_N})(?:\s*(?:to|-)\s*(?P<dur2>{_N}))?
        \s+(?P<dur_u>days?|weeks?)(?:\s+each)?                 # for 4 weeks (each), for 5 days
    ))+""",
    re.I | re.X,
)
_BREAK = re.compile(r"\n|;|(?<![.\s])(?<!\b\w)\.(?=\s|$)")  # line, ';', sentence end (not p.o.)
_TITRATE = (
    r"(?:titrat|escalat|increas)\w*\s+(?:up\s+)?to|(?:as\s+tolerated\s+)?to\s+a\s+maintenance\s+dose\s+of"
)
_CONNECT = rf"then|followed\s+by|{_TITRATE}|after\s+an?|following\s+an?|maintenance(?:\s+dose)?|and"
_EDGES = re.compile(rf"^(?:[\s,;:|]|\b(?:{_CONNECT})\b)+|(?:[\s,;:|]|\b(?:{_CONNECT})\b)+$", re.I)


@dataclass
class _Mention:
    start: int
    end: int
    values: list[tuple[float, str]]  # (number, unit) as written; several for ranges
    amount: str  # the amount as written, e.g. '150 mg or 300 mg'
    count: int
    interval: float | None = None
    phrase: str = ""  # the frequency as written
    note: str = ""
    phase: bool = False  # a step of limited length ('for 4 weeks', '(weeks 1 to 4)')
    duration: float | None = None  # days, from 'for N days/weeks'
    route: str | None = None


def _mask(s: str) -> str:
    """Blank out parentheticals (same length, so offsets hold)."""
    prev = None
    while prev != s:
        prev, s = s, re.sub(r"\([^()]*\)", lambda m: "\0" * len(m[0]), s)
    return s


def _nested(text: str, top: re.Match, m: re.Match) -> bool:
    """True for '(two 300 mg syringes)' or '(1,200 mg per 28 days)' right after a dose."""
    depth, i = 0, m.start() - 1
    while i >= top.end() and text[i] != "\n":
        depth += {")": 1, "(": -1}.get(text[i], 0)
        if depth < 0:
            between = _mask(text[top.end() : i]).replace("\0", "")
            return len(between) <= 40 and not _BREAK.search(between)
        i -= 1
    return False


_THEN_EVERY = re.compile(
    r"[^.;]{0,40}?\b(?:and\s+)?then\s+(?:(?:once\s+)?every|q)\s*(?P<n>\d+)\s*(?P<u>days?|weeks?|wks?|months?)\b",
    re.I,
)
_COURSE = re.compile(
    r"\s*(?:(?:IV|SC|intravenously|subcutaneously)\s*,?\s*)?(?:"
    r"on\s+days?\s+(?P<days>\d{1,3}(?:\s*(?:,|and|&)\s*(?:day\s+)?\d{1,3})+)"
    r"|[x×]\s*(?P<n>\d|two|three|four)\s+(?:doses|infusions))",
    re.I,
)


def _mention(text: str, m: re.Match, limit: int) -> _Mention:
    raw = [*_VALUE.findall(m["values"]), (m["value"], m["unit"])]
    pairs = [(_num(v), u or m["unit"]) for v, u in raw]  # '300 to 800 mg/kg': both mg/kg
    count = int(m["ncount"] or (_WORDS[m["count"].lower()] if m["count"] and m["device"] else 1))
    region, core = _mask(text[m.end() : limit]), m.end()
    if count == 1 and (course := _COURSE.match(region)):
        # '1,000 mg IV on days 1 and 15', '1,000 mg IV x 2 doses two weeks apart': a course of doses
        days = course["days"]
        count = (
            len(re.findall(r"\d+", days))
            if days
            else int(_num(course["n"]) if course["n"].isdigit() else _WORDS[course["n"].lower()])
        )
    out = _Mention(m.start(), m.end(), pairs, m[0], count)
    region = region.split("(")[0]  # a note left open at the line end is not the frequency
    found = [(f, rule) for p, rule in _FREQ_RES if (f := p.search(region))]
    if found:
        f, rule = min(found, key=lambda x: (x[0].start(), -x[0].end()))
        if len(region[: f.start()].replace("\0", "")) <= 40:  # close to the amount
            out.interval, out.note = rule(f)
            out.phrase, core = f[0], m.end() + f.end()
            later = _THEN_EVERY.match(region, f.end())
            if later and later["n"]:
                # '150 mg once weekly at weeks 0-4 and then every 4 weeks': the same amount,
                # loading on the first schedule, maintenance on the second
                loading = f"{m[0]} {region[: f.end()].replace(chr(0), '').strip()}"
                out.interval = _num(later["n"]) * _days(later["u"])
                out.note = f"maintenance after the loading doses ({loading.strip()})"
                out.phrase, core = later[0], m.end() + later.end()
    tail = _TAIL.match(text, core, limit)
    out.end = tail.end() if tail else core
    if tail and tail["dur"]:
        n = max(_num(tail["dur"]), _num(tail["dur2"] or tail["dur"]))
        out.duration = n * _days(tail["dur_u"])
    out.phase = bool(tail and re.search(r"\bfor\s|\(weeks?\s+\d", tail[0]))
    route = _ROUTE.search(text, m.start(), out.end)
    out.route = route.lastgroup if route else None
    return out


def _mentions(text: str) -> list[_Mention]:
    tops: list[re.Match] = []
    for m in _AMOUNT.finditer(text):
        if not (tops and _nested(text, tops[-1], m)):
            tops.append(m)
    out = []
    for i, m in enumerate(tops):
        limit = tops[i + 1].start() if i + 1 < len(tops) else len(text)
        brk = _BREAK.search(text, m.end(), limit)
        out.append(_mention(text, m, brk.start() if brk else limit))
    return out


def _link(text: str, prev: _Mention, nxt: _Mention) -> str | None:
    """How `nxt` continues `prev`'s regimen, if it does."""
    gap = text[prev.end : nxt.start]
    if re.fullmatch(r"[\s,;]*maintenance(?:\s+dose)?\s*:?\s*", gap, re.I):
        return "then"  # 'Loading dose 2 g/kg (...); maintenance 1 g/kg every 3 weeks'
    if len(gap) > 60 or _BREAK.search(gap):
        return None
    if re.search(_TITRATE, gap, re.I):
        return "titrate"
    if re.search(r"\bthen\b|\bfollowed\s+by\b", gap, re.I):
        return "then"
    if (prev.interval is None or prev.phase) and re.fullmatch(r"[\s,|]*(?:and\s+)?", gap):
        return "list"  # '160 mg on day 1, 80 mg on day 15', '| 600 mg | 300 mg every 2 weeks'
    if prev.interval and re.fullmatch(r"\s*,?\s*(?:after|following)\s+(?:an?|the)\s+", gap, re.I):
        return "after"  # '300 mg every 2 weeks after a 600 mg loading dose'
    return None


def _chains(text: str) -> list[list[_Mention]]:
    chains: list[list[_Mention]] = []
    for m in _mentions(text):
        kind = _link(text, chains[-1][-1], m) if chains else None
        if kind is None:
            chains.append([m])
            continue
        prev = chains[-1][-1]
        if kind == "titrate" and m.interval is None and prev.interval:  # '... titrated to 2.4 mg'
            m.interval, m.phrase, m.note = prev.interval, prev.phrase, prev.note
        chains[-1].append(m)
    # Linked doses without any repeating one are alternatives ('10 mg and 20 mg'), not phases.
    return [c for chain in chains for c in ([chain] if _repeats(chain) else [[m] for m in chain])]


def _repeats(chain: list[_Mention]) -> bool:
    return len(chain) == 1 or any(m.interval for m in chain)


def _n(x: float) -> str:
    return f"{x:.4f}".rstrip("0").rstrip(".")


def _round(x: float) -> float:
    return round(x, 1) if abs(x) >= 1 else float(f"{x:.3g}")


def format_mg(value: float) -> str:
    """'1200 mg', '9.6 mg', '109333 mg' (whole mg from 1 g up), '0.25 mg'."""
    return f"{amount(value)} mg"


def _mg(m: _Mention, weight_kg: float | None) -> tuple[float | None, str]:
    """One maintenance dose in mg, with its working ('1 g/kg x 82 kg = 82 g = 82000 mg')."""
    value, unit = max(m.values, key=lambda vu: vu[0] * _FACTORS.get(_base(vu[1]), 1.0))
    factor, per_kg = _FACTORS.get(_base(unit)), unit.lower().endswith("/kg")
    written = f"{m.count} x {_n(value)} {unit}" if m.count > 1 else f"{_n(value)} {unit}"
    if factor is None:
        return None, f"{written}: {unit} is not a mass unit, so no mg"
    if per_kg and not weight_kg:
        return None, f"{written}: body weight needed to convert to mg"
    steps = [f"{written} x {_n(weight_kg)} kg" if weight_kg and per_kg else written]
    weight = weight_kg if weight_kg and per_kg else 1.0
    if factor != 1 and per_kg:
        steps.append(f"{_n(value * weight)} {_base(unit)}")
    mg = value * factor * m.count * weight
    return mg, " = ".join([*steps, format_mg(mg)] if len(steps) > 1 or mg != value else steps)


def _to_dose(text: str, chain: list[_Mention], weight_kg: float | None, drug: str | None) -> Dose:
    repeating = [m for m in chain if m.interval]
    main = repeating[-1] if repeating else chain[0]
    around = (text[chain[0].start : main.start], text[main.end : max(m.end for m in chain)])
    loading = "; ".join(p for p in (_EDGES.sub("", a) for a in around) if p) or None
    per_kg = main.values[-1][1].lower().endswith("/kg")
    notes = [f"highest of '{main.amount}'"] if len(main.values) > 1 else []
    notes += [main.note] if main.note else []
    notes += (
        ["maintenance phase; the loading or titration doses before it are not counted"] if loading else []
    )
    mg, why = _mg(main, weight_kg)
    iv, total = main.interval, None
    every = "" if iv is None else " every day" if iv == 1 else f" every {_n(iv)} days"
    if mg is None or iv is None:
        why = why.replace(":", f"{every}:", 1) if mg is None else f"{why}; no repeat interval"
    elif main.duration is not None and main.duration < 28:  # a short course, not steady state
        doses = min(28 / iv, max(1.0, math.floor(main.duration / iv + 1e-9)))
        total = mg * doses
        why += f"{every} for {_n(main.duration)} days = {_n(mg)} x {_n(doses)} doses"
        why += f" = {format_mg(total)} in 28 days (one course)"
    elif float(iv).is_integer():  # '600 mg every 14 days = 600 x 28/14 = 1200 mg per 28 days'
        total = mg * 28 / iv
        why += f"{every} = {_n(mg)} x 28/{_n(iv)} = {format_mg(total)} per 28 days"
    else:  # twice daily, three times weekly
        total = mg * 28 / iv
        why += f" {main.phrase} ({_n(28 / iv)} doses per 28 days) = {_n(mg)} x {_n(28 / iv)}"
        why += f" = {format_mg(total)} per 28 days"
    return Dose(
        drug=drug,
        dose_mg=None if mg is None else round(mg, 3),
        dose_text=text[main.start : main.end].strip(),
        per_kg=per_kg,
        weight_kg=weight_kg if per_kg else None,
        interval_days=None if iv is None else round(iv, 4),
        mg_per_28_days=None if total is None else _round(total),
        loading_text=loading,
        route=main.route,
        arithmetic=f"{why} ({'; '.join(notes)})" if notes else why,
    )


def _base(unit: str) -> str:
    u = unit.lower().removesuffix("/kg")
    return u.removesuffix("s") if u.endswith("grams") else u


def parse_regimen(text: str, *, weight_kg: float | None = None, drug: str | None = None) -> Dose | None:
    """Parse one regimen ('600 mg SC once, then 300 mg every 2 weeks') into a `Dose`.

    With several regimens in `text`, the first one with a repeat interval wins (after the first
    mention of `drug`, when given and present). A dose-only regimen on the line before it that
    reads as a loading dose becomes its `loading_text`.
    """
    text, per_m2 = per_square_metre(text)
    chains = _chains(text)
    if drug and (at := text.lower().find(drug.lower())) >= 0:
        chains = [c for c in chains if c[-1].end > at] or chains
    if not chains:
        return None
    i = next((i for i, c in enumerate(chains) if any(m.interval for m in c)), 0)
    dose = _to_dose(text, chains[i], weight_kg, drug)
    if per_m2:
        dose = dose.model_copy(update={"arithmetic": f"{per_m2}; {dose.arithmetic}"})
    if i > 0 and dose.loading_text is None and not any(m.interval for m in chains[i - 1]):
        # the words around the dose-only regimen, up to the next one: 'induction 390 mg IV' or
        # '390 mg IV as a single weight-based induction dose, followed by 90 mg ...'
        before = text[max(0, chains[i - 1][0].start - 40) : chains[i][0].start]
        if re.search(r"loading|initial|induction|\bonce\b|\bday\s*1\b|\bweek\s*0\b", before, re.I):
            loading = text[chains[i - 1][0].start : chains[i - 1][-1].end].strip()
            dose = dose.model_copy(update={"loading_text": loading})
    return dose


def find_regimens(text: str, *, weight_kg: float | None = None) -> list[tuple[int, int, Dose]]:
    """Every regimen in a passage as (start, end, Dose); `text[start:end]` quotes it."""
    return [
        (chain[0].start, max(m.end for m in chain), _to_dose(text, chain, weight_kg, None))
        for chain in _chains(text)
    ]
