"""Ingestion into a real Chroma store with the real embedding model."""

import shutil

import pytest

from ingest.errors import StoreMismatchError
from ingest.pipeline import store_status
from ingest.store import Store


def _ids_by_doc(store: Store) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for item in store.get():
        out.setdefault(item.metadata["doc_id"], set()).add(item.id)
    return out


def test_ingest_twice_changes_nothing_and_says_so(indexer, mini_corpus):
    first = indexer.ingest([mini_corpus])
    assert first.count("added") == 4 and not first.failed
    before = _ids_by_doc(indexer.store)
    second = indexer.ingest([mini_corpus])
    assert second.count("unchanged") == 4
    assert second.chunks_embedded == 0
    assert second.summary().startswith("nothing changed")
    assert _ids_by_doc(indexer.store) == before
    assert indexer.store.count() == sum(len(v) for v in before.values())


def test_editing_a_file_replaces_only_its_chunks(indexer, mini_corpus):
    indexer.ingest([mini_corpus])
    before = _ids_by_doc(indexer.store)
    note = mini_corpus / "cases/case-a/note-a.md"
    note.write_text(note.read_text().replace("widget score of 18", "widget score of 21"))
    report = indexer.ingest([mini_corpus])
    assert report.count("updated") == 1 and report.count("unchanged") == 3
    after = _ids_by_doc(indexer.store)
    assert after["case-a-clinic-2025-01-02"] != before["case-a-clinic-2025-01-02"]
    for doc in ("policy-widgetumab", "review-widgetumab-2024", "case-b-clinic-2025-02-03"):
        assert after[doc] == before[doc]
    texts = [c.text for c in indexer.store.get(where={"doc_id": "case-a-clinic-2025-01-02"})]
    assert any("21" in t for t in texts) and not any("score of 18" in t for t in texts)


def test_deleted_file_is_removed_from_the_store(indexer, mini_corpus):
    indexer.ingest([mini_corpus])
    (mini_corpus / "literature/review-widget.txt").unlink()
    report = indexer.ingest([mini_corpus])
    assert [o.doc_id for o in report.outcomes if o.status == "removed"] == ["review-widgetumab-2024"]
    assert "review-widgetumab-2024" not in _ids_by_doc(indexer.store)
    # naming a single file never removes the rest of the folder
    report = indexer.ingest([mini_corpus / "literature/policy-widget.md"])
    assert report.count("removed") == 0 and len(_ids_by_doc(indexer.store)) == 3


def test_failures_are_reported_and_the_rest_lands(indexer, mini_corpus, shared_data):
    shutil.copy(shared_data / "pdfs/robustness/scanned_image_only_c02-22.pdf", mini_corpus)
    shutil.copy(shared_data / "pdfs/robustness/encrypted_aes128_user_password.pdf", mini_corpus)
    (mini_corpus / "empty.md").write_text("")
    (mini_corpus / "note-no-case.md").write_text("---\nkind: clinical_note\n---\nText\n")
    (mini_corpus / "lit-with-case.md").write_text("---\nkind: guideline\ncase_id: x\n---\nText\n")
    (mini_corpus / "broken.pdf").write_bytes(b"%PDF-1.7\nnot really")
    (mini_corpus / "image.png").write_bytes(b"\x89PNG")
    report = indexer.ingest([mini_corpus])
    reasons = {o.path.name: o.reason for o in report.failed}
    assert set(reasons) == {
        "scanned_image_only_c02-22.pdf",
        "encrypted_aes128_user_password.pdf",
        "empty.md",
        "note-no-case.md",
        "lit-with-case.md",
        "broken.pdf",
    }
    assert reasons["scanned_image_only_c02-22.pdf"].startswith("no text layer")
    assert reasons["encrypted_aes128_user_password.pdf"].startswith("encrypted")
    assert "case_id is required" in reasons["note-no-case.md"]
    assert "only allowed on clinical_note" in reasons["lit-with-case.md"]
    assert reasons["broken.pdf"].startswith("malformed PDF")
    assert [o.path.name for o in report.outcomes if o.status == "skipped"] == ["image.png"]
    assert report.count("added") == 4
    # the password makes the encrypted file land on the next run; the rest is unchanged
    again = indexer.ingest([mini_corpus], passwords=["asdfzxcv"])
    assert again.count("added") == 1 and again.count("unchanged") == 4


def test_failed_reingest_keeps_the_previous_version(indexer, mini_corpus):
    indexer.ingest([mini_corpus])
    note = mini_corpus / "cases/case-b/note-b.md"
    note.write_text("---\nkind: clinical_note\nid: case-b-clinic-2025-02-03\n---\nNo case id now\n")
    report = indexer.ingest([mini_corpus])
    assert [o.path.name for o in report.failed] == ["note-b.md"]
    assert report.count("removed") == 0
    assert "case-b-clinic-2025-02-03" in _ids_by_doc(indexer.store)


def test_case_metadata_and_status(indexer, mini_corpus):
    indexer.ingest([mini_corpus])
    notes = indexer.store.get(where={"case_id": "case-a"})
    assert notes and all(n.metadata["kind"] == "clinical_note" for n in notes)
    literature = indexer.store.get(where={"case_id": ""})
    assert {c.metadata["doc_id"] for c in literature} == {
        "policy-widgetumab",
        "review-widgetumab-2024",
    }
    status = store_status(indexer.store)
    assert status.embedding_model == "all-MiniLM-L6-v2"
    assert status.documents == 4
    assert status.by_case == {
        "case-a": {"documents": 1, "chunks": len(notes)},
        "case-b": {"documents": 1, "chunks": len(indexer.store.get(where={"case_id": "case-b"}))},
    }
    assert status.by_kind["policy"]["documents"] == 1


def test_duplicate_ids_fail_the_second_file(indexer, mini_corpus):
    copy = mini_corpus / "literature/policy-copy.md"
    copy.write_text((mini_corpus / "literature/policy-widget.md").read_text())
    report = indexer.ingest([mini_corpus])
    assert [o.path.name for o in report.failed] == ["policy-widget.md"]
    assert "also used by" in report.failed[0].reason


class _OtherModel:
    """Stands in for a second embedding model: only its name matters to the check."""

    name = "some-other-model"
    dimension = 8
    max_tokens = 128


def test_opening_a_store_with_another_model_is_an_error(indexer, mini_corpus):
    from ingest.pipeline import Indexer

    indexer.ingest([mini_corpus])
    other = Indexer(indexer.store, _OtherModel(), indexer.chunking)
    with pytest.raises(StoreMismatchError, match="built with embedding model 'all-MiniLM-L6-v2'"):
        other.ingest([mini_corpus])


def test_rebuild_reembeds_everything(indexer, mini_corpus):
    indexer.ingest([mini_corpus])
    ids = _ids_by_doc(indexer.store)
    report = indexer.ingest([mini_corpus], rebuild=True)
    assert report.count("added") == 4
    assert _ids_by_doc(indexer.store) == ids
