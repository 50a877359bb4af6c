"""Questions are checked before a verdict: empty is a usage error (exit 2); no drug, no dose or
another language is refused with what was understood (exit 3); a request form may name the drug."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from rag.api import assess
from rag.cli import main
from rag.errors import QuestionError, UnansweredQuestionError
from rag.questions import check_question, other_language
from tests.conftest import FIXTURES, REPO, SHARED_DATA

GERMAN = (
    "Ist Omalizumab 300 mg alle 4 Wochen für diesen Patienten mit chronischer spontaner Urtikaria "
    "medizinisch indiziert?"
)


@pytest.fixture
def store(tmp_path: Path, mini_corpus: Path, indexer) -> str:
    """The mini corpus (cases a and b have notes, no request form) and the canary case, whose
    request form names omalizumab 300 mg SC every 4 weeks."""
    shutil.copytree(FIXTURES / "canary" / "canary-b", mini_corpus / "cases" / "canary-b")
    report = indexer.ingest([mini_corpus])
    assert not report.failed
    return str(indexer.store.settings.path)


@pytest.mark.parametrize("question", ["", "   ", "\n\t"])
def test_an_empty_question_is_a_usage_error(question, tmp_path, capsys):
    assert main(["assess", question, "--case", "case-a", "--store", str(tmp_path / "s")]) == 2
    err = capsys.readouterr().err
    assert "the question is empty: ask what is requested, e.g. 'Is DRUG 300 mg SC" in err
    with pytest.raises(QuestionError):
        assess(question, "case-a")


def test_no_drug_and_no_request_form_says_what_was_understood(store, capsys):
    question = "Is this medically necessary for chronic widget disease in a 45-year-old patient?"
    assert main(["assess", question, "--case", "case-a", "--store", store]) == 3
    err = capsys.readouterr().err
    assert (
        "no drug could be found: neither the question nor the case, which has no request form, names "
        "the drug requested" in err
    )
    assert (
        "understood: drug: none; dose: none; indication: chronic widget disease; patient age: 45; "
        "patient weight: none" in err
    )
    assert "not_indicated" not in err and "insufficient_information" not in err  # no verdict


def test_a_known_drug_without_a_dose_is_refused(store, capsys):
    question = "Is omalizumab medically indicated for chronic widget disease?"
    assert main(["assess", question, "--case", "case-a", "--store", store]) == 3
    err = capsys.readouterr().err
    assert "no dose of omalizumab could be found: neither the question nor the case, which has no" in err
    assert "understood: drug: omalizumab; dose: none; indication: chronic widget disease" in err


def test_the_request_form_supplies_what_the_question_leaves_out(store, capsys):
    assert main(["assess", "Is this medically necessary?", "--case", "canary-b", "--store", store]) == 0
    err = capsys.readouterr().err
    assert "not answered" not in err
    assert err.split(" · ")[0].strip() in {"indicated", "not_indicated", "insufficient_information"}


def test_a_question_in_another_language_is_refused_with_the_drug_it_names(store, capsys):
    assert main(["assess", GERMAN, "--case", "canary-b", "--store", store]) == 3
    err = capsys.readouterr().err
    assert "the question reads as German, and meddraft reads questions in English" in err
    assert "understood: drug: omalizumab; dose: 300 mg;" in err
    with pytest.raises(UnansweredQuestionError) as caught:
        check_question("¿Está indicado omalizumab 300 mg cada 4 semanas para este paciente con urticaria?")
    assert "reads as Spanish" in str(caught.value) and caught.value.understood[0] == "drug: omalizumab"


def _gold_questions() -> list[str]:
    questions = [
        yaml.safe_load(p.read_text())["question"] for p in sorted((REPO / "eval/gold/cases").glob("*.yaml"))
    ]
    for path in (REPO / "eval/gold-styles/gold.yaml", SHARED_DATA / "realworld/gold.yaml"):
        if path.is_file():
            data = yaml.safe_load(path.read_text())
            questions += [c["question"] for c in (data if isinstance(data, list) else data["cases"])]
    return questions


def test_every_gold_question_reads_as_english():
    questions = _gold_questions()
    assert len(questions) >= 20
    assert [q for q in questions if other_language(q)] == []
    assert other_language(GERMAN) == "German"
