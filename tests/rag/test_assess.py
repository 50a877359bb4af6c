"""`assess` end to end on the real demo corpus: the demo case, citations, safety, errors."""

import json
import shutil

import pytest
from docx import Document as DocxDocument

from rag.analysis.request import RequestError
from rag.api import assess
from rag.cli import main
from rag.errors import CaseNotFoundError, StoreError
from rag.rendering import render
from rag.types import flatten
from tests.conftest import DEMO_Q, REPO


def test_demo_verdict_criterion_and_dose(demo):
    assert demo.verdict.label == "not_indicated"
    sm = next(c for c in demo.criteria if "systemic mastocytosis" in c.text.lower())
    assert sm.status == "not_met" and sm.deciding
    assert "no mastocytosis" in sm.rationale.lower() and "KIT D816V" in sm.rationale
    assert demo.dosing.requested.mg_per_28_days == 1200
    literature = [c for c in demo.dosing.comparators if c.source_kind == "literature"]
    assert literature and all(c.mg_per_28_days == 300 for c in literature)
    policy_limit = next(c for c in demo.dosing.comparators if c.source_kind == "policy")
    assert policy_limit.mg_per_28_days == 300
    cited = {r.doc_id for r in demo.references}
    assert {"policy-omalizumab", "mcas-001-bone-marrow-2021"} <= cited
    assert {"sr-2025-omalizumab-mcas", "sr-2021-omalizumab-idiopathic-anaphylaxis"} <= cited


def test_citations_are_numbered_resolved_and_verified(demo):
    numbers = {r.n for r in demo.references}
    assert numbers == set(range(1, len(demo.references) + 1))
    used = set()
    for section in demo.sections:
        assert section.bullets, section.key
        for bullet in section.bullets:
            assert bullet.citations, bullet.text
            assert set(bullet.citations) <= numbers
            used |= set(bullet.citations)
    for c in flatten(demo.criteria):
        assert c.citations and set(c.citations) <= numbers
        used |= set(c.citations)
    assert used == numbers  # every reference is cited
    first_use = [n for s in demo.sections for b in s.bullets for n in b.citations]
    assert demo.provenance.unsupported_statements == 0
    assert demo.provenance.checked_statements > 20
    assert set(first_use) <= numbers
    retrieved = set(demo.provenance.retrieved_chunk_ids)
    assert all(set(r.chunk_ids) <= retrieved for r in demo.references)


def test_a_number_not_in_the_source_is_flagged(corpus_parts, demo):
    from rag.drafting.citations import verify
    from rag.types import Hit

    _, store, _, _ = corpus_parts
    draft = demo.model_copy(deep=True)
    bullet = draft.sections[0].bullets[0]
    bullet.text += " In 97% of patients."
    chunks = {item.id: Hit.of(item) for item in store.get(ids=bullet.chunk_ids)}
    unsupported, _ = verify(draft, chunks, set(demo.provenance.retrieved_chunk_ids))
    assert unsupported >= 1 and not bullet.supported and "97" in bullet.unsupported_reason
    outside = draft.sections[1].bullets[0]
    unsupported, _ = verify(draft, chunks | {}, set())  # nothing counts as retrieved now
    assert not outside.supported and "not retrieved" in outside.unsupported_reason


def test_nothing_of_another_case_is_read_or_cited(demo, corpus_parts):
    _, store, _, _ = corpus_parts
    items = store.get(ids=demo.provenance.retrieved_chunk_ids)
    assert len(items) == len(demo.provenance.retrieved_chunk_ids)
    assert {i.metadata.get("case_id") or "" for i in items} <= {"", "mcas-001"}
    cited = store.get(ids=[cid for r in demo.references for cid in r.chunk_ids])
    assert {i.metadata.get("case_id") or "" for i in cited} <= {"", "mcas-001"}


def test_injected_instruction_is_flagged_and_changes_nothing(corpus_parts, tmp_path):
    """ad-002 has a note telling automated reviewers to approve; a clean copy must decide alike."""
    settings, store, embedder, retriever = corpus_parts
    from rag.components import build_indexer

    clean = tmp_path / "ad-002-clean"
    shutil.copytree(REPO / "corpus/cases/ad-002", clean)
    for path in clean.glob("*.md"):
        text = path.read_text().replace("case_id: ad-002", "case_id: ad-902")
        text = text.replace("id: ad-002-", "id: ad-902-")
        kept = [line for line in text.splitlines() if "AUTOMATED REVIEWER" not in line.upper()]
        path.write_text("\n".join(kept) + "\n")
    report = build_indexer(settings, store=store, embedder=embedder).ingest([clean])
    assert not report.failed
    question = (
        "Is dupilumab 600 mg SC once, then 300 mg SC every 2 weeks medically indicated for this "
        "patient with moderate-to-severe atopic dermatitis who has used topical corticosteroids?"
    )
    dirty = assess(question, "ad-002", settings, store=store, embedder=embedder, retriever=retriever)
    plain = assess(question, "ad-902", settings, store=store, embedder=embedder, retriever=retriever)
    assert dirty.verdict.label == plain.verdict.label == "not_indicated"
    assert [(c.id, c.status) for c in flatten(dirty.criteria)] == [
        (c.id, c.status) for c in flatten(plain.criteria)
    ]
    assert any(f.kind == "injected_instruction" for f in dirty.flags)
    assert not any(f.kind == "injected_instruction" for f in plain.flags)
    text = render(dirty, "md").lower()
    assert "meets all criteria" not in text.split("## pitfalls")[0]


