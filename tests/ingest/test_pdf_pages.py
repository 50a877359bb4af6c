"""A long PDF's pages read by forked helpers give the serial text, fall back when a helper fails,
and die with the parsing worker (real PDFs, real forks)."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pypdf
import pytest

from ingest.config import IngestSettings
from ingest.loaders import SourceFile, _page_text, load
from ingest.parsing import Parser
from ingest.pdf_pages import read_pages
from tests.conftest import REPO

LABEL = "pdfs/medical_text/fda_warfarin_label_2025.pdf"  # 44 pages
LIST = "pdfs/medical_text/who_essential_medicines_2023.pdf"  # 71 pages: read in helpers by the worker


@pytest.fixture
def pages(shared_data):
    return pypdf.PdfReader(shared_data / LABEL).pages


def test_helpers_give_the_serial_text_in_order(pages):
    serial = [_page_text(p) for p in pages]
    assert read_pages(pages, _page_text, 2, min_pages=2) == serial
    assert read_pages(pages, _page_text, 3, min_pages=2) == serial


def test_a_failed_helper_share_is_read_again_by_the_worker(pages):
    me = os.getpid()

    def fails_in_a_helper(page):
        if os.getpid() != me:
            raise RuntimeError("helper broke")
        return _page_text(page)

    assert read_pages(pages, fails_in_a_helper, 2, min_pages=2) == [_page_text(p) for p in pages]


def test_a_bad_page_fails_as_in_a_serial_read(pages):
    bad = pages[40]

    def read(page):
        if page.indirect_reference == bad.indirect_reference:
            raise ValueError("broken content stream")
        return _page_text(page)

    with pytest.raises(ValueError, match="broken content stream"):
        read_pages(pages, read, 2, min_pages=2)


def test_pypdf_notes_of_a_helper_reach_the_worker(pages):
    me = os.getpid()
    kept: list[str] = []
    handler = logging.Handler(logging.WARNING)
    handler.emit = lambda record: kept.append(record.getMessage())
    log = logging.getLogger("pypdf")
    log.addHandler(handler)

    def read(page):
        if os.getpid() != me:
            log.warning("repaired an xref entry")
        return _page_text(page)

    try:
        read_pages(pages, read, 2, min_pages=2)
    finally:
        log.removeHandler(handler)
    assert "repaired an xref entry" in kept


def test_the_parsing_worker_reads_a_long_pdf_as_a_serial_load(shared_data):
    source = SourceFile(shared_data / LIST, None)
    with Parser(IngestSettings()) as parser:
        parsed = parser.parse(source, passwords=[], content_hash="h")
    serial = load(source, content_hash="h")
    assert len(serial.pages) >= 64 and parsed.text == serial.text and parsed.pages == serial.pages


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"  # a zombie has ended; only its exit status waits to be read


def test_helpers_die_with_a_killed_worker(tmp_path, shared_data):
    marker = tmp_path / "helper.pid"
    script = textwrap.dedent(
        f"""
        import os, time, pypdf
        from ingest.pdf_pages import read_pages
        me = os.getpid()
        def read(page):
            if os.getpid() != me:
                open({str(marker)!r}, "w").write(str(os.getpid()))
                time.sleep(120)
            return ""
        read_pages(pypdf.PdfReader({str(shared_data / LABEL)!r}).pages, read, 2, min_pages=2)
        """
    )
    worker = subprocess.Popen(
        [sys.executable, "-c", script], cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)}
    )
    deadline = time.monotonic() + 60
    while not (marker.exists() and marker.read_text()) and time.monotonic() < deadline:
        time.sleep(0.1)
    helper = int(marker.read_text())
    assert _alive(helper)
    worker.send_signal(signal.SIGKILL)  # what the parser does past the time limit
    worker.wait(10)
    deadline = time.monotonic() + 10
    while _alive(helper) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _alive(helper)
