"""Patient data stays in its case: one rule (rag.retrieval.scope), a canary per entry point.

The canary case `canary-b` carries a marker that appears nowhere else. Every way in (assess,
search, ask, the CLI) is asked for the marker from case mcas-001 and must never return it; and
the other way round.
"""

from __future__ import annotations

import json
import shutil

import pytest

from rag.errors import ScopeError
from rag.retrieval import scope
from rag.types import Hit
from tests.conftest import DEMO_Q, FIXTURES, REPO

MARKER = "ZEBRAQUOKKA-4471"
CANARY_Q = "Is omalizumab 300 mg SC every 4 weeks medically indicated for this patient with MCAS?"


def test_one_rule_builds_the_filter_and_the_check():
    assert scope.visible_cases("a") == ["", "a"] and scope.visible_cases(None) == [""]
    assert scope.where("a") == {"case_id": {"$in": ["", "a"]}}
    assert scope.where(None, ["policy"], chunk_index=0) == {
        "$and": [{"case_id": ""}, {"kind": {"$in": ["policy"]}}, {"chunk_index": 0}]
    }
    assert scope.visible(None, "a") and scope.visible("a", "a")
    assert not scope.visible("b", "a") and not scope.visible("b", None)


def test_the_boundary_refuses_another_case():
    mine = Hit(chunk_id="1", doc_id="a-note", text="x", kind="clinical_note", title="t", case_id="a")
    other = Hit(chunk_id="2", doc_id="b-note", text="y", kind="clinical_note", title="t", case_id="b")
    literature = Hit(chunk_id="3", doc_id="review", text="z", kind="study", title="t")
    assert scope.admit([mine, literature], "a") == [mine, literature]
    with pytest.raises(ScopeError, match="b-note"):
        scope.admit([mine, other], "a")


@pytest.fixture(scope="module")
def canary_store(tmp_path_factory, embedder):
    """The omalizumab policy, label and literature, case mcas-001, and the canary case."""
    from rag.components import build_indexer
    from rag.settings import load_settings

    root = tmp_path_factory.mktemp("canary")
    corpus = root / "corpus"
    (corpus / "cases").mkdir(parents=True)
    shutil.copytree(REPO / "corpus" / "cases" / "mcas-001", corpus / "cases" / "mcas-001")
    shutil.copytree(FIXTURES / "canary" / "canary-b", corpus / "cases" / "canary-b")
    for folder, pattern in (("policies", "*omalizumab*"), ("labels", "*omalizumab*"), ("literature", "*")):
        (corpus / folder).mkdir()
        for path in (REPO / "corpus" / folder).glob(pattern):
            shutil.copy(path, corpus / folder)
    settings = load_settings(overrides={"store.path": str(root / "store")})
    report = build_indexer(settings, embedder=embedder).ingest([corpus])
    assert not report.failed
    return settings


def _case_of_chunks(settings, chunk_ids) -> set[str]:
    from rag.components import build_store

    return {c.metadata.get("case_id") or "" for c in build_store(settings).get(ids=sorted(chunk_ids))}


def test_assess_never_reads_or_cites_another_case(canary_store, embedder):
    from rag.api import assess
    from rag.rendering import render

    draft = assess(DEMO_Q, "mcas-001", canary_store, embedder=embedder)
    cited = {cid for r in draft.references for cid in r.chunk_ids}
    assert _case_of_chunks(canary_store, draft.provenance.retrieved_chunk_ids) <= {"", "mcas-001"}
    assert _case_of_chunks(canary_store, cited) <= {"", "mcas-001"}
    for fmt in ("md", "json", "html"):
        assert MARKER not in render(draft, fmt)
    other = assess(CANARY_Q, "canary-b", canary_store, embedder=embedder)
    assert MARKER in render(other, "md")  # the marker is findable where it belongs
    assert _case_of_chunks(canary_store, other.provenance.retrieved_chunk_ids) <= {"", "canary-b"}
    other_cited = {cid for r in other.references for cid in r.chunk_ids}
    assert _case_of_chunks(canary_store, other_cited) <= {"", "canary-b"}


def test_search_never_returns_another_case(canary_store):
    from rag.api import search

    hits = search(f"{MARKER} systemic mastocytosis confirmed", canary_store, case_id="mcas-001", k=50)
    assert hits and {h.case_id for h in hits} <= {None, "mcas-001"}
    assert all(MARKER not in h.text for h in hits)
    assert {h.case_id for h in search(MARKER, canary_store, k=50)} == {None}  # no case: literature only
    found = search(MARKER, canary_store, case_id="canary-b", k=5)
    assert found[0].case_id == "canary-b"


def test_the_cli_search_never_returns_another_case(canary_store, capsys):
    from rag.cli import main

    store = str(canary_store.store.path)
    code = main(["search", MARKER, "--case", "mcas-001", "--k", "30", "--store", store, "--format", "json"])
    assert code == 0
    printed = capsys.readouterr().out
    assert MARKER not in printed and "canary-b" not in printed


def test_ask_never_answers_from_another_case(canary_store, embedder):
    from rag.api import assess
    from rag.followup import SessionStore, ask

    draft = assess(DEMO_Q, "mcas-001", canary_store, embedder=embedder)
    sessions = SessionStore(canary_store.store.path)
    session = sessions.save(draft, canary_store.hash())
    result = ask(session, f"What does the note with {MARKER} say about KIT D816V?", canary_store)
    text = json.dumps(result.model_dump(exclude={"question"}))  # the question itself names it
    assert MARKER not in text and "canary-b" not in text
    cited = {cid for r in result.references for cid in r.chunk_ids}
    assert _case_of_chunks(canary_store, cited) <= {"", "mcas-001"}
