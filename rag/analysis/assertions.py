"""Assertion status of a concept in a sentence, with medspaCy's ConText.

We mark the concept's span ourselves (the criterion decides what to look for) and let ConText
tell whether the sentence asserts it, negates it, puts it in the past, the family, a hypothesis,
doubt, or a pending result. Extra rules cover phrasing common in reports ("was not detected",
"result pending", "never tried").
"""

from __future__ import annotations

import re
from functools import lru_cache

from rag.analysis.spacy_lean import lean_spacy
from rag.types import Assertion

_EXTRA_RULES: list[tuple[str, str, str]] = [
    # (literal, category, direction)
    ("was not detected", "NEGATED_EXISTENCE", "BACKWARD"),
    ("were not detected", "NEGATED_EXISTENCE", "BACKWARD"),
    ("is not detected", "NEGATED_EXISTENCE", "BACKWARD"),
    ("not identified", "NEGATED_EXISTENCE", "BACKWARD"),
    ("was not identified", "NEGATED_EXISTENCE", "BACKWARD"),
    ("were not identified", "NEGATED_EXISTENCE", "BACKWARD"),
    ("not seen", "NEGATED_EXISTENCE", "BACKWARD"),
    ("were negative", "NEGATED_EXISTENCE", "BACKWARD"),
    ("is negative", "NEGATED_EXISTENCE", "BACKWARD"),
    ("absent", "NEGATED_EXISTENCE", "BACKWARD"),
    ("excluded", "NEGATED_EXISTENCE", "BACKWARD"),  # 'active TB excluded clinically'
    ("was excluded", "NEGATED_EXISTENCE", "BACKWARD"),
    ("has been excluded", "NEGATED_EXISTENCE", "BACKWARD"),
    ("ruled out", "NEGATED_EXISTENCE", "BACKWARD"),
    ("was ruled out", "NEGATED_EXISTENCE", "BACKWARD"),
    ("never used", "NEGATED_EXISTENCE", "FORWARD"),
    ("never tried", "NEGATED_EXISTENCE", "FORWARD"),
    ("has not tried", "NEGATED_EXISTENCE", "FORWARD"),
    ("has not used", "NEGATED_EXISTENCE", "FORWARD"),
    ("have not been tried", "NEGATED_EXISTENCE", "BACKWARD"),
    ("has not been tried", "NEGATED_EXISTENCE", "BACKWARD"),
    ("not been used", "NEGATED_EXISTENCE", "BACKWARD"),
    ("no prior", "NEGATED_EXISTENCE", "FORWARD"),
    ("no trial of", "NEGATED_EXISTENCE", "FORWARD"),
    ("without", "NEGATED_EXISTENCE", "FORWARD"),
    ("not applicable", "NEGATED_EXISTENCE", "BACKWARD"),
    ("are not fulfilled", "NEGATED_EXISTENCE", "BACKWARD"),
    ("is not fulfilled", "NEGATED_EXISTENCE", "BACKWARD"),
    ("not fulfilled", "NEGATED_EXISTENCE", "BACKWARD"),
    ("are not met", "NEGATED_EXISTENCE", "BACKWARD"),
    ("were not met", "NEGATED_EXISTENCE", "BACKWARD"),
    ("does not meet", "NEGATED_EXISTENCE", "BACKWARD"),
    ("only after", "HYPOTHETICAL", "FORWARD"),
    ("to be given", "HYPOTHETICAL", "BIDIRECTIONAL"),
    ("n/a", "NEGATED_EXISTENCE", "BACKWARD"),
    ("pending", "PENDING", "BIDIRECTIONAL"),
    ("awaiting", "PENDING", "BIDIRECTIONAL"),
    ("not yet resulted", "PENDING", "BACKWARD"),
    ("not yet available", "PENDING", "BACKWARD"),
    ("ordered", "PENDING", "BIDIRECTIONAL"),
    ("will be drawn", "PENDING", "BACKWARD"),
    ("to be scheduled", "PENDING", "BACKWARD"),
    ("plans to start", "HYPOTHETICAL", "FORWARD"),
    ("will start", "HYPOTHETICAL", "FORWARD"),
    ("will refer", "HYPOTHETICAL", "FORWARD"),
    ("referral placed", "PENDING", "BIDIRECTIONAL"),
    ("suspected", "POSSIBLE_EXISTENCE", "BIDIRECTIONAL"),
]

