"""Hybrid retrieval against real Chroma and the real embedding model, on the two-case corpus."""

from __future__ import annotations

import argparse
import io
import json
import re
import shutil
from pathlib import Path

import pytest
from rich.console import Console

from ingest.lexical import query_terms
from ingest.store import Store
from rag.cli import search as cli_search
from rag.cli.main import build_parser, load_from_args
from rag.components import build_indexer
from rag.errors import CaseNotFoundError, StoreError
from rag.retrieval.fusion import FusionSettings, ranked
from rag.retrieval.hybrid import RRF_K, Retriever
from rag.retrieval.scope import where as scope_filter
from rag.settings import load_settings
from rag.types import Hit
from tests.conftest import FIXTURES

LABEL = """---
id: label-widgetumab
kind: drug_label
title: "Widgetumab injection - prescribing information"
source: "Widget Pharma"
year: 2023
---
## Dosage and administration
The recommended dose is 150 mg subcutaneously every 2 weeks. Do not exceed 300 mg in 4 weeks.

## How supplied
Single-dose prefilled syringe, NDC 50242-0040-62. Store refrigerated at 2 to 8 °C.
"""
CASE_B_TEXT = "widget score of 9, no prior gadgetol therapy"
NOTE_A = "case-a-clinic-2025-01-02"
NOTE_B = "case-b-clinic-2025-02-03"


class RecordingStore(Store):
    """A real store that remembers every `where` it was asked and every chunk it handed out."""

    def __init__(self, settings) -> None:
        super().__init__(settings)
        self.calls: list[tuple[str, dict | None]] = []
        self.handed_out: list[dict] = []
        self.ranked: list[str] = []  # chunk ids the lexical index handed out
        rank = self.lexical.rank

        def recording_rank(query, n, where=None):
            got = rank(query, n, where)
            self.calls.append(("lexical", where))
            self.ranked += [chunk_id for chunk_id, _ in got]
            return got

        self.lexical.rank = recording_rank

    def get(self, ids=None, where=None):
        got = super().get(ids, where)
        self.calls.append(("get", where))
        self.handed_out += [c.metadata for c in got]
        return got

    def nearest(self, embeddings, k, where=None):
        self.calls.append(("nearest", where))
        return super().nearest(embeddings, k, where)

    def query(self, embedding, k, where=None):
        got = super().query(embedding, k, where)
        self.calls.append(("query", where))
        self.handed_out += [c.metadata for c in got]
        return got


def _ingest(root: Path, embedder) -> tuple:
    corpus = root / "corpus"
    shutil.copytree(FIXTURES / "mini", corpus)
    (corpus / "literature" / "label-widgetumab.md").write_text(LABEL)
    settings = load_settings(overrides={"store.path": str(root / "store")})
    report = build_indexer(settings, embedder=embedder).ingest([corpus])
    assert report.count("added") == 5 and not report.failed
    return settings, corpus


@pytest.fixture(scope="module")
def ingested(tmp_path_factory, embedder):
    """Read-only store shared by the tests that do not change it."""
    return _ingest(tmp_path_factory.mktemp("retrieve"), embedder)[0]


@pytest.fixture
def retriever(ingested, embedder) -> Retriever:
    return Retriever(RecordingStore(ingested.store), embedder)


def test_query_terms_keep_numbers_and_drop_stopwords():
    assert query_terms("Widget score of 9, NDC 50242-0040-62; the_dose 9") == [
        "widget", "score", "9", "ndc", "50242", "0040", "62", "dose"
    ]  # fmt: skip


