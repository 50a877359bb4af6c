"""Policies as payers write them compile to typed criteria: 13 policies in 8+ layouts, each against a
hand-checked digest (tests/fixtures/policies/expected/), and the pieces one by one."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from ingest.loaders import discover, load
from rag.analysis.compile import compile_policy
from rag.analysis.layout import outline
from rag.analysis.leaves import read_leaf
from rag.analysis.select import phase_of
from tests.conftest import FIXTURES, REPO, SHARED_DATA
from tests.rag.policy_digest import digest

EXPECTED = FIXTURES / "policies" / "expected"
REALWORLD = SHARED_DATA / "realworld" / "policies"
POLICIES = {
    # payer layouts of the shared realworld set (PDF and Markdown)
    "hhp-spc-0417-ustekinumab": REALWORLD / "hhp-spc-0417-ustekinumab.pdf",  # I./A./1./a., phase first
    "tmh-mbdp-0312-secukinumab": REALWORLD / "tmh-mbdp-0312-secukinumab.pdf",  # ● ○ ▪ bullets, tables
    "tmh-cc-0228-rituximab": REALWORLD / "tmh-cc-0228-rituximab.pdf",  # roman criteria, courses
    "hhp-dcp-1129-tocilizumab": REALWORLD / "hhp-dcp-1129-tocilizumab.md",  # A) i. a), inline clauses
    # the demo corpus's template
    **{p.stem: p for p in sorted((REPO / "corpus" / "policies").glob("*.md"))},
    # our own fixtures in further styles
    "northwind-tezepelumab": FIXTURES / "policies" / "northwind-tezepelumab.txt",  # UHC-like, • o ▪
    "harborview-apremilast": FIXTURES / "policies" / "harborview-apremilast.md",  # Cigna-like, notes
    "lakeshore-risankizumab": FIXTURES / "policies" / "lakeshore-risankizumab.pdf",  # no indentation
}


def _compiled(path: Path):
    doc = load(next(discover([path])))
    return compile_policy(doc.id, doc.title, doc.text, pages=len(doc.pages))


@pytest.mark.parametrize("doc_id", sorted(POLICIES))
def test_policy_compiles_to_the_hand_checked_tree(doc_id):
    path = POLICIES[doc_id]
    if not path.exists():
        pytest.skip(f"real test data not found at {path} (set MEDDRAFT_SHARED_DATA)")
    expected = yaml.safe_load((EXPECTED / f"{doc_id}.yaml").read_text(encoding="utf-8"))
    assert digest(_compiled(path)) == expected


def test_nesting_comes_from_the_numbering_not_the_indentation():
    text = "\n".join(
        [
            "Criteria:",
            "1. Age 18 years or older; and",
            "2. One of the following:",
            "a. Inadequate response to methotrexate; or",
            "b. Intolerance to methotrexate",
            "h. an item h",
            "i. the letter after h",
            "3. Prescribed by a dermatologist",
        ]
    )
    [intro] = outline(text)
    assert [c.marker for c in intro.children] == ["1", "2", "3"]
    assert [c.marker for c in intro.children[1].children] == ["a", "b", "h", "i"]  # 'i' after 'h'


def test_running_headers_and_page_footers_are_dropped():
    page = "Acme Health | Policy 12 | Drug X\n{}\nPolicy 12 Page {} of 3\n"
    text = "".join(page.format(f"1. Criterion number {n}; and", n) for n in range(1, 4))
    texts = [b.text for b in outline(text, pages=3)]
    assert not any("Acme Health" in t or "Page" in t for t in texts)


@pytest.mark.parametrize(
    ("text", "kind", "expected"),
    [
        ("Patient is ≥ 18 years of age", "age", {"min_years": 18.0}),
        ("Age 6 to 17 years", "age", {"min_years": 6.0, "max_years": 17.0}),
        ("Age 6 months or older", "age", {"min_years": 0.5}),
        (
            "Eczema Area and Severity Index (EASI) score of 16 or greater",
            "measurement",
            {"name": "EASI", "value": 16.0},
        ),
        ("CRP ≥ 10 mg/L within the past 3 months", "measurement", {"name": "CRP", "unit": "mg/L"}),
        ("Prescribed by or in consultation with a rheumatologist or dermatologist", "specialty", {}),
        ("Not used in combination with another biologic or a JAK inhibitor", "concurrent_use", {}),
        (
            "Rituximab will be used in combination with methotrexate, unless contraindicated",
            "concurrent_use",
            {},
        ),
        (
            "Screened for TB with an IGRA within 12 months; if positive, latent TB treatment started",
            "test_result",
            {},
        ),
        (
            "Failure of two different NSAIDs for a combined total of at least 4 weeks",
            "prior_therapy",
            {"count": 2},
        ),
        ("Dose does not exceed the limits in the Quantity Limits table", "dose_limit", {}),
        ("Psoriatic lesions affecting the hands, feet, face, scalp, or genitals", "free_text", {}),
    ],
)
def test_leaf_types_and_parameters(text, kind, expected):
    leaf = read_leaf(text, drugs=("rituximab",))
    assert leaf.type == kind
    for key, value in expected.items():
        assert getattr(leaf, key) == value, (key, getattr(leaf, key))


def test_required_and_excluded_combinations_are_told_apart():
    required = read_leaf("Rituximab will be used in combination with methotrexate", drugs=("rituximab",))
    excluded = read_leaf("Not used in combination with another biologic")
    assert required.required == ["methotrexate"] and not required.excluded
    assert excluded.excluded and not excluded.required


@pytest.mark.parametrize(
    ("question", "form", "phase"),
    [
        ("Is continuation of ustekinumab appropriate?", "", "continuation"),
        ("Is secukinumab indicated?", "[X] New start   [ ] Continuation - date started: ____", "initial"),
        ("Is secukinumab indicated?", "☐ New start ☒ Continuation of therapy", "continuation"),
        ("Is ustekinumab indicated?", "**Request type:** ☒ Initial ☐ Continuation", "initial"),
        ("Is X indicated?", "1. Is this request for initiation or continuation?      Initiation", "initial"),
    ],
)
def test_initial_or_continuation_from_the_question_and_the_form(question, form, phase):
    assert phase_of(question, form) == phase


def test_a_criterion_in_the_sentence_that_introduces_it_is_split():
    policy = _compiled(POLICIES["harborview-apremilast"])
    behcet = next(i for i in policy.indications if "Behcet" in i.name)
    kinds = [c.leaf.type for c in behcet.initial.children]
    assert kinds == ["age", "diagnosis", "specialty"]
    assert all(i.continuation is not None for i in policy.indications)  # 'for each condition above'


def test_background_coding_and_references_are_never_criteria():
    for path in POLICIES.values():
        if not path.exists():
            continue
        policy = _compiled(path)
        texts = [
            n.text for i in policy.indications for t in (i.initial, i.continuation) if t for n in t.walk()
        ]
        assert not any(t.startswith(("J3", "Q5", "HCPCS", "ICD-10")) for t in texts), path.name
        assert not any("prescribing information" in t.lower() for t in texts), path.name
