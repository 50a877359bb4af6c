"""Settings groups that ingestion needs; `rag.settings.Settings` composes them into one tree.

They live here so that `ingest` never imports `rag` (the data flows ingest -> store <- rag).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from ingest.documents import Kind

BUNDLED_MODEL = "all-MiniLM-L6-v2"


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "meddraft"


class _Group(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class StoreSettings(_Group):
    path: Path = Field(Path(".meddraft"), description="Folder of the embedded store and sessions.")
    host: str | None = Field(
        None, description="Chroma server host; when set, the HTTP client is used instead."
    )
    port: int = Field(8000, description="Chroma server port.")
    ssl: bool = Field(False, description="Use HTTPS for the Chroma server.")
    collection: str = Field("meddraft", description="Chroma collection holding the chunks.")


class EmbeddingSettings(_Group):
    model: str = Field(
        BUNDLED_MODEL,
        description="sentence-transformers model name or local path; the default is bundled.",
    )
    cache_dir: Path = Field(
        default_factory=default_cache_dir,
        description="Where the bundled model is extracted once.",
    )
    batch_size: int = Field(32, ge=1, description="Texts per embedding batch.")
    device: str = Field("cpu", description="torch device (sentence-transformers backend only).")
    backend: Literal["onnx", "sentence-transformers"] = Field(
        "onnx",
        description="What runs the model: 'onnx' (onnxruntime, no torch; the model is exported to "
        "ONNX once into cache_dir) or 'sentence-transformers' (torch). Ingest and queries use the "
        "same one.",
    )
    quantize: Literal["auto", "none", "int8"] = Field(
        "auto",
        description="ONNX backend only: 'int8' runs a dynamically int8-quantised copy (about twice "
        "as fast; its vectors differ, so it is part of the store's model identity: a store is "
        "queried as it was built); 'none' the fp32 export. 'auto' follows the store: the model "
        "it records, int8 for a new store (fp32 with the sentence-transformers backend).",
    )


class ChunkingSettings(_Group):
    target_tokens: int = Field(
        160, ge=16, description="Chunks are packed up to this many tokens when structure allows."
    )
    max_tokens: int | None = Field(
        None,
        ge=16,
        description="Hard cap per embedded chunk; default and upper bound: the model's maximum.",
    )


class IngestSettings(_Group):
    default_kind: Kind = Field("study", description="Kind of a document whose metadata does not name one.")
    passwords: list[str] = Field(
        default_factory=list, description="Passwords tried on encrypted PDFs (after the empty one)."
    )
    upsert_batch: int = Field(256, ge=1, description="Chunks per store write.")
    parse_timeout_s: float = Field(
        60.0,
        gt=0,
        description="Wall-clock seconds a PDF may take to parse (plus parse_timeout_per_page_s per "
        "page); past it the worker is killed and the file is reported.",
    )
    parse_timeout_per_page_s: float = Field(
        0.5, ge=0, description="Seconds added to parse_timeout_s for each page of the PDF."
    )
    parse_memory_mb: int = Field(
        1024,
        ge=256,
        description="Address-space limit (MB) of the worker process that parses PDFs (RLIMIT_AS).",
    )
    max_decompressed_mb: int = Field(
        200,
        ge=1,
        description="Largest stream (MB) pypdf may decompress or read from a PDF; larger streams "
        "(decompression bombs) fail that file.",
    )


def stable_hash(payload: object, length: int = 16) -> str:
    """Short sha256 of a JSON-serialisable payload (sorted keys)."""
    data = json.dumps(payload, sort_keys=True, default=str).encode()
    return hashlib.sha256(data).hexdigest()[:length]
