"""Whether a literature sentence belongs in this draft: about the requested drug, and, for age
caveats, about a patient of this age. Drug names come from the lexicon, never from here."""

from __future__ import annotations

import re

from rag.analysis.lexicon import drug_names, generic_heads
from rag.types import Hit

_AGES = re.compile(r"\b(\d+)\s*(?:years?|yrs?)\b", re.I)
_YOUNG = re.compile(r"\b(?:pediatric|paediatric|children|child|infants?|adolescents?|neonat\w*)\b", re.I)
_OLD = re.compile(r"\b(?:elderly|geriatric|older adults?)\b", re.I)
NEAR_YEARS = 5  # an age caveat matters when the patient is within this many years of it


def _pattern(name: str) -> str:
    """A name as a regex in which a hyphen and a space are the same ('moderate-to-severe')."""
    return r"[-\s]+".join(re.escape(part) for part in re.split(r"[-\s]+", name.strip()))


def named(names: list[str], text: str) -> bool:
    return any(re.search(rf"\b{_pattern(n)}\b", text, re.I) for n in names if n.strip())


def about_requested(hit: Hit, sentence: str, names: list[str]) -> bool:
    """Whether a literature sentence is about the requested drug: it names the drug, or it names no
    other drug and its document's title names the drug (a guideline on another disease that
    mentions the drug somewhere is not evidence about it)."""
    if named(names, sentence):
        return True
    wanted = {n.lower() for n in names} | {n.lower().split("-")[0] for n in names}
    if any(d.lower() not in wanted for d in drug_names(sentence)):
        return False
    return named(names, hit.title)


def on_indication(hit: Hit, sentence: str, terms: list[str]) -> bool:
    """Whether a literature passage concerns the requested indication: its document's title, its
    section, the sentence or its passage names the indication (a term, its core phrase, its
    initialism, or the disease's own head noun: 'psoriasis' for 'plaque psoriasis')."""
    terms = disease_names(terms)
    return any(named(terms, text) for text in (hit.title, hit.section, sentence, hit.text))


def disease_names(terms: list[str]) -> list[str]:
    """An indication as papers name it: each term (split at 'and'), the term without its leading
    qualifiers (two words at least: 'mast cell activation syndrome' for 'idiopathic mast cell
    activation syndrome'), and its head noun when that names one disease ('obesity' for 'class 1
    obesity'; not 'syndrome' or 'arthritis': the lexicon's generic heads)."""
    generic = {h.lower() for h in generic_heads()}
    parts = [p.strip() for t in terms for p in re.split(r"\s+and\s+|,\s*", t) if p.strip()]
    out = list(dict.fromkeys([*terms, *parts]))
    for term in parts:
        words = term.replace("-", " ").split()
        out += [" ".join(words[i:]) for i in range(1, len(words) - 1)]
        if words and len(words[-1]) >= 6 and words[-1].lower() not in generic:
            out.append(words[-1])
    return list(dict.fromkeys(out))


def is_age_caveat(sentence: str) -> bool:
    return bool(_YOUNG.search(sentence) or _OLD.search(sentence)) or (
        bool(_AGES.search(sentence))
        and bool(re.search(r"\b(?:below|under|older|younger|aged?)\b", sentence, re.I))
    )


def age_matters(sentence: str, age: float | None) -> bool:
    """An age caveat is kept only when the patient's age is near it: a child for a pediatric
    caveat, an older adult for a geriatric one, within NEAR_YEARS of a stated age."""
    if not is_age_caveat(sentence):
        return True
    if age is None:
        return False
    if _YOUNG.search(sentence) and age < 18 + NEAR_YEARS:
        return True
    if _OLD.search(sentence) and age >= 65 - NEAR_YEARS:
        return True
    return any(abs(age - int(a)) <= NEAR_YEARS for a in _AGES.findall(sentence))
