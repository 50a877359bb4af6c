"""Time-bound facts: test results within a window, prior therapy durations, disease duration."""

from __future__ import annotations

import re
from datetime import timedelta

from rag.analysis.evaluators.common import (
    AFFIRMED,
    FAILURE,
    INTOLERANCE,
    STOP,
    Finding,
    cite,
    examples_of,
    quote,
    terms_of,
)
from rag.analysis.lexicon import class_members, test_names, umbrella_classes
from rag.analysis.policy import Node
from rag.analysis.record import QUANTITY, TIME_UNIT, CaseFacts, duration_days, durations_days, number_value
from rag.types import Evidence, Status

# --- tests with a result and a time window --------------------------------------------------


_DISEASE_WORDS = {"tuberculosis", "tb", "diabetes", "hepatitis"}
_RESULT_NEG = re.compile(
    r"negative|non-?reactive|not detected|normal|unremarkable|"
    r"no (?:monoclonal|paraprotein|m-protein)|within normal",
    re.I,
)
_RESULT_POS = re.compile(r"positive|reactive|detected|abnormal|elevated", re.I)
_WINDOW = re.compile(
    r"within\s+(?:the\s+)?(?:past\s+|prior\s+|last\s+)?(\d+)\s*(days?|weeks?|months?|years?)", re.I
)


_PENDING = re.compile(
    r"pending|awaiting|not yet (?:resulted|available|back)|will forward|\buntil\b|\bonce\b|"
    r"\bwill be (?:held|done|drawn|obtained|sent|repeated)|\bto be (?:drawn|done|obtained)",
    re.I,
)
# a reference-range column or note ('Negative (reference)', 'Ref: negative') is never the result
_REFERENCE = re.compile(
    r"\|?\s*\b(?:negative|normal|non-?reactive)\s*\((?:ref(?:erence)?(?: range)?|normal)\)|"
    r"\b(?:ref(?:erence)?(?: range| interval)?|normal range)\s*[:=]?\s*(?:<\s*)?[\w.-]+",
    re.I,
)
_ORDERED = re.compile(r"\bordered\b|\bdrawn\b|\bcollected\b|\bscheduled\b", re.I)
_YEAR = re.compile(r"\b((?:19|20)\d{2})\b")


def result_of(sentence: str, start: int = 0) -> str | None:
    """'pending', 'negative' or 'positive': what a sentence says of the test named at `start`.

    The one reading of a test result, shared by the screening evaluator and `meddraft case show`.
    """
    sentence = _REFERENCE.sub(" ", sentence)
    after = sentence[start:] if start < len(sentence) else sentence
    positive_first = re.search(r"\bpositive\b|\breactive\b|\bdetected\b", after, re.I)
    negative = _RESULT_NEG.search(after) or re.search(r"negative", sentence, re.I)
    if positive_first and (not negative or positive_first.start() < negative.start()):
        negative = None
    if _PENDING.search(sentence) or (_ORDERED.search(sentence) and not negative):
        return "pending"
    if negative:
        return "negative"
    if re.search(r"\bpositive\b|\breactive\b", sentence, re.I):
        return "positive"
    return None


def _result_date(facts: CaseFacts, sentence) -> object:
    explicit = facts.sentence_date(sentence) if _ISO_IN(sentence.text) else None
    if explicit:
        return explicit
    years = [int(y) for y in _YEAR.findall(sentence.text)]
    if years:
        from datetime import date

        return date(min(years), 7, 1) if len(set(years)) > 1 else date(years[0], 7, 1)
    return facts.sentence_date(sentence)


def _ISO_IN(text: str) -> bool:
    return re.search(r"\b(?:19|20)\d{2}-\d{2}-\d{2}\b", text) is not None


