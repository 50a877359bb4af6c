"""Draft-quality metrics (eval/quality.py, eval/prose.py) on small hand-built assessments, and their gate."""

from __future__ import annotations

import json

import pytest

from eval.gold import GoldCase
from eval.harness import CaseResult, EvalRun, gate
from eval.metrics import MetricResult
from eval.prose import flesch, has_verb, is_verbless, sentences, syllables
from eval.quality import (
    duplicate_statements,
    mid_word_cuts,
    off_topic_citations,
    quality_metrics,
    verbless_sentences,
    verdict_flesch,
    verdict_length,
)
from eval.report import write_reports
from rag.types import (
    Assessment,
    Bullet,
    Criterion,
    Dose,
    DosingAnalysis,
    Provenance,
    Reference,
    RequestInfo,
    Section,
    VerdictInfo,
)
from tests.conftest import REPO

GOLD = GoldCase(id="g", case_id="mcas-001", question="q?", expected_verdict="not_indicated")
POLICY = "Diagnosis of systemic mastocytosis confirmed by either of the following: the major criterion."
REQUEST = RequestInfo(
    drug="omalizumab",
    drug_aliases=["Xolair"],
    indication="idiopathic MCAS",
    indication_terms=["mast cell activation syndrome", "MCAS"],
)
REFERENCES = [
    Reference(n=1, doc_id="policy-omalizumab", title="Omalizumab (Xolair) coverage policy", kind="policy"),
    Reference(n=2, doc_id="mcas-001-marrow", title="Bone marrow biopsy report", kind="clinical_note"),
    Reference(n=3, doc_id="study-dupi", title="Dupilumab in atopic dermatitis: a trial", kind="study"),
    Reference(n=4, doc_id="sr-mcas", title="Treatments for mast cell activation syndrome", kind="guideline"),
]


def _draft(
    verdict: str = "The request is not medically indicated.",
    bullets: dict[str, list[Bullet | str]] | None = None,
    criteria: list[Criterion] | None = None,
    requested: str = "",
) -> Assessment:
    sections = [
        Section(key=key, title=key, bullets=[b if isinstance(b, Bullet) else Bullet(text=b) for b in items])
        for key, items in (bullets or {}).items()
    ]
    return Assessment(
        question="q?",
        case_id="mcas-001",
        verdict=VerdictInfo(label="not_indicated", summary=verdict, confidence=0.9),
        criteria=criteria or [],
        sections=sections,
        dosing=DosingAnalysis(requested=Dose(dose_text=requested) if requested else None),
        references=REFERENCES,
        provenance=Provenance(generator="extractive", embedding_model="m", store="s", settings_hash="h"),
        request=REQUEST,
    )


def _criterion(text: str, rationale: str = "", citations: list[int] | None = None) -> Criterion:
    return Criterion(
        id="1", text=text, logic="leaf", status="not_met", rationale=rationale, citations=citations or []
    )


# --- mid-word cuts ------------------------------------------------------------------------------


def test_an_ellipsis_inside_a_word_the_source_goes_on_with_is_a_cut():
    draft = _draft(bullets={"recommendation": ["Criterion: Diagnosis confirmed by either of the followi…"]})
    result = mid_word_cuts(GOLD, draft, {"c1": POLICY})
    assert result.value == 1 and result.hard
    assert "recommendation bullet 1" in result.reason and "either of the followi…" in result.reason


def test_an_ellipsis_after_a_whole_word_is_not_a_cut():
    draft = _draft(bullets={"recommendation": ["It needs either of the…", "Diagnosis … confirmed."]})
    assert mid_word_cuts(GOLD, draft, {"c1": "the following"}).value == 0  # fragment in no source
    assert mid_word_cuts(GOLD, draft, {"c1": POLICY}).value == 0  # 'either of the' ends a word there


