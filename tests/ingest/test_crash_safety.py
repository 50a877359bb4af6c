"""kill -9 during ingest loses nothing for good: a real `meddraft ingest` subprocess is killed at
several points, and the next run leaves the store equal, chunk for chunk, to a clean ingest.
`status --verify` sees what metadata hides, and `repair` fixes it."""

from __future__ import annotations

import json
import re
import shutil
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ingest.config import StoreSettings
from ingest.manifest import Entry, Manifest, writer_pid
from ingest.store import Store
from rag.cli import main
from tests.conftest import REPO

LONG_ID = "long-review"


def _long_review(sections: int = 250) -> str:
    """A systematic review long enough for several embedding batches (about one chunk a section)."""
    parts = [
        "---\nid: long-review\nkind: systematic_review\ntitle: Widgetumab in chronic widget disease\n"
        "source: Journal of Widget Medicine\nyear: 2024\n---\n# Widgetumab in chronic widget disease\n"
    ]
    for n in range(sections):
        parts.append(
            f"\n## Study {n}: cohort of {40 + n} patients\n"
            f"In study {n}, {40 + n} adults with chronic widget disease received widgetumab "
            f"{100 + n} mg every {2 + n % 3} weeks for {12 + n % 9} weeks. The mean widget score fell "
            f"from {18 + n % 5} to {9 + n % 4}; {n % 7 + 1} patients stopped for adverse events, "
            f"mostly injection-site reactions, and {n % 3} had a flare after stopping. Response at "
            f"week {12 + n % 9} was defined as a fall of at least {4 + n % 3} points.\n"
        )
    return "".join(parts)


@pytest.fixture
def corpus(mini_corpus: Path, shared_data: Path) -> Path:
    """The mini corpus, a real PDF (parsed in the worker) and one long review, last in order."""
    shutil.copy(shared_data / "pdfs/medical_text/fda_ibuprofen_label_2024.pdf", mini_corpus / "literature")
    (mini_corpus / "literature/zz-long-review.md").write_text(_long_review(), encoding="utf-8")
    return mini_corpus


def _entries(store: Path) -> dict[str, Entry]:
    manifest = Manifest(store, "meddraft")
    try:
        return manifest.entries()
    except sqlite3.Error:  # the writer may be creating the file right now
        return {}
    finally:
        manifest.close()


def _ingest_killed_when(corpus: Path, store: Path, fire: Callable[[subprocess.Popen], bool]) -> None:
    """Run `meddraft ingest` and kill -9 it the moment `fire` says so; fail if it finished first."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "rag.cli", "ingest", str(corpus), "--store", str(store), "--quiet"],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 600
    while proc.poll() is None and time.monotonic() < deadline:
        if fire(proc):
            proc.kill()  # SIGKILL: no cleanup of any kind runs
            proc.wait()
            return
        time.sleep(0.02)
    proc.kill()
    pytest.fail(f"ingest ended (exit {proc.returncode}) before the kill point was reached")


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "rag.cli", *args], cwd=REPO, capture_output=True, text=True, timeout=600
    )


def _ids_by_doc(store: Store) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for chunk_id, meta in store.scan():
        out.setdefault(meta["doc_id"], []).append(chunk_id)
    return {doc: sorted(ids) for doc, ids in out.items()}


@pytest.mark.slow
def test_kill_9_at_several_points_then_ingest_equals_a_clean_ingest(tmp_path, corpus, indexer, capsys):
    store_dir = tmp_path / "killed"

    # 1. after the first documents are marked complete, mid-way through the long review: the
    #    batch that completed them also carried its first chunks
    def mid_long_review(_proc) -> bool:
        rows = _entries(store_dir)
        return LONG_ID in rows and not rows[LONG_ID].complete and any(e.complete for e in rows.values())

    _ingest_killed_when(corpus, store_dir, mid_long_review)
    check = _cli("status", "--store", str(store_dir), "--verify", "--format", "json")
    assert check.returncode == 3, check.stderr
    problems = json.loads(check.stdout)["problems"]
    partial = re.fullmatch(
        r"long-review was left incomplete by an interrupted ingest \((\d+) of (\d+) chunks present\)",
        problems[0],
    )
    assert len(problems) == 1 and partial, problems
    present, total = int(partial.group(1)), int(partial.group(2))
    assert 0 < present < total  # the crash window: some chunks written, the document not done

    # 2. as soon as the next run holds the store (start-up, recovery)
    _ingest_killed_when(corpus, store_dir, lambda proc: writer_pid(store_dir) == str(proc.pid))

    # 3. once the long review is being written again by a third run, a moment in, and only while it
    #    is still incomplete (a kill after the run completed it would leave nothing to recover)
    started = datetime.now(UTC).isoformat(timespec="seconds")
    seen: list[float] = []

    def rewriting(_proc) -> bool:
        entry = _entries(store_dir).get(LONG_ID)
        if entry is None or entry.complete or entry.updated_at < started:
            return False
        seen.append(time.monotonic())
        return time.monotonic() - seen[0] > 0.5

    _ingest_killed_when(corpus, store_dir, rewriting)

    # the next full run finishes the job and reports what it recovered
    final = _cli("ingest", str(corpus), "--store", str(store_dir), "--format", "json")
    assert final.returncode == 0, final.stderr
    report = json.loads(final.stdout)
    assert report["counts"]["failed"] == 0
    statuses = {f["doc_id"]: f["status"] for f in report["files"]}
    assert statuses[LONG_ID] == "added" and statuses["policy-widgetumab"] == "unchanged"

    # the same chunks, document by document, as a clean ingest of the same files
    clean = indexer.ingest([corpus])
    assert not clean.failed
    expected = _ids_by_doc(indexer.store)
    store = Store(StoreSettings(path=store_dir))
    assert _ids_by_doc(store) == expected
    assert store.count() == sum(len(ids) for ids in expected.values())
    entries = store.manifest.entries()
    assert {d: sorted(e.chunk_ids) for d, e in entries.items()} == expected
    assert all(e.complete for e in entries.values())
    assert store.lexical.chunk_ids() == set(store.ids())  # the BM25 index converged with them
    assert _cli("status", "--store", str(store_dir), "--verify").returncode == 0

    # chunks deleted behind the manifest's back: status --verify says so, repair fixes it
    gone = store.chunk_ids(LONG_ID)[:7]
    store.delete(gone)
    assert main(["status", "--store", str(store_dir), "--verify"]) == 3
    err = capsys.readouterr().err
    assert f"long-review has {total - 7} of its {total} chunks in the store (7 missing)" in err
    assert "run `meddraft repair`" in err
    assert main(["repair", "--store", str(store_dir), "--quiet"]) == 0
    assert "long-review has" in capsys.readouterr().err
    assert main(["status", "--store", str(store_dir), "--verify"]) == 0
    assert "verified: every document's chunks are in the store" in capsys.readouterr().out
    assert _ids_by_doc(store) == expected


def test_a_second_writer_is_refused_and_told_who_holds_the_store(tmp_path, mini_corpus, capsys):
    store_dir = tmp_path / "store"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import time\nfrom ingest.manifest import write_lock\n"
            f"with write_lock({str(store_dir)!r}, 'test'):\n"
            "    print('held', flush=True)\n    time.sleep(60)\n",
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        assert writer_pid(store_dir) == str(holder.pid)
        assert main(["ingest", str(mini_corpus), "--store", str(store_dir), "--quiet"]) == 3
        err = capsys.readouterr().err
        assert f"another `meddraft ingest` or `meddraft repair` (pid {holder.pid}) is writing" in err
        assert main(["status", "--store", str(store_dir)]) == 0  # readers are never refused
        assert (
            f"an ingest or repair (pid {holder.pid}) is writing to the store now" in capsys.readouterr().err
        )
    finally:
        holder.kill()
        holder.wait()
    assert writer_pid(store_dir) is None  # the kernel dropped the lock with the process
    assert main(["ingest", str(mini_corpus / "literature"), "--store", str(store_dir), "--quiet"]) == 0


def test_the_manifest_counts_the_chunks_it_expects_in_sqlite(tmp_path: Path):
    """The count every ingest compares with the store's before it trusts the store."""
    from ingest.manifest import COMPLETE, PENDING, Entry, Manifest

    manifest = Manifest(tmp_path, "chunks")
    assert manifest.chunk_count(COMPLETE) == 0  # no manifest file yet
    manifest.adopt(
        [
            Entry("a", COMPLETE, "a.md", None, "h1", ["a-0", "a-1"], "policy"),
            Entry("b", COMPLETE, "b.md", None, "h2", ["b-0"], "drug_label"),
            Entry("c", PENDING, "c.md", None, "h3", ["c-0", "c-1", "c-2"], "clinical_note", "case-1"),
        ]
    )
    assert manifest.chunk_count(COMPLETE) == 3 == sum(e.n_chunks for e in manifest.entries(COMPLETE).values())
    assert manifest.chunk_count(PENDING) == 3
    assert Manifest(tmp_path, "other").chunk_count(COMPLETE) == 0  # per collection