def check_test(node: Node, facts: CaseFacts) -> Finding | None:
    text = node.text
    if not re.search(
        r"\b(?:screen(?:ed|ing)?|test(?:ed|ing)?|assay|electrophoresis|immunofixation|"
        r"hemoglobin a1c|glucose)\b",
        text,
        re.I,
    ):
        return None
    names = test_names(text) + [
        t for t in terms_of(text, facts) if len(t) > 2 and t.lower() not in _DISEASE_WORDS
    ]
    if not names:
        return None
    mentions = [m for m in facts.mentions(names) if m.assertion != "hypothetical"]
    if not mentions:
        return Finding("insufficient", f"No result of {', '.join(names[:3])} is documented.", [])
    window = _WINDOW.search(text)
    limit = duration_days(float(window.group(1)), window.group(2)) if window else None
    events = []  # (kind, mention, date)
    for m in mentions:
        kind = result_of(m.sentence.text, m.start)
        if kind == "pending":
            events.append(("pending", m, facts.sentence_date(m.sentence)))
        elif kind == "negative":
            events.append(("negative", m, _result_date(facts, m.sentence)))
        elif m.assertion == "negated":
            continue  # "no TB test on file": not a result
        elif kind == "positive":
            events.append(("positive", m, _result_date(facts, m.sentence)))
        elif re.search(r"\d", m.sentence.text[m.end : m.end + 40]):
            events.append(("result", m, _result_date(facts, m.sentence)))
    if not events:
        return Finding(
            "insufficient",
            f"{mentions[0].term} is mentioned but no result is stated: {quote(mentions[0])}.",
            cite(mentions),
        )
    events.sort(key=lambda e: e[2] or facts.as_of.min, reverse=True)
    oldest_ok = facts.as_of - timedelta(days=limit) if limit else None
    usable = [
        e
        for e in events
        if e[0] in ("negative", "result") and (oldest_ok is None or e[2] is None or e[2] >= oldest_ok)
    ]
    if usable:
        kind, m, _ = usable[0]
        return Finding(
            "met",
            f"{m.term} {'negative' if kind == 'negative' else 'result documented'}: {quote(m)}.",
            cite([m]),
        )
    positive = [e for e in events if e[0] == "positive"]
    if positive:
        m = positive[0][1]
        return Finding("not_met", f"{m.term} result is positive: {quote(m)}.", cite([m]))
    pending = [e for e in events if e[0] == "pending"]
    if pending:
        m = pending[0][1]
        older = [e[1] for e in events if e[0] in ("negative", "result")]
        extra = f" The earlier result is outside the required window: {quote(older[0])}." if older else ""
        return Finding(
            "insufficient",
            f"{m.term} result is pending: {quote(m)}.{extra}",
            cite([m, *older]),
        )
    m = events[0][1]
    return Finding(
        "insufficient",
        f"The only {m.term} result is outside the required window: {quote(m)}.",
        cite([m]),
    )


# --- prior therapy ----------------------------------------------------------------------------


_REQ_DURATION = re.compile(
    r"(?:at least|a minimum of|minimum of|for|over|after)\s+"
    rf"({QUANTITY})\s*(?:consecutive\s+)?({TIME_UNIT})\b",
    re.I,
)
THERAPY_WORDS = re.compile(
    r"inadequate response|failure|failed|despite|intoleran|trial of|refractory|response to|"
    r"previously (?:been )?treated|treated with",
    re.I,
)


def required_phrase(text: str) -> str:
    """The policy's own words for the required duration ('at least 28 days')."""
    m = _REQ_DURATION.search(text)
    return m.group(0) if m else ""


def required_days(text: str) -> float | None:
    m = _REQ_DURATION.search(text)
    if not m:
        return None
    return duration_days(number_value(m.group(1)), m.group(2))


_NOT_TRIED = re.compile(
    r"\bhesitan|\bdeclin|\brefus|\breluctan|\bconcern|\bworried|\bafraid|\bread (?:online|about)|"
    r"\bwould (?:like|prefer)|\bconsider|\bplan(?:s|ned)? to\b|\bwill (?:start|begin|try)\b|\bdiscuss",
    re.I,
)


