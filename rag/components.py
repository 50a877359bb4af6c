"""The one place that builds the long-lived parts from settings: store, embedder, indexer, retriever.

Each takes the whole settings object and reads its own groups. Generators are built by
`rag.drafting.build_generator` from the same settings.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

from ingest.config import EmbeddingSettings
from ingest.embedding import Embedder, follow_store, make_embedder
from ingest.pipeline import Indexer
from ingest.store import Store
from rag.settings import Settings

if TYPE_CHECKING:  # tantivy loads when a retriever searches, not with this module
    from rag.retrieval.hybrid import Retriever


@lru_cache(maxsize=4)
def _embedder(settings: str) -> Embedder:
    # cached by the JSON of the embedding settings: one model load per process
    return make_embedder(EmbeddingSettings.model_validate_json(settings))


def build_embedder(settings: Settings, store: Store | None = None) -> Embedder:
    """The embedder of `embedding.backend` (ONNX by default); ingest and queries share it. With
    `embedding.quantize = "auto"` (the default) it is the variant `store` was built with (int8 for
    a store that holds nothing yet, or when no store is given): an fp32 store made before int8 was
    the default keeps being queried and extended with fp32."""
    stored = None
    if store is not None and settings.embedding.quantize == "auto":
        stored = store.identity().get("embedding_model")
    return _embedder(follow_store(settings.embedding, stored).model_dump_json())


def build_store(settings: Settings) -> Store:
    return Store(settings.store)


def open_parts(settings: Settings, store: Store | None = None, embedder=None) -> tuple[Store, Embedder]:
    """The store and the embedder. When both are to be opened with the ONNX backend, a thread starts
    the onnxruntime session (it releases the GIL while it builds the graph) while this one imports
    chromadb and opens the store: a cold `meddraft search` waits about 0.1 s less. numpy (which
    onnxruntime imports) is imported here first: two threads importing it at once can give the
    second a half-initialised module ("cannot import name 'NDArray' from partially initialized
    module")."""
    if store is not None or embedder is not None or settings.embedding.backend != "onnx":
        store = store or build_store(settings)
        return store, embedder or build_embedder(settings, store)
    from concurrent.futures import ThreadPoolExecutor

    import numpy  # noqa: F401
    import onnxruntime  # noqa: F401

    guess = build_embedder(settings)  # the new-store variant: a store built before may differ
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="meddraft-onnx") as pool:
        session = pool.submit(lambda: guess.session)
        store = build_store(settings)
        session.result()
    return store, build_embedder(settings, store)


def build_retriever(settings: Settings, store: Store | None = None, embedder=None) -> Retriever:
    from rag.retrieval.hybrid import Retriever

    store, embedder = open_parts(settings, store, embedder)
    return Retriever(store, embedder, fusion=settings.retrieval.fusion)


def build_indexer(settings: Settings, store: Store | None = None, embedder=None) -> Indexer:
    store = store or build_store(settings)
    return Indexer(
        store,
        embedder or build_embedder(settings, store),
        settings.chunking,
        settings.ingest,
    )


def require_store(settings: Settings, fix: str) -> None:
    """Read-only callers never create a store where a path was mistyped: a local store folder that
    does not exist is a `StoreError` that ends with `fix` (what the caller's user should pass)."""
    from pathlib import Path

    from rag.errors import StoreError

    path = Path(settings.store.path)
    if not settings.store.host and not path.exists():
        raise StoreError(
            f"there is no store at {path}: {fix}, or create one with `meddraft ingest PATH --store {path}`"
        )
