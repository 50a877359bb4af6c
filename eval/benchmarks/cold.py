"""Cold-start benchmark: how long a user waits for one command, and what each embedding backend costs.

    python -m eval.benchmarks.cold --store .meddraft-eval [--scifact reports/scifact-onnx-int8 ...]

Prints one table, a goal beside each figure (issue 16):
- cold `meddraft assess` of the demo case and cold `meddraft search` (fresh processes, median of
  3 after one unmeasured run that warms the disk cache), warm `assess` (in one process, median of 3);
- the import time of each heavy module in a fresh process, and of the `meddraft` entry point,
  which must load none of them;
- embedding tokens/s of sentence-transformers (torch fp32), ONNX fp32 and ONNX int8 on the same
  texts (SciFact abstracts when the shared data is there, else the demo corpus);
- SciFact nDCG@10 (dense and hybrid) per backend, read from `meddraft eval retrieval --report DIR`
  runs (`make bench-scifact`): int8 is kept only within 0.005 of torch fp32.
`--json` prints the figures as one JSON object instead.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rag import assess, build_embedder, build_retriever, build_store, load_settings

DEMO_CASE = "mcas-001"
DEMO_QUESTION = (
    "Is omalizumab 600 mg SC every 2 weeks medically indicated for this patient with idiopathic MCAS "
    "who failed H1/H2 blockers and corticosteroids?"
)
SEARCH_QUERY = "omalizumab dosing in mast cell activation syndrome"
HEAVY = ("torch", "sentence_transformers", "chromadb", "onnxruntime", "tokenizers", "medspacy", "tantivy")
ENTRY = "rag.cli.main"
ENTRY_STATEMENT = "from rag.cli.main import build_parser; build_parser()"  # plug-ins register in build_parser
BACKENDS = {  # label -> embedding settings
    "torch fp32": {"embedding.backend": "sentence-transformers"},
    "onnx fp32": {"embedding.backend": "onnx", "embedding.quantize": "none"},
    "onnx int8": {"embedding.backend": "onnx", "embedding.quantize": "int8"},
}
LEAN_MEDSPACY = "medspacy, as meddraft loads it"  # without torch and QuickUMLS (rag.analysis.spacy_lean)
LEAN_STATEMENT = "import rag.analysis.spacy_lean as s; exec('with s.lean_spacy(): import medspacy')"
GOALS = {"cold_assess_s": 2.5, "cold_search_s": 1.0, "warm_assess_s": 0.3}
NDCG_TOLERANCE = 0.005
REPEAT = 3


def _meddraft() -> list[str]:
    script = Path(sys.executable).with_name("meddraft")
    return [str(script)] if script.exists() else [sys.executable, "-m", "rag.cli"]


def _timed_run(command: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True)
    return time.perf_counter() - started


def cold_commands(store: str) -> dict[str, float]:
    """Median seconds of a fresh `meddraft assess` and `meddraft search` on `store`."""
    with tempfile.TemporaryDirectory() as tmp:
        out = str(Path(tmp) / "draft.md")
        commands = {
            "cold_assess_s": [*_meddraft(), "assess", DEMO_QUESTION, "--case", DEMO_CASE, "--store", store],
            "cold_search_s": [*_meddraft(), "search", SEARCH_QUERY, "--store", store, "--k", "5"],
        }
        commands["cold_assess_s"] += ["--out", out]
        result = {}
        for name, command in commands.items():
            _timed_run(command)  # warms the disk cache (and the ONNX export, once per machine)
            result[name] = round(statistics.median(_timed_run(command) for _ in range(REPEAT)), 2)
    return result


def warm_assess(store: str) -> float:
    settings = load_settings(overrides={"store.path": store})
    store = build_store(settings)
    parts = {"store": store, "embedder": build_embedder(settings, store)}
    parts["retriever"] = build_retriever(settings, parts["store"], parts["embedder"])
    assess(DEMO_QUESTION, DEMO_CASE, settings, **parts)
    times = []
    for _ in range(REPEAT):
        started = time.perf_counter()
        assess(DEMO_QUESTION, DEMO_CASE, settings, **parts)
        times.append(time.perf_counter() - started)
    return round(statistics.median(times), 3)


def import_seconds(statement: str, extra: tuple[str, ...] = ()) -> dict:
    """Median seconds `statement` (an import) takes in a fresh interpreter, and which of `extra`
    it loaded."""
    code = (
        f"import json, sys, time; t = time.perf_counter(); {statement}; s = time.perf_counter() - t; "
        f"print(json.dumps([s, [h for h in {list(extra)!r} if h in sys.modules]]))"
    )
    runs = [
        json.loads(subprocess.run([sys.executable, "-c", code], check=True, capture_output=True).stdout)
        for _ in range(REPEAT)
    ]
    return {"s": round(statistics.median(r[0] for r in runs), 2), "loaded": runs[0][1]}


def sample_texts(limit: int = 64) -> list[str]:
    """SciFact abstracts (title + abstract, as the benchmark ingests them) or the demo corpus."""
    from eval.beir import shared_data_dir

    scifact = shared_data_dir() / "scifact" / "corpus.jsonl"
    if scifact.is_file():
        with scifact.open(encoding="utf-8") as lines:
            rows = [json.loads(line) for _, line in zip(range(limit), lines, strict=False)]
        return [f"{r['title']}\n{' '.join(r['abstract'])}" for r in rows]
    texts = [p.read_text(encoding="utf-8") for p in sorted(Path("corpus").rglob("*.md"))]
    return [part for text in texts for part in text.split("\n\n") if len(part) > 80][:limit]


def tokens_per_second(texts: list[str]) -> dict[str, float]:
    """Tokens through the model per second for each backend: the best of 3 rounds, the backends
    taking turns within a round, so that a load from elsewhere hits them alike."""
    embedders = {label: build_embedder(load_settings(overrides=o)) for label, o in BACKENDS.items()}
    for embedder in embedders.values():
        embedder.embed(texts[:8])  # loads the model (and makes the export, once per machine)
    best = dict.fromkeys(embedders, 0.0)
    for _ in range(REPEAT):
        for label, embedder in embedders.items():
            tokens = sum(min(n + 2, embedder.max_tokens) for n in embedder.count_tokens(texts))
            started = time.perf_counter()
            embedder.embed(texts)
            best[label] = max(best[label], tokens / (time.perf_counter() - started))
    return {label: round(rate) for label, rate in best.items()}


def scifact_scores(folders: list[str]) -> dict[str, dict]:
    """nDCG@10 per run folder (`retrieval.json` of `meddraft eval retrieval --report`)."""
    scores = {}
    for folder in folders:
        data = json.loads((Path(folder) / "retrieval.json").read_text(encoding="utf-8"))
        scores[Path(folder).name] = {
            "model": data.get("embedding_model"),
            "dense": data["dense"]["ndcg@10"],
            "hybrid": data["hybrid"]["ndcg@10"],
            "ingest_s": data.get("ingest_seconds"),
        }
    return scores


def _row(name: str, value: str, goal: str, met: bool | None) -> str:
    mark = "" if met is None else ("yes" if met else "NO")
    return f"{name:<44} {value:>12}   {goal:<34} {mark}"


def table(figures: dict) -> list[str]:
    lines = [_row("figure", "value", "goal", None), "-" * 96]
    for key, label in (
        ("cold_assess_s", "cold `meddraft assess` (demo case)"),
        ("cold_search_s", "cold `meddraft search`"),
        ("warm_assess_s", "warm assess"),
    ):
        value = figures[key]
        lines.append(_row(label, f"{value:.2f} s", f"<= {GOALS[key]} s", value <= GOALS[key]))
    entry = figures["imports"][ENTRY]
    goal = "loads none of the modules below"
    lines.append(_row("`meddraft` entry (import, parser)", f"{entry['s']:.2f} s", goal, not entry["loaded"]))
    for module in (*HEAVY, LEAN_MEDSPACY):
        seconds = figures["imports"][module]["s"]
        lines.append(_row(f"  import {module}", f"{seconds:.2f} s", "only when a command needs it", None))
    rates = figures["tokens_per_s"]
    for label, rate in rates.items():
        ratio = rate / rates["torch fp32"]
        lines.append(_row(f"embedding tokens/s, {label}", f"{rate:,}", f"{ratio:.2f}x torch fp32", None))
    scores = figures.get("scifact", {})
    # the reference is torch fp32 when it was run, else any fp32 run (the same vectors)
    fp32 = sorted(
        (("torch" not in n), s["dense"]) for n, s in scores.items() if "+" not in (s["model"] or "+")
    )
    for name, score in scores.items():
        met = None
        if fp32 and "+onnx-int8" in (score["model"] or ""):
            met = fp32[0][1] - score["dense"] <= NDCG_TOLERANCE
        goal = f"within {NDCG_TOLERANCE} of fp32 ({fp32[0][1]:.4f})" if met is not None else ""
        label = f"SciFact nDCG@10 dense, {name}"
        lines.append(_row(label, f"{score['dense']:.4f}", f"{goal} (hybrid {score['hybrid']:.4f})", met))
    if not scores:
        lines.append(_row("SciFact nDCG@10", "not run", "make bench-scifact", None))
    return lines


def figures_of(figures: dict) -> list:
    """The measured figures as `Figure`s with their goals (group "cold" of `make bench`)."""
    import os

    from eval.benchmarks.figures import Figure

    load = f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores at the end of the run"
    out = []
    for key, label in (
        ("cold_assess_s", "cold `meddraft assess` (demo case)"),
        ("cold_search_s", "cold `meddraft search`"),
        ("warm_assess_s", "warm assess"),
    ):
        met = figures[key] <= GOALS[key]
        note = load if met else f"{figures[key] - GOALS[key]:.2f} s over the goal; {load}"
        out.append(Figure(label, float(figures[key]), "s", f"<= {GOALS[key]} s", met, note))
    entry = figures["imports"][ENTRY]
    loaded = ", ".join(entry["loaded"])
    out.append(
        Figure(
            "`meddraft` entry (import, parser)",
            float(entry["s"]),
            "s",
            "loads no heavy module",
            not entry["loaded"],
            f"loads {loaded}" if loaded else "",
        )
    )
    for module in (*HEAVY, LEAN_MEDSPACY):
        if module in figures["imports"]:
            out.append(Figure(f"import {module}", float(figures["imports"][module]["s"]), "s"))
    for label, rate in figures.get("tokens_per_s", {}).items():
        out.append(Figure(f"embedding tokens/s, {label}", int(rate), "tokens/s"))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", required=True, help="a store holding the demo corpus")
    parser.add_argument(
        "--scifact", action="append", default=[], metavar="DIR", help="a SciFact report folder"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    figures: dict = cold_commands(args.store)
    figures["warm_assess_s"] = warm_assess(args.store)
    figures["imports"] = {ENTRY: import_seconds(ENTRY_STATEMENT, HEAVY)}
    figures["imports"].update({m: import_seconds(f"import {m}") for m in HEAVY})
    figures["imports"][LEAN_MEDSPACY] = import_seconds(LEAN_STATEMENT)
    figures["tokens_per_s"] = tokens_per_second(sample_texts())
    figures["scifact"] = scifact_scores(args.scifact)
    from eval.benchmarks.figures import record

    record("cold", figures_of(figures))
    if args.json:
        print(json.dumps(figures, indent=1))
    else:
        print("\n".join(table(figures)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
