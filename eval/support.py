"""How well the deterministic citation-support check (`eval.metrics.supports`) finds evidence.

Gold: SciFact's rationale sentences. For every claim and every abstract it cites, each sentence
of the abstract is a candidate; it is positive when SciFact lists it as evidence (SUPPORT or
CONTRADICT: the sentence is about the claim's content). The prediction is
`supports(claim, sentence, min_overlap=t)` for a few thresholds t.

    meddraft eval support --scifact ../shared/data/scifact --format json
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from eval.beir import scifact_claims, scifact_corpus, shared_data_dir
from eval.metrics import supports
from eval.options import add_format_args, output_format
from rag import MeddraftError, Settings

THRESHOLDS = (0.25, 0.3, 0.5)  # 0.25: what citation_precision uses; 0.5: the default (recall)
DEFAULT = 0.5
LABELS = ("SUPPORT", "CONTRADICT")


def prf(tp: int, fp: int, fn: int) -> dict[str, float]:
    """Precision, recall and F1 from counts (0 where undefined)."""
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": round(precision, 4), "recall": round(recall, 4), "f1": round(f1, 4)}


def gold_sentences(evidence: dict[str, Any]) -> dict[str, dict[int, str]]:
    """doc id -> sentence index -> label, from a SciFact claim's `evidence`."""
    out: dict[str, dict[int, str]] = {}
    for doc_id, rationales in (evidence or {}).items():
        for rationale in rationales:
            if rationale.get("label") in LABELS:
                for index in rationale.get("sentences", []):
                    out.setdefault(str(doc_id), {})[int(index)] = rationale["label"]
    return out


def candidate_pairs(scifact_folder: Path | str, split: str = "dev") -> list[tuple[str, str, str | None]]:
    """(claim, sentence, gold label or None) for every sentence of every cited abstract."""
    folder = Path(scifact_folder)
    corpus = scifact_corpus(folder)
    pairs: list[tuple[str, str, str | None]] = []
    for number, claim in scifact_claims(folder, split):
        gold = gold_sentences(claim.get("evidence") or {})
        for doc_id in map(str, claim.get("cited_doc_ids") or []):
            if doc_id not in corpus:
                raise MeddraftError(
                    f"{folder}/claims/claims_{split}.jsonl:{number}: cited document {doc_id} is not in "
                    "corpus.jsonl"
                )
            labels = gold.get(doc_id, {})
            pairs += [(claim["claim"], s, labels.get(i)) for i, s in enumerate(corpus[doc_id][1])]
    return pairs


def score(pairs: Sequence[tuple[str, str, str | None]], min_overlap: float) -> dict[str, Any]:
    tp = fp = fn = tn = 0
    found = dict.fromkeys(LABELS, 0)
    for claim, sentence, label in pairs:
        predicted = supports(claim, sentence, min_overlap=min_overlap)
        if label and predicted:
            tp += 1
            found[label] += 1
        elif label:
            fn += 1
        elif predicted:
            fp += 1
        else:
            tn += 1
    totals = {lab: sum(1 for *_, g in pairs if g == lab) for lab in LABELS}
    return {
        **prf(tp, fp, fn),
        "tp": tp,
        "fp": fp,
        "fn": fn,
        "tn": tn,
        "predicted_positive_rate": round((tp + fp) / len(pairs), 4) if pairs else 0.0,
        "recall_by_label": {
            lab: round(found[lab] / totals[lab], 4) if totals[lab] else 0.0 for lab in LABELS
        },
    }


def evaluate_support(
    scifact_folder: Path | str, split: str = "dev", thresholds: Sequence[float] = THRESHOLDS
) -> dict[str, Any]:
    """P/R/F1 of `supports` against SciFact rationale sentences, at `DEFAULT` and each threshold."""
    folder = Path(scifact_folder)
    claims = scifact_claims(folder, split)
    pairs = candidate_pairs(folder, split)
    if not pairs:
        raise MeddraftError(f"no cited abstracts in {folder}/claims/claims_{split}.jsonl: nothing to score")
    positives = sum(1 for *_, label in pairs if label)
    variants = {str(t): score(pairs, t) for t in sorted({*thresholds, DEFAULT})}
    return {
        **{k: variants[str(DEFAULT)][k] for k in ("precision", "recall", "f1", "tp", "fp", "fn", "tn")},
        "min_overlap": DEFAULT,
        "split": split,
        "claims": len(claims),
        "claims_citing": sum(1 for _, c in claims if c.get("cited_doc_ids")),
        "pairs": len(pairs),
        "positives": positives,
        "base_rate": round(positives / len(pairs), 4),
        "variants": variants,
    }


# --- command line ---------------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--scifact", metavar="DIR", help="SciFact folder (default: the shared data)")
    parser.add_argument("--split", choices=["dev", "train"], default="dev", help="claims file to score")
    add_format_args(parser)


def run(args: argparse.Namespace, settings: Settings, out: Console) -> int:
    folder = Path(args.scifact) if args.scifact else shared_data_dir() / "scifact"
    result = evaluate_support(folder, args.split)
    if output_format(args) == "json":
        out.print_json(json.dumps(result))
        return 0
    table = Table(
        title=f"supports() vs SciFact {args.split} rationales: {result['pairs']} sentences, "
        f"base rate {result['base_rate']:.3f}"
    )
    for column in ("min_overlap", "precision", "recall", "F1", "tp", "fp", "fn"):
        table.add_column(column, justify="right")
    for threshold, row in result["variants"].items():
        table.add_row(
            threshold,
            *(f"{row[k]:.4f}" for k in ("precision", "recall", "f1")),
            *(str(row[k]) for k in ("tp", "fp", "fn")),
        )
    out.print(table)
    return 0
