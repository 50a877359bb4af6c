"""Parsing files into `Document`s, PDFs in a worker process with a time limit and a memory limit.

A PDF can make pypdf raise anything, loop for minutes or allocate gigabytes. So each PDF is parsed
in a worker process: a fresh interpreter (`python -m ingest.parsing`, spawned, never a fork of a
process that holds torch threads, and without re-importing the caller's main module) talking over
a socket pair with multiprocessing's `Connection`, its address space capped with RLIMIT_AS
(`ingest.parse_memory_mb`). The parent waits at most `ingest.parse_timeout_s` (plus
`ingest.parse_timeout_per_page_s` per page, once the page count is known) and kills the worker
past it. Whatever happens (an exception,
a timeout, a memory blow-up, a crash) becomes that file's `DocumentError`; a fresh worker takes
the next file. Text and Markdown are read in this process; an unexpected error there is also
reported for the file alone.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from ingest.config import IngestSettings
from ingest.documents import Document
from ingest.errors import DocumentError, MalformedPDFError, ParseLimitError, ParserCrashError
from ingest.loaders import PDF_SUFFIXES, SourceFile, load
from ingest.pdf_pages import workers

# A worker is replaced after this many files, like a pool's max_tasks_per_child.
FILES_PER_WORKER = 50
STARTUP_TIMEOUT_S = 120.0
MAX_NOTES, NOTE_CHARS = 3, 160  # pypdf repair notes kept as a document's warnings


@dataclass(frozen=True)
class ParseLimits:
    timeout_s: float = 60.0
    timeout_per_page_s: float = 0.5
    memory_mb: int = 1024
    max_decompressed_mb: int = 200

    @classmethod
    def of(cls, settings: IngestSettings) -> ParseLimits:
        return cls(
            timeout_s=settings.parse_timeout_s,
            timeout_per_page_s=settings.parse_timeout_per_page_s,
            memory_mb=settings.parse_memory_mb,
            max_decompressed_mb=settings.max_decompressed_mb,
        )


def _limit_memory(memory_mb: int) -> None:
    try:
        import resource
    except ImportError:  # not on this platform: the time limit still holds
        return
    limit = memory_mb * 1024 * 1024
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))


def _serve(conn, memory_mb: int) -> None:
    """The worker: parse each (source, options) it is sent, answer with the document or the error."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    _limit_memory(memory_mb)
    try:
        conn.send(("ready", None))
        _answer_jobs(conn, memory_mb)
    except (EOFError, OSError):  # the parent is gone (killed, or done): so is the worker
        return


