"""A sentence-transformers folder in, its transformer as an ONNX file in the cache out (once).

The export runs torch (`torch.onnx.export`) the first time a model is used with the ONNX backend;
every later process only opens the file, with onnxruntime and no torch. An int8 copy is made
from the fp32 file by onnxruntime's dynamic quantisation (weights per output channel; only the
matrix products with a constant weight are quantised). Each file is written into a temporary
folder, checked against torch, and renamed into place, under a lock file, so concurrent processes
export it once and never see half a model. Pooling and normalisation stay outside the graph
(`ingest.onnx_embedder`).
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import re
import shutil
import tempfile
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ingest.config import stable_hash
from ingest.errors import EmbeddingError

log = logging.getLogger(__name__)

OPSET = 17
EXPORT_VERSION = 1  # bump when the exported graph changes: the cache key changes with it
MODEL_FILE = "model.onnx"
INPUTS = ("input_ids", "attention_mask", "token_type_ids")
MAX_EXPORT_ERROR = 1e-3  # largest |onnx - torch| accepted on the check batch (fp32)
_CHECK_TEXTS = (
    "dose",  # one word
    "The diagnosis is confirmed by a rise in a serum marker above the reference range.",
    "The patient failed two earlier treatments. " * 80,  # past the model's length limit
)


def read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise EmbeddingError(f"cannot read {path} ({exc}): is it a sentence-transformers folder?") from exc


def check_mean_pooling(model_dir: Path) -> None:
    """The ONNX backend reproduces mean pooling only; anything else needs sentence-transformers."""
    modules = read_json(model_dir / "modules.json")
    pooling = [m for m in modules if m.get("type", "").endswith(".Pooling")]
    config = read_json(model_dir / pooling[0]["path"] / "config.json") if pooling else {}
    modes = {k for k, v in config.items() if k.startswith("pooling_mode") and v}
    known = {"sentence_transformers.models." + n for n in ("Transformer", "Pooling", "Normalize")}
    if modes != {"pooling_mode_mean_tokens"} or any(m.get("type") not in known for m in modules):
        raise EmbeddingError(
            f"the model at {model_dir} is not transformer + mean pooling (+ normalize), which is all "
            "the ONNX backend runs: set embedding.backend = 'sentence-transformers'"
        )
    if not (model_dir / "tokenizer.json").exists():
        raise EmbeddingError(
            f"the model at {model_dir} has no tokenizer.json (a fast tokenizer), which the ONNX "
            "backend needs: set embedding.backend = 'sentence-transformers'"
        )


def require_folder(model_dir: Path | str) -> Path:
    model_dir = Path(model_dir)
    if not model_dir.is_dir():
        raise EmbeddingError(
            f"no model folder at {model_dir}: the ONNX backend runs the bundled model or a local "
            "sentence-transformers folder (no model hub is reachable here)"
        )
    return model_dir


def export_dir(model_dir: Path, cache_dir: Path, quantize: str) -> Path:
    """Where the export of this model folder (in this variant) lives in the cache."""
    files = sorted(p for p in model_dir.iterdir() if p.is_file())
    key = stable_hash(
        {
            "model": str(model_dir.resolve()),
            "files": [(p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in files],
            "opset": OPSET,
            "version": EXPORT_VERSION,
        },
        length=12,
    )
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", model_dir.name).strip("-") or "model"
    return Path(cache_dir) / "onnx" / f"{slug}-{'fp32' if quantize == 'none' else quantize}-{key}"


def onnx_model(model_dir: Path, cache_dir: Path, quantize: str = "none") -> Path:
    """The ONNX file for `model_dir` (exported, or quantised from the fp32 export, on first use)."""
    model_dir = require_folder(model_dir)
    target = export_dir(model_dir, cache_dir, quantize)
    if (target / MODEL_FILE).exists():
        return target / MODEL_FILE
    check_mean_pooling(model_dir)
    fp32 = onnx_model(model_dir, cache_dir) if quantize != "none" else None
    with _locked(target):
        if not (target / MODEL_FILE).exists():  # another process may have made it meanwhile
            with _staging(target) as staging:
                if fp32 is None:
                    _export(model_dir, staging / MODEL_FILE)
                else:
                    _quantize(fp32, staging / MODEL_FILE, quantize)
    return target / MODEL_FILE


@contextmanager
def _locked(target: Path) -> Iterator[None]:
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target.parent / f".{target.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes, also if the process dies
        yield


@contextmanager
def _staging(target: Path) -> Iterator[Path]:
    """A temporary folder beside `target`, renamed to it (atomically) when the block succeeds."""
    staging = Path(tempfile.mkdtemp(prefix=".export-", dir=target.parent))
    try:
        yield staging
        try:
            staging.rename(target)
        except OSError:
            if not (target / MODEL_FILE).exists():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _export(model_dir: Path, path: Path) -> None:
    log.info("exporting %s to ONNX (once)", model_dir)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    try:
        import torch
        import transformers
    except ImportError as exc:
        raise EmbeddingError(
            f"exporting the model to ONNX needs torch and transformers ({exc}): install them, or set "
            "embedding.backend = 'sentence-transformers'"
        ) from exc
    transformers.logging.set_verbosity_error()
    transformers.logging.disable_progress_bar()
    model = transformers.AutoModel.from_pretrained(str(model_dir), attn_implementation="eager").eval()

    class Encoder(torch.nn.Module):  # keyword arguments: transformers' positional order changes
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids, attention_mask, token_type_ids):
            out = self.model(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            )
            return out.last_hidden_state

    sample = torch.ones(2, 8, dtype=torch.long)
    axes = {name: {0: "batch", 1: "tokens"} for name in (*INPUTS, "last_hidden_state")}
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # tracer and deprecation notices; the check below is the test
        torch.onnx.export(
            Encoder().eval(),  # a new Module is in training mode; export restores that mode after
            (sample, sample.clone(), torch.zeros_like(sample)),
            str(path),
            input_names=list(INPUTS),
            output_names=["last_hidden_state"],
            dynamic_axes=axes,
            opset_version=OPSET,
            dynamo=False,
        )
    _check_against_torch(model_dir, model, path)


def _check_against_torch(model_dir: Path, model, path: Path) -> None:
    """Refuse an export whose outputs differ from torch's on a padded batch of other shapes."""
    import numpy as np
    import torch

    batch = encode_padded(model_dir, list(_CHECK_TEXTS), max_tokens=model.config.max_position_embeddings)
    with torch.no_grad():
        expected = model(**{k: torch.from_numpy(v) for k, v in batch.items()}).last_hidden_state.numpy()
    got = session(path).run(None, batch)[0]
    mask = batch["attention_mask"][..., None].astype(bool)
    error = float(np.abs(np.where(mask, got - expected, 0)).max())
    if error > MAX_EXPORT_ERROR:
        raise EmbeddingError(
            f"the ONNX export of {model_dir} differs from torch by {error:.2g}: set "
            "embedding.backend = 'sentence-transformers'"
        )


