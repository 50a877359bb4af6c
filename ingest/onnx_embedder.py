"""The default embedder: the model's ONNX export run by onnxruntime, tokenised by `tokenizers`.

The same pipeline as sentence-transformers for a transformer + mean-pooling model: strip, tokenise
with truncation at the model's `max_seq_length` (special tokens included), run the transformer,
average the token vectors under the attention mask, L2-normalise. No torch is imported unless the
export is missing from the cache (`ingest.onnx_export`). Texts are sorted by token length and
embedded in batches under a padded-token budget (`length_batches`), then returned in the order given.

Identity: the fp32 export gives the same vectors as sentence-transformers (cosine ≥ 0.9999 per
text, tested), so a store built with either backend is queried with the other under the same
model name. The int8 copy's vectors differ (cosine about 0.98-0.99), so its name carries
`+onnx-int8` and a store built with it refuses queries from the fp32 model, and the reverse.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from functools import cached_property
from pathlib import Path

from ingest.config import EmbeddingSettings
from ingest.embedding import follow_store, model_name, resolve_model, variant_name
from ingest.onnx_export import onnx_model, pad, read_json, require_folder, session, tokenizer

TOKEN_BUDGET = 8192  # padded tokens per model call: short texts go in larger batches


def length_batches(lengths: Sequence[int], batch_size: int, budget: int = TOKEN_BUDGET) -> list[list[int]]:
    """Indexes of `lengths` sorted by length, cut into batches of at most `budget` padded tokens
    (rows × longest) and at most 4 × `batch_size` rows, never empty: padding waste stays small
    and the model sees few, well-filled calls."""
    order = sorted(range(len(lengths)), key=lengths.__getitem__)
    batches: list[list[int]] = []
    for i in order:
        current = batches[-1] if batches else None
        if current and len(current) < 4 * batch_size and (len(current) + 1) * lengths[i] <= budget:
            current.append(i)
        else:
            batches.append([i])
    return batches


class OnnxEmbedder:
    """onnxruntime session and tokenizer, loaded on first use, normalised embeddings on CPU."""

    def __init__(self, settings: EmbeddingSettings) -> None:
        self.settings = settings = follow_store(settings, None)
        self.name = variant_name(model_name(settings), settings.quantize)
        self._folder: Path | None = None
        self._session = None
        self._tokenizer = None
        self._counter = None

    @property
    def folder(self) -> Path:
        """The sentence-transformers folder (the bundled model is extracted on first use)."""
        if self._folder is None:
            self._folder = require_folder(resolve_model(self.settings))
        return self._folder

    @property
    def session(self):
        if self._session is None:
            os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
            path = onnx_model(self.folder, self.settings.cache_dir, self.settings.quantize)
            self._session = session(path)
        return self._session

    @property
    def exact_in_batches(self) -> bool:
        """Whether a text's vector is the same in any batch. Dynamic int8 quantisation scales each
        activation tensor by its largest value, so a text batched with others (or with their
        padding) gets a slightly different vector (up to 0.02 per component, measured): the int8
        model embeds one text per call, which keeps every vector reproducible and still runs at
        about 1.8× the fp32 model's batched speed (11,150 against 6,193 tokens/s on SciFact)."""
        return self.settings.quantize == "none"

    @cached_property
    def dimension(self) -> int:
        return int(read_json(self.folder / "config.json")["hidden_size"])

    @cached_property
    def max_tokens(self) -> int:
        config = self.folder / "sentence_bert_config.json"
        limit = read_json(config).get("max_seq_length") if config.exists() else None
        ceiling = int(read_json(self.folder / "config.json")["max_position_embeddings"])
        return min(int(limit or ceiling), ceiling)

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        if not texts:
            return []
        if self._counter is None:
            self._counter = tokenizer(self.folder, None)
        return [len(e.ids) for e in self._counter.encode_batch(list(texts), add_special_tokens=False)]

    def encode(self, texts: Sequence[str]) -> list:
        """The model's `tokenizers` encodings of `texts` (stripped, truncated, special tokens in)."""
        if self._tokenizer is None:
            self._tokenizer = tokenizer(self.folder, self.max_tokens)
        return self._tokenizer.encode_batch([t.strip() for t in texts])  # as sentence-transformers

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        if not texts:
            return []
        return self.embed_encoded(self.encode(texts)).tolist()

    def embed_encoded(self, encodings: Sequence):
        """Normalised vectors (a float32 array, in the order given) of pre-tokenised texts; the
        model alone, which is what the ingest benchmark measures as its ceiling."""
        import numpy as np

        out = np.empty((len(encodings), self.dimension), dtype=np.float32)
        wanted = {i.name for i in self.session.get_inputs()}
        lengths = [len(e.ids) for e in encodings]
        batches = (
            length_batches(lengths, self.settings.batch_size)
            if self.exact_in_batches
            else [[i] for i in range(len(lengths))]
        )
        for rows in batches:
            batch = pad([encodings[i] for i in rows])
            hidden = self.session.run(None, {k: v for k, v in batch.items() if k in wanted})[0]
            mask = batch["attention_mask"][..., None].astype(np.float32)
            pooled = (hidden * mask).sum(axis=1) / np.clip(mask.sum(axis=1), 1e-9, None)
            norms = np.linalg.norm(pooled, axis=1, keepdims=True)
            out[rows] = pooled / np.clip(norms, 1e-12, None)
        return out
