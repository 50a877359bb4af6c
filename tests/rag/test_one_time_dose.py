"""A one-time (induction) dose set by weight band is checked against the patient's weight, never
passed because the maintenance dose is within its limit. The real Harborline ustekinumab PDF
('IV induction (once) ≤ 55 kg: 260 mg; > 55 kg to 85 kg: 390 mg; > 85 kg: 520 mg') and the real
cd-201 case (70.0 kg on the progress note and the PA form), plus a copy of it with no weight."""

from __future__ import annotations

import re
import shutil

import pytest

from ingest.loaders import discover, load
from rag.analysis.comparators import policy_limit, policy_single_dose
from rag.analysis.compile import compile_policy
from rag.analysis.criteria import DoseLimit, Indication
from rag.analysis.dosing import parse_regimen
from rag.analysis.evaluators.dose_limit import dose_limit_finding
from rag.types import ONE_TIME_DOSE, DosingAnalysis, RequestInfo

QUESTION = (
    "Is ustekinumab {induction} IV as a single weight-based induction dose, followed by 90 mg "
    "subcutaneously every 8 weeks, medically indicated for this patient with moderately to severely "
    "active Crohn's disease who lost response to infliximab and did not respond to azathioprine?"
)


@pytest.fixture(scope="module")
def crohns(shared_data):
    doc = load(next(discover([shared_data / "realworld/policies/hhp-spc-0417-ustekinumab.pdf"])))
    criteria = compile_policy(doc.id, doc.title, doc.text, pages=len(doc.pages))
    return next(i for i in criteria.indications if i.name.startswith("Crohn"))


def _dosing(indication, weight: float | None, induction: str) -> DosingAnalysis:
    question = QUESTION.format(induction=induction)
    dose = parse_regimen(question, weight_kg=weight, drug="ustekinumab")
    request = RequestInfo(drug="ustekinumab", dose=dose, route=dose.route, patient_weight_kg=weight)
    comparators = [
        c for c in (policy_limit(indication, request), policy_single_dose(indication, request)) if c
    ]
    loading = parse_regimen(dose.loading_text, weight_kg=weight) if dose.loading_text else None
    return DosingAnalysis(requested=dose, loading=loading, comparators=comparators)


def test_the_induction_before_a_maintenance_regimen_is_read_from_the_words_after_it():
    dose = parse_regimen(QUESTION.format(induction="390 mg"), drug="ustekinumab")
    assert (dose.dose_mg, dose.interval_days) == (90.0, 56.0)
    assert dose.loading_text.startswith("390 mg IV") and parse_regimen(dose.loading_text).dose_mg == 390


@pytest.mark.parametrize(
    ("weight", "mg"), [(50.0, 260.0), (55.0, 260.0), (70.0, 390.0), (85.0, 390.0), (92.0, 520.0)]
)
def test_the_band_for_the_patients_weight_gives_the_one_time_dose(crohns, weight, mg):
    single = policy_single_dose(crohns, RequestInfo(drug="ustekinumab", patient_weight_kg=weight))
    assert single.source_kind == ONE_TIME_DOSE and single.dose_mg == mg and single.weight_kg == weight


def test_the_matching_induction_is_met_and_says_the_weight(crohns):
    finding = dose_limit_finding(_dosing(crohns, 70.0, "390 mg"), "policy")
    assert finding.status == "met"
    assert "390 mg IV, is equal to the policy's 390 mg for the patient's weight of 70 kg" in finding.rationale


def test_an_induction_above_the_band_is_not_met_though_the_maintenance_is_within(crohns):
    finding = dose_limit_finding(_dosing(crohns, 70.0, "520 mg"), "policy")
    assert "45 mg per 28 days" in finding.rationale and "within the limit" in finding.rationale
    assert finding.status == "not_met"
    assert "520 mg IV, is above the policy's 390 mg for the patient's weight of 70 kg" in finding.rationale


def test_with_no_weight_the_banded_induction_is_insufficient_not_met_by_the_maintenance(crohns):
    dosing = _dosing(crohns, None, "390 mg")
    single = dosing.one_time()
    assert single.dose_mg is None and "no weight is documented" in single.arithmetic
    finding = dose_limit_finding(dosing, "policy")
    assert finding.status == "insufficient"
    assert "cannot be checked: the policy sets it by body weight" in finding.rationale


# --- the whole draft, from a real store ----------------------------------------------------------------


