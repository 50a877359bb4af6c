"""`meddraft eval ...`: registered through the `meddraft.commands` entry point, so `rag` never
imports `eval` (the data flows ingest -> store <- rag -> eval)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from rag import add_generator_args

# Registered on every `meddraft` command: the harness (and the analysis it pulls in) and the
# benchmarks load only when an `eval` command runs, so other commands start cold in less time.


def register(sub, common: argparse.ArgumentParser) -> dict:
    parser = sub.add_parser("eval", help="score drafts against gold answers; retrieval benchmarks")
    esub = parser.add_subparsers(dest="eval_command", required=True, metavar="WHAT")
    cases = esub.add_parser("cases", parents=[common], help="run the gold cases end to end")
    cases.add_argument("gold", nargs="?", help="gold YAML file or folder (default: eval/gold)")
    cases.add_argument(
        "--report", metavar="DIR", help="write results.jsonl, run.json, summary.md, report.html"
    )
    cases.add_argument("--check", action="store_true", help="exit 1 when a gate fails")
    cases.add_argument("--thresholds", help="gate thresholds TOML (default: eval/thresholds.toml)")
    cases.add_argument("--baseline", help="baseline JSON (default: eval/baseline.json)")
    cases.add_argument("--write-baseline", action="store_true", help="record this run as the baseline")
    add_generator_args(cases)
    cases.add_argument("--format", choices=["text", "json"], default="text", help="output format")
    from eval import retrieval, support

    bench = esub.add_parser("retrieval", parents=[common], help="BEIR retrieval benchmark")
    retrieval.add_arguments(bench)
    sup = esub.add_parser("support", parents=[common], help="score the citation-support checker")
    support.add_arguments(sup)
    return {"eval": run}


def run(args, settings, out, err) -> int:
    if args.eval_command == "retrieval":
        from eval import retrieval

        return retrieval.run(args, settings, out)
    if args.eval_command == "support":
        from eval import support

        return support.run(args, settings, out)
    return _cases(args, settings, out, err)


def _cases(args, settings, out, err) -> int:
    from eval.harness import (
        DEFAULT_BASELINE,
        DEFAULT_GOLD,
        DEFAULT_THRESHOLDS,
        gate,
        load_baseline,
        run_cases,
    )
    from eval.report import write_reports

    args.gold = args.gold or str(DEFAULT_GOLD)
    args.thresholds = args.thresholds or str(DEFAULT_THRESHOLDS)
    args.baseline = args.baseline or str(DEFAULT_BASELINE)

    def progress(result) -> None:
        mark = "ok " if result.verdict == result.gold.expected_verdict else "XX "
        err.print(
            f"{mark} {result.gold.case_id:<12} {result.verdict:<26} {result.seconds:.2f} s", highlight=False
        )

    from rag import build_generator, spinner

    with spinner(err, settings, "evaluating") as hooks:
        result = run_cases(
            args.gold, settings, generator=build_generator(settings, hooks=hooks), progress=progress
        )
    failures = gate(result, Path(args.thresholds), Path(args.baseline))
    _, note = load_baseline(result, Path(args.baseline))
    if note and not args.write_baseline:
        err.print(f"[yellow]note[/] {note}", highlight=False)
    if args.report:
        path = write_reports(result, args.report, failures)
        err.print(f"report written to {path}", highlight=False)
    if args.write_baseline:
        Path(args.baseline).write_text(
            json.dumps(
                {
                    "means": result.means(),
                    **{
                        k: result.info[k]
                        for k in ("settings_hash", "corpus_hash", "generator", "model", "embedding_model")
                    },
                },
                indent=2,
            )
            + "\n",
            encoding="utf-8",
        )
        err.print(f"baseline written to {args.baseline}", highlight=False)
    if args.format == "json":
        out.print_json(json.dumps({"means": result.means(), "failures": failures}))
    else:
        for name, value in result.means().items():
            out.print(f"{name:<26} {value:g}", highlight=False)
        for failure in failures:
            err.print(f"[red]GATE[/] {failure}", highlight=False)
        out.print("gate: PASS" if not failures else f"gate: FAIL ({len(failures)})", highlight=False)
    return 1 if failures and args.check else 0
