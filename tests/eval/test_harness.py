"""The gold-case harness: pure metrics, reports, and a gate that fails when quality drops."""

import json

import pytest

import rag.api
from eval.gold import GoldCase, load_gold
from eval.harness import DEFAULT_GOLD, gate, run_cases
from eval.metrics import (
    citation_validity,
    criterion_agreement,
    forbidden_statements,
    key_fact_recall,
    supports,
    verdict_accuracy,
)
from eval.report import write_reports
from rag.cli import main
from rag.errors import MeddraftError
from tests.rag.test_render import make_assessment


def _gold(**kw) -> GoldCase:
    base = {"id": "g", "case_id": "wd-001", "question": "q?", "expected_verdict": "not_indicated"}
    return GoldCase.model_validate({**base, **kw})


def test_metrics_are_pure_and_explain_themselves():
    draft = make_assessment()
    assert verdict_accuracy(_gold(), draft).value == 1.0
    wrong = verdict_accuracy(_gold(expected_verdict="indicated"), draft)
    assert wrong.value == 0.0 and "expected indicated" in wrong.reason
    crit = criterion_agreement(
        _gold(
            criteria=[
                {"match": "widget severity score", "status": "met"},
                {"match": "no such criterion", "status": "met"},
            ]
        ),
        draft,
    )
    assert crit.value == 0.5 and "no such criterion" in crit.reason
    facts = key_fact_recall(_gold(key_facts=["48%", "never mentioned anywhere"]), draft)
    assert facts.value == 0.5
    forbidden = forbidden_statements(_gold(forbidden=["deny as written", "approve all"]), draft)
    assert forbidden.value == 1.0 and "deny as written" in forbidden.reason
    assert citation_validity(_gold(), draft).value == 1.0
    broken = draft.model_copy(deep=True)
    broken.sections[0].bullets[0].citations = [99]
    result = citation_validity(_gold(), broken)
    assert result.value == 0.0 and "dangling [99]" in result.reason


def test_support_check_needs_numbers_and_terms():
    passage = "Complete response occurred in 41% of 340 patients treated with widgetumab."
    assert supports("Widgetumab gave complete response in 41% of patients.", passage)
    assert not supports("Widgetumab gave complete response in 45% of patients.", passage)
    assert not supports("Gadgetol reduced flares in most adults with arthritis.", passage)


def test_gold_files_load_and_bad_ones_say_which(tmp_path):
    cases = load_gold(DEFAULT_GOLD)
    assert len(cases) >= 10 and len({c.case_id for c in cases}) == len(cases)
    assert {c.expected_verdict for c in cases} == {"indicated", "not_indicated", "insufficient_information"}
    bad = tmp_path / "bad.yaml"
    bad.write_text("id: x\ncase_id: y\nquestion: q\nexpected_verdict: indicated\nunknown_key: 1\n")
    with pytest.raises(MeddraftError, match="invalid gold file .*bad.yaml"):
        load_gold(bad)


@pytest.fixture(scope="module")
def clean_run(corpus_settings):
    return run_cases(DEFAULT_GOLD, corpus_settings)


def test_gold_run_passes_the_gate_and_writes_reports(clean_run, tmp_path):
    assert gate(clean_run) == []
    means = clean_run.means()
    assert means["verdict_accuracy"] == 1.0 and means["cross_case_leakage"] == 0
    out = write_reports(clean_run, tmp_path / "report", [])
    lines = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert {line["case_id"] for line in lines} == {c.gold.case_id for c in clean_run.cases}
    run = json.loads((out / "run.json").read_text())
    for key in ("settings_hash", "corpus_hash", "generator", "embedding_model", "prompt_versions", "means"):
        assert key in run
    page = (out / "report.html").read_text()
    assert "<svg" in page and "Gate: PASS" in page and "http" not in page.split("<body>")[1]
    assert "| mcas-001 |" in (out / "summary.md").read_text()


def test_a_flipped_verdict_fails_the_gate_and_names_the_case(corpus_settings, tmp_path):
    gold = tmp_path / "gold"
    gold.mkdir()
    for path in DEFAULT_GOLD.glob("*.yaml"):
        text = path.read_text()
        if path.stem == "wm-001":
            text = text.replace("expected_verdict: not_indicated", "expected_verdict: indicated")
        (gold / path.name).write_text(text)
    failures = gate(run_cases(gold, corpus_settings))
    assert any(f.startswith("wm-001: verdict_accuracy = 0") for f in failures), failures
    assert any("mean verdict_accuracy" in f for f in failures)


def test_a_broken_retriever_fails_the_gate(corpus_settings, monkeypatch):
    monkeypatch.setattr(rag.api, "retrieve_for", lambda *args, **kwargs: [])
    failures = gate(run_cases(DEFAULT_GOLD, corpus_settings))
    assert any("regressed" in f or "below the threshold" in f for f in failures), failures


def test_cli_eval_cases_check(corpus_settings, tmp_path, capsys):
    store = str(corpus_settings.store.path)
    code = main(
        ["eval", "cases", "--store", store, "--check", "--report", str(tmp_path / "r"), "--format", "json"]
    )
    out = json.loads(capsys.readouterr().out)
    assert code == 0 and out["failures"] == [] and out["means"]["verdict_accuracy"] == 1.0


def test_baseline_of_another_generator_is_not_a_regression_target(tmp_path):
    from eval.harness import EvalRun, load_baseline

    path = tmp_path / "baseline.json"
    path.write_text(json.dumps({"means": {"verdict_accuracy": 1.0}, "generator": "extractive"}))
    extractive = EvalRun([], {"generator": "extractive", "model": None})
    assert load_baseline(extractive, path) == ({"verdict_accuracy": 1.0}, None)
    model_run = EvalRun([], {"generator": "openai", "model": "m"})
    means, note = load_baseline(model_run, path)
    assert means == {} and "recorded with extractive, this run used openai (m)" in note