def test_three_dots_criteria_and_doses_are_checked_too():
    draft = _draft(
        criteria=[_criterion("Diagnosis of systemic mastocytosis confirmed by eit...", "Not documented.")],
        requested="Up to 300 mg SC every 4 we…",
    )
    result = mid_word_cuts(GOLD, draft, {"c1": POLICY, "c2": "Dose: up to 300 mg SC every 4 weeks."})
    assert result.value == 2 and "criterion 1" in result.reason and "requested dose" in result.reason


def test_any_ellipsis_in_the_verdict_is_a_cut():
    draft = _draft(verdict="Not indicated. Deciding: confirmed by either of the… (not met).")
    result = mid_word_cuts(GOLD, draft, {"c1": POLICY})
    assert result.value == 1 and result.reason.startswith("verdict:")


def test_a_quote_that_stops_inside_a_word_is_a_cut_without_a_mark():
    cut = _draft(bullets={"evidence": ['The policy asks for "systemic mastocytosis confirmed by eith".']})
    whole = _draft(bullets={"evidence": ['The policy asks for "systemic mastocytosis confirmed by either".']})
    short = _draft(bullets={"evidence": ['The policy says "the foll".']})  # under 15 characters
    assert mid_word_cuts(GOLD, cut, {"c1": POLICY}).value == 1
    assert mid_word_cuts(GOLD, whole, {"c1": POLICY}).value == 0
    assert mid_word_cuts(GOLD, short, {"c1": POLICY}).value == 0
    bracket = _draft(bullets={"evidence": ['The form says "Abscess + inflammatory nodule (".']})
    form = {"c1": "Abscess + inflammatory nodule (AN) count at baseline: 8"}
    result = mid_word_cuts(GOLD, bracket, form)
    assert result.value == 1 and "quote stops at '…+ inflammatory nodule ('" in result.reason


def test_a_quote_cut_with_an_ellipsis_does_not_pair_with_the_next_quote():
    source = (
        "Not covered: Mast cell activation syndrome (clonal or idiopathic) without systemic "
        "mastocytosis meeting the WHO criteria."
    )
    text = (
        'A covered use (the policy lists "Mast cell activation syndrome (clonal or…: The policy lists '
        '"Mast cell activation syndrome (clonal or idiopathic) without systemic mastocytosis meeting '
        'the WHO criteria" as not covered.'
    )
    assert mid_word_cuts(GOLD, _draft(bullets={"recommendation": [text]}), {"c1": source}).value == 0


# --- duplicate statements -----------------------------------------------------------------------


def test_a_statement_in_two_bullets_is_one_duplicate():
    draft = _draft(
        bullets={
            "patient_context": [Bullet(text="No mastocytosis. [2]", citations=[2])],
            "recommendation": [Bullet(text="No mastocytosis.", citations=[2]), "Deny as requested."],
        }
    )
    result = duplicate_statements(GOLD, draft)
    assert result.value == 1 and result.hard
    assert "'no mastocytosis' ×2 (patient_context bullet 1, recommendation bullet 1)" in result.reason


def test_twice_in_one_bullet_or_in_a_bullet_and_the_verdict_counts():
    twice = _draft(bullets={"evidence": ["Response was sustained. Response was sustained!"]})
    assert duplicate_statements(GOLD, twice).value == 1
    verdict = _draft(
        verdict="Not indicated. The dose exceeds the policy limit.",
        bullets={"dosing": ["The dose exceeds the policy limit [1, 2]."]},
    )
    assert duplicate_statements(GOLD, verdict).value == 1


def test_rationales_and_one_word_sentences_are_not_duplicates():
    draft = _draft(
        criteria=[_criterion("Diagnosis", "No mastocytosis.")],
        bullets={
            "patient_context": ["No mastocytosis.", "None."],
            "pitfalls": ["None.", "Something else here."],
        },
    )
    assert duplicate_statements(GOLD, draft).value == 0


# --- off-topic citations ------------------------------------------------------------------------


def test_literature_about_another_drug_and_disease_is_off_topic():
    draft = _draft(bullets={"evidence": [Bullet(text="EASI scores improved by 60%.", citations=[3])]})
    result = off_topic_citations(GOLD, draft)
    assert result.value == 1 and result.hard
    assert "evidence bullet 1 cites [3] 'Dupilumab in atopic dermatitis: a trial' (study)" in result.reason