def test_fused_ranking_carries_both_ranks(retriever):
    hits = retriever.search("widget score of 18", case_id="case-a", k=5)
    assert len(hits) == 5
    top = hits[0]
    assert top.doc_id == NOTE_A  # only case-a's note has "18" and a widget score
    assert top.dense_rank is not None and top.bm25_rank is not None
    assert top.dense_distance is not None and top.bm25_score and top.bm25_score > 0
    dense, lexical = retriever.candidates("widget score of 18", case_id="case-a", n=50)
    expected = dict(
        ranked([(d.id, d.distance) for d in dense], [(c.id, s) for c, s in lexical], retriever.fusion)
    )
    for h in hits:
        assert h.score == pytest.approx(expected[h.chunk_id])
    weights = FusionSettings(method="rrf", k=RRF_K, w_dense=0.3, w_bm25=0.7)
    rrf = Retriever(retriever.store, retriever.embedder, fusion=weights)
    for h in rrf.search("widget score of 18", case_id="case-a", k=5):
        expected = (0.3 / (RRF_K + h.dense_rank) if h.dense_rank else 0) + (
            0.7 / (RRF_K + h.bm25_rank) if h.bm25_rank else 0
        )
        assert h.score == pytest.approx(expected)
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    assert top.title == "Clinic note" and top.section == "Assessment" and top.year == 2025


def test_exact_number_is_found_by_bm25_when_dense_misses_it(retriever):
    hits = retriever.search("patients with complete response 50242", k=5, candidates=3)
    supplied = [h for h in hits if "50242" in h.text]
    assert len(supplied) == 1
    assert supplied[0].dense_rank is None  # the dense half alone would not have found it
    assert supplied[0].bm25_rank is not None and supplied[0].bm25_rank <= 2
    assert supplied[0].kind == "drug_label" and supplied[0].locator == "section: How supplied"
    assert retriever.search("50242", k=1)[0].bm25_rank == 1


def test_case_scope_is_in_the_where_clause(retriever):
    control = Retriever(retriever.store, retriever.embedder).search(CASE_B_TEXT, case_id="case-b")
    assert control[0].doc_id == NOTE_B  # the query does match case-b's note...
    retriever.store.calls.clear()
    retriever.store.handed_out.clear()
    retriever.store.ranked.clear()
    hits = retriever.search(CASE_B_TEXT, case_id="case-a", k=20)
    assert hits and all(h.case_id in (None, "case-a") for h in hits)  # ...but never for case-a
    assert NOTE_A in {h.doc_id for h in hits}
    # the lexical half asked with the case filter; the dense half read only ids and distances
    # (`nearest`) before the scope was applied; no case-b chunk's text or metadata left the store
    kinds = {kind for kind, _ in retriever.store.calls}
    assert kinds >= {"lexical", "nearest"}
    assert all(w == {"case_id": {"$in": ["", "case-a"]}} for k, w in retriever.store.calls if k == "lexical")
    assert retriever.store.handed_out and retriever.store.ranked
    assert {m["case_id"] for m in retriever.store.handed_out} == {"", "case-a"}
    ranked = Store(retriever.store.settings).get(ids=sorted(set(retriever.store.ranked)))
    assert {c.metadata["case_id"] for c in ranked} == {"", "case-a"}


def test_no_case_means_literature_only(retriever):
    hits = retriever.search("patient clinic note widget score", k=50)
    assert hits and all(h.case_id is None and h.kind != "clinical_note" for h in hits)
    assert retriever.search(CASE_B_TEXT, kinds=["clinical_note"]) == []
    assert scope_filter(None) == {"case_id": ""}


def test_kinds_filter(retriever):
    hits = retriever.search("widgetumab dose every 2 weeks", case_id="case-a", kinds=["policy"])
    assert hits and {h.kind for h in hits} == {"policy"}
    hits = retriever.search("widget score", case_id="case-a", kinds=["clinical_note", "drug_label"], k=20)
    assert {h.kind for h in hits} == {"clinical_note", "drug_label"}
    assert {h.doc_id for h in hits if h.kind == "clinical_note"} == {NOTE_A}
    assert all("kind" in json.dumps(w) for k, w in retriever.store.calls if k in ("lexical", "query"))


def test_unknown_case_names_the_known_ones(retriever):
    with pytest.raises(CaseNotFoundError, match=r"^no documents for case case-z; known cases: "):
        retriever.search("widget", case_id="case-z")
    with pytest.raises(CaseNotFoundError) as info:
        retriever.search_many(["widget"], case_id="case-z")
    assert info.value.known == ["case-a", "case-b"]
    assert str(info.value).endswith("known cases: case-a, case-b")


