"""The ONNX embedder against sentence-transformers, with the real bundled model and real exports."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from ingest.config import EmbeddingSettings
from ingest.embedding import SentenceTransformerEmbedder, make_embedder
from ingest.errors import EmbeddingError, StoreMismatchError
from ingest.onnx_embedder import OnnxEmbedder
from ingest.onnx_export import export_dir, onnx_model

REPO = Path(__file__).resolve().parents[2]
EDGE_CASES = [
    "omalizumab",
    "  leading and trailing spaces  ",
    "Tryptase ≥ 20% + 2 ng/mL; IgE 45 IU/mL – µg/kg, naïve café",
    "H1/H2 blockers failed (cetirizine 20 mg BID x 3 mo; famotidine 20 mg BID).",
    "The patient failed H1 and H2 blockers. " * 60,  # past the 256-token limit
]


def _texts() -> list[str]:
    """Paragraphs of the demo corpus (labels, literature, policies, notes) and edge cases."""
    paragraphs = []
    for folder in ("labels", "literature", "policies", "cases/mcas-001"):
        for path in sorted((REPO / "corpus" / folder).glob("*.md"))[:3]:
            parts = [p.strip() for p in path.read_text(encoding="utf-8").split("\n\n") if len(p.strip()) > 40]
            paragraphs += parts[:6]
    return paragraphs + EDGE_CASES


@pytest.fixture(scope="module")
def onnx() -> OnnxEmbedder:
    return OnnxEmbedder(EmbeddingSettings(quantize="none"))


@pytest.fixture(scope="module")
def onnx_int8() -> OnnxEmbedder:
    return OnnxEmbedder(EmbeddingSettings(quantize="int8"))


def _cosines(a, b) -> np.ndarray:
    a, b = np.asarray(a), np.asarray(b)
    return (a * b).sum(axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


def test_the_default_is_onnx_int8_for_a_new_store_and_fp32_with_torch():
    embedder = make_embedder(EmbeddingSettings())
    assert isinstance(embedder, OnnxEmbedder) and embedder.name == "all-MiniLM-L6-v2+onnx-int8"
    torch = make_embedder(EmbeddingSettings(backend="sentence-transformers"))
    assert isinstance(torch, SentenceTransformerEmbedder) and torch.name == "all-MiniLM-L6-v2"


def test_auto_follows_the_variant_the_store_records():
    from ingest.embedding import follow_store

    auto = EmbeddingSettings()
    assert follow_store(auto, "all-MiniLM-L6-v2").quantize == "none"
    assert follow_store(auto, "all-MiniLM-L6-v2+onnx-int8").quantize == "int8"
    assert follow_store(auto, None).quantize == "int8"
    assert follow_store(EmbeddingSettings(quantize="none"), "all-MiniLM-L6-v2+onnx-int8").quantize == "none"
    torch = EmbeddingSettings(backend="sentence-transformers")
    assert follow_store(torch, "all-MiniLM-L6-v2+onnx-int8").quantize == "none"  # check_model refuses it


def test_an_fp32_store_keeps_fp32_under_the_int8_default(settings, mini_corpus, onnx, capsys):
    """A store built before int8 was the default: queries, status and a further ingest follow it."""
    from rag.cli import main
    from rag.components import build_embedder, build_indexer, build_retriever, build_store

    build_indexer(settings, embedder=onnx).ingest([mini_corpus])
    store = build_store(settings)
    assert build_embedder(settings, store).name == "all-MiniLM-L6-v2"
    assert build_embedder(settings).name == "all-MiniLM-L6-v2+onnx-int8"  # no store: a new one's
    hits = build_retriever(settings).search("widget score", k=3)
    assert [h.chunk_id for h in hits] == [
        h.chunk_id for h in build_retriever(settings, embedder=onnx).search("widget score", k=3)
    ]
    (mini_corpus / "extra.md").write_text("# Extra\n\nA widget score note added later.\n")
    report = build_indexer(settings).ingest([mini_corpus])
    assert (
        report.count("added") == 1
        and build_store(settings).identity()["embedding_model"] == "all-MiniLM-L6-v2"
    )
    path = str(settings.store.path)
    capsys.readouterr()
    assert main(["status", "--store", path, "--format", "json"]) == 0
    assert '"embedding_model": "all-MiniLM-L6-v2"' in capsys.readouterr().out


def test_fp32_vectors_match_sentence_transformers(onnx, embedder):
    texts = _texts()
    assert len(texts) > 40
    cosines = _cosines(onnx.embed(texts), embedder.embed(texts))
    assert cosines.min() >= 0.9999, cosines.min()
    assert np.allclose(np.linalg.norm(onnx.embed(texts), axis=1), 1.0, atol=1e-5)  # L2-normalised
    assert (onnx.dimension, onnx.max_tokens) == (embedder.dimension, embedder.max_tokens) == (384, 256)
    assert onnx.count_tokens(texts) == embedder.count_tokens(texts)  # chunk sizes stay the same


def test_int8_vectors_stay_close_to_fp32(onnx_int8, embedder):
    texts = _texts()
    cosines = _cosines(onnx_int8.embed(texts), embedder.embed(texts))
    # measured on these 77 texts: minimum 0.978, mean 0.991 (per-tensor int8 went down to 0.90)
    assert cosines.min() >= 0.97, cosines.min()
    assert cosines.mean() >= 0.985, cosines.mean()
    assert cosines.max() < 0.99999  # really another model: hence its own identity in the store


@pytest.mark.parametrize("variant", ["onnx", "onnx_int8"])
def test_batching_and_order_do_not_change_a_vector(variant, request):
    onnx = request.getfixturevalue(variant)  # int8 too: its dynamic scales would differ by batch
    texts = _texts()
    together = np.asarray(onnx.embed(texts))
    backwards = np.asarray(onnx.embed(texts[::-1]))[::-1]
    one_by_one = np.asarray([onnx.embed([t])[0] for t in texts])
    small = OnnxEmbedder(EmbeddingSettings(batch_size=3, quantize=onnx.settings.quantize))
    assert np.abs(together - backwards).max() < 1e-5
    assert np.abs(together - one_by_one).max() < 1e-5
    assert np.abs(together - np.asarray(small.embed(texts))).max() < 1e-5
    assert onnx.embed([]) == [] and onnx.count_tokens([]) == []


def test_long_text_is_truncated_at_the_model_limit(onnx, embedder):
    sentences = [f"Mast cell mediator number {i} was measured at {i * 3} ng/mL." for i in range(80)]
    long = " ".join(sentences)
    assert onnx.count_tokens([long])[0] > 3 * onnx.max_tokens  # counting never truncates
    tail = long + " A completely different ending about renal dosing of gabapentin." * 20
    a, b = onnx.embed([long, tail])
    assert _cosines([a], [b])[0] > 0.99999  # everything past token 256 is cut, as in the original
    assert _cosines([a], embedder.embed([long]))[0] >= 0.9999
    shorter = " ".join(sentences[:8])
    assert onnx.count_tokens([shorter])[0] < onnx.max_tokens - 2
    assert _cosines([a], onnx.embed([shorter]))[0] < 0.999  # and what fits does count


def test_the_export_is_reused_from_the_cache_without_torch(onnx):
    onnx.embed(["warm the cache"])
    path = onnx_model(onnx.folder, onnx.settings.cache_dir)
    before = path.stat().st_mtime_ns
    script = textwrap.dedent(
        """
        import json, sys
        from ingest.config import EmbeddingSettings
        from ingest.onnx_embedder import OnnxEmbedder
        vector = OnnxEmbedder(EmbeddingSettings(quantize="none")).embed(["omalizumab"])[0]
        print(json.dumps({"torch": "torch" in sys.modules, "vector": vector[:4]}))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=REPO, check=True
    )
    result = json.loads(done.stdout)
    assert result["torch"] is False  # no export ran: it would have imported torch
    assert path.stat().st_mtime_ns == before
    assert np.allclose(result["vector"], onnx.embed(["omalizumab"])[0][:4], atol=1e-6)


