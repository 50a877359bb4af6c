"""Prose helpers for the draft-quality metrics: sentences, words, syllables, Flesch, verbs.

No model: spaCy has no English model installed here and textstat reads its syllables from
NLTK's cmudict, which it downloads on first use (offline, that fails). So the syllable counter and
the verb check are small documented heuristics, tested in tests/eval/test_quality.py.

A word is a whitespace-separated token holding a letter or digit; citation markers ([1, 2]) are
removed before anything is counted.
"""

from __future__ import annotations

import re

CITATION = re.compile(r"\s*\[\d+(?:\s*[,–-]\s*\d+)*\]")
MIN_SENTENCE_WORDS = 4  # shorter generated sentences count as verbless

_SENTENCE_END = re.compile(r"[.!?][\"”’)]*(?=\s+[\"“]?[A-Z0-9])")
_ABBREVIATIONS = {"e.g", "i.e", "vs", "dr", "mr", "mrs", "ms", "st", "approx", "al", "fig", "cf", "incl"}


def _listed(text: str) -> list[str]:
    return text.split()


_AUXILIARIES = set(
    _listed(
        "is are was were be been being am has have had does did do can could may might must shall "
        "should will would cannot isn't aren't wasn't weren't hasn't haven't hadn't doesn't don't "
        "didn't can't couldn't won't wouldn't shouldn't mustn't"
    )
)
# verbs our templates and typical review prose use, in every form (-s, -es, -d, -ed, -ied derived)
_VERBS = _listed(
    "accept achieve add administer allow apply approve assess assign authorize become begin calculate "
    "cite come compare confirm consider contain continue convert decide define demonstrate deny "
    "describe develop diagnose differ discontinue enroll establish evaluate exceed exclude expect "
    "explain fail find follow give improve include indicate initiate inject meet mention monitor "
    "observe occur pend permit persist prescribe prevent provide qualify randomise randomize receive "
    "recommend reduce refer remain replace require resolve respond resume satisfy say seem suggest "
    "take taper tolerate treat undergo waive want warrant worsen"
)
# verbs that are mostly nouns or adjectives in reviews ("clinical note", "last dose", "complete
# response"): only their past forms count, and the few present forms our templates use as verbs
_NOUN_LIKE = _listed(
    "base complete count cover decline document dose increase lack list match name need note "
    "report request return rule show start state stop support switch try use"
)
_IRREGULAR = set(
    _listed(
        "met found gave given took taken led began begun shown said made kept left held saw seen "
        "went gone came rose fell underwent undergone became lists names rules needs shows covers "
        "supports equals"
    )
)


def _forms(base: str) -> set[str]:
    """The base, its third person and its past: use uses used, deny denies denied, stop stopped."""
    if base.endswith("e"):
        return {base, base + "s", base + "d"}
    if base.endswith("y") and base[-2] not in "aeiou":
        return {base, base[:-1] + "ies", base[:-1] + "ied"}
    third = base + ("es" if base.endswith(("s", "x", "z", "ch", "sh")) else "s")
    forms = {base, third, base + "ed"}
    if re.search(r"[^aeiou][aeiou][bdgklmnprt]$", base):  # stop -> stopped, refer -> referred
        forms.add(base + base[-1] + "ed")
    return forms


def _past(base: str) -> set[str]:
    return {f for f in _forms(base) if f.endswith("d")}


VERB_WORDS = frozenset(
    _AUXILIARIES
    | _IRREGULAR
    | {f for v in _VERBS for f in _forms(v)}
    | {f for v in _NOUN_LIKE for f in _past(v)}
)


def words(text: str) -> list[str]:
    return [t for t in CITATION.sub("", text).split() if re.search(r"[^\W_]", t)]


def sentences(text: str) -> list[str]:
    """Sentences: split after . ! ? (and closing quotes) before a capital, digit or opening quote.

    Abbreviations (e.g., vs., et al.) and initials do not end a sentence; decimals never do.
    """
    text = CITATION.sub("", text)
    out, start = [], 0
    for m in _SENTENCE_END.finditer(text):
        token = text[start : m.start()].rsplit(None, 1)[-1] if text[start : m.start()].strip() else ""
        if token.lower() in _ABBREVIATIONS or (len(token) == 1 and token.isupper()):
            continue
        out.append(text[start : m.end()].strip())
        start = m.end()
    out.append(text[start:].strip())
    return [s for s in out if s]


def syllables(word: str) -> int:
    """Syllables of an English word: vowel groups, less a silent final -e, -es or -ed.

    A final -e is silent unless it follows a consonant + l (ta-ble); -es only after a consonant
    other than s, x, z, c, g (makes, but dos-es); -ed only after a consonant other than t, d
    (failed, but need-ed). Numbers and symbols read as one syllable.
    """
    w = re.sub(r"[^a-z]", "", word.lower())
    if len(w) <= 3:
        return 1
    count = len(re.findall(r"[aeiouy]+", w))
    silent = (
        (w.endswith("e") and w[-2] not in "aeiouy" and not (w.endswith("le") and w[-3] not in "aeiouy"))
        or (w.endswith("es") and w[-3] not in "aeiouysxzcg")
        or (w.endswith("ed") and w[-3] not in "aeiouytd")
    )
    return max(1, count - silent)


def flesch(text: str) -> tuple[float, int, int, int]:
    """Flesch reading ease 206.835 - 1.015 words/sentence - 84.6 syllables/word, and the counts."""
    tokens, n_sentences = words(text), max(1, len(sentences(text)))
    if not tokens:
        return 0.0, 0, 0, 0
    n_syllables = sum(syllables(t) for t in tokens)
    score = 206.835 - 1.015 * len(tokens) / n_sentences - 84.6 * n_syllables / len(tokens)
    return round(score, 2), len(tokens), n_sentences, n_syllables


def has_verb(text: str) -> bool:
    tokens = re.findall(r"[a-z]+(?:'[a-z]+)?", text.lower().replace("’", "'"))
    return any(t in VERB_WORDS for t in tokens)


def is_verbless(sentence: str) -> bool:
    """True for a sentence under MIN_SENTENCE_WORDS words, a table row, or one with no verb.

    A verb is an auxiliary, copula or modal, a form of a verb in `_VERBS`, a past form of one in
    `_NOUN_LIKE`, or a word of `_IRREGULAR`. Text
    before the first colon is a label ("Requested: 600 mg ...") when it has at most two words or
    no verb; then only the text after the colon is searched.
    """
    if len(words(sentence)) < MIN_SENTENCE_WORDS:
        return True
    head, colon, tail = sentence.partition(":")
    if colon and (len(words(head)) <= 2 or not has_verb(head)):
        return not has_verb(tail)
    return not has_verb(sentence)
