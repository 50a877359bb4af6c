"""The one place that builds the long-lived parts from settings: store, embedder, indexer, retriever.

Each takes the whole settings object and reads its own groups. Generators are built by
`rag.drafting.build_generator` from the same settings.
"""

from __future__ import annotations

from functools import lru_cache

from ingest.config import EmbeddingSettings
from ingest.embedding import SentenceTransformerEmbedder
from ingest.pipeline import Indexer
from ingest.store import Store
from rag.retrieval.hybrid import Retriever
from rag.settings import Settings


@lru_cache(maxsize=4)
def _embedder(settings: str) -> SentenceTransformerEmbedder:
    # cached by the JSON of the embedding settings: one model load per process
    return SentenceTransformerEmbedder(EmbeddingSettings.model_validate_json(settings))


def build_embedder(settings: Settings) -> SentenceTransformerEmbedder:
    return _embedder(settings.embedding.model_dump_json())


def build_store(settings: Settings) -> Store:
    return Store(settings.store)


def build_retriever(settings: Settings, store: Store | None = None, embedder=None) -> Retriever:
    return Retriever(store or build_store(settings), embedder or build_embedder(settings))


def build_indexer(settings: Settings, store: Store | None = None, embedder=None) -> Indexer:
    return Indexer(
        store or build_store(settings),
        embedder or build_embedder(settings),
        settings.chunking,
        settings.ingest,
    )
