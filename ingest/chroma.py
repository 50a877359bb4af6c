"""Opening a Chroma client (embedded or a server's), quickly and with errors that say what to do."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ingest.config import StoreSettings
from ingest.errors import StoreError, StoreUnavailableError
from ingest.storage import Remote, unreachable


@contextmanager
def _unchecked_overrides() -> Iterator[None]:
    """chromadb marks its methods with `overrides.override`, which checks each signature against
    the base class when the class is defined: a lint for chromadb's developers that costs every
    cold command 0.16 s of a 1 s budget. While chromadb is imported and its client built (it
    imports more modules then), `override` only marks the method, as the check would find it."""
    import overrides

    module = sys.modules["overrides.overrides"]  # the attribute of that name is the function

    def override(method=None, *, check_signature=True, check_at_runtime=False):
        def mark(m):
            m.__override__ = True
            return m

        return mark(method) if method is not None else mark

    names = ("override", "overrides")
    checked = {(where, name): getattr(where, name) for where in (overrides, module) for name in names}
    for where, name in checked:
        setattr(where, name, override)
    try:
        yield
    finally:
        for (where, name), original in checked.items():
            setattr(where, name, original)


def make_client(settings: StoreSettings, folder: Path):
    with _unchecked_overrides():
        return _client(settings, folder)


def _client(settings: StoreSettings, folder: Path):
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    chroma_settings = ChromaSettings(anonymized_telemetry=False, allow_reset=False)
    try:
        if settings.host:
            client = chromadb.HttpClient(
                host=settings.host, port=settings.port, ssl=settings.ssl, settings=chroma_settings
            )
            return Remote(client, f"{settings.host}:{settings.port}")
        return chromadb.PersistentClient(path=str(folder / "chroma"), settings=chroma_settings)
    except Exception as exc:
        where = f"{settings.host}:{settings.port}" if settings.host else str(settings.path)
        if settings.host and unreachable(exc):
            raise StoreUnavailableError(
                f"cannot reach the Chroma server at {where} ({exc}): start it (`chroma run --path DIR "
                f"--host {settings.host} --port {settings.port}`) or check store.host and store.port"
            ) from exc
        raise StoreError(f"cannot open the Chroma store at {where}: {exc}") from exc