def test_empty_store_says_to_ingest(tmp_path, embedder, mini_corpus):
    settings = load_settings(overrides={"store.path": str(tmp_path / "s")})
    with pytest.raises(StoreError, match="run `meddraft ingest"):
        Retriever(Store(settings.store), embedder).search("widget")
    build_indexer(settings, embedder=embedder).ingest([mini_corpus / "literature"])
    store = Store(settings.store)
    store.delete([c.id for c in store.get()])  # the collection exists but holds nothing
    with pytest.raises(StoreError, match="is empty: run `meddraft ingest"):
        Retriever(store, embedder).search("widget")


def test_search_many_merges_and_caps_per_document(retriever):
    queries = ["widgetumab policy criteria", "widgetumab dosing limits", "acute widget flare"]
    uncapped = retriever.search_many(queries, case_id="case-a", k_total=20, per_doc_cap=20)
    per_doc = {d: sum(h.doc_id == d for h in uncapped) for d in {h.doc_id for h in uncapped}}
    assert per_doc["policy-widgetumab"] == 3  # without a cap the policy takes three places
    assert len({h.chunk_id for h in uncapped}) == len(uncapped)  # merged, no duplicates
    one_each = retriever.search_many(queries, case_id="case-a", k_total=20, per_doc_cap=1)
    assert len(one_each) == len(per_doc)  # every document still gets its best chunk in
    assert len({h.doc_id for h in one_each}) == len(one_each)
    capped = retriever.search_many(queries, case_id="case-a", k_total=4, per_doc_cap=2)
    assert len(capped) == 4 and max(sum(h.doc_id == d for h in capped) for d in per_doc) <= 2
    # a chunk found by several queries scores the sum of its per-query reciprocal ranks
    assert uncapped[0].score > 1 / (RRF_K + 1)
    assert [h.score for h in uncapped] == sorted((h.score for h in uncapped), reverse=True)


def test_the_lexical_index_is_never_rebuilt_per_search_and_follows_ingest(tmp_path, embedder):
    settings, corpus = _ingest(tmp_path, embedder)
    store = RecordingStore(settings.store)
    retriever = Retriever(store, embedder)
    retriever.search("widget score of 18", case_id="case-a")
    retriever.search("gadgetol", case_id="case-a")
    assert all(w is None for kind, w in store.calls if kind == "get")  # never a scoped full fetch
    note = corpus / "cases/case-a/note-a.md"
    note.write_text(note.read_text().replace("widget score of 18", "widget score of 27"))
    build_indexer(settings, embedder=embedder).ingest([corpus])  # same chunk count
    hit = next(h for h in retriever.search("27", case_id="case-a") if h.doc_id == NOTE_A)
    assert hit.bm25_rank == 1 and "27" in hit.text
    assert not any("of 18" in h.text for h in retriever.search("18", case_id="case-a", k=20))


def _parse(argv: list[str]) -> argparse.Namespace:
    return build_parser().parse_args(argv)


def _run(argv: list[str]) -> tuple[int, str, str]:
    args = _parse(argv)
    out, err = io.StringIO(), io.StringIO()
    code = cli_search.run(args, load_from_args(args), Console(file=out, soft_wrap=True), Console(file=err))
    return code, out.getvalue(), err.getvalue()


def test_cli_json_and_text(ingested):
    store = str(ingested.store.path)
    code, out, _ = _run(
        ["search", "widget score", "--case", "case-a", "--kind", "clinical_note",
         "--kind", "policy", "--k", "3", "--store", store, "--format", "json"]
    )  # fmt: skip
    hits = [Hit.model_validate(h) for h in json.loads(out)]
    assert code == 0 and len(hits) == 3
    assert {h.kind for h in hits} <= {"clinical_note", "policy"} and NOTE_A in {h.doc_id for h in hits}
    assert all(h.case_id in (None, "case-a") for h in hits)
    assert all(h.dense_rank or h.bm25_rank for h in hits)
    code, out, _ = _run(["search", "50242", "--store", store, "--k", "2"])
    head, text, *_ = out.splitlines()
    assert code == 0 and len(out.splitlines()) == 4
    assert re.fullmatch(
        r" +1\. [01]\.\d{4}  dense +\d+  bm25 +1  label-widgetumab  drug_label  section: How supplied",
        head,
    )
    assert "NDC 50242-0040-62" in text
    code, out, err = _run(["search", "widget", "--kind", "request", "--store", store])
    assert code == 0 and out == "" and "no results" in err
    args = _parse(["search", "x", "--case", "case-z", "--store", store])
    with pytest.raises(CaseNotFoundError):
        cli_search.run(args, load_from_args(args), Console(file=io.StringIO()), Console())


