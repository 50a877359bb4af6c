"""The 940-page WHO report: the large-document test (slow, still run in CI)."""

import pytest


@pytest.mark.slow
def test_who_940_page_report_ingests_whole(indexer, shared_data):
    path = shared_data / "pdfs/medical_text/who_selection_and_use_of_essential_medicine_2023.pdf"
    report = indexer.ingest([path])
    assert not report.failed, report.failed
    assert report.count("added") == 1
    chunks = indexer.store.get()
    assert len(chunks) == report.chunks_embedded > 3000
    pages = {p for c in chunks for p in (c.metadata["page_start"], c.metadata["page_end"])}
    assert min(pages) == 1 and max(pages) == 940
    assert max(c.metadata["n_tokens"] for c in chunks) <= indexer.embedder.max_tokens
    again = indexer.ingest([path])
    assert again.count("unchanged") == 1 and again.chunks_embedded == 0