def test_naming_the_drug_or_indication_anywhere_keeps_a_citation_on_topic():
    draft = _draft(
        bullets={
            "evidence": [
                Bullet(text="XOLAIR was compared with dupilumab.", citations=[3]),  # alias, any case
                Bullet(text="Flares in mast cell\nactivation syndrome fell.", citations=[3]),
                Bullet(text="Most patients responded.", citations=[4]),  # the title names the indication
                Bullet(text="The plan covers it.", citations=[1, 2]),  # policy and note: not literature
            ]
        }
    )
    assert off_topic_citations(GOLD, draft).value == 0
    partial = _draft(bullets={"evidence": [Bullet(text="Omalizumabs and MCASes.", citations=[3])]})
    assert off_topic_citations(GOLD, partial).value == 1  # whole words only


def test_criteria_citations_are_counted_per_pair():
    draft = _draft(
        criteria=[_criterion("Prior biologic tried", "Dupilumab was stopped.", [3, 3, 4])],
        bullets={"pitfalls": [Bullet(text="Conjunctivitis is common.", citations=[3])]},
    )
    result = off_topic_citations(GOLD, draft)
    assert result.value == 2 and "criterion 1 cites [3]" in result.reason


# --- verbless sentences -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sentence", "verbless"),
    [
        ("Label: 1,200 mg", True),  # a table row, and under 4 words
        ("Requested: 600 mg SC every 2 weeks.", True),  # a label, then no verb
        ("Policy limit (Systemic Mastocytosis): = 300 mg per 28 days.", True),
        ("Nine flares in 2024 despite gizmocort.", True),
        ("Deny as written.", True),  # under 4 words
        ("The request exceeds the policy limit.", False),
        ("The request equals this.", False),
        ("The guideline randomised 197 patients.", False),
        ("The request comes to 160 mg per 28 days.", False),
        ("The record rules it out: (mcas-001-bone-marrow-2021).", False),
        ("Needs a reviewer: a free-text requirement.", False),
        ("The request is 4.0 times this.", False),
        ("Response rates did not differ between groups.", False),
        ("The note doesn't list a biopsy date.", False),
        ("Prescriber specialty documented as Allergy here.", False),
    ],
)
def test_verbless_heuristic(sentence, verbless):
    assert is_verbless(sentence) is verbless


def test_verbless_sentences_skip_quotes_and_count_the_rest():
    assert has_verb("It isn’t covered") and not has_verb("the clinical note and report")
    draft = _draft(
        verdict="The request is not medically indicated. Deciding: dose limit.",
        bullets={
            "evidence": ['"Omalizumab reduced anaphylaxis episodes in most patients."'],  # quote only
            "dosing": ['Policy limit: "Up to 300 mg SC every 4 weeks." = 300 mg per 28 days.'],
            "recommendation": ['The policy lists "Not covered: MCAS." as an exclusion.'],
        },
    )
    result = verbless_sentences(GOLD, draft)
    assert result.value == 2 and not result.hard
    assert "verdict: 'Deciding: dose limit.'" in result.reason and "dosing bullet 1" in result.reason


# --- length and readability ---------------------------------------------------------------------


def test_sentences_keep_abbreviations_decimals_and_quotes_together():
    text = 'Dose is 4.0 times the limit, e.g. per 28 days. It lists "No mastocytosis." as found. Next [1].'
    assert sentences(text) == [
        "Dose is 4.0 times the limit, e.g. per 28 days.",
        'It lists "No mastocytosis." as found.',
        "Next.",
    ]


def test_verdict_length_counts_words_and_sentences():
    words, count = verdict_length(
        GOLD, _draft(verdict="Not indicated [1]. The dose of 1,200 mg exceeds 300 mg.")
    )
    assert (words.name, words.value) == ("verdict_words", 10)
    assert (count.name, count.value) == ("verdict_sentences", 2) and "the longest 8 words" in count.reason


