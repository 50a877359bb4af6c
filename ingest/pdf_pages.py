"""A long PDF's pages read by forked helpers of the parsing worker, each taking a share.

pypdf extracts text page by page in pure Python (the 940-page WHO report: about 50 s on one
core), and once the reader has the file no page depends on another. So the parsing worker, a
fresh single-threaded interpreter and therefore safe to fork, forks helpers after opening the PDF:
each inherits the open reader, extracts its share of the pages and sends the texts back through a
pipe, while the worker extracts the first share. A helper that fails in any way (an exception, a
crash, the memory limit) is not trusted: the worker reads its pages again itself, so a bad page
fails the file exactly as a serial parse would, with the same message. Helpers die with the
worker (Linux `PR_SET_PDEATHSIG`) when meddraft kills it past its time limit. pypdf's repair
notes logged in a helper are logged again in the worker, which keeps them as warnings.

multiprocessing is not used: its pool would pickle the reader (or reopen and re-decrypt the file)
for every task, and its workers outlive a killed parent; one `os.fork` per share inherits the
parsed reader for free.
"""

from __future__ import annotations

import logging
import os
import pickle
import signal
from collections.abc import Callable, Sequence

MIN_PAGES = 64  # shorter PDFs are read by the worker alone
PR_SET_PDEATHSIG = 1


def workers() -> int:
    """Processes that read one PDF's pages: one per core, at most two."""
    return max(1, min(2, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1))


def read_pages(pages: Sequence, read: Callable, helpers: int, min_pages: int = MIN_PAGES) -> list[str]:
    """`read(page)` for every page, in order; with `helpers` > 1 and at least `min_pages` pages,
    the later shares are read by forked helpers at the same time."""
    n = len(pages)
    if helpers <= 1 or n < min_pages or not hasattr(os, "fork"):
        return [read(page) for page in pages]
    bounds = [n * i // helpers for i in range(helpers + 1)]
    shares = [(bounds[i], bounds[i + 1]) for i in range(1, helpers)]
    forked = [_fork(pages, read, start, end) for start, end in shares]
    texts = [read(pages[i]) for i in range(bounds[0], bounds[1])]
    for (start, end), helper in zip(shares, forked, strict=True):
        got = _collect(*helper) if helper else None
        if got is None or len(got) != end - start:  # the helper failed: read its share here
            got = [read(pages[i]) for i in range(start, end)]
        texts += got
    return texts


class _Kept(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def _fork(pages: Sequence, read: Callable, start: int, end: int) -> tuple[int, int] | None:
    """(pid, read end of the pipe) of a helper reading pages[start:end], or None if none started."""
    parent = os.getpid()
    readable, writable = os.pipe()
    try:
        pid = os.fork()
    except OSError:  # no process to spare (or no memory to fork): the worker reads the share
        os.close(readable)
        os.close(writable)
        return None
    if pid == 0:  # the helper: never returns
        status = 1
        try:
            os.close(readable)
            _die_with(parent)
            kept = _Kept()
            logging.getLogger("pypdf").addHandler(kept)
            payload = pickle.dumps(([read(pages[i]) for i in range(start, end)], kept.messages))
            with os.fdopen(writable, "wb") as out:
                out.write(payload)
            status = 0
        finally:
            os._exit(status)
    os.close(writable)
    return pid, readable


def _collect(pid: int, readable: int) -> list[str] | None:
    """The helper's texts, or None when it failed (its pages are then read by the caller)."""
    with os.fdopen(readable, "rb") as pipe:
        data = pipe.read()
    _, status = os.waitpid(pid, 0)
    if not os.WIFEXITED(status) or os.WEXITSTATUS(status) != 0:
        return None
    try:
        texts, messages = pickle.loads(data)
    except Exception:  # a truncated answer: not trusted
        return None
    for message in messages:  # into the worker's own handler, which keeps them as warnings
        logging.getLogger("pypdf").warning("%s", message)
    return texts


def _die_with(parent: int) -> None:
    """End this helper when its parent dies (killed past the time limit)."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):  # not Linux: the helper ends when its share is read
        pass
    if os.getppid() != parent:  # the parent died before the call above
        os._exit(1)
