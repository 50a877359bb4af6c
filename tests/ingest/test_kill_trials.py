"""Twenty kill -9 trials at random points of an ingest (fixed seed), each on a store that the
previous kill left behind, with files changed and removed between trials so that every run has
documents to rewrite. A last uninterrupted run must leave the store equal, chunk for chunk (id,
text, document, content hash), to a clean ingest of the same files: nothing lost, nothing stale
or duplicated. The figures go to the fault report printed at the end of the test run."""

from __future__ import annotations

import random
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ingest.config import StoreSettings
from ingest.manifest import writer_pid
from ingest.store import Store
from tests.conftest import REPO
from tests.faults import record
from tests.ingest.test_crash_safety import LONG_ID, _cli, _entries, _long_review

TRIALS = 20
SEED = 15


def _run(corpus: Path, store: Path, kill: tuple[str, float] | None) -> tuple[str, float, float, float]:
    """One `meddraft ingest`, killed (unless it ends first) the given seconds after an event:
    "lock" (it took the writer lock: start-up, recovery) or "write" (a document in the manifest
    is pending: something is being rewritten or removed). Events, not wall-clock offsets, so that
    the kill points hold on a loaded machine. Returns what happened, and when (seconds from
    start) the lock was taken, the first write was seen (-1: never) and the run ended."""
    started = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, "-m", "rag.cli", "ingest", str(corpus), "--store", str(store), "--quiet"],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    locked = writing = -1.0
    while proc.poll() is None and time.monotonic() - started < 600:
        now = time.monotonic() - started
        if locked < 0 and writer_pid(store) == str(proc.pid):
            locked = now
        if locked >= 0 and writing < 0 and any(not e.complete for e in _entries(store).values()):
            writing = now
        since = {"lock": locked, "write": writing}[kill[0]] if kill else -1.0
        if kill and since >= 0 and now - since >= kill[1]:
            proc.kill()  # SIGKILL: no cleanup of any kind runs
            proc.wait()
            return "killed", locked, writing, time.monotonic() - started
        time.sleep(0.02)
    if proc.poll() is None:
        proc.kill()
        pytest.fail("an ingest ran for 10 minutes")
    return f"exit {proc.returncode}", locked, writing, time.monotonic() - started


def _chunks(store_dir: Path) -> dict[str, tuple[str, str, str]]:
    store = Store(StoreSettings(path=store_dir))
    return {
        c.id: (c.text, c.metadata["doc_id"], c.metadata["content_hash"])
        for c in store.get()  # every chunk, read by id: what is really there, not the manifest
    }


@pytest.mark.slow
def test_20_random_kills_then_one_run_reproduce_a_clean_store(tmp_path, mini_corpus, shared_data, settings):
    from rag.components import build_indexer

    indexer = build_indexer(settings)  # the CLI's own model (int8 for a new store): same content hashes
    corpus = mini_corpus
    shutil.copy(shared_data / "pdfs/medical_text/fda_ibuprofen_label_2024.pdf", corpus / "literature")
    review = corpus / "literature/zz-long-review.md"
    review.write_text(_long_review(60), encoding="utf-8")
    note = next((corpus / "cases").rglob("*.md"))
    note_text = note.read_text(encoding="utf-8")
    store_dir = tmp_path / "killed"
    rng = random.Random(SEED)

    # calibration: a whole run, then a run that rewrites the review, to learn the writing window
    assert _run(corpus, store_dir, None)[0] == "exit 0"
    review.write_text(_long_review(60).replace("adults", "adult patients"), encoding="utf-8")
    outcome, locked, writing, ended = _run(corpus, store_dir, None)
    assert outcome == "exit 0" and writing > 0, (outcome, writing)
    # a quarter of the kills during start-up and recovery, the rest while documents are written
    start_up, writes = writing - locked, ended - writing

    outcomes: list[str] = []
    while outcomes.count("killed") < TRIALS and len(outcomes) < TRIALS + 10:
        trial = len(outcomes)  # every run has work: the review changes; a note goes and comes back
        review.write_text(_long_review(60).replace("adults", f"adults (run {trial})"), encoding="utf-8")
        if trial % 4 == 1:
            note.unlink(missing_ok=True)
        elif trial % 4 == 3:
            note.write_text(note_text, encoding="utf-8")
        kill = (
            ("lock", rng.uniform(0, start_up))
            if rng.random() < 0.25
            else ("write", rng.uniform(0, 0.8 * writes))
        )
        outcomes.append(_run(corpus, store_dir, kill)[0])
    kills = outcomes.count("killed")

    final = _cli("ingest", str(corpus), "--store", str(store_dir), "--format", "json")
    assert final.returncode == 0, final.stderr
    clean = indexer.ingest([corpus])
    assert not clean.failed
    expected = _chunks(Path(indexer.store.settings.path))
    present = _chunks(store_dir)
    lost = sorted(set(expected) - set(present))
    stale = sorted(set(present) - set(expected))
    changed = sorted(i for i in set(expected) & set(present) if expected[i] != present[i])
    texts = [t for t, _, _ in present.values()]
    duplicated = len(texts) - len(set(texts)) - (len(expected) - len({t for t, _, _ in expected.values()}))
    record("kill -9 trials", kills)
    record("chunks lost after kills", len(lost) + len(changed))
    record("chunks duplicated or stale after kills", len(stale) + max(duplicated, 0))
    print(
        f"\nkill trials: {kills} of {len(outcomes)} runs killed at random points "
        f"(start-up {start_up:.1f} s, writes {writes:.1f} s); then {len(present)} chunks present, "
        f"{len(expected)} expected: lost {len(lost)}, stale {len(stale)}, changed {len(changed)}"
    )
    assert kills == TRIALS, outcomes
    assert not lost and not stale and not changed, (lost[:3], stale[:3], changed[:3])
    assert duplicated <= 0
    assert LONG_ID in {doc for _, doc, _ in present.values()}
    assert _cli("status", "--store", str(store_dir), "--verify").returncode == 0