# ConText category -> our status, strongest first (a negated family history is still negated).
_PRIORITY: list[tuple[str, Assertion]] = [
    ("NEGATED_EXISTENCE", "negated"),
    ("FAMILY", "family"),
    ("PENDING", "pending"),
    ("HYPOTHETICAL", "hypothetical"),
    ("POSSIBLE_EXISTENCE", "uncertain"),
    ("HISTORICAL", "historical"),
]


@lru_cache(maxsize=1)
def _pipeline():
    with lean_spacy():  # no torch (thinc) or QuickUMLS (nltk, scikit-learn): seconds, unused
        return _build_pipeline()


def load() -> None:
    """Build the pipeline now (a cold `assess` does it while another thread opens the store)."""
    _pipeline()


def _build_pipeline():
    from loguru import logger

    logger.disable("PyRuSH")
    logger.disable("medspacy")
    import medspacy
    from medspacy.context import ConTextRule

    nlp = medspacy.load(medspacy_enable=["medspacy_context"])
    context = nlp.get_pipe("medspacy_context")
    context.add([ConTextRule(lit, cat, direction=d) for lit, cat, d in _EXTRA_RULES])
    return nlp, context


_RULE_OUT = {
    "evaluate for",
    "evaluation for",
    "rule out",
    "to rule out",
    "r/o",
    "ro",
    "workup for",
    "work-up for",
}
# A negation word shortly before the concept, in the same clause (NegEx's window): backs up
# ConText where its rules read ': no' only backwards ('Chest CT 2021: no adenopathy').
_NEG_WINDOW = re.compile(
    r"(?:\b(?:no|not|without|negative for|absence of|free of|denies|ruled out)\b)[^;:.,]{0,40}$",
    re.I,
)
_CONTRAST = re.compile(r"\b(?:but|however|although|except)\b", re.I)
# A form's question that names the concept, answered 'None' or 'No' in the next table cell or
# after a colon: '| Prior TNF blocker, vedolizumab or JAK inhibitor | None |'. The label may run
# on after the concept but holds no number (with a dose, 'side effects: none' is about a drug given).
_ANSWERED_NO = re.compile(
    r"[^:|;.\d]{0,80}[:|]\s*(?:none|no|nil|never|n/?a|not applicable)\b\s*[.;|]?\s*$", re.I
)


def assertion_of(sentence: str, start: int, end: int) -> tuple[Assertion, list[str]]:
    """Status of the concept at sentence[start:end] and the ConText categories behind it."""
    status, categories = _assertion(sentence, start, end)
    return status, list(categories)


@lru_cache(maxsize=4096)  # the same sentences come back for every criterion and every question
def _assertion(sentence: str, start: int, end: int) -> tuple[Assertion, tuple[str, ...]]:
    nlp, context = _pipeline()
    # Markdown emphasis ('are **not** fulfilled') would split the trigger: drop it, map offsets.
    kept = [i for i, ch in enumerate(sentence) if ch not in "*_`"]
    start = sum(1 for i in kept if i < start)
    end = sum(1 for i in kept if i < end)
    sentence = "".join(sentence[i] for i in kept)
    doc = nlp.make_doc(sentence)
    span = doc.char_span(start, end, label="TARGET", alignment_mode="expand")
    if span is None:
        return "present", ()
    for token in doc:
        token.is_sent_start = token.i == 0
    doc.ents = [span]
    context(doc)
    categories: set[str] = set()
    for modifier in doc.ents[0]._.modifiers:
        trigger = doc[modifier.modifier_span[0] : modifier.modifier_span[1]].text.lower()
        if modifier.category == "NEGATED_EXISTENCE" and trigger in _RULE_OUT:
            categories.add("POSSIBLE_EXISTENCE")  # "evaluate for X" is doubt, not absence
        else:
            categories.add(modifier.category)
    before = sentence[max(0, start - 60) : start]
    if "NEGATED_EXISTENCE" not in categories and (
        (_NEG_WINDOW.search(before) and not _CONTRAST.search(before[-40:]))
        or _ANSWERED_NO.match(sentence, end)
    ):
        categories.add("NEGATED_EXISTENCE")
    ordered = tuple(sorted(categories))
    for category, status in _PRIORITY:
        if category in categories:
            return status, ordered
    return "present", ordered