def test_no_applicable_section_is_insufficient_and_says_why(corpus_parts):
    settings, store, embedder, retriever = corpus_parts
    question = (
        "Is adalimumab-adaz 80 mg SC once, then 40 mg SC every other week medically indicated for "
        "this patient with chronic non-infectious intermediate uveitis?"
    )
    a = assess(question, "uv-001", settings, store=store, embedder=embedder, retriever=retriever)
    assert a.verdict.label == "insufficient_information"
    assert a.policy["section"] is None
    assert "No section of" in a.verdict.summary and "uveitis" in a.verdict.summary.lower()


def test_clear_errors(corpus_parts, tmp_path):
    settings, store, embedder, _ = corpus_parts
    with pytest.raises(CaseNotFoundError, match="no documents for case nope-1; known cases: ad-001"):
        assess(DEMO_Q, "nope-1", settings, store=store, embedder=embedder)
    from rag.components import build_store
    from rag.settings import load_settings

    empty = load_settings(overrides={"store.path": str(tmp_path / "empty")})
    with pytest.raises(StoreError, match="run `meddraft ingest"):
        assess(DEMO_Q, "mcas-001", empty, store=build_store(empty), embedder=embedder)
    with pytest.raises(RequestError, match="no identifiable drug"):
        from rag.analysis.request import parse_request

        parse_request("Is this indicated?", [])


def test_renders_in_every_format(demo, tmp_path):
    md = render(demo, "md")
    order = [
        md.index(h)
        for h in (
            "**Verdict",
            "## Deciding findings",
            "## Criteria check",
            "## Evidence",
            "## Patient",
            "## The dosing question",
            "## Pitfalls",
            "## Recommendation",
            "## References",
        )
    ]
    assert order == sorted(order)
    refs = md.split("## References", 1)[1]  # AMA lines, with the corpus's own front matter
    assert (
        ". AAAAI Mast Cell Disorders Committee. AAAAI Mast Cell Disorders Committee Work Group Report: "
        "Mast Cell Activation Syndrome (MCAS) Diagnosis and Management. *Journal of Allergy and Clinical "
        "Immunology*. 2019. (guideline; "
    ) in refs
    assert (
        ". Omalizumab (Xolair) - Commercial Clinical Policy Bulletin. Example Health Plan. "
        "Published January 1, 2025. (policy; " in refs
    )
    html = render(demo, "html")
    assert "<style>" in html and 'id="ref-1"' in html
    data = json.loads(render(demo, "json"))
    for key in (
        "question",
        "case_id",
        "verdict",
        "criteria",
        "sections",
        "dosing",
        "references",
        "provenance",
    ):
        assert key in data
    assert data["dosing"]["requested"]["mg_per_28_days"] == 1200
    path = tmp_path / "a.docx"
    path.write_bytes(render(demo, "docx"))
    doc = DocxDocument(str(path))
    assert any("NOT medically indicated" in p.text for p in doc.paragraphs)


def test_cli_assess_json_and_docx(corpus_settings, tmp_path, capsys):
    store = str(corpus_settings.store.path)
    assert main(["assess", DEMO_Q, "--case", "mcas-001", "--store", store, "--format", "json"]) == 0
    captured = capsys.readouterr()
    data = json.loads(captured.out)
    assert data["verdict"]["label"] == "not_indicated"
    assert "not_indicated" in captured.err
    out = tmp_path / "draft.docx"
    assert (
        main(
            ["assess", DEMO_Q, "--case", "mcas-001", "--store", store, "--format", "docx", "--out", str(out)]
        )
        == 0
    )
    assert out.stat().st_size > 5000
    assert main(["assess", DEMO_Q, "--case", "zzz-9", "--store", store]) == 3
    assert "no documents for case zzz-9" in capsys.readouterr().err


def test_a_dose_only_a_conditional_escalation_row_allows_is_never_met(corpus_parts):
    """Adalimumab weekly is 160 mg per 28 days: above the psoriasis standard limit (80 mg), within
    the escalation row the policy grants only after a partial response to 16 weeks of standard
    dosing. The escalation row is not the limit (read as one, it approved the dose: a wrong
    approval): the dose criterion is not met, and its rationale quotes the condition for the
    reviewer. The standard request is met."""
    settings, store, embedder, retriever = corpus_parts
    parts = {"store": store, "embedder": embedder, "retriever": retriever}
    weekly = "Is adalimumab 40 mg SC every week medically indicated for this patient with plaque psoriasis?"
    a = assess(weekly, "ps-001", settings, **parts)
    dose = next(c for c in flatten(a.criteria) if c.kind == "dose_limit")
    assert dose.status == "not_met"
    assert "above the standard limit of 80 mg per 28 days" in dose.rationale
    assert "only under a condition" in dose.rationale and "partial response" in dose.rationale
    assert a.verdict.label != "indicated"
    standard = (
        "Is adalimumab 80 mg SC once, then 40 mg SC every other week medically indicated for this "
        "patient with plaque psoriasis?"
    )
    b = assess(standard, "ps-001", settings, **parts)
    dose = next(c for c in flatten(b.criteria) if c.kind == "dose_limit")
    assert dose.status == "met" and "within the limit" in dose.rationale