@pytest.mark.slow
def test_concurrent_processes_export_once_and_atomically(tmp_path):
    script = textwrap.dedent(
        f"""
        import logging, sys
        logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(message)s")
        from ingest.config import EmbeddingSettings
        from ingest.onnx_embedder import OnnxEmbedder
        embedder = OnnxEmbedder(EmbeddingSettings(cache_dir={str(tmp_path)!r}))
        print(embedder.embed(["mast cell activation syndrome"])[0][0])
        """
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    runs = [
        subprocess.Popen(
            [sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
        )
        for _ in range(2)
    ]
    outputs = [run.communicate(timeout=600) for run in runs]
    assert [run.returncode for run in runs] == [0, 0], [err[-2000:] for _, err in outputs]
    # the default (int8) is quantised from the fp32 export: each made once, the second process waited
    assert sum(err.count("exporting") for _, err in outputs) == 1
    assert sum(err.count("quantising") for _, err in outputs) == 1
    assert abs(float(outputs[0][0]) - float(outputs[1][0])) < 1e-6
    entries = sorted(p.name for p in (tmp_path / "onnx").iterdir() if not p.name.endswith(".lock"))
    folder = tmp_path / "models" / "all-MiniLM-L6-v2"
    assert entries == sorted(
        export_dir(folder, tmp_path, q).name for q in ("none", "int8")
    )  # no staging left


def test_a_model_the_onnx_backend_cannot_run_is_refused(tmp_path):
    folder = tmp_path / "cls-model"
    (folder / "1_Pooling").mkdir(parents=True)
    (folder / "modules.json").write_text(
        json.dumps(
            [
                {"path": "", "type": "sentence_transformers.models.Transformer"},
                {"path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
            ]
        )
    )
    (folder / "1_Pooling" / "config.json").write_text(json.dumps({"pooling_mode_cls_token": True}))
    with pytest.raises(EmbeddingError, match="backend = 'sentence-transformers'"):
        onnx_model(folder, tmp_path / "cache")
    with pytest.raises(EmbeddingError, match="no model folder"):
        OnnxEmbedder(EmbeddingSettings(model=str(tmp_path / "missing"), cache_dir=tmp_path)).embed(["x"])


def test_quantize_is_refused_with_sentence_transformers():
    with pytest.raises(EmbeddingError, match="onnx backend only"):
        make_embedder(EmbeddingSettings(backend="sentence-transformers", quantize="int8"))


# --- the store's model identity ----------------------------------------------------------------


def test_fp32_onnx_and_sentence_transformers_share_a_store(settings, mini_corpus, onnx, embedder):
    from rag.components import build_indexer, build_retriever

    report = build_indexer(settings, embedder=onnx).ingest([mini_corpus])
    assert report.count("added") == 4
    onnx_hits = build_retriever(settings, embedder=onnx).search("widget score", k=3)
    torch_hits = build_retriever(settings, embedder=embedder).search("widget score", k=3)
    assert onnx_hits and [h.chunk_id for h in onnx_hits] == [h.chunk_id for h in torch_hits]


def test_an_int8_store_refuses_fp32_queries_and_the_reverse(settings, mini_corpus, onnx, onnx_int8):
    from rag.components import build_indexer, build_retriever, build_store

    build_indexer(settings, embedder=onnx_int8).ingest([mini_corpus])
    store = build_store(settings)
    assert store.identity()["embedding_model"] == "all-MiniLM-L6-v2+onnx-int8"
    assert build_retriever(settings, embedder=onnx_int8).search("widget score", k=3)
    with pytest.raises(StoreMismatchError, match=r"embedding.quantize = 'int8'.*--rebuild"):
        build_retriever(settings, embedder=onnx).search("widget score", k=3)
    with pytest.raises(StoreMismatchError, match="built with embedding model 'all-MiniLM-L6-v2\\+onnx-int8'"):
        build_indexer(settings, embedder=onnx).ingest([mini_corpus])
    report = build_indexer(settings, embedder=onnx).ingest([mini_corpus], rebuild=True)
    assert report.count("added") == 4 and build_store(settings).identity()["embedding_model"] == onnx.name
    with pytest.raises(
        StoreMismatchError,
        match="built with embedding model 'all-MiniLM-L6-v2', not.*quantize = 'none', or 'auto'",
    ):
        build_retriever(settings, embedder=onnx_int8).search("widget score", k=3)


def test_the_cli_names_the_setting_a_quantised_store_needs(tmp_path, mini_corpus, capsys):
    from rag.cli import main

    config = tmp_path / "int8.toml"
    config.write_text('[embedding]\nquantize = "int8"\n')
    store = str(tmp_path / "store")
    assert main(["ingest", str(mini_corpus), "--store", store, "--config", str(config), "--quiet"]) == 0
    assert main(["search", "widget score", "--store", store, "--config", str(config)]) == 0
    assert main(["search", "widget score", "--store", store]) == 0  # the default follows the store
    capsys.readouterr()
    fp32 = tmp_path / "fp32.toml"
    fp32.write_text('[embedding]\nquantize = "none"\n')
    # fp32 asked for by name: refused, not answered from int8 vectors
    assert main(["search", "widget score", "--store", store, "--config", str(fp32)]) != 0
    assert "embedding.quantize = 'int8'" in capsys.readouterr().err
