"""Length-sorted, token-budget batches and the cross-file embedding window change no result."""

import numpy as np
import pytest

import ingest.pipeline as pipeline
from ingest.config import EmbeddingSettings
from ingest.onnx_embedder import OnnxEmbedder, length_batches
from rag.components import build_indexer


def test_length_batches_cover_every_text_once_within_the_budget():
    lengths = [5, 300, 17, 17, 128, 1, 64, 256, 9, 40] * 7
    batches = length_batches(lengths, batch_size=4, budget=512)
    assert sorted(i for b in batches for i in b) == list(range(len(lengths)))
    for batch in batches:
        widths = [lengths[i] for i in batch]
        assert widths == sorted(widths)
        assert len(batch) <= 16
        assert len(batch) == 1 or len(batch) * max(widths) <= 512  # a lone long text still goes
    flat = [lengths[i] for b in batches for i in b]
    assert flat == sorted(flat)


@pytest.fixture(scope="module")
def onnx() -> OnnxEmbedder:
    return OnnxEmbedder(EmbeddingSettings())


def _content(store) -> dict[str, tuple[str, np.ndarray]]:
    rows = store.collection.get(include=["documents", "embeddings"])
    return {
        i: (t, np.asarray(v))
        for i, t, v in zip(rows["ids"], rows["documents"], rows["embeddings"], strict=True)
    }


def test_the_window_changes_no_chunk_text_or_vector(tmp_path, settings, onnx, mini_corpus, monkeypatch):
    windowed = build_indexer(settings, embedder=onnx)
    assert not windowed.ingest([mini_corpus]).failed
    monkeypatch.setattr(pipeline, "EMBED_BATCH", 1)  # one chunk per model call
    other = settings.model_copy(
        update={"store": settings.store.model_copy(update={"path": tmp_path / "one"})}
    )
    single = build_indexer(other, embedder=onnx)
    assert not single.ingest([mini_corpus]).failed
    a, b = _content(windowed.store), _content(single.store)
    assert a.keys() == b.keys() and len(a) > 4
    for chunk_id, (text, vector) in a.items():
        assert b[chunk_id][0] == text
        assert np.abs(b[chunk_id][1] - vector).max() < 1e-5


def test_the_queue_of_chunks_waiting_for_the_model_is_bounded(settings, onnx, mini_corpus, monkeypatch):
    monkeypatch.setattr(pipeline, "EMBED_BATCH", 3)
    indexer = build_indexer(settings, embedder=onnx)
    seen: list[int] = []
    write = indexer._write

    def watched(*args, **kwargs):
        n = write(*args, **kwargs)
        seen.append(len(indexer._pending))
        return n

    monkeypatch.setattr(indexer, "_write", watched)
    report = indexer.ingest([mini_corpus])
    assert not report.failed and report.chunks_embedded > 3
    assert seen and max(seen) < 3  # after each file, fewer than a window's worth wait
