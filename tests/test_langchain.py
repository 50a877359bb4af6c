"""The LangChain door against real langchain-core, real Chroma and the real bundled model."""

from __future__ import annotations

import asyncio
import importlib
import json
import logging
import sys

import pytest
from langchain_core.documents import Document  # the dev extra installs it: never skipped

from meddraft import langchain as door
from meddraft.langchain import MeddraftRetriever, ingest_documents, meddraft_assess_tool
from tests.conftest import DEMO_Q

QUERY = "omalizumab dose limit for mast cell disorders"
META_KEYS = {"chunk_id", "doc_id", "kind", "title", "page", "section", "locator", "rank", "score"}
META_KEYS |= {"dense_rank", "bm25_rank", "case_id"}


@pytest.fixture(autouse=True)
def no_tracing(monkeypatch):
    """Demo patient text must not leave the machine, whatever the developer's shell sets."""
    for name in door.TRACING_ENV:
        monkeypatch.delenv(name, raising=False)


def _engine_search(settings, query, **kw):
    """What `meddraft search` runs (rag/cli/search.py)."""
    from rag.components import build_retriever

    return build_retriever(settings).search(query, **kw)


def test_retriever_returns_what_meddraft_search_returns(corpus_settings):
    retriever = MeddraftRetriever(settings=corpus_settings, case_id="mcas-001", k=8)
    docs = retriever.invoke(QUERY)
    hits = _engine_search(corpus_settings, QUERY, case_id="mcas-001", k=8)
    assert len(docs) == 8
    assert [d.metadata["chunk_id"] for d in docs] == [h.chunk_id for h in hits]
    assert [d.page_content for d in docs] == [h.text for h in hits]
    for rank, (doc, hit) in enumerate(zip(docs, hits, strict=True), 1):
        assert set(doc.metadata) >= META_KEYS
        assert doc.metadata["rank"] == rank and doc.metadata["score"] == pytest.approx(hit.score)
        assert (doc.metadata["dense_rank"], doc.metadata["bm25_rank"]) == (hit.dense_rank, hit.bm25_rank)
        assert (doc.metadata["doc_id"], doc.metadata["kind"]) == (hit.doc_id, hit.kind)
        assert json.loads(json.dumps(doc.metadata)) == doc.metadata  # plain JSON types only
    assert any(d.metadata["locator"] for d in docs)


def test_retriever_never_returns_another_cases_notes(corpus_settings):
    query = "dupilumab for moderate-to-severe atopic dermatitis, prior topical therapy, EASI score"
    own = MeddraftRetriever(settings=corpus_settings, case_id="ad-001", k=20).invoke(query)
    assert "ad-001" in {d.metadata["case_id"] for d in own}  # the query does reach a case's notes
    other = MeddraftRetriever(settings=corpus_settings, case_id="mcas-001", k=20).invoke(query)
    assert {d.metadata["case_id"] for d in other} <= {None, "mcas-001"}
    nobody = MeddraftRetriever(settings=corpus_settings, k=20).invoke(query)
    assert {d.metadata["case_id"] for d in nobody} == {None}


def test_invoke_batch_kinds_and_one_engine(corpus_settings):
    retriever = MeddraftRetriever(settings=corpus_settings, case_id="mcas-001", kinds=["policy"], k=3)
    queries = [QUERY, "bone marrow biopsy KIT D816V"]
    batched = retriever.batch(queries)
    single = [retriever.invoke(q) for q in queries]
    assert [[d.id for d in docs] for docs in batched] == [[d.id for d in docs] for docs in single]
    assert {d.metadata["kind"] for docs in batched for d in docs} == {"policy"}
    awaited = asyncio.run(retriever.ainvoke(queries[0]))
    assert [d.id for d in awaited] == [d.id for d in single[0]]
    engine = retriever.engine()
    retriever.invoke("omalizumab")
    assert retriever.engine() is engine  # store and model stay open across queries


def test_retriever_takes_a_store_path_and_refuses_a_missing_one(corpus_settings, tmp_path):
    from rag.errors import StoreError

    by_path = MeddraftRetriever(settings=str(corpus_settings.store.path), k=2)
    assert by_path.settings.store.path == corpus_settings.store.path
    assert len(by_path.invoke(QUERY)) == 2
    missing = tmp_path / "typo"
    with pytest.raises(StoreError, match="there is no store"):
        MeddraftRetriever(settings=missing).invoke(QUERY)
    assert not missing.exists()


def test_assess_tool_returns_the_demo_verdict_as_json(corpus_settings):
    tool = meddraft_assess_tool(corpus_settings)
    assert set(tool.args) == {"question", "case_id"}
    out = json.loads(tool.invoke({"question": DEMO_Q, "case_id": "mcas-001"}))
    assert out["case_id"] == "mcas-001"
    assert out["verdict"]["label"] == "not_indicated"
    assert out["criteria"] and out["references"]
    answer = tool.invoke({"question": DEMO_Q, "case_id": "no-such-case"})
    assert "no documents for case no-such-case" in answer  # the agent reads what went wrong