def check_prior_therapy(node: Node, facts: CaseFacts) -> Finding | None:
    text = node.text
    if not THERAPY_WORDS.search(text):
        return None
    therapy_part = text[THERAPY_WORDS.search(text).start() :]
    qualifying, related = class_members(therapy_part)
    qualifying += examples_of(therapy_part)
    if not qualifying:
        return None
    needed = required_days(text)
    requested = {facts.request.drug.lower(), *(a.lower() for a in facts.request.drug_aliases)}
    qualifying = [q for q in dict.fromkeys(qualifying) if q.lower() not in requested]
    mentions = facts.mentions(qualifying)
    # 'never taken ... any biologic': the record may deny a whole class by its common name
    mentions += [m for m in facts.mentions(umbrella_classes(qualifying)) if m.assertion == "negated"]
    tried = [m for m in mentions if m.assertion in AFFIRMED]
    good, short = [], []
    for m in tried:
        window = facts.sentences
        idx = window.index(m.sentence) if m.sentence in window else -1
        context = " ".join(s.text for s in window[idx : idx + 2]) if idx >= 0 else m.sentence.text
        days = max(
            durations_days(m.sentence.text, facts.sentence_date(m.sentence) or facts.as_of),
            default=None,
        )
        if _NOT_TRIED.search(m.sentence.text):
            continue  # 'hesitant about methotrexate because of ... nausea': never taken
        failed = bool(FAILURE.search(context))
        intolerant = bool(INTOLERANCE.search(context))
        if intolerant or (failed and (needed is None or (days is not None and days >= needed - 1))):
            good.append((m, days, intolerant))
        elif days is not None and needed is not None and days < needed - 1:
            short.append((m, days))
        elif failed and days is None:
            short.append((m, None))
    need = f" (required: {required_phrase(text)})" if needed else ""
    if good:
        m, days, intolerant = good[0]
        how = (
            "stopped for intolerance"
            if intolerant
            else f"inadequate response after about {days:.0f} days"
            if days
            else "inadequate response"
        )
        return Finding(
            "met",
            f"{m.term}: {how}{need}: {quote(m)}.",
            cite([g[0] for g in good]),
            [f"{days:.0f}"] if days else [],
        )
    if short and any(d is not None for _, d in short):
        m, days = next(s for s in short if s[1] is not None)
        return Finding(
            "not_met",
            f"{m.term} was used for only about {days:.0f} days{need}: {quote(m)}.",
            cite([s[0] for s in short]),
            [f"{days:.0f}"],
        )
    negated = [m for m in mentions if m.assertion == "negated"]
    others = [m for m in facts.mentions(related) if m.assertion in AFFIRMED] if related else []
    if others:
        m = others[0]
        extra = f" No qualifying agent ({', '.join(qualifying[:3])}) is documented." if not negated else ""
        return Finding(
            "not_met",
            f"Only {m.term} is documented, which does not satisfy this criterion{need}: {quote(m)}.{extra}",
            cite(others + negated),
        )
    if negated:
        return Finding(
            "not_met",
            f"The record states no trial of {negated[0].term}: {quote(negated[0])}.",
            cite(negated),
        )
    if short:
        m = short[0][0]
        return Finding(
            "insufficient",
            f"{m.term} is documented but its duration is not stated{need}: {quote(m)}.",
            cite([s[0] for s in short]),
        )
    if tried:
        return Finding(
            "insufficient",
            f"{tried[0].term} is documented without a stated response{need}: {quote(tried[0])}.",
            cite(tried),
        )
    return Finding(
        "insufficient",
        f"No trial of {', '.join(qualifying[:4])} is documented{need}.",
        [],
    )


# --- duration of the disease ------------------------------------------------------------------


_PLAN = re.compile(
    r"\bfollow[- ]?up\b|\breturn\b|\bplan|\bwill\b|\bnext\b|\bschedul|\brecheck|\brepeat\b|"
    r"\bin \d+ (?:days|weeks|months)",
    re.I,
)
_TIME_WORDS = {
    "months",
    "weeks",
    "years",
    "month",
    "days",
    "before",
    "after",
    "during",
    "least",
    "minimum",
}


def check_disease_duration(node: Node, facts: CaseFacts) -> Finding | None:
    text = node.text
    needed = required_days(text)
    if needed is None or THERAPY_WORDS.search(text):
        return None
    related = facts.sentences
    keywords = {w.lower() for w in re.findall(r"[A-Za-z]{5,}", text)} - STOP - _TIME_WORDS
    best: tuple[int, float, object] | None = None
    for s in related:
        words = {w.lower() for w in re.findall(r"[A-Za-z]{5,}", s.text)}
        overlap = len(keywords & words)
        if not overlap or _PLAN.search(s.text):
            continue
        for days in durations_days(s.text, facts.sentence_date(s) or facts.as_of):
            if best is None or (overlap, days) > (best[0], best[1]):
                best = (overlap, days, s)
    if best is None:
        return Finding(
            "insufficient",
            f"The duration is not documented (required: {required_phrase(text)}).",
            [],
        )
    _, days, s = best
    evidence = [Evidence(chunk_id=s.chunk_id, doc_id=s.doc_id, quote=s.clean, assertion="present")]
    status: Status = "met" if days >= needed - 1 else "not_met"
    verb = "meets" if status == "met" else "is shorter than"
    return Finding(
        status,
        f"Documented duration of about {days:.0f} days {verb} the required {required_phrase(text)}: "
        f'"{s.clean[:160]}" ({s.doc_id}).',
        evidence,
        [f"{days:.0f}"],
    )