class _Notes(logging.Handler):
    """pypdf's repair notes ("Advanced encoding ... not implemented") name no file: they become
    warnings of the document being parsed instead of lines on the terminal."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.notes: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        message = " ".join(record.getMessage().split())
        note = f"pypdf: {message[:NOTE_CHARS]}{'…' * (len(message) > NOTE_CHARS)}"
        if note not in self.notes:
            self.notes.append(note)


def _answer_jobs(conn, memory_mb: int) -> None:
    notes = _Notes()
    pypdf_log = logging.getLogger("pypdf")
    pypdf_log.addHandler(notes)
    pypdf_log.propagate = False
    helpers = workers()  # processes reading one long PDF's pages (forked from this one)
    while True:
        job = conn.recv()
        if job is None:
            return
        source, options = job
        notes.notes.clear()
        try:
            doc = load(source, on_pages=lambda n: conn.send(("pages", n)), page_workers=helpers, **options)
            doc.warnings += notes.notes[:MAX_NOTES]
            conn.send(("ok", doc))
        except DocumentError as exc:
            conn.send(("error", exc))
        except MemoryError:
            conn.send(("error", _out_of_memory(source, memory_mb)))
            return  # a process that ran out of memory is not reused
        except Exception as exc:
            conn.send(("error", _unexpected(source, exc)))


def _out_of_memory(source: SourceFile, memory_mb: int) -> ParseLimitError:
    return ParseLimitError(
        source.path,
        f"parsing needed more memory than the limit ({memory_mb} MB); "
        "raise ingest.parse_memory_mb to allow it",
    )


def _unexpected(source: SourceFile, exc: BaseException) -> DocumentError:
    what = f"{type(exc).__name__}: {exc}".strip().rstrip(":")
    if source.path.suffix.lower() in PDF_SUFFIXES:
        return MalformedPDFError(
            source.path, f"malformed PDF: pypdf failed on it ({what}); re-export or repair the file"
        )
    return DocumentError(source.path, f"could not be ingested: reading it failed ({what}); check the file")


class Parser:
    """Parses files; PDFs go to a worker process that is started on first use and replaced after
    a failure. Use it as a context manager so the worker is stopped at the end."""

    def __init__(self, settings: IngestSettings | None = None) -> None:
        self.settings = settings or IngestSettings()
        self.limits = ParseLimits.of(self.settings)
        self._process = None
        self._conn = None
        self._files = 0
        self._ahead: tuple[Path, float] | None = None  # the PDF sent ahead, and when

    def __enter__(self) -> Parser:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _options(self, passwords: list[str], content_hash: str) -> dict[str, Any]:
        return {
            "default_kind": self.settings.default_kind,
            "passwords": passwords,
            "content_hash": content_hash,
            "max_decompressed_mb": self.limits.max_decompressed_mb,
        }

    def send_ahead(self, source: SourceFile, *, passwords: list[str], content_hash: str) -> bool:
        """Start parsing the PDF `source` in the worker and return at once, so that it is parsed
        while this process embeds the file before it; `parse` of the same source then collects it
        (its time limit counts from now). Does nothing (False) for text files, which this process
        reads, or while another file is out. A failure to start the worker is left to `parse`."""
        if source.path.suffix.lower() not in PDF_SUFFIXES or self._ahead is not None:
            return False
        try:
            self._send(source, self._options(passwords, content_hash))
        except DocumentError:
            return False
        self._ahead = (source.path, time.monotonic())
        return True

    def parse(self, source: SourceFile, *, passwords: list[str], content_hash: str) -> Document:
        options = self._options(passwords, content_hash)
        if self._ahead is not None:
            path, sent = self._ahead
            self._ahead = None
            if path == source.path:
                return self._collect(source, sent)
            self._kill()  # not the file sent ahead: its answer is not waited for
        if source.path.suffix.lower() not in PDF_SUFFIXES:
            try:
                return load(source, **options)
            except DocumentError:
                raise
            except Exception as exc:
                raise _unexpected(source, exc) from exc
        return self._in_worker(source, options)

    # --- the worker ---------------------------------------------------------------------------

    def _start(self, source: SourceFile) -> None:
        ours, theirs = socket.socketpair()
        root = str(Path(__file__).resolve().parent.parent)
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")])),
        }
        with theirs:
            process = subprocess.Popen(
                [sys.executable, "-m", "ingest.parsing", str(theirs.fileno()), str(self.limits.memory_mb)],
                pass_fds=(theirs.fileno(),),
                env=env,
                stdin=subprocess.DEVNULL,
            )
        self._process, self._conn, self._files = process, Connection(ours.detach()), 0
        if not self._conn.poll(STARTUP_TIMEOUT_S):
            self._kill()
            raise ParserCrashError(
                source.path, f"the parsing worker did not start within {STARTUP_TIMEOUT_S:.0f} s; try again"
            )
        try:
            self._conn.recv()
        except (EOFError, OSError) as exc:
            code = self._kill()
            raise ParserCrashError(
                source.path, f"the parsing worker exited on start (exit code {code}); try again"
            ) from exc

    def _kill(self) -> int | None:
        process, self._process = self._process, None
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        if process is None:
            return None
        if process.poll() is None:
            process.kill()
        try:
            return process.wait(5)
        except subprocess.TimeoutExpired:
            return None

    def close(self) -> None:
        if self._ahead is not None:  # a file sent ahead and never collected: not waited for
            self._ahead = None
            self._kill()
        if self._process is not None and self._conn is not None:
            try:
                self._conn.send(None)
                self._process.wait(2)
            except (OSError, ValueError, subprocess.TimeoutExpired):
                pass
        self._kill()

    def _in_worker(self, source: SourceFile, options: dict[str, Any]) -> Document:
        self._send(source, options)
        return self._collect(source, time.monotonic())

    def _send(self, source: SourceFile, options: dict[str, Any]) -> None:
        if self._process is None or self._process.poll() is not None:
            self._kill()
            self._start(source)
        try:
            self._conn.send((source, options))
        except OSError as exc:  # the worker died between its start and this file
            raise self._crashed(source, self._kill()) from exc

    def _collect(self, source: SourceFile, started: float) -> Document:
        """The worker's answer for `source`, sent at `started`, within the time limit."""
        conn = self._conn
        if conn is None:  # killed since (a failure, or close)
            raise self._crashed(source, None)
        limit = self.limits.timeout_s
        pages = None
        while True:
            remaining = started + limit - time.monotonic()
            # the limit grows only on a message; an answer already in (sent ahead while this
            # process embedded) is taken even if this process comes for it late
            if not conn.poll(max(remaining, 0)):
                self._kill()
                raise ParseLimitError(source.path, self._too_slow(limit, pages))
            try:
                kind, value = conn.recv()
            except (EOFError, OSError) as exc:
                code = self._kill()
                raise self._crashed(source, code) from exc
            if kind == "pages":
                pages = value
                limit = self.limits.timeout_s + value * self.limits.timeout_per_page_s
                continue
            self._files += 1
            if (kind == "error" and isinstance(value, ParseLimitError)) or self._files >= FILES_PER_WORKER:
                self.close()
            if kind == "ok":
                return value
            raise value

    def _too_slow(self, limit: float, pages: int | None) -> str:
        per_page = self.limits.timeout_per_page_s
        how = (
            f"{self.limits.timeout_s:g} s + {per_page:g} s for each of {pages} pages"
            if pages and per_page
            else "ingest.parse_timeout_s"
        )
        return (
            f"parsing took longer than the limit ({limit:g} s: {how}); "
            "raise ingest.parse_timeout_s to allow it"
        )

    def _crashed(self, source: SourceFile, code: int | None) -> ParserCrashError:
        if code is not None and code < 0:
            try:
                name = signal.Signals(-code).name
            except ValueError:
                name = f"signal {-code}"
            how = f"killed by {name}"
        else:
            how = f"exit code {code}"
        return ParserCrashError(
            source.path,
            f"the parser crashed on it ({how}), probably over the memory limit "
            f"({self.limits.memory_mb} MB); raise ingest.parse_memory_mb, or re-export the file",
        )


if __name__ == "__main__":  # the worker: python -m ingest.parsing FD MEMORY_MB
    _serve(Connection(int(sys.argv[1])), int(sys.argv[2]))
