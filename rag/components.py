"""The one place that builds the long-lived parts from settings: store, embedder, indexer."""

from __future__ import annotations

from functools import lru_cache

from ingest.config import EmbeddingSettings
from ingest.embedding import SentenceTransformerEmbedder
from ingest.pipeline import Indexer
from ingest.store import Store
from rag.settings import Settings


@lru_cache(maxsize=4)
def _embedder(settings: str) -> SentenceTransformerEmbedder:
    # cached by the JSON of the embedding settings: one model load per process
    return SentenceTransformerEmbedder(EmbeddingSettings.model_validate_json(settings))


def build_embedder(settings: Settings) -> SentenceTransformerEmbedder:
    return _embedder(settings.embedding.model_dump_json())


def build_store(settings: Settings) -> Store:
    return Store(settings.store)


def build_generator(settings: Settings, *, hooks=None):
    """The generator the settings name; a model only when one is configured (never a fallback)."""
    if settings.generator_name() == "openai":
        from rag.llm_draft import OpenAIGenerator  # imports openai only when a model is used

        return OpenAIGenerator(settings.llm, hooks=hooks)
    from rag.extractive import ExtractiveGenerator

    return ExtractiveGenerator()


def build_indexer(settings: Settings, store: Store | None = None, embedder=None) -> Indexer:
    return Indexer(
        store or build_store(settings),
        embedder or build_embedder(settings),
        settings.chunking,
        settings.ingest,
    )