@pytest.mark.parametrize(
    ("word", "count"),
    [
        ("the", 1),
        ("cat", 1),
        ("table", 2),
        ("make", 1),
        ("makes", 1),
        ("doses", 2),
        ("courses", 2),
        ("failed", 1),
        ("indicated", 4),
        ("needed", 2),
        ("agreed", 2),
        ("studies", 2),
        ("every", 3),
        ("therapy", 3),
        ("omalizumab", 5),
        ("medically", 4),
        ("non-clonal", 3),
        ("1,200", 1),
    ],
)
def test_syllable_counter(word, count):
    assert syllables(word) == count


def test_flesch_matches_the_formula_with_hand_counted_syllables():
    sentence = "The patient failed two courses of therapy. The dose was too high."
    # hand count: the 1, pa-tient 2, failed 1, two 1, cours-es 2, of 1, ther-a-py 3 | 1 1 1 1 1
    words, sents, syl = 12, 2, 11 + 5
    expected = 206.835 - 1.015 * words / sents - 84.6 * syl / words
    score, n_words, n_sentences, n_syllables = flesch(sentence)
    assert (n_words, n_sentences, n_syllables) == (words, sents, syl) and abs(score - expected) <= 1
    result = verdict_flesch(GOLD, _draft(verdict=sentence))
    assert result.name == "verdict_flesch" and abs(result.value - expected) <= 1
    assert flesch("") == (0.0, 0, 0, 0)


# --- harness, gate and report -------------------------------------------------------------------


def _run(cuts: float) -> EvalRun:
    metrics = [*quality_metrics(GOLD, _draft(), {}), MetricResult(name="latency_s", value=0.1, reason="t")]
    metrics[2] = MetricResult(name="mid_word_cuts", value=cuts, reason="evidence bullet 1: 'the followi…'")
    case = CaseResult(GOLD, metrics=metrics, verdict="not_indicated", seconds=0.1)
    info = {"generator": "extractive", "model": None, "cases": 1, "embedding_model": "m"}
    info |= {"corpus_hash": "c", "settings_hash": "s", "created_at": "now"}
    return EvalRun([case], info)


def test_quality_metrics_come_in_report_order():
    names = [m.name for m in quality_metrics(GOLD, _draft(), {})]
    assert names == [
        "verdict_words",
        "verdict_sentences",
        "mid_word_cuts",
        "duplicate_statements",
        "off_topic_citations",
        "verbless_sentences",
        "verdict_flesch",
    ]


@pytest.mark.parametrize(
    "thresholds", ["thresholds.toml", "thresholds-realworld.toml", "thresholds-styles.toml"]
)
def test_every_gate_holds_the_quality_counts_at_zero_whatever_the_baseline_lacks(tmp_path, thresholds):
    baseline = tmp_path / "baseline.json"  # recorded before the quality metrics existed
    baseline.write_text(json.dumps({"means": {"verdict_accuracy": 1.0}, "generator": "extractive"}))
    path = REPO / "eval" / thresholds
    failures = gate(_run(1.0), path, baseline)
    assert failures == ["mcas-001: mid_word_cuts = 1 (evidence bullet 1: 'the followi…')"]
    assert gate(_run(0.0), path, baseline) == []


def test_reports_show_the_quality_values_and_list_failures_once(tmp_path):
    run = _run(1.0)
    failures = gate(run, REPO / "eval" / "thresholds-styles.toml", None)
    out = write_reports(run, tmp_path / "report", failures)
    summary = (out / "summary.md").read_text()
    assert "| mid_word_cuts |" in summary and "verdict_flesch" in summary
    assert "mcas-001: mid_word_cuts = 1: evidence bullet 1" in summary
    page = (out / "report.html").read_text()
    assert page.count("<li>") == 1 and page.count("</ul>") == 1
    assert "draft quality, means per case: mid word cuts 1" in page and "<th>verdict_words</th>" in page
