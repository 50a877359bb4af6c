"""Time-bound facts: test results within a window, disease duration (prior therapy: `therapy`)."""

from __future__ import annotations

import re
from datetime import timedelta

from rag.analysis.evaluators.common import (
    STOP,
    Finding,
    cite,
    quote,
    terms_of,
)
from rag.analysis.evaluators.therapy import THERAPY_WORDS, required_days, required_phrase
from rag.analysis.lexicon import test_names
from rag.analysis.policy import Node
from rag.analysis.record import CaseFacts, duration_days, durations_days
from rag.text import shorten
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
_STILL_PENDING = re.compile(r"\bpending\b|\bawaiting\b|not yet (?:resulted|available|back)|send-?out", re.I)
# an earlier result beside the current one ('new positive QuantiFERON (prior negative)')
_PRIOR_RESULT = re.compile(
    r"\(?\b(?:prior|previous(?:ly)?|earlier|last year'?s?)\s+(?:negative|positive|neg|pos)\b\)?", re.I
)
_TREATED = re.compile(r"\b(?:treat\w*|therapy|prophylaxis)\b", re.I)
_UNDER_WAY = re.compile(r"\b(?:complet\w*|finished|under way|underway|ongoing|started|initiated)\b", re.I)
_ORDERED = re.compile(r"\bordered\b|\bdrawn\b|\bcollected\b|\bscheduled\b", re.I)
_YEAR = re.compile(r"\b((?:19|20)\d{2})\b")


def result_of(sentence: str, start: int = 0) -> str | None:
    """'pending', 'negative' or 'positive': what a sentence says of the test named at `start`.

    The one reading of a test result, shared by the screening evaluator and `meddraft case show`.
    """
    sentence = _PRIOR_RESULT.sub(" ", _REFERENCE.sub(" ", sentence))
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
    window = _WINDOW.search(text)
    return test_result(
        facts, names, duration_days(float(window.group(1)), window.group(2)) if window else None
    )


def test_result(facts: CaseFacts, names: list[str], limit: float | None) -> Finding | None:
    """The latest result of a test known by `names`, within `limit` days of the request."""
    if not names:
        return None
    mentions = [m for m in facts.mentions(names) if m.assertion != "hypothetical"]
    if not mentions:
        return Finding("insufficient", f"No result of {', '.join(names[:3])} is documented.", [])
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
        elif re.search(r"\d", m.sentence.text[m.end : m.end + 40]) and not _TREATED.search(m.sentence.text):
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
    # a part of the screening still pending in the month before the request ('HBsAg nonreactive;
    # total anti-HBc pending, send-out'): the screening is not complete
    recent = facts.as_of - timedelta(days=30)
    later_pending = [
        e
        for e in events
        if e[0] == "pending"
        and _STILL_PENDING.search(e[1].sentence.text)
        and (e[2] is None or e[2] >= recent)
    ]
    newest_positive = next((e for e in events if e[0] == "positive"), None)
    if (
        newest_positive
        and usable
        and newest_positive[2]
        and usable[0][2]
        and newest_positive[2] >= usable[0][2]
    ):
        usable = []  # 'a new positive QuantiFERON (prior negative 2/2022)': the newest result decides
    if usable and later_pending:  # 'HBsAg nonreactive; anti-HBc total pending': not complete yet
        m, p = usable[0][1], later_pending[0][1]
        return Finding(
            "insufficient",
            f"{m.term} is negative, but {p.term} is still pending: {quote(p)}.",
            cite([p, m]),
        )
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
        f'"{shorten(s.clean, 160)}" ({s.doc_id}).',
        evidence,
        [f"{days:.0f}"],
    )


def treated_after_positive(facts: CaseFacts, names: list[str]) -> Finding | None:
    """'If positive, treatment of the latent infection completed or under way': a sentence about the
    test or the latent infection that says its treatment was completed or started."""
    for m in facts.mentions([*names, "latent"]):
        text = m.sentence.text
        if (
            m.assertion not in ("negated", "hypothetical")
            and _TREATED.search(text)
            and _UNDER_WAY.search(text)
        ):
            return Finding("met", f"Positive screen, treated as the policy allows: {quote(m)}.", cite([m]))
    return None
