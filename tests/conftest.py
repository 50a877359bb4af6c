"""Shared fixtures: the real bundled embedding model, real Chroma in tmp_path, the real data."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
os.environ.pop("MEDDRAFT_CONFIG", None)
for _key in [k for k in os.environ if k.startswith("MEDDRAFT_")]:
    os.environ.pop(_key)  # tests start from the defaults, whatever the developer's shell has

REPO = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"
DEMO_Q = (
    "Is omalizumab 600 mg SC every 2 weeks medically indicated for this patient with idiopathic "
    "MCAS who failed H1/H2 blockers and corticosteroids?"
)
SHARED_DATA = Path(os.environ.get("MEDDRAFT_SHARED_DATA", REPO.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real test data not found at {SHARED_DATA} (set MEDDRAFT_SHARED_DATA)")
    return SHARED_DATA


@pytest.fixture(scope="session")
def embedder():
    """The real default model (bundled all-MiniLM-L6-v2), loaded once per test session."""
    from ingest.config import EmbeddingSettings
    from ingest.embedding import SentenceTransformerEmbedder

    model = SentenceTransformerEmbedder(EmbeddingSettings())
    model.dimension  # noqa: B018 - load now, not inside the first test's timing
    return model


@pytest.fixture
def mini_corpus(tmp_path: Path) -> Path:
    """A writable copy of the tiny two-case corpus."""
    target = tmp_path / "corpus"
    shutil.copytree(FIXTURES / "mini", target)
    return target


@pytest.fixture
def settings(tmp_path: Path):
    from rag.settings import load_settings

    return load_settings(overrides={"store.path": str(tmp_path / "store")})


@pytest.fixture
def indexer(settings, embedder):
    from rag.components import build_indexer

    return build_indexer(settings, embedder=embedder)


@pytest.fixture(scope="session")
def corpus_settings(tmp_path_factory, embedder):
    """A real store holding the whole demo corpus (ingested once per test session)."""
    from rag.components import build_indexer
    from rag.settings import load_settings

    settings = load_settings(overrides={"store.path": str(tmp_path_factory.mktemp("corpus-store"))})
    report = build_indexer(settings, embedder=embedder).ingest([REPO / "corpus"])
    assert not report.failed, report.failed
    return settings


@pytest.fixture(scope="session")
def corpus_parts(corpus_settings, embedder):
    from rag.components import build_store
    from rag.retrieve import Retriever

    store = build_store(corpus_settings)
    return corpus_settings, store, embedder, Retriever(store, embedder)


@pytest.fixture(scope="session")
def demo(corpus_parts):
    """The demo assessment, drafted once per test session."""
    from rag.assess import assess

    settings, store, embedder, retriever = corpus_parts
    return assess(DEMO_Q, "mcas-001", settings, store=store, embedder=embedder, retriever=retriever)
