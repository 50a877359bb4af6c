"""Bad PDFs fail alone: parsed in a worker process with time and memory limits, each failure is
one clear sentence, and the good files of the same batch land (real PDFs, real subprocesses)."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from ingest.config import IngestSettings
from ingest.errors import MalformedPDFError, ParseLimitError, ParserCrashError, UnsupportedPDFError
from ingest.loaders import SourceFile, load
from ingest.manifest import Manifest
from ingest.parsing import Parser
from ingest.store import Store
from tests.conftest import REPO
from tests.ingest.pdfs import bomb_pdf, text_pdf, unsupported_filter_pdf

LINES = [
    f"Widgetumab review, paragraph {n}: the widget score fell from 18 to 9 by week {n}." for n in range(20)
]
WHO = "who_selection_and_use_of_essential_medicine_2023.pdf"  # 940 pages: about a minute to parse
MEDICAL = "pdfs/medical_text"


def _src(path: Path) -> SourceFile:
    return SourceFile(path, path.parent)


def test_pypdf_limits_follow_max_decompressed_mb(tmp_path):
    bomb = tmp_path / "bomb.pdf"
    bomb.write_bytes(bomb_pdf(30))  # 30 MB of zeros in about 30 KB
    with pytest.raises(ParseLimitError) as caught:
        load(_src(bomb), max_decompressed_mb=20)
    assert caught.value.message.startswith("compressed stream larger than the limit (20 MB once decompressed")
    assert caught.value.message.endswith("raise ingest.max_decompressed_mb to allow it")
    # with the limit raised the stream is read: zeros are no text, which is the next complaint
    with pytest.raises(Exception) as raised:
        load(_src(bomb), max_decompressed_mb=40)
    assert not isinstance(raised.value, ParseLimitError)
    assert "no text layer" in str(raised.value)


def test_unsupported_filter_and_truncation_are_one_sentence_each(tmp_path, shared_data):
    odd = tmp_path / "odd.pdf"
    odd.write_bytes(unsupported_filter_pdf(LINES))
    with pytest.raises(UnsupportedPDFError) as caught:
        load(_src(odd))
    assert caught.value.message == (
        "unsupported PDF feature (Unsupported filter /MeddraftTestDecode); re-export the file "
        "(e.g. print it to PDF) and ingest it again"
    )
    data = (shared_data / MEDICAL / "fda_ibuprofen_label_2024.pdf").read_bytes()
    cut = tmp_path / "cut.pdf"
    cut.write_bytes(data[: len(data) // 3])
    with pytest.raises(MalformedPDFError) as broken:
        load(_src(cut))
    assert broken.value.message.count("malformed PDF") == 1
    assert broken.value.message.endswith("re-export or repair the file")


def test_memory_limit_fails_the_file_and_a_fresh_worker_takes_the_next(tmp_path):
    bomb = tmp_path / "bomb.pdf"
    bomb.write_bytes(bomb_pdf(400))
    good = tmp_path / "good.pdf"
    good.write_bytes(text_pdf(LINES))
    settings = IngestSettings(parse_memory_mb=256, max_decompressed_mb=1000)
    with Parser(settings) as parser:
        with pytest.raises(ParseLimitError) as caught:
            parser.parse(_src(bomb), passwords=[], content_hash="h")
        assert caught.value.message == (
            "parsing needed more memory than the limit (256 MB); raise ingest.parse_memory_mb to allow it"
        )
        doc = parser.parse(_src(good), passwords=[], content_hash="h")
    assert "paragraph 19" in doc.text and doc.pages[0].number == 1


def test_a_worker_that_dies_fails_only_its_file(tmp_path, shared_data):
    big = shared_data / MEDICAL / WHO
    good = tmp_path / "good.pdf"
    good.write_bytes(text_pdf(LINES))
    with Parser(IngestSettings()) as parser:
        parser.parse(_src(good), passwords=[], content_hash="h")  # the worker is up
        pid = parser._process.pid
        threading.Timer(2.0, os.kill, (pid, signal.SIGKILL)).start()  # an OOM killer's visit
        started = time.monotonic()
        with pytest.raises(ParserCrashError, match=r"the parser crashed on it \(killed by SIGKILL\)"):
            parser.parse(_src(big), passwords=[], content_hash="h")
        assert time.monotonic() - started < 30
        assert "paragraph 3" in parser.parse(_src(good), passwords=[], content_hash="h").text


def _batch(tmp_path: Path, mini_corpus: Path, shared_data: Path) -> tuple[Path, dict[str, str]]:
    """The mini corpus plus two good PDFs and five bad ones; returns the folder and, per bad
    file, the start of the sentence it must fail with."""
    folder = mini_corpus
    pdfs = folder / "pdfs"
    pdfs.mkdir()
    shutil.copy(shared_data / MEDICAL / "fda_ibuprofen_label_2024.pdf", pdfs / "ibuprofen.pdf")
    (pdfs / "widget-review.pdf").write_bytes(text_pdf(LINES))
    data = (shared_data / MEDICAL / "fda_ibuprofen_label_2024.pdf").read_bytes()
    (pdfs / "truncated.pdf").write_bytes(data[: len(data) // 3])
    shutil.copy(shared_data / "pdfs/robustness/encrypted_aes128_user_password.pdf", pdfs / "encrypted.pdf")
    (pdfs / "odd-filter.pdf").write_bytes(unsupported_filter_pdf(LINES))
    (pdfs / "bomb.pdf").write_bytes(bomb_pdf(256))
    shutil.copy(shared_data / MEDICAL / WHO, pdfs / "slow.pdf")
    bad = {
        "truncated.pdf": "malformed PDF (PdfStreamError: Stream has ended unexpectedly); re-export or repair",
        "encrypted.pdf": "encrypted PDF and no password was given: pass the user password with --password",
        "odd-filter.pdf": "unsupported PDF feature (Unsupported filter /MeddraftTestDecode)",
        "bomb.pdf": "compressed stream larger than the limit (200 MB once decompressed; pypdf: Limit reached",
        "slow.pdf": "parsing took longer than the limit (8 s: ingest.parse_timeout_s); raise "
        "ingest.parse_timeout_s to allow it",
    }
    return folder, bad


@pytest.mark.slow
def test_a_batch_with_bad_pdfs_lands_every_good_file_and_exits_3(tmp_path, mini_corpus, shared_data):
    folder, bad = _batch(tmp_path, mini_corpus, shared_data)
    store = tmp_path / "store"
    env = {
        **os.environ,
        "ANONYMIZED_TELEMETRY": "False",
        "MEDDRAFT_INGEST__PARSE_TIMEOUT_S": "8",  # the 940-page report needs about a minute
        "MEDDRAFT_INGEST__PARSE_TIMEOUT_PER_PAGE_S": "0",
    }
    run = subprocess.run(
        [sys.executable, "-m", "rag.cli", "ingest", str(folder), "--store", str(store), "--quiet"],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=600,
    )
    assert run.returncode == 3, run.stderr
    assert "Traceback" not in run.stderr
    failed = {}
    for line in run.stderr.splitlines():
        if match := re.match(r"FAILED  (.+?): (.*)$", line):
            failed[Path(match.group(1)).name] = match.group(2)
    assert set(failed) == set(bad)
    for name, start in bad.items():
        assert failed[name].startswith(start), (name, failed[name])
        first = failed[name].split(" (")[0]
        assert failed[name].count(first) == 1, failed[name]  # no 'malformed PDF: malformed PDF'
    summary = [line for line in run.stderr.splitlines() if "did not land" in line]
    assert summary and all(name in summary[0] for name in bad) and summary[0].startswith("5 files")

    landed = {
        "policy-widgetumab",
        "review-widgetumab-2024",
        "case-a-clinic-2025-01-02",
        "case-b-clinic-2025-02-03",
        "pdfs-ibuprofen",
        "pdfs-widget-review",
    }
    manifest = Manifest(store, "meddraft")
    entries = manifest.entries()
    manifest.close()
    assert set(entries) == landed and all(e.complete for e in entries.values())
    from ingest.config import StoreSettings

    chunks = Store(StoreSettings(path=store)).get()
    assert {c.metadata["doc_id"] for c in chunks} == landed
    assert len(chunks) == sum(e.n_chunks for e in entries.values())

    status = subprocess.run(
        [sys.executable, "-m", "rag.cli", "status", "--store", str(store), "--verify", "--format", "json"],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=300,
    )
    assert status.returncode == 0, status.stderr
    assert json.loads(status.stdout)["problems"] == []


def test_every_mutant_of_a_real_pdf_parses_or_fails_with_a_document_error(tmp_path, shared_data):
    """Byte-mutated copies of a real label: none may escape as another exception type."""
    import random

    from ingest.errors import DocumentError

    original = (shared_data / MEDICAL / "fda_ibuprofen_label_2024.pdf").read_bytes()
    rng = random.Random(15)
    outcomes: dict[str, int] = {}
    with Parser(IngestSettings(parse_timeout_s=30)) as parser:
        for n in range(60):
            data = bytearray(original)
            for _ in range(rng.randint(1, 20)):
                data[rng.randrange(len(data))] = rng.randrange(256)
            mutant = tmp_path / f"mutant-{n}.pdf"
            mutant.write_bytes(bytes(data))
            try:
                doc = parser.parse(_src(mutant), passwords=[], content_hash="h")
                outcomes["parsed"] = outcomes.get("parsed", 0) + 1
                assert all(len(w) < 300 for w in doc.warnings)  # pypdf's notes, attributed and short
            except DocumentError as exc:
                outcomes[type(exc).__name__] = outcomes.get(type(exc).__name__, 0) + 1
                first = exc.message.split(" (")[0].split(":")[0]
                assert exc.message.count(first) == 1, exc.message
    assert outcomes.get("parsed", 0) > 10 and outcomes.get("MalformedPDFError", 0) > 10, outcomes
