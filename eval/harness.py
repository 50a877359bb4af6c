"""Run gold cases end to end through the public API, score them, gate them.

A run writes `results.jsonl` (one line per case and metric), `run.json` (settings hash, prompt
versions, generator, model, corpus hash, means), `summary.md` and a self-contained `report.html`.
"""

from __future__ import annotations

import hashlib
import json
import statistics
import time
import tomllib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from eval.gold import GoldCase, load_gold
from eval.metrics import (
    MetricResult,
    citation_support,
    citation_validity,
    criterion_agreement,
    dose_agreement,
    forbidden_statements,
    key_fact_recall,
    leakage,
    must_cite_recall,
    retrieval_recall,
    unsupported_numbers,
    verdict_accuracy,
    wrong_approval,
)
from eval.quality import quality_metrics
from rag import MeddraftError, Settings, assess, build_embedder, build_generator, build_retriever, build_store

EVAL_DIR = Path(__file__).parent
DEFAULT_GOLD = EVAL_DIR / "gold" / "cases"
DEFAULT_THRESHOLDS = EVAL_DIR / "thresholds.toml"
DEFAULT_BASELINE = EVAL_DIR / "baseline.json"


@dataclass
class CaseResult:
    gold: GoldCase
    metrics: list[MetricResult] = field(default_factory=list)
    verdict: str = ""
    seconds: float = 0.0
    error: str | None = None

    def value(self, name: str) -> float | None:
        return next((m.value for m in self.metrics if m.name == name), None)


@dataclass
class EvalRun:
    cases: list[CaseResult]
    info: dict

    def means(self) -> dict[str, float]:
        names = dict.fromkeys(m.name for c in self.cases for m in c.metrics)
        out = {}
        for name in names:
            values = [v for c in self.cases if (v := c.value(name)) is not None]
            out[name] = round(statistics.fmean(values), 4) if values else 0.0
        out["latency_median_s"] = round(statistics.median(c.seconds for c in self.cases), 3)
        return out


def corpus_hash(store) -> str:
    docs = sorted((r.doc_id, r.content_hash) for r in store.documents().values())
    return hashlib.sha256(json.dumps(docs).encode()).hexdigest()[:16]


def run_cases(gold_path: Path | str, settings: Settings, *, generator=None, progress=None) -> EvalRun:
    cases = load_gold(gold_path)
    store = build_store(settings)
    embedder = build_embedder(settings, store)
    retriever = build_retriever(settings, store, embedder)
    generator = generator or build_generator(settings)
    results = []
    for gold in cases:
        started = time.perf_counter()
        result = CaseResult(gold)
        try:
            draft = assess(
                gold.question,
                gold.case_id,
                settings,
                store=store,
                embedder=embedder,
                retriever=retriever,
                generator=generator,
            )
        except MeddraftError as exc:
            result.error = str(exc)
            result.metrics = [MetricResult(name="verdict_accuracy", value=0.0, reason=f"error: {exc}")]
            results.append(result)
            continue
        result.seconds = round(time.perf_counter() - started, 3)
        result.verdict = draft.verdict.label
        retrieved = store.get(ids=draft.provenance.retrieved_chunk_ids)
        texts = {c.id: f"{c.metadata.get('title', '')} {c.text}" for c in retrieved}
        recall, precision = citation_support(gold, draft, texts)
        result.metrics = [
            verdict_accuracy(gold, draft),
            wrong_approval(gold, draft),
            criterion_agreement(gold, draft),
            key_fact_recall(gold, draft),
            forbidden_statements(gold, draft),
            citation_validity(gold, draft),
            must_cite_recall(gold, draft),
            recall,
            precision,
            unsupported_numbers(gold, draft),
            retrieval_recall(gold, draft, {c.metadata["doc_id"] for c in retrieved}),
            leakage(gold, draft, {c.id: c.metadata.get("case_id") or "" for c in retrieved}),
            dose_agreement(gold, draft),
            *quality_metrics(gold, draft, texts),
            MetricResult(name="latency_s", value=result.seconds, reason="wall time of assess()"),
        ]
        results.append(result)
        if progress:
            progress(result)
    info = {
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "settings_hash": settings.hash(),
        "generator": getattr(generator, "name", "extractive"),
        "model": getattr(generator, "model", None),
        "prompt_versions": getattr(generator, "prompt_versions", {}),
        "embedding_model": embedder.name,
        "corpus_hash": corpus_hash(store),
        "gold": str(gold_path),
        "cases": len(results),
    }
    run = EvalRun(results, info)
    run.info["means"] = run.means()
    return run