def test_the_manifest_finds_rows_by_id_and_source_and_folder(tmp_path):
    from ingest.manifest import COMPLETE, PENDING, Entry, Manifest

    manifest = Manifest(tmp_path, "chunks")
    assert manifest.find(doc_id="a") is None and manifest.within([tmp_path]) == []  # no file yet
    manifest.adopt(
        [
            Entry("a", COMPLETE, "/docs/b/a.md", "/docs/b", "h1", ["a-0"], "policy"),
            Entry("b", COMPLETE, "/docs/bc/b.md", "/docs/bc", "h2", ["b-0"], "policy"),
            Entry("c", PENDING, "/docs/b/c.md", "/docs/b", "h3", ["c-0"], "policy"),
        ]
    )
    manifest.index_sources()
    assert manifest.find(doc_id="a").source_path == "/docs/b/a.md"
    assert manifest.find(source_path="/docs/bc/b.md").doc_id == "b"
    assert manifest.find(doc_id="c") is None and manifest.find(doc_id="c", state=PENDING).doc_id == "c"
    assert [e.doc_id for e in manifest.within([Path("/docs/b")])] == ["a"]  # not /docs/bc, not pending
    assert [e.doc_id for e in manifest.within([Path("/docs/b"), Path("/docs/bc/")])] == ["a", "b"]


def test_an_ingest_of_a_few_files_reads_no_whole_manifest(indexer, mini_corpus, monkeypatch):
    from ingest.manifest import PENDING, Manifest

    indexer.ingest([mini_corpus])
    rows = Manifest.entries
    note = next((mini_corpus / "cases").rglob("*.md"))
    note.write_text(note.read_text() + "\nFollow-up: stable.\n")

    def entries(self, state=None):  # the few rows a killed run left pending may be read whole
        return rows(self, state) if state == PENDING else pytest.fail("read every complete row")

    monkeypatch.setattr(Manifest, "entries", entries)
    report = indexer.ingest([note])
    assert [o.status for o in report.outcomes] == ["updated"]
    assert [o.status for o in indexer.ingest([note]).outcomes] == ["unchanged"]
    gone = next((mini_corpus / "literature").glob("*.md"))
    gone.unlink()
    removed = [o for o in indexer.ingest([mini_corpus]).outcomes if o.status == "removed"]
    assert [o.path for o in removed] == [gone.resolve()]
