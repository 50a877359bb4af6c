"""Typed evaluators over notes written as clinics write them: lab tables with reference columns,
family-history traps, plans for the future, SOAP shorthand, slash dates, ages and weights.

The notes are small in-memory documents; the embedding function is a deterministic stand-in (no
decision here depends on embeddings).
"""

from __future__ import annotations

import numpy as np
import pytest

from rag.analysis.compile import compile_policy
from rag.analysis.evaluators.typed import evaluate
from rag.analysis.record import CaseFacts
from rag.analysis.request import parse_request
from rag.retrieval.passages import SourceDoc
from rag.types import Hit


def _doc(doc_id: str, text: str, kind: str = "clinical_note", date: str = "2025-03-01") -> SourceDoc:
    chunk = Hit(
        chunk_id=f"{doc_id}-0",
        doc_id=doc_id,
        text=text,
        kind=kind,
        title=doc_id,
        case_id="case-x",
        char_start=0,
        char_end=len(text),
    )
    return SourceDoc(doc_id, kind, doc_id, None, 2025, date, "case-x", text, [chunk])


def _facts(question: str, *notes: str) -> CaseFacts:
    docs = [_doc(f"note-{i}", text) for i, text in enumerate(notes)]
    request = parse_request(question, docs)
    return CaseFacts("case-x", docs, request, lambda texts: np.zeros((len(texts), 4)), {})


def _criterion(text: str):
    """One criterion compiled the way a policy's criteria are."""
    policy = compile_policy(
        "p",
        "Policy",
        f"# Policy\n\n## 1. Condition\n\nMembers must meet all of the following criteria:\n\n1. {text}\n",
    )
    return policy.indications[0].initial.children[0]


QUESTION = "Is adalimumab 40 mg SC every 2 weeks medically indicated for this patient with plaque psoriasis?"
TB = (
    "Negative tuberculosis screening (tuberculin skin test or interferon-gamma release assay) within "
    "the past 12 months"
)


def test_a_positive_result_beside_a_negative_reference_reads_positive():
    facts = _facts(
        QUESTION, "Labs 01/14/2025:\n\n| QuantiFERON-TB Gold Plus | POSITIVE | Negative (reference) |\n"
    )
    assert evaluate(_criterion(TB), facts, "p").status == "not_met"


def test_a_negative_result_in_a_slash_dated_table_reads_negative():
    facts = _facts(QUESTION, "| QuantiFERON-TB Gold Plus | Negative | Negative | 01/14/2025 |\n")
    assert evaluate(_criterion(TB), facts, "p").status == "met"


def test_a_planned_test_is_not_a_result():
    facts = _facts(QUESTION, "Plan: first injection will be held until a negative TB screen is confirmed.")
    assert evaluate(_criterion(TB), facts, "p").status == "insufficient"


def test_family_history_is_not_the_patient_diagnosis():
    facts = _facts(QUESTION, "Family history: mother with plaque psoriasis. Patient: eczema on the hands.")
    result = evaluate(_criterion("Diagnosis of moderate to severe plaque psoriasis"), facts, "p")
    assert result.status != "met"


def test_a_drug_the_patient_never_took_is_not_a_trial():
    criterion = _criterion("Inadequate response to at least 3 months of methotrexate")
    hesitant = _facts(QUESTION, "She is hesitant about methotrexate because of nausea she read about online.")
    assert evaluate(criterion, hesitant, "p").status != "met"
    planned = _facts(QUESTION, "A/P: will start methotrexate 15 mg weekly next visit.")
    assert evaluate(criterion, planned, "p").status != "met"


def test_soap_shorthand_with_slash_dates_counts_the_trial():
    facts = _facts(
        QUESTION,
        "S: 30M w/ plaque psoriasis.\nA/P: methotrexate 15 mg weekly 7/1/24 - 11/25/24, stopped for "
        "inadequate response.",
    )
    result = evaluate(_criterion("Inadequate response to at least 12 weeks of methotrexate"), facts, "p")
    assert result.status == "met", result.rationale


def test_two_different_drugs_means_two():
    criterion = _criterion("Failure of two different NSAIDs for a combined total of at least 4 weeks")
    one = _facts(QUESTION, "Naproxen 500 mg twice daily 1/6/25 - 3/3/25: inadequate response.")
    assert evaluate(criterion, one, "p").status == "not_met"
    two = _facts(
        QUESTION,
        "Naproxen 500 mg twice daily 1/6/25 - 3/3/25: inadequate response.",
        "Meloxicam 15 mg daily 3/4/25 - 4/15/25: inadequate response.",
    )
    assert evaluate(criterion, two, "p").status == "met"


@pytest.mark.parametrize(
    ("text", "age", "weight"),
    [
        ("Age: 8 months. Weight 9 kg.", 0.67, 9.0),
        ("Symptoms since age 12. DOB 02/03/1980. Weight loss of 6 kg; weight 82 kg today.", 45.0, 82.0),
        ("S: 34M w/ Crohn's disease. Wt 70 kg.", 34.0, 70.0),
    ],
)
def test_age_and_weight_are_read_from_what_they_mean(text, age, weight):
    doc = _doc("request", text, kind="request", date="2025-03-01")
    request = parse_request(QUESTION, [doc])
    assert request.patient_age == pytest.approx(age, abs=0.01)
    assert request.patient_weight_kg == weight


GLUCOCORTICOID = (
    "Patient is currently receiving, or will receive, systemic glucocorticoids in combination with "
    "the adalimumab product, with a plan to taper"
)


def test_a_member_of_a_required_class_meets_the_cotherapy_criterion():
    facts = _facts(QUESTION, "Plan: continue prednisone 60 mg daily; do not taper until reassessed.")
    assert evaluate(_criterion(GLUCOCORTICOID), facts, "p").status == "met"


def test_a_stopped_member_of_a_required_class_does_not_meet_it():
    facts = _facts(QUESTION, "Prednisone was stopped in January after the taper finished.")
    assert evaluate(_criterion(GLUCOCORTICOID), facts, "p").status == "insufficient"
