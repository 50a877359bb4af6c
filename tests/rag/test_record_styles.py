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
        # a change of weight is not the weight: the vitals line after it is
        ("34 y/o M. Wt down ~5 kg since 10/2024. Vitals: BP 118/74 | Wt 70.0 kg", 34.0, 70.0),
        ("34 y/o M. Weight fell by 6 kg over the winter.", 34.0, None),
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


FORM = """PRIOR AUTHORIZATION REQUEST
Drug: Cosentyx (secukinumab) 150 mg/mL pen
Sig: 150 mg SC every 4 weeks
Weight: 80 kg
"""


def test_where_question_and_request_form_differ_the_draft_is_told():
    form = _doc("form", FORM, kind="request")
    asked = "Is secukinumab 300 mg SC every 4 weeks indicated for a 90 kg patient with psoriasis?"
    flags = parse_request(asked, [form]).disagreements
    messages = " ".join(f.message for f in flags)
    assert len(flags) == 2 and {f.kind for f in flags} == {"request_disagreement"}
    assert "300 mg per 28 days" in messages and "150 mg per 28" in messages
    assert "weight of 90 kg" in messages and "80 kg" in messages
    other = parse_request("Is ixekizumab 80 mg SC every 4 weeks indicated for psoriasis?", [form])
    assert any("asks about ixekizumab" in f.message and "Cosentyx" in f.message for f in other.disagreements)
    same = "Is Cosentyx 150 mg SC every 4 weeks indicated for this 80 kg patient with psoriasis?"
    assert parse_request(same, [form]).disagreements == []


RESPONSE_NOTE = (
    "Pre-treatment baseline on 02/20/2024: BSA 16% and PASI 18.4.\n\n"
    "Current measure (02/18/2025): BSA 11%, PASI 12.1."
)


def test_a_response_from_baseline_is_computed_not_guessed():
    leaf = _criterion("PASI 75 or better").leaf
    assert leaf.type == "measurement" and leaf.change == "reduction_percent" and leaf.value == 75
    result = evaluate(_criterion("PASI 75 or better"), _facts(QUESTION, RESPONSE_NOTE), "p")
    assert result.status == "not_met" and "reduction of 34%" in result.rationale
    half = evaluate(
        _criterion("≥ 30% reduction in BSA affected from baseline"), _facts(QUESTION, RESPONSE_NOTE), "p"
    )
    assert half.status == "met" and "16 at baseline, 11 now" in half.rationale
    no_baseline = _facts(QUESTION, "Current measure (02/18/2025): BSA 11%, PASI 12.1.")
    assert evaluate(_criterion("PASI 75 or better"), no_baseline, "p").status == "insufficient"
    # alternatives joined by 'or' are not narrowed to one of them
    assert (
        _criterion("Improvement of at least 50% in PASI, or reduction in BSA of at least 50%").leaf.change
        is None
    )


def test_a_listed_response_is_any_one_the_record_shows():
    criterion = _criterion(
        "Documented response: remission, reduced relapse frequency, or reduction in daily dose"
    )
    facts = _facts(QUESTION, "Relapses: 3 in the year before starting → 0 since starting.")
    result = evaluate(criterion, facts, "p")
    assert result.status == "met" and "reduced relapse frequency" in result.rationale
    nothing = _facts(QUESTION, "Seen today. Tolerating injections.")
    assert evaluate(criterion, nothing, "p").status == "insufficient"


def test_a_topical_drug_is_not_the_oral_therapy_the_policy_asks_for():
    criterion = _criterion(
        "Inadequate response after at least 3 months (90 days) of oral antibiotic therapy "
        "(for example doxycycline or clindamycin)"
    )
    topical = _facts(
        QUESTION, "Clindamycin 1% lotion BID since 2023, inadequate, stopped for lack of effect."
    )
    assert evaluate(criterion, topical, "p").status != "met"
    short = _facts(QUESTION, "Doxycycline 100 mg PO BID x 8 weeks, self-discontinued for lack of effect.")
    result = evaluate(criterion, short, "p")
    assert result.status == "not_met" and "56 days" in result.rationale


def test_a_screening_with_a_part_still_pending_is_not_complete():
    hbv = "Screened for hepatitis B with HBsAg and anti-HBc within 12 months"
    facts = _facts(
        QUESTION,
        "HBsAg nonreactive (02/25/2025).\n\nTotal anti-HBc PENDING, send-out lab, sent 02/27/2025.",
    )
    result = evaluate(_criterion(hbv), facts, "p")
    assert result.status == "insufficient" and "pending" in result.rationale