@pytest.fixture(scope="module")
def store_parts(shared_data, tmp_path_factory, embedder):
    from rag.components import build_indexer, build_store
    from rag.retrieval.hybrid import Retriever
    from rag.settings import load_settings

    root = tmp_path_factory.mktemp("one-time-dose")
    real = shared_data / "realworld"
    shutil.copytree(real / "cases/cd-201", root / "cases/cd-201")
    # the same case under another id with the weight taken out of every note
    for note in sorted((real / "cases/cd-201").iterdir()):
        text = note.read_text(encoding="utf-8").replace("cd-201", "cd-299")
        text = re.sub(r"70\.0 kg(?: \(154 lb\))?", "not recorded", text)
        target = root / "cases/cd-299" / note.name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    for folder, name in (
        ("policies", "hhp-spc-0417-ustekinumab.pdf"),
        ("policies", "hhp-spc-0417-ustekinumab.pdf.yaml"),  # the PDF's metadata sidecar
        ("literature", "lit-ustekinumab-cd-pso.md"),
    ):
        (root / folder).mkdir(exist_ok=True)
        shutil.copy(real / folder / name, root / folder / name)
    settings = load_settings(overrides={"store.path": str(root / "store")})
    report = build_indexer(settings, embedder=embedder).ingest([root])
    assert not report.failed, report.failed
    store = build_store(settings)
    return settings, store, embedder, Retriever(store, embedder)


def _assess(parts, question: str, case: str):
    from rag.api import assess

    settings, store, embedder, retriever = parts
    return assess(question, case, settings, store=store, embedder=embedder, retriever=retriever)


def _criterion(draft, cid: str):
    stack = list(draft.criteria)
    while stack:
        c = stack.pop()
        if c.id == cid:
            return c
        stack += c.children
    raise AssertionError(cid)


def test_a_draft_names_the_induction_and_the_weight_it_was_checked_for(store_parts):
    draft = _assess(store_parts, QUESTION.format(induction="390 mg"), "cd-201")
    assert draft.verdict.label == "indicated", draft.verdict.summary
    assert draft.verdict.summary.startswith(
        "Ustekinumab 390 mg IV once, then 90 mg subcutaneously every 8 weeks, is medically indicated"
    )
    assert "for the patient's weight of 70 kg" in _criterion(draft, "A.4").rationale
    maintenance, induction = next(s for s in draft.sections if s.key == "dosing").bullets
    assert "comes to 45 mg per 28 days, equal to the policy's limit" in maintenance.text
    assert induction.text == (
        "The one-time dose before it, 390 mg IV, is equal to the policy's dose (390 mg) for a weight of "
        "70 kg (> 55 kg to 85 kg: 390 mg)."
    )
    assert induction.supported and induction.citations
    from rag.rendering import render

    table = render(draft, "md")
    assert "| Requested one-time dose | 390 mg IV | — | one dose of 390 mg |" in table
    assert "| Policy one-time dose (Crohn's disease (CD)) | > 55 kg to 85 kg: 390 mg | — |" in table


def test_a_draft_denies_an_induction_above_the_band_and_says_why_once(store_parts):
    draft = _assess(store_parts, QUESTION.format(induction="520 mg"), "cd-201")
    assert draft.verdict.label == "not_indicated"
    assert "one-time dose of 520 mg is above the policy's 390 mg for the patient's weight of 70 kg" in (
        draft.verdict.summary
    )
    findings = next(s for s in draft.sections if s.key == "findings").bullets
    assert sum("520 mg IV" in b.text for b in findings) == 1, [b.text for b in findings]
    # the policy's 'dose exceeds the limits in Section III' exclusion is its dose criterion: no D1
    x3 = _criterion(draft, "X3")
    assert x3.kind == "dose_limit" and x3.status == "not_met"
    assert not any(c.id == "D1" for c in draft.criteria)


def test_with_no_weight_on_record_the_induction_criterion_is_insufficient(store_parts):
    draft = _assess(store_parts, QUESTION.format(induction="390 mg"), "cd-299")
    a4 = _criterion(draft, "A.4")
    assert a4.status == "insufficient", a4.rationale
    assert "no weight is documented" in a4.rationale
    assert draft.verdict.label != "indicated"
    induction = next(s for s in draft.sections if s.key == "dosing").bullets[1]
    assert induction.text.startswith("The one-time dose before it, 390 mg IV, cannot be checked: the policy")
    assert induction.text.endswith("and no weight is documented.") and induction.citations


def test_a_per_kg_loading_row_needs_the_weight_and_is_worked_out_with_it():
    row = DoseLimit(per_kg_mg=6, route="IV", text="Loading dose: 6 mg/kg IV once")
    indication = Indication(name="Condition", dose_limits=[row])
    unknown = policy_single_dose(indication, RequestInfo(drug="x"), "IV")
    assert unknown.dose_mg is None and unknown.arithmetic == "set by body weight; no weight is documented"
    known = policy_single_dose(indication, RequestInfo(drug="x", patient_weight_kg=80), "IV")
    assert (
        known.dose_mg == 480
        and known.arithmetic == "one dose of 6 mg/kg x 80 kg = 480 mg for a weight of 80 kg"
    )
    assert policy_single_dose(indication, RequestInfo(drug="x", patient_weight_kg=80), "SC") is None
