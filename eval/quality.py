"""Draft quality: how a draft reads, whatever it decides (issue 14, item 4).

Pure functions `(gold, draft[, chunk_texts]) -> MetricResult`, deterministic and offline:

- `verdict_words`, `verdict_sentences`: length of `verdict.summary`.
- `mid_word_cuts`: places where text was cut inside a word (see `mid_word_cuts`). Gated at 0.
- `duplicate_statements`: statements said twice in the bullets or the verdict. Gated at 0.
- `off_topic_citations`: literature cited where neither the reference nor the statement names the
  requested drug or indication. Gated at 0.
- `verbless_sentences`: generated sentences with no verb (a word-list heuristic: no POS tagger
  model is installed).
- `verdict_flesch`: Flesch reading ease of the verdict.

Words, sentences, syllables and the verb check are in `eval/prose.py`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from eval.gold import GoldCase
from eval.metrics import MetricResult
from eval.prose import flesch, is_verbless, sentences, words
from rag import Assessment, Reference, disease_names, flatten

# a straight-quoted passage may not span an ellipsis: a quote cut short ("Mast cell…) must not
# pair with the next quote mark
QUOTE = re.compile(r"“([^”]*)”|\"([^\"…]*)\"")
ELLIPSIS = re.compile(r"…|\.\.\.")
# kinds that are not literature (ingest.documents.Kind; "patient" for sources from elsewhere)
NOT_LITERATURE = {"policy", "drug_label", "clinical_note", "request", "patient"}

WINDOW = 25  # characters before an ellipsis (or at a quote's end) looked up in the sources
MIN_FRAGMENT = 10  # shorter suffixes of the window are not looked up (they match anywhere)
MIN_STATEMENT_WORDS = 2  # "No mastocytosis." is a statement; "None." is not
SHOW = 5  # offending items named in a reason


def _short(text: str, limit: int = 70) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _statement(sentence: str) -> str:
    return " ".join(re.sub(r"[^\w\s]|_", " ", sentence.lower()).split())


def _bullets(draft: Assessment) -> Iterable[tuple[str, Any]]:
    for section in draft.sections:
        for i, bullet in enumerate(section.bullets, 1):
            yield f"{section.key} bullet {i}", bullet


def _places(draft: Assessment) -> list[tuple[str, str]]:
    """Every piece of text a reader sees, with where it is."""
    places = [("verdict", draft.verdict.summary)]
    for c in flatten(draft.criteria):
        places += [(f"criterion {c.id}", c.text), (f"criterion {c.id} rationale", c.rationale)]
    places += [(where, b.text) for where, b in _bullets(draft)]
    if draft.dosing.requested:
        places.append(("requested dose", draft.dosing.requested.dose_text))
    places += [(f"dose of {_short(c.label, 30)}", c.dose_text) for c in draft.dosing.comparators]
    return [(where, text) for where, text in places if text]


def _result(name: str, found: list[str], what: str, hard: bool = False) -> MetricResult:
    shown = "; ".join(found[:SHOW]) + (f"; and {len(found) - SHOW} more" if len(found) > SHOW else "")
    return MetricResult(name=name, value=float(len(found)), reason=shown or f"no {what}", hard=hard)


# --- length and readability ---------------------------------------------------------------------


def verdict_length(gold: GoldCase, draft: Assessment) -> tuple[MetricResult, MetricResult]:
    summary = draft.verdict.summary
    n_words, parts = len(words(summary)), sentences(summary)
    longest = max((len(words(s)) for s in parts), default=0)
    return (
        MetricResult(name="verdict_words", value=float(n_words), reason=f"{n_words} words in the verdict"),
        MetricResult(
            name="verdict_sentences",
            value=float(len(parts)),
            reason=f"{len(parts)} sentences, the longest {longest} words",
        ),
    )


def verdict_flesch(gold: GoldCase, draft: Assessment) -> MetricResult:
    score, n_words, n_sentences, n_syllables = flesch(draft.verdict.summary)
    return MetricResult(
        name="verdict_flesch",
        value=score,
        reason=f"{n_words} words, {n_sentences} sentences, {n_syllables} syllables",
    )


# --- mid-word cuts ------------------------------------------------------------------------------


def _continues(fragment: str, sources: list[str]) -> bool | None:
    """Whether the sources go on with a letter or digit right after `fragment`.

    None when the fragment is not in any source (or only at a chunk's end, where the next chunk
    may go on); True only when every occurrence goes on inside a word.
    """
    inside = boundary = False
    for text in sources:
        at = text.find(fragment)
        while at >= 0:
            end = at + len(fragment)
            if end < len(text):
                if text[end].isalnum():
                    inside = True
                else:
                    boundary = True
            at = text.find(fragment, at + 1)
    return None if not (inside or boundary) else inside and not boundary


def _window_before(text: str, end: int) -> str:
    """Up to WINDOW characters before `end`, from a word start, after any quote mark or ellipsis."""
    start = max(0, end - WINDOW)
    window = text[start:end]
    window = re.split(r"[\"“”]|…|\.\.\.", window)[-1]
    cut_word = start > 0 and len(window) == end - start and text[start - 1].isalnum() and window[:1].isalnum()
    if cut_word:  # the window starts inside a word: drop that part-word
        window = window.split(None, 1)[1] if len(window.split(None, 1)) > 1 else ""
    return " ".join(window.split()).lower()


def _is_cut(fragment: str, sources: list[str]) -> bool:
    """The longest suffix of `fragment` found in a source (from a word start, at least
    MIN_FRAGMENT characters, or the whole fragment when shorter) decides."""
    starts = [0] + [m.end() for m in re.finditer(r"\s", fragment)]
    candidates = [fragment[i:] for i in starts if len(fragment) - i >= MIN_FRAGMENT] or [fragment]
    for candidate in candidates:
        if len(candidate) < 3:
            return False
        verdict = _continues(candidate, sources)
        if verdict is not None:
            return verdict
    return False


def cuts_in(text: str, sources: list[str], *, verdict: bool = False) -> list[str]:
    """Fragments of `text` cut inside a word (each with its ellipsis, if it has one)."""
    found = []
    for m in ELLIPSIS.finditer(text):
        fragment = _window_before(text, m.start())
        after_letter = m.start() > 0 and text[m.start() - 1].isalnum()
        if verdict or (after_letter and fragment and _is_cut(fragment, sources)):
            found.append(f"'…{fragment[-40:]}{m.group()}'")
    for m in QUOTE.finditer(text):
        quoted = (m.group(1) if m.group(1) is not None else m.group(2)).strip()
        if len(quoted) < 15 or ELLIPSIS.search(quoted[-3:]):
            continue
        tail = _window_before(quoted, len(quoted))
        if tail and _is_cut(tail, sources):
            found.append(f"quote stops at '…{tail[-40:]}' where the source goes on")
    return found


def mid_word_cuts(gold: GoldCase, draft: Assessment, chunk_texts: dict[str, str]) -> MetricResult:
    """Places where the draft cuts a word, counted over the verdict, criteria, bullets and doses.

    (a) An ellipsis right after a letter or digit whose preceding fragment (up to 25 characters,
        whitespace-normalised, case-insensitive) is found in a retrieved chunk that goes on with a
        letter or digit there ("either of the followi…" of "either of the following:"). A fragment
        found nowhere is not counted.
    (b) Any ellipsis in the verdict: the verdict is never cut.
    (c) A quoted passage of 15 characters or more whose end is found in a chunk that goes on with a
        letter or digit (a cut with no mark: inside a word, or after an opening bracket).
    A fragment is looked up by its longest suffix of at least 10 characters, from a word start,
    that some chunk holds; it is a cut only when every place it occurs goes on with a letter or
    digit (an occurrence at a chunk's end does not count either way).
    """
    sources = [" ".join(t.split()).lower() for t in chunk_texts.values()]
    found = [
        f"{where}: {cut}"
        for where, text in _places(draft)
        for cut in cuts_in(text, sources, verdict=where == "verdict")
    ]
    return _result("mid_word_cuts", found, "word cut", hard=True)


# --- duplicates ---------------------------------------------------------------------------------


def duplicate_statements(gold: GoldCase, draft: Assessment) -> MetricResult:
    """Statements said more than once across the bullets of every section and the verdict.

    A statement is a sentence lower-cased, stripped of citation markers and punctuation, with at
    least MIN_STATEMENT_WORDS words. It repeats when it occurs twice anywhere among the bullets
    (in two bullets or twice in one) or in a bullet and the verdict. Criteria rationales are the
    detail view and are not counted. The value is the number of distinct repeated statements.
    """
    seen: dict[str, list[str]] = {}
    texts = [("verdict", draft.verdict.summary)] + [(w, b.text) for w, b in _bullets(draft)]
    for where, text in texts:
        for sentence in sentences(text):
            key = _statement(sentence)
            if len(key.split()) >= MIN_STATEMENT_WORDS:
                seen.setdefault(key, []).append(where)
    found = [
        f"'{_short(key, 60)}' ×{len(where)} ({', '.join(dict.fromkeys(where))})"
        for key, where in seen.items()
        if len(where) > 1
    ]
    return _result("duplicate_statements", found, "repeated statement", hard=True)


# --- off-topic literature -----------------------------------------------------------------------


def _names_any(text: str, terms: list[str]) -> bool:
    return any(
        re.search(r"(?<![^\W_])" + r"\s+".join(map(re.escape, t.split())) + r"(?![^\W_])", text, re.I)
        for t in terms
    )


def off_topic_citations(gold: GoldCase, draft: Assessment) -> MetricResult:
    """(statement, literature reference) citations where neither the reference's title nor the
    statement names the requested drug (or an alias) or the indication (or one of its terms).

    Statements are bullets and criteria (text and rationale); literature is every reference kind
    but policy, drug_label, clinical_note, request and patient. Whole words, case-insensitive;
    the indication also by the names `rag.disease_names` gives it.
    """
    request = draft.request
    if request is None:
        return MetricResult(name="off_topic_citations", value=0.0, reason="no request parsed", hard=True)
    indication = disease_names(
        [t for t in (request.indication, *request.indication_terms) if t and t.strip()]
    )
    terms = [t for t in (request.drug, *request.drug_aliases, *indication) if t and t.strip()]
    refs: dict[int, Reference] = {r.n: r for r in draft.references}
    items = [(where, b.text, b.citations) for where, b in _bullets(draft)]
    items += [(f"criterion {c.id}", f"{c.text} {c.rationale}", c.citations) for c in flatten(draft.criteria)]
    found = []
    for where, text, citations in items:
        for n in dict.fromkeys(citations):
            ref = refs.get(n)
            if ref is None or ref.kind in NOT_LITERATURE:
                continue
            if not _names_any(ref.title, terms) and not _names_any(text, terms):
                found.append(f"{where} cites [{n}] {_short(ref.title, 60)!r} ({ref.kind})")
    return _result("off_topic_citations", found, "off-topic citation", hard=True)


# --- verbless sentences -------------------------------------------------------------------------


def verbless_sentences(gold: GoldCase, draft: Assessment) -> MetricResult:
    """Generated sentences (bullets and verdict, quoted text removed first) that have no verb.

    A sentence that was nothing but a quotation is not generated and not counted.
    """
    texts = [("verdict", draft.verdict.summary)] + [(w, b.text) for w, b in _bullets(draft)]
    found = []
    for where, text in texts:
        for sentence in sentences(QUOTE.sub(" ", text)):
            if words(sentence) and is_verbless(sentence):
                found.append(f"{where}: '{_short(sentence, 60)}'")
    return _result("verbless_sentences", found, "verbless sentence")


def quality_metrics(gold: GoldCase, draft: Assessment, chunk_texts: dict[str, str]) -> list[MetricResult]:
    """Every draft-quality metric of one case, in report order."""
    return [
        *verdict_length(gold, draft),
        mid_word_cuts(gold, draft, chunk_texts),
        duplicate_statements(gold, draft),
        off_topic_citations(gold, draft),
        verbless_sentences(gold, draft),
        verdict_flesch(gold, draft),
    ]