def test_named_symptoms_are_looked_for_by_name():
    criterion = _criterion("Symptoms of esophageal dysfunction (for example dysphagia or food impaction)")
    assert criterion.leaf.type == "diagnosis" and criterion.leaf.names == ["dysphagia", "food impaction"]
    assert evaluate(criterion, _facts(QUESTION, "Solid-food dysphagia 3x/week."), "p").status == "met"


def test_the_requested_drug_is_the_one_asked_for_not_the_one_tried():
    note = _doc("n", "Visit note.")
    asked = (
        "Does a woman with EoE still symptomatic after 12 weeks of omeprazole 40 mg BID qualify for "
        "Dupixent 300 mg weekly?"
    )
    assert parse_request(asked, [note]).drug == "Dupixent"
    receive = "Should this woman with RA receive Tyenne (tocilizumab-aazg) 162 mg SC every other week?"
    request = parse_request(receive, [note])
    assert request.drug == "Tyenne" and "tocilizumab" in request.drug_aliases


def test_a_discharge_medication_list_is_current_use():
    criterion = _criterion("Rituximab will be used in combination with glucocorticoids")
    text = "- Prednisone 60 mg PO daily\n"
    chunk = Hit(
        chunk_id="d-0",
        doc_id="d",
        text=text,
        kind="clinical_note",
        title="d",
        case_id="case-x",
        char_start=0,
        char_end=len(text),
        section="Discharge summary > Discharge medications",
    )
    listed = SourceDoc("d", "clinical_note", "d", None, 2025, "2025-03-04", "case-x", text, [chunk])
    facts = CaseFacts(
        "case-x", [listed], parse_request(QUESTION, [listed]), lambda t: np.zeros((len(t), 4)), {}
    )
    assert evaluate(criterion, facts, "p").status == "met"
    assert evaluate(criterion, _facts(QUESTION, text), "p").status == "insufficient"  # a bare line
    stopped = _facts(QUESTION, "Prednisone was tapered off in 2023.")
    assert evaluate(criterion, stopped, "p").status == "insufficient"


def test_the_section_a_sentence_sits_in_decides_whose_and_when():
    note = (
        "HISTORY OF PRESENT ILLNESS:\nItchy plaques on elbows for 2 years.\n\n"
        "FAMILY HISTORY:\nPlaque psoriasis; type 2 diabetes.\n\n"  # no relative: only the section tells
        "ASSESSMENT:\nEczema of the hands.\n\n"
        "PLAN:\n1. Start methotrexate 15 mg weekly.\n2. Continue clobetasol ointment.\n"
    )
    facts = _facts(QUESTION, note)
    psoriasis = facts.mentions(["plaque psoriasis"])
    assert [m.assertion for m in psoriasis] == ["family"]
    assert (
        evaluate(_criterion("Diagnosis of moderate to severe plaque psoriasis"), facts, "p").status != "met"
    )
    by_drug = {m.term: m.assertion for m in facts.mentions(["methotrexate", "clobetasol"])}
    assert by_drug == {"methotrexate": "hypothetical", "clobetasol": "present"}


def test_a_new_positive_beside_a_prior_negative_reads_positive_and_needs_treatment():
    criterion = _criterion(
        "Individual has had a TB test (for example, interferon-gamma release assay) before the first "
        "course; if positive, treatment for latent TB infection has been completed or is under way"
    )
    positive = "Labs 9/12/2024 showed a new positive QuantiFERON-TB Gold Plus (prior negative)."
    assert evaluate(criterion, _facts(QUESTION, positive), "p").status == "not_met"
    treated = _facts(QUESTION, positive, "Latent TB infection: treatment completed 1/21/2025 (4 months).")
    result = evaluate(criterion, treated, "p")
    assert result.status == "met" and "treated as the policy allows" in result.rationale


def test_a_form_question_answered_none_is_no_trial_and_the_next_row_is_not_its_outcome():
    # a payer portal's question/answer table: 'None' answers the row that names the drugs, and
    # the next row's 'no response' is about another drug
    portal = (
        "## Clinical questions\n\n| Question | Answer |\n|---|---|\n"
        "| Prior TNF blocker, vedolizumab or JAK inhibitor | None |\n"
        "| Conventional agents tried | Mesalamine 4.8 g/day 10/2024 - 01/2025, no response |\n"
    )
    criterion = _criterion(
        "Inadequate response, loss of response, or intolerance to a TNF blocker, vedolizumab, or a "
        "Janus kinase (JAK) inhibitor"
    )
    result = evaluate(criterion, _facts(QUESTION, portal), "p")
    assert result.status != "met", result.rationale
    colon = "Prior TNF blocker, vedolizumab or JAK inhibitor: None.\nMesalamine: no response."
    assert evaluate(criterion, _facts(QUESTION, colon), "p").status != "met"
