"""Questions checked before a verdict is drafted.

An empty or blank question is a usage error (`QuestionError`). A question in another language is
refused (`UnansweredQuestionError`): drug names read the same in any language, but doses,
intervals and indications are read from English phrasing, and a half-read question would get a
verdict on the case's request form instead of on what was asked. A question whose drug or dose
can be found neither in it nor in the case's request form is refused the same way. Each refusal
says what was understood, so the writer can see what to add.
"""

from __future__ import annotations

import importlib.util
import re
from functools import lru_cache
from pathlib import Path

from rag.errors import QuestionError, UnansweredQuestionError
from rag.types import RequestInfo

EXAMPLE = "'Is DRUG 300 mg SC every 4 weeks medically indicated for this patient with CONDITION?'"
# Languages whose function words would show a question is not English (spaCy's stop-word lists).
_LANGUAGES = {
    "de": "German",
    "fr": "French",
    "es": "Spanish",
    "it": "Italian",
    "pt": "Portuguese",
    "nl": "Dutch",
}
_WORD = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)?")


def check_question(question: str) -> str:
    """The question, stripped; raise when it is empty or not in English."""
    text = (question or "").strip()
    if not text:
        raise QuestionError(f"the question is empty: ask what is requested, e.g. {EXAMPLE}")
    language = other_language(text)
    if language:
        raise UnansweredQuestionError(
            f"the question reads as {language}, and meddraft reads questions in English (drug names "
            f"are read in any language, doses, intervals and indications are not): ask it in "
            f"English, e.g. {EXAMPLE}",
            understood_in(text),
        )
    return text


@lru_cache(maxsize=1)
def _stop_words() -> dict[str, frozenset[str]]:
    return {code: _spacy_stop_words(code) for code in ("en", *_LANGUAGES)}


def _spacy_stop_words(code: str) -> frozenset[str]:
    """spaCy's stop-word list for a language, read from its file alone: importing
    `spacy.lang.fr.stop_words` runs `spacy/__init__` and `spacy.lang.fr`'s tokenizer exceptions
    (seconds of regular-expression compiling on a cold start) for a list of words."""
    spec = importlib.util.find_spec("spacy")  # locates the package without importing it
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("spaCy is not installed: pip install medspacy")
    path = Path(next(iter(spec.submodule_search_locations))) / "lang" / code / "stop_words.py"
    module_spec = importlib.util.spec_from_file_location(f"_meddraft_stop_words_{code}", path)
    assert module_spec is not None and module_spec.loader is not None  # a file path always has one
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return frozenset(module.STOP_WORDS)


def other_language(text: str) -> str | None:
    """The language the question's function words belong to, when that is clearly not English."""
    words = [w.lower() for w in _WORD.findall(text)]
    stop = _stop_words()
    english = sum(w in stop["en"] for w in words)
    scores = {code: sum(w in stop[code] and w not in stop["en"] for w in words) for code in _LANGUAGES}
    code, best = max(scores.items(), key=lambda kv: kv[1])
    return _LANGUAGES[code] if best >= 2 and best > english else None


def understood_in(question: str) -> list[str]:
    """What the question alone says: drug (by the lexicon, in any language), dose, indication,
    age and weight, one 'label: value' each ('none' where nothing was found)."""
    from rag.analysis import lexicon
    from rag.analysis.dosing import parse_regimen
    from rag.analysis.request import Fields, find_age, find_indication, question_weight

    drugs = lexicon.drug_names(question)
    dose = parse_regimen(question, drug=drugs[0] if drugs else None)
    indications = find_indication(question, Fields({}), [])
    return _lines(
        drugs[0] if drugs else None,
        dose.dose_text if dose else None,
        indications[0] if indications else None,
        find_age(Fields({}), [], None, question),
        question_weight(question),
    )


def understood_from(request: RequestInfo) -> list[str]:
    """What the question and the case's request form together said."""
    dose = request.dose.dose_text if request.dose else None
    return _lines(request.drug, dose, request.indication, request.patient_age, request.patient_weight_kg)


def _lines(drug, dose, indication, age, weight) -> list[str]:
    return [
        f"drug: {drug or 'none'}",
        f"dose: {dose or 'none'}",
        f"indication: {indication or 'none'}",
        f"patient age: {f'{age:g}' if age is not None else 'none'}",
        f"patient weight: {f'{weight:g} kg' if weight is not None else 'none'}",
    ]


def no_drug(question: str, has_request_form: bool) -> UnansweredQuestionError:
    """The refusal when the analysis found no drug requested (a drug is read where a dose follows
    it, in the question or on the request form)."""
    form = "the case's request form" if has_request_form else "the case, which has no request form,"
    understood = understood_in(question)
    named = understood[0].removeprefix("drug: ")
    if named != "none":  # the question names a known drug, but no dose after it
        message = (
            f"no dose of {named} could be found: neither the question nor {form} gives one; add the "
            f"dose and interval after the drug, e.g. '{named} 300 mg SC every 4 weeks'"
        )
    else:
        message = (
            f"no drug could be found: neither the question nor {form} names the drug requested; "
            f"name it with its dose, e.g. {EXAMPLE}"
        )
    return UnansweredQuestionError(message, understood)


def require_dose(request: RequestInfo, requests: list) -> None:
    """Refuse a request whose dose neither the question nor the case's request forms give.

    `requests` are the case's request documents; a regimen anywhere in them counts as given,
    even where the form reader did not take it (a dose on the 'Medication:' line).
    """
    if request.dose is not None:
        return
    from rag.analysis.dosing import parse_regimen

    if any(parse_regimen(doc.text, drug=request.drug) for doc in requests):
        return
    form = "the case's request form" if requests else "the case, which has no request form,"
    raise UnansweredQuestionError(
        f"no dose of {request.drug} could be found: neither the question nor {form} gives one; add "
        f"the dose and interval to the question, e.g. '{request.drug} 300 mg SC every 4 weeks'",
        understood_from(request),
    )
