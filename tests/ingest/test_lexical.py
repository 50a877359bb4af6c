"""The lexical index beside the store (tantivy): written with the store, scoped, mended when it
drifts. Real Chroma, the real model, the tiny two-case corpus."""

from __future__ import annotations

import shutil

from ingest.lexical import LexicalIndex, query_terms
from ingest.store import Store
from rag.retrieval.hybrid import Retriever
from rag.retrieval.scope import where


def _ranked_ids(store: Store, query: str, scope: dict | None = None) -> list[str]:
    return [chunk_id for chunk_id, _ in store.lexical.rank(query, 50, scope)]


def _doc_ids(store: Store, chunk_ids: list[str]) -> set[str]:
    return {c.metadata["doc_id"] for c in store.get(ids=chunk_ids)} if chunk_ids else set()


def test_ingest_writes_the_index_and_a_scope_never_reaches_another_case(indexer, mini_corpus):
    assert not indexer.ingest([mini_corpus]).failed
    store = indexer.store
    assert store.lexical.chunk_ids() == set(store.ids())  # written by the ingest itself
    both = _ranked_ids(store, "widget score gadgetol")
    assert {"case-a-clinic-2025-01-02", "case-b-clinic-2025-02-03"} <= _doc_ids(store, both)
    for case, other in (("case-a", "case-b"), ("case-b", "case-a")):
        found = store.get(ids=_ranked_ids(store, "widget score gadgetol patient", where(case)))
        assert found and {c.metadata["case_id"] for c in found} <= {"", case}
        assert other not in {c.metadata["case_id"] for c in found}
    literature = _ranked_ids(store, "widget score", where(None, ["clinical_note"]))
    assert literature == []  # notes are case documents: literature-only readers see none
    stemmed = _doc_ids(store, _ranked_ids(store, "infiltrate"))  # the policy says "infiltrates"
    assert "policy-widgetumab" in stemmed
    assert query_terms("the patients with widget") == ["patients", "widget"]


def test_a_changed_file_and_a_removed_file_leave_the_index(indexer, mini_corpus):
    indexer.ingest([mini_corpus])
    store = indexer.store
    note = mini_corpus / "cases/case-b/note-b.md"
    note.write_text(note.read_text().replace("No prior gadgetol therapy.", "Started zorblatine."))
    indexer.ingest([mini_corpus])
    assert _doc_ids(store, _ranked_ids(store, "zorblatine", where("case-b"))) == {"case-b-clinic-2025-02-03"}
    assert "case-b-clinic-2025-02-03" not in _doc_ids(store, _ranked_ids(store, "gadgetol", where("case-b")))

    title = mini_corpus / "literature/policy-widget.md"  # the title only: same chunk ids, new head
    title.write_text(title.read_text().replace('title: "Widgetumab - Medical Policy"', 'title: "Quuxcare"'))
    indexer.ingest([mini_corpus])
    assert _doc_ids(store, _ranked_ids(store, "quuxcare")) == {"policy-widgetumab"}

    shutil.rmtree(mini_corpus / "cases/case-b")
    indexer.ingest([mini_corpus])  # a folder ingested again: its removed files leave the store
    assert _ranked_ids(store, "zorblatine") == []
    assert store.lexical.chunk_ids() == set(store.ids())


def test_a_store_without_its_index_or_with_a_drifted_one_is_mended_on_search(indexer, mini_corpus, embedder):
    indexer.ingest([mini_corpus])
    store = indexer.store
    expected = set(store.ids())
    store.lexical.clear()
    shutil.rmtree(store.lexical.path)  # a store made before the index existed

    reopened = Store(store.settings)
    hits = Retriever(reopened, embedder).search("widget score of 9", case_id="case-b")
    assert any(h.bm25_rank for h in hits) and reopened.lexical.path.is_dir()
    assert reopened.lexical.chunk_ids() == expected

    # a chunk the store no longer has (a writer killed between its two writes) is never shown
    ghost = {"case_id": "", "kind": "study", "doc_id": "ghost", "title": "Ghost"}
    reopened.lexical.upsert(["ghost-1"], ["qwertyuiop appears only here"], [ghost])
    reopened.lexical.delete([sorted(expected)[0]])  # and one it lacks: the counts agree
    hits = Retriever(reopened, embedder).search("qwertyuiop", k=5)
    assert "ghost-1" not in {h.chunk_id for h in hits}
    assert reopened.lexical.chunk_ids() == expected


def test_an_unwritable_index_folder_is_kept_in_memory(tmp_path, indexer, mini_corpus):
    indexer.ingest([mini_corpus])
    blocked = tmp_path / "file-not-folder"
    blocked.write_text("")
    index = LexicalIndex(blocked / "lexical", "somewhere")  # its folder cannot be made
    assert index.sync(indexer.store) == (indexer.store.count(), 0)
    assert _doc_ids(indexer.store, [i for i, _ in index.rank("gadgetol", 5)])