# --- gate ---------------------------------------------------------------------------------------


def load_baseline(run: EvalRun, baseline_path: Path | None) -> tuple[dict, str | None]:
    """The baseline's means when it was recorded with this run's generator and model, else a note.

    A model's draft is not a regression of the extractive baseline (or of another model's): it
    gets thresholds only until a baseline is recorded for it.
    """
    if not baseline_path or not Path(baseline_path).exists():
        return {}, None
    data = json.loads(Path(baseline_path).read_text(encoding="utf-8"))
    theirs = (data.get("generator", "extractive"), data.get("model"))
    ours = (run.info.get("generator", "extractive"), run.info.get("model"))
    if theirs != ours:
        return {}, (
            f"baseline {baseline_path} was recorded with {_who(*theirs)}, this run used {_who(*ours)}: "
            "regressions not checked (thresholds are); record one with --write-baseline --baseline FILE"
        )
    return data.get("means", {}), None


def _who(generator: str, model: str | None) -> str:
    return f"{generator} ({model})" if model else generator


def gate(
    run: EvalRun, thresholds_path: Path = DEFAULT_THRESHOLDS, baseline_path: Path | None = DEFAULT_BASELINE
) -> list[str]:
    """Failures: hard gates per case, minimums on means, drops beyond tolerance vs the baseline."""
    config = tomllib.loads(Path(thresholds_path).read_text(encoding="utf-8"))
    failures = []
    for case in run.cases:
        if case.error:
            failures.append(f"{case.gold.case_id}: error: {case.error}")
        for metric in case.metrics:
            limit = config.get("per_case", {}).get(metric.name)
            if limit is None:
                continue
            bad = metric.value > limit["max"] if "max" in limit else metric.value < limit["min"]
            if bad:
                failures.append(f"{case.gold.case_id}: {metric.name} = {metric.value:g} ({metric.reason})")
    means = run.means()
    baseline, _ = load_baseline(run, baseline_path)
    for name, rule in config.get("means", {}).items():
        value = means.get(name)
        if value is None:
            continue
        if "min" in rule and value < rule["min"]:
            failures.append(f"mean {name} = {value:g} is below the threshold {rule['min']:g}")
        if "max" in rule and value > rule["max"]:
            failures.append(f"mean {name} = {value:g} is above the threshold {rule['max']:g}")
        tolerance = rule.get("tolerance")
        if tolerance is not None and name in baseline:
            higher_is_better = rule.get("higher_is_better", True)
            drop = (baseline[name] - value) if higher_is_better else (value - baseline[name])
            if drop > tolerance:
                failures.append(
                    f"mean {name} regressed: {value:g} vs baseline {baseline[name]:g} "
                    f"(tolerance {tolerance:g})"
                )
    return failures


def retrieval_gate(result: dict, name: str, thresholds_path: Path = DEFAULT_THRESHOLDS) -> list[str]:
    """Floors for a retrieval benchmark: `[retrieval.NAME.MODE] metric = min` in thresholds.toml."""
    config = tomllib.loads(Path(thresholds_path).read_text(encoding="utf-8")).get("retrieval", {})
    failures = []
    for mode, floors in config.get(name, {}).items():
        for metric, floor in floors.items():
            value = result.get(mode, {}).get(metric)
            if value is None or value < floor:
                failures.append(f"{name} {mode} {metric} = {value} is below {floor}")
    return failures