def _quantize(source: Path, path: Path, kind: str) -> None:
    log.info("quantising %s to %s (once)", source, kind)
    try:
        from onnxruntime.quantization import QuantType, quantize_dynamic
    except ImportError as exc:
        raise EmbeddingError(f"int8 quantisation needs the onnx package ({exc}): pip install onnx") from exc
    root = logging.getLogger()
    level = root.level
    root.setLevel(max(level, logging.ERROR))  # quantize_dynamic's pre-processing hint
    try:
        quantize_dynamic(
            source,
            path,
            weight_type=QuantType.QInt8,
            per_channel=True,  # per-tensor int8 drops cosine to ~0.93 against fp32; per channel ~0.99
            extra_options={"MatMulConstBOnly": True},  # attention's activation products stay fp32
        )
    finally:
        root.setLevel(level)


def session(path: Path):
    """An onnxruntime session on the CPU, quiet."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def tokenizer(model_dir: Path, max_tokens: int | None):
    """The model's fast tokenizer; truncating to `max_tokens` (special tokens included) or not at all."""
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(Path(model_dir) / "tokenizer.json"))
    tok.no_padding()  # tokenizer.json may carry a fixed padding; batches are padded by us
    if max_tokens is None:
        tok.no_truncation()
    else:
        tok.enable_truncation(max_tokens)
    return tok


def encode_padded(model_dir: Path, texts: list[str], max_tokens: int) -> dict:
    """Token ids, attention mask and token types of `texts`, right-padded to the longest."""
    return pad(tokenizer(model_dir, max_tokens).encode_batch([t.strip() for t in texts]))


def pad(encodings: list) -> dict:
    """The model's inputs for a batch of `tokenizers` encodings, right-padded to the longest."""
    import numpy as np

    width = max(len(e.ids) for e in encodings)
    ids = np.zeros((len(encodings), width), dtype=np.int64)
    mask = np.zeros_like(ids)
    for row, enc in enumerate(encodings):
        ids[row, : len(enc.ids)] = enc.ids
        mask[row, : len(enc.ids)] = 1
    return {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
