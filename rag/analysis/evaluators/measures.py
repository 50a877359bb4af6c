"""Numeric thresholds ("EASI score of 16 or greater", "BMI of 27 kg/m2 or greater with ...")."""

from __future__ import annotations

import re

from rag.analysis.evaluators.basic import AGE_RE
from rag.analysis.evaluators.common import (
    STOP,
    Finding,
    cite,
    quote,
    terms_of,
)
from rag.analysis.lexicon import class_members
from rag.analysis.policy import Node
from rag.analysis.record import NUMBER_WORD, CaseFacts, number_value
from rag.text import shorten
from rag.types import Evidence, Status

# --- numeric thresholds -----------------------------------------------------------------------


_NUM = r"(\d+(?:,\d{3})*(?:\.\d+)?)"
_THRESHOLD = [
    (
        re.compile(
            rf"{_NUM}\s*(%|[a-zA-Z/µ0-9^]+(?:/[a-zA-Z0-9^µ]+)?)?\s*"
            r"(?:or greater|or more|or higher|or above|and above|or over)",
            re.I,
        ),
        ">=",
    ),
    (
        re.compile(rf"(?:at least|a minimum of|≥|>=|no less than)\s*{_NUM}\s*(%|[a-zA-Z/µ0-9^]+)?", re.I),
        ">=",
    ),
    (
        re.compile(
            rf"(?:greater than|more than|above|over|exceeding|>)\s*{_NUM}\s*(%|[a-zA-Z/µ0-9^]+)?",
            re.I,
        ),
        ">",
    ),
    (
        re.compile(rf"{_NUM}\s*(%|[a-zA-Z/µ0-9^]+)?\s*(?:or less|or lower|or below|or fewer)", re.I),
        "<=",
    ),
    (
        re.compile(rf"(?:less than|below|under|fewer than|<)\s*{_NUM}\s*(%|[a-zA-Z/µ0-9^]+)?", re.I),
        "<",
    ),
]
_DURATION_UNITS = re.compile(r"^(?:days?|weeks?|months?|years?|doses?|times|exacerbations?)$", re.I)


def _measure_names(text: str, before: str, facts: CaseFacts) -> list[str]:
    names = [t for t in terms_of(before, facts)]
    words = [
        w
        for w in re.findall(r"[A-Za-z][A-Za-z0-9/-]*", before)
        if w.lower() not in STOP
        and w.lower() not in ("score", "count", "level", "value", "involvement", "baseline", "showing")
    ]
    if words:
        names += [" ".join(words[-2:]), words[-1]] if len(words) > 1 else [words[-1]]
    return [n for n in dict.fromkeys(names) if len(n) > 1]


def _value_after(sentence: str, start: int) -> float | None:
    tail = sentence[start : start + 60]
    m = re.match(r"[^\d\n]{0,30}?(\d+(?:,\d{3})*(?:\.\d+)?)", tail)
    if m and re.match(r"\s*(?:to\s*\d+\s*)?(?:days?|weeks?|months?|years?)\b", tail[m.end(1) :], re.I):
        return None
    if m and not re.search(
        r"\b(?:target|goal|threshold|cutoff|or greater|at least)\b", tail[: m.start(1)], re.I
    ):
        return float(m.group(1).replace(",", ""))
    return None


def _compare(value: float, op: str, limit: float) -> bool:
    return {">=": value >= limit, ">": value > limit, "<=": value <= limit, "<": value < limit}[op]


def check_threshold(node: Node, facts: CaseFacts) -> Finding | None:
    text = node.text
    for pattern, op in _THRESHOLD:
        match = pattern.search(text)
        if not match:
            continue
        unit = (match.group(2) or "").strip()
        if _DURATION_UNITS.match(unit) or AGE_RE.search(text):
            return None  # durations and counts of events are other checkers' work
        limit = float(match.group(1).replace(",", ""))
        counted = _count_noun(text[match.end(1) :])
        if counted:
            return _check_count(text, counted, op, limit, facts)
        names = _measure_names(text, text[: match.start()], facts)
        if not names:
            return None
        context_words = {w.lower() for w in re.findall(r"[A-Za-z]{4,}", text)} - STOP
        candidates = []
        for m in facts.mentions(names):
            if m.assertion in ("negated", "hypothetical", "family"):
                continue
            value = _value_after(m.sentence.text, m.end)
            if value is None:
                continue
            overlap = len(context_words & {w.lower() for w in re.findall(r"[A-Za-z]{4,}", m.sentence.text)})
            when = facts.sentence_date(m.sentence)
            candidates.append((overlap, when.toordinal() if when else 0, value, m))
        if not candidates:
            return Finding(
                "insufficient",
                f"No {names[0]} value is documented (required {op} {limit:g}{unit and ' ' + unit}).",
                [],
            )
        candidates.sort(key=lambda c: (c[0], c[1]), reverse=True)
        _, _, value, m = candidates[0]
        ok = _compare(value, op, limit)
        extra = _with_condition(text, facts) if ok else None
        if extra is not None and extra.status != "met":
            return Finding(
                extra.status,
                f"{m.term} {value:g} meets {op} {limit:g}, but {extra.rationale}",
                cite([m]) + extra.evidence,
            )
        status: Status = "met" if ok else "not_met"
        verb = "meets" if ok else "does not meet"
        shown = f"{limit:g} {unit}".strip()
        rationale = f"{m.term} {value:g} {verb} the threshold {op} {shown}: {quote(m)}."
        if extra is not None:
            rationale += f" {extra.rationale}"
        return Finding(status, rationale, cite([m]) + (extra.evidence if extra else []))
    return None


