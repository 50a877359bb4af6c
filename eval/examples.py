"""Regenerate `eval/examples/`: one draft per verdict, from the corpus gold set, so anyone can read
what meddraft writes beside the seed example (`make examples`).

    python -m eval.examples --store .meddraft-eval [--out eval/examples]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from eval.gold import load_gold
from rag import assess, load_settings, render

GOLD = Path(__file__).parent / "gold" / "cases"
# verdict -> corpus case whose gold answer is that verdict
CASES = {"not_indicated": "mcas-001", "indicated": "csu-001", "insufficient_information": "ps-001"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval.examples", description=__doc__.splitlines()[0])
    parser.add_argument("--store", required=True, help="a store holding corpus/ (make eval builds one)")
    parser.add_argument(
        "-o", "--out", default=str(Path(__file__).parent / "examples"), help="folder to write"
    )
    args = parser.parse_args(argv)
    settings = load_settings(overrides={"store.path": args.store})
    gold = {case.case_id: case for case in load_gold(GOLD)}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for verdict, case_id in CASES.items():
        case = gold[case_id]
        draft = assess(case.question, case_id, settings)
        if draft.verdict.label != verdict:
            print(f"{case_id}: drafted {draft.verdict.label}, expected {verdict}", file=sys.stderr)
            return 1
        path = out / f"{verdict.replace('_', '-')}-{case_id}.md"
        path.write_text(str(render(draft, "md")), encoding="utf-8")
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