def _notes():
    literature = [
        Document(
            page_content=f"# Glorbizumab label\n\nPage {n}: glorbizumab {d} mg every 4 weeks.",
            metadata={"source": "/data/label-glorbizumab.pdf", "page": n - 1, "kind": "drug_label"},
        )
        for n, d in ((1, 150), (2, 300))
    ]
    case_a = Document(
        page_content="Clinic note. Patient tried glorbizumab 150 mg; zyxosis flares persisted.",
        metadata={"source": "ehr://a/1", "title": "Visit A", "date": "2025-04-07"},
    )
    case_b = Document(
        page_content="Clinic note. Patient tried glorbizumab 300 mg; zyxosis resolved completely.",
        metadata={"source": "ehr://b/1", "title": "Visit B", "case_id": "case-b"},
    )
    return literature, case_a, case_b


def test_ingested_documents_are_retrievable_scoped_and_idempotent(settings):
    literature, case_a, case_b = _notes()
    first = ingest_documents(literature, settings)
    assert (first.count("added"), first.failed) == (1, [])
    notes = ingest_documents([case_a, case_b], settings, kind="clinical_note", case_id="case-a")
    assert (notes.count("added"), notes.failed) == (2, [])

    docs = MeddraftRetriever(settings=settings, case_id="case-a", k=10).invoke("glorbizumab zyxosis")
    by_doc = {d.metadata["doc_id"]: d for d in docs}
    assert set(by_doc) == {"data-label-glorbizumab-pdf", "ehr-a-1"}  # never case-b's note
    note = by_doc["ehr-a-1"].metadata
    assert (note["case_id"], note["kind"], note["title"], note["date"]) == (
        "case-a",
        "clinical_note",
        "Visit A",
        "2025-04-07",
    )
    pages = {d.metadata["page"] for d in docs if d.metadata["kind"] == "drug_label"}
    assert pages and pages <= {1, 2}
    b = MeddraftRetriever(settings=settings, case_id="case-b", k=10).invoke("glorbizumab zyxosis")
    assert {d.metadata["case_id"] for d in b} == {None, "case-b"}

    again = ingest_documents([*literature, case_a, case_b], settings, kind="clinical_note", case_id="case-a")
    assert again.count("unchanged") == 3 and not again.changed
    edited = Document(page_content=case_a.page_content + " Plan: stop.", metadata=case_a.metadata)
    assert ingest_documents([edited], settings, kind="clinical_note", case_id="case-a").count("updated") == 1


def test_a_document_with_unusable_metadata_fails_alone(settings):
    literature, _, _ = _notes()
    bad = Document(page_content="Note without a case.", metadata={"source": "x", "kind": "clinical_note"})
    report = ingest_documents([bad, *literature], settings)
    assert [o.status for o in report.outcomes] == ["failed", "added"]
    assert "case_id is required" in report.failed[0].reason


def test_import_without_langchain_core_names_the_extra(monkeypatch):
    for name in [n for n in sys.modules if n == "langchain_core" or n.startswith("langchain_core.")]:
        monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.setitem(sys.modules, "langchain_core", None)
    monkeypatch.delitem(sys.modules, "meddraft.langchain", raising=False)
    with pytest.raises(ImportError, match=r"pip install -e '\.\[langchain\]'"):
        importlib.import_module("meddraft.langchain")


def test_tracing_is_never_turned_on_and_warned_about_once(monkeypatch, caplog, tmp_path):
    monkeypatch.setattr(door, "_warned", False)
    with caplog.at_level(logging.WARNING, logger="meddraft.langchain"):
        MeddraftRetriever(settings=tmp_path / "store")
    assert not caplog.records and not door.tracing_enabled()
    assert not any(name in __import__("os").environ for name in door.TRACING_ENV)
    monkeypatch.setenv("LANGSMITH_TRACING", "true")
    with caplog.at_level(logging.WARNING, logger="meddraft.langchain"):
        MeddraftRetriever(settings=tmp_path / "store")
        meddraft_assess_tool(tmp_path / "store")
    assert len(caplog.records) == 1
    assert "patient notes" in caplog.records[0].getMessage()
    assert "LANGSMITH_TRACING" in caplog.records[0].getMessage()


def test_documents_and_files_share_a_store(settings, mini_corpus):
    """Files ingested after (and folders ingested again) leave LangChain documents alone; a
    Document cannot take the id of a file's document; the store verifies clean."""
    from ingest.integrity import verify
    from rag.components import build_indexer, build_store

    literature, _, _ = _notes()
    ingest_documents(literature, settings)
    indexer = build_indexer(settings)
    assert not indexer.ingest([mini_corpus]).failed
    assert indexer.ingest([mini_corpus]).count("unchanged") == 4  # and nothing removed
    clash = Document(page_content="Not the note.", metadata={"id": "policy-widgetumab", "kind": "study"})
    report = ingest_documents([clash], settings)
    assert "already used by" in report.failed[0].reason
    store = build_store(settings)
    assert "data-label-glorbizumab-pdf" in store.documents()
    assert verify(store).problems == []