def _with_condition(text: str, facts: CaseFacts) -> Finding | None:
    """'... with at least one X (a, b or c)': one of the listed conditions must be present."""
    m = re.search(r"\bwith\s+(?:at least one|one or more)\b[^(]*\(([^)]+)\)", text, re.I)
    if not m:
        return None
    options = [o.strip() for o in re.split(r",\s*|\s+or\s+", m.group(1)) if o.strip()]
    found = [x for x in facts.mentions(options) if x.assertion == "present"]
    if found:
        return Finding(
            "met",
            f"Qualifying condition documented: {quote(found[0])}.",
            cite(found),
        )
    return Finding("insufficient", f"none of {', '.join(options)} is documented.", [])


_COUNT_WORD = rf"(\d+|{NUMBER_WORD})"


def _count_noun(after: str) -> str | None:
    """'2 nerves', '2 asthma exacerbations': the counted plural noun right after the number."""
    m = re.match(r"\s*(?:[a-z-]+\s+){0,2}?([a-z]{4,}s)\b", after)
    if m and not re.match(r"(?:days|weeks|months|years|times|doses|units|cells|mg|kg)$", m.group(1)):
        return m.group(1)
    return None


def _check_count(text: str, noun: str, op: str, limit: float, facts: CaseFacts) -> Finding | None:
    stem = noun[:-1] if noun.endswith("s") else noun
    pattern = re.compile(rf"\b{_COUNT_WORD}\s+(?:[\w-]+\s+){{0,3}}?{re.escape(stem)}s?\b", re.I)
    keywords = {w.lower() for w in re.findall(r"[A-Za-z]{5,}", text)} - STOP
    best = None
    for s in facts.sentences:
        for m in pattern.finditer(s.text):
            value = number_value(m.group(1))
            overlap = len(keywords & {w.lower() for w in re.findall(r"[A-Za-z]{5,}", s.text)})
            if best is None or (overlap, value) > (best[0], best[1]):
                best = (overlap, value, s)
    if best is None:
        return None  # let the other checkers read it
    _, value, s = best
    ok = _compare(value, op, limit)
    evidence = [Evidence(chunk_id=s.chunk_id, doc_id=s.doc_id, quote=s.clean, assertion="present")]
    verb = "meets" if ok else "does not meet"
    return Finding(
        "met" if ok else "not_met",
        f'{value:g} {noun} documented, which {verb} {op} {limit:g}: "{shorten(s.clean, 160)}" ({s.doc_id}).',
        evidence,
        [f"{value:g}"],
    )


# --- change from baseline (continuation criteria) ----------------------------------------------

_BASELINE = re.compile(
    r"\bbaseline\b|\bpre[- ]?(?:treatment|[A-Z]\w+)|\bbefore (?:starting|treatment|therapy|[A-Z]\w+)|"
    r"\bprior to (?:starting|treatment|therapy)|\bat (?:start|initiation)\b",
    re.I,
)
_CURRENT = re.compile(r"\bcurrent(?:ly)?\b|\bnow\b|\btoday\b|\bmost recent\b|\blatest\b|\bthis visit\b", re.I)
_PAIR = re.compile(
    r"(?:from\s+)?(?P<a>\d+(?:\.\d+)?)\s*%?[^\d\n→]{0,60}?(?:→|->|\bto\b)\s*\**\s*(?P<b>\d+(?:\.\d+)?)"
)


