"""The sections of a clinical note, with medspaCy's sectionizer: what a sentence is evidence of.

A condition under "Family history" is someone else's; a drug under "Plan" that is to be started,
requested or considered has not been taken. medspaCy's default rules (family history, allergies,
medications, assessment and plan, past medical history ...) find the headers; headers must start a
line. Rules of our own (`note_sections` in the lexicon data) add titles its defaults merge or miss,
such as a separate "Plan:" under "Assessment:". Offsets are characters of the document's text.
"""

from __future__ import annotations

import re
import warnings
from functools import lru_cache

from rag.analysis.lexicon import note_section_titles
from rag.analysis.spacy_lean import lean_spacy

# a sentence under a plan that starts, requests or considers something, and does not continue it
_PLANNED = re.compile(
    r"\b(?:start(?:ing)?|begin|initiat\w*|request(?:ed)?|order(?:ed)?|consider\w*|refer\w*|trial of|"
    r"switch(?:ing)? to|add(?:ing)?|prescrib\w*|will|plan(?:s|ned)? to)\b",
    re.I,
)
_CONTINUED = re.compile(
    r"\b(?:continu\w*|remains? on|tolerat\w*|since|stopped|failed|tried|was|were|had|taking|on)\b", re.I
)


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
    from medspacy.section_detection import SectionRule

    nlp = medspacy.load(medspacy_enable=["medspacy_sectionizer"])
    nlp.remove_pipe("medspacy_sectionizer")  # again, with headers required at the start of a line
    nlp.add_pipe("medspacy_sectionizer", config={"require_start_line": True})
    nlp.get_pipe("medspacy_sectionizer").add(
        [
            SectionRule(title, category)
            for category, titles in note_section_titles().items()
            for title in titles
        ]
    )
    return nlp


@lru_cache(maxsize=256)
def note_sections(text: str) -> tuple[tuple[int, int, str], ...]:
    """(start, end, category) of each section body, in text order ('family_history', 'plan' ...)."""
    with warnings.catch_warnings():  # spaCy W036: the sectionizer's regex matcher has no rules
        warnings.filterwarnings("ignore", message=r"\[W036\]")
        doc = _pipeline()(text)
    out = []
    for section in doc._.sections:
        if section.category:
            body = doc[section.body_start : section.body_end]
            out.append((body.start_char, body.end_char, section.category))
    return tuple(out)


def category_at(spans, offset: int) -> str | None:
    return next((category for start, end, category in spans if start <= offset < end), None)


def scoped(status: str, category: str | None, sentence: str) -> str:
    """The assertion of a mention, given the section it sits in."""
    if category == "family_history" and status in ("present", "historical", "uncertain"):
        return "family"
    if (
        category == "plan"
        and status == "present"
        and _PLANNED.search(sentence)
        and not _CONTINUED.search(sentence)
    ):
        return "hypothetical"
    return status
