"""Readers and a writer together: searches run in this process while a real `meddraft ingest`
subprocess writes to the same store. Every read returns, or says clearly what happened; none
ends in a raw Chroma traceback."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from ingest.config import StoreSettings
from ingest.errors import StoreError
from ingest.store import Store
from tests.conftest import REPO
from tests.faults import record
from tests.ingest.test_crash_safety import _long_review


@pytest.mark.slow
def test_searches_while_an_ingest_writes(tmp_path: Path, mini_corpus: Path, embedder):
    store_dir = tmp_path / "store"
    first = subprocess.run(
        [sys.executable, "-m", "rag.cli", "ingest", str(mini_corpus), "--store", str(store_dir), "--quiet"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert first.returncode == 0, first.stderr
    (mini_corpus / "literature" / "zz-long-review.md").write_text(_long_review(200), encoding="utf-8")
    writer = subprocess.Popen(
        [sys.executable, "-m", "rag.cli", "ingest", str(mini_corpus), "--store", str(store_dir), "--quiet"],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    vector = embedder.embed(["widgetumab dose limit"])[0]
    reads, clear_errors, other = 0, [], []
    deadline = time.monotonic() + 600
    while writer.poll() is None and time.monotonic() < deadline:
        store = Store(StoreSettings(path=store_dir))  # a fresh reader, as a CLI call would open
        try:
            assert store.get(where={"kind": "policy"})
            assert store.query(vector, k=5)
            reads += 1
        except StoreError as exc:  # said plainly, after the bounded retries
            clear_errors.append(str(exc))
        except Exception as exc:
            other.append(f"{type(exc).__name__}: {exc}")
    _, stderr = writer.communicate(timeout=600)
    record("reads during an ingest", reads + len(clear_errors) + len(other))
    record("reads ending in a raw Chroma error", len(other))
    assert writer.returncode == 0, stderr
    assert not other, other
    assert reads >= 3, (reads, clear_errors)
    print(f"reads during the ingest: {reads} returned, {len(clear_errors)} clear errors, 0 tracebacks")
    after = Store(StoreSettings(path=store_dir))
    assert any(
        c.metadata.get("doc_id") == "long-review" for c in after.get(where={"kind": "systematic_review"})
    )


def test_a_read_too_large_for_sqlite_says_so_and_is_not_retried(tmp_path: Path, mini_corpus: Path, embedder):
    """Chroma's SQLite refuses a read naming ~32k ids ("too many SQL variables"): that is no ingest
    writing meanwhile, so the error says what it is at once instead of retrying for 4 s."""
    from rag.components import build_indexer
    from rag.settings import load_settings

    settings = load_settings(overrides={"store.path": str(tmp_path / "store")})
    build_indexer(settings, embedder=embedder).ingest([mini_corpus])
    store = Store(StoreSettings(path=tmp_path / "store"))
    began = time.monotonic()
    with pytest.raises(StoreError, match="cannot answer a read that large") as info:
        store.get(ids=[f"no-such-chunk-{i}" for i in range(40_000)])
    assert "probably writing" not in str(info.value)
    assert time.monotonic() - began < 3  # READ_RETRIES would sleep 3.7 s