def check_change(names: list[str], op: str, limit: float, change: str, facts: CaseFacts) -> Finding | None:
    """A reduction from the baseline value: 'PASI 75' (percent) or 'a decrease of ≥ 100 points'.

    The baseline is a value the record labels as such (baseline, before treatment) or the first of
    an 'a → b' pair; the current value is one labelled current, else the latest other value."""
    if not names:
        return None
    baseline = current = None  # (value, mention)
    later = []
    for m in facts.mentions(names):
        if m.assertion in ("negated", "hypothetical", "family"):
            continue
        tail = m.sentence.text[m.end : m.end + 120]
        if (pair := _PAIR.match(tail.lstrip(" :=(")) or _PAIR.search(tail[:100])) and "→" in tail[:100]:
            return _judge(float(pair["a"]), float(pair["b"]), m, m, op, limit, change, names[0])
        value = _value_after(m.sentence.text, m.end)
        if value is None:
            continue
        near = m.sentence.text[max(0, m.start - 80) : m.end + 20]
        if _BASELINE.search(near):
            baseline = baseline or (value, m)
        elif _CURRENT.search(near):
            current = current or (value, m)
        else:
            when = facts.sentence_date(m.sentence)
            later.append((when.toordinal() if when else 0, value, m))
    if current is None and later:
        _, value, m = max(later, key=lambda item: item[0])
        current = (value, m)
    if baseline is None or current is None:
        what = "baseline" if baseline is None else "current"
        return Finding(
            "insufficient",
            f"No {what} {names[0]} value is documented to measure the change from baseline.",
            cite([v[1] for v in (baseline, current) if v]),
        )
    return _judge(baseline[0], current[0], baseline[1], current[1], op, limit, change, names[0])


def _judge(before: float, after: float, m_before, m_after, op, limit, change, name) -> Finding:
    drop = before - after
    amount = drop / before * 100 if change == "reduction_percent" and before else drop
    unit = "%" if change == "reduction_percent" else " points"
    arithmetic = f"{name} {before:g} at baseline, {after:g} now: a reduction of {amount:.0f}{unit}"
    ok = _compare(round(amount, 1), op, limit)
    status: Status = "met" if ok else "not_met"
    verb = "meets" if ok else "does not meet"
    return Finding(
        status,
        f"{arithmetic}, which {verb} the required {_OP_SIGN.get(op, op)} {limit:g}{unit}: {quote(m_after)}.",
        cite([m_before, m_after]),
        [f"{amount:.0f}"],
    )


_OP_SIGN = {">=": "≥", ">": ">", "<=": "≤", "<": "<"}


_RESPONSE_LIST = re.compile(
    r"^\s*(?:documented|documentation of)?\s*(?:a\s+)?(?:positive\s+)?(?:clinical\s+)?response"
    r"(?:\s+to (?:therapy|treatment))?\s*(?::|,?\s+(?:as evidenced by|such as|including|for example))"
    r"\s*(?P<options>.+)$",
    re.I,
)
_REDUCED = re.compile(r"^(?:reduced|reduction in|decrease(?:d)? in|fewer|lower)\s+(?P<what>.+)$", re.I)
_SKIP_WORDS = {"frequency", "daily", "dose", "rate", "number", "the", "of", "in"}


def check_response(node: Node, facts: CaseFacts) -> Finding | None:
    """'Documented response: remission, reduced relapse frequency, or reduction in daily
    corticosteroid dose': any one option the record shows (remission stated, or a value that went
    down from before treatment to now, 'relapses 3 → 0', 'prednisone 12.5 mg → 4 mg')."""
    m = _RESPONSE_LIST.match(node.text)
    if not m:
        return None
    options = [
        o.strip(" .") for o in re.split(r",\s*(?:or\s+)?|\s+or\s+|;\s*", m["options"]) if o.strip(" .")
    ]
    tried = []
    for option in options:
        reduced = _REDUCED.match(option)
        if reduced:
            words = [w for w in re.findall(r"[A-Za-z]+", reduced["what"]) if w.lower() not in _SKIP_WORDS]
            qualifying, _ = class_members(reduced["what"])
            names = [*qualifying, *words, *(w.rstrip("s") + "s" for w in words)]
            found = check_change([n for n in dict.fromkeys(names) if len(n) > 3], ">", 0, "reduction", facts)
        else:
            found = None
            for mention in facts.mentions([option]):
                if mention.assertion in ("present", "historical"):
                    found = Finding(
                        "met", f"{option.capitalize()} is documented: {quote(mention)}.", cite([mention])
                    )
                    break
        if found is not None and found.status == "met":
            return Finding(
                "met", f"Response documented ({option}): {found.rationale}", found.evidence, found.computed
            )
        tried.append(option)
    return Finding(
        "insufficient",
        f"None of the responses the policy accepts ({', '.join(tried)}) is documented with values before "
        "and during treatment.",
    )
