"""Where a store lives: its local folder (created when missing, checked for write access, copied
when this process may only read it, since Chroma writes its database even to read) or a Chroma
server (a lost connection becomes one clear error)."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from ingest.errors import StoreError, StoreUnavailableError


def writable(folder: Path) -> bool:
    """Whether this process may write the store folder and the files Chroma and the manifest
    write in place (as root without CAP_DAC_OVERRIDE, too: access(2) asks the kernel)."""
    paths = [folder, folder / "chroma", folder / "chroma" / "chroma.sqlite3", folder / "manifest.sqlite"]
    return all(os.access(p, os.W_OK) for p in paths if p.exists())


def local_folder(path: Path) -> Path:
    """The store folder, created when missing; a clear error when it cannot be."""
    if path.exists() and not path.is_dir():
        raise StoreError(
            f"the store path {path} is a file, not a folder: pass --store a folder "
            "(meddraft creates it when it does not exist)"
        )
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreError(
            f"cannot create the store folder {path} ({exc.strerror or exc}): pass --store a folder "
            "you can write to"
        ) from exc
    return path


def snapshot(folder: Path) -> tempfile.TemporaryDirectory:
    """A private copy of a read-only store, so that Chroma (which writes its database even to
    read) can open it; removed when the process ends."""
    tmp = tempfile.TemporaryDirectory(prefix="meddraft-readonly-")
    copy = Path(tmp.name) / "store"
    ignore = shutil.ignore_patterns("*.lock", "llm-failures")
    shutil.copytree(folder, copy, ignore=ignore, copy_function=shutil.copyfile)
    for path in (copy, *copy.rglob("*")):  # copytree keeps the folders' read-only modes
        path.chmod(0o700 if path.is_dir() else 0o600)
    return tmp


def unreachable(exc: BaseException) -> bool:
    """Whether an exception from the Chroma client means the server could not be reached."""
    import httpx

    return isinstance(exc, httpx.TransportError) or (
        isinstance(exc, ValueError) and "could not connect" in str(exc).lower()
    )


class Remote:
    """A Chroma client, or a collection, on a server. A lost connection (the server stopped,
    restarted or unreachable) becomes one clear `StoreUnavailableError` instead of an httpx
    traceback; everything else passes through unchanged."""

    _OPENS = frozenset({"get_collection", "get_or_create_collection", "create_collection"})

    def __init__(self, target: Any, where: str) -> None:
        self._target, self._where = target, where

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._target, name)
        if not callable(attr):
            return attr

        def call(*args: Any, **kwargs: Any) -> Any:
            try:
                result = attr(*args, **kwargs)
            except Exception as exc:
                if unreachable(exc):
                    raise StoreUnavailableError(
                        f"lost the Chroma server at {self._where} ({type(exc).__name__}: {exc}): start it "
                        "again and re-run the command (an interrupted ingest is completed on the next "
                        "run; nothing half-written is kept)"
                    ) from exc
                raise
            return Remote(result, self._where) if name in self._OPENS else result

        return call