def test_scope_recheck_matches_the_store_filter():
    from rag.retrieval.hybrid import matches, understood

    where = scope_filter("case-a", ["clinical_note", "policy"])
    assert understood(where)
    assert matches({"case_id": "case-a", "kind": "clinical_note"}, where)
    assert matches({"case_id": "", "kind": "policy"}, where)
    assert not matches({"case_id": "case-b", "kind": "clinical_note"}, where)
    assert not matches({"case_id": "", "kind": "study"}, where)
    assert matches({"case_id": ""}, scope_filter(None)) and not matches({"case_id": "x"}, scope_filter(None))
    assert not understood({"$or": [{"case_id": ""}]})


def test_dense_halves_of_several_queries_are_one_store_call(retriever):
    """search_many asks the store once for every query's nearest ids; a scope holding a small share
    of the store (one case's notes) is filtered inside that call, a wide one is scoped afterwards
    through the lexical index; either way only ids and distances come back before scoping."""
    queries = ["widget score of 18", "widgetumab dose every 2 weeks", "acute widget flare"]
    narrow = scope_filter("case-a", ["clinical_note"])
    store = retriever.store
    everything = store.count()
    in_scope = len(Store(store.settings).get(where=narrow))
    assert store.lexical.count_within(narrow) == in_scope < everything
    assert store.lexical.count_within(scope_filter(None)) == len(
        Store(store.settings).get(where={"case_id": ""})
    )
    store.calls.clear()
    hits = retriever.search_many(queries, case_id="case-a", kinds=["clinical_note"], candidates=in_scope + 5)
    assert hits and {h.doc_id for h in hits} == {NOTE_A}
    assert [w for kind, w in store.calls if kind == "nearest"] == [narrow]
    store.calls.clear()
    literature = store.lexical.count_within(scope_filter(None))
    assert literature / everything > 0.5  # then no depth makes it a narrow scope
    retriever.search_many(queries, k_per_query=2, candidates=everything)  # over the whole store
    assert [w for kind, w in store.calls if kind == "nearest"] == [None]


def test_documents_are_read_a_page_at_a_time_and_can_be_filtered(ingested, monkeypatch):
    """A 100k-chunk store holds more documents than Chroma's SQLite takes ids in one read, so
    `documents()` pages; the audit of a draft reads only its case's and its references' documents."""
    import ingest.store as store_module
    from rag.review.audit import draft_created_detail

    store = Store(ingested.store)
    everything = store.documents()
    monkeypatch.setattr(store_module, "DOC_PAGE", 2)
    assert len(everything) > 2 and store.documents() == everything
    assert set(store.documents({"case_id": "case-b"})) == {
        d for d, r in everything.items() if r.case_id == "case-b"
    }

    asked: list[dict] = []

    class Recording:
        def documents(self, where=None):
            asked.append(where)
            return store.documents(where)

    provenance = argparse.Namespace(
        generator="extractive", model=None, embedding_model="m", settings_hash="h"
    )  # fmt: skip
    draft = argparse.Namespace(
        question="q", case_id="case-a", verdict=argparse.Namespace(label="indicated"), provenance=provenance,
        references=[argparse.Namespace(doc_id="policy-widgetumab")],
    )  # fmt: skip
    hashed = draft_created_detail(draft, Recording())["documents"]
    case_a = {d for d, r in everything.items() if r.case_id == "case-a"}
    assert set(hashed) == case_a | {"policy-widgetumab"}
    assert hashed == {d: everything[d].content_hash for d in hashed}
    assert asked and all(w for w in asked)  # never every document of the store
