"""One table for every benchmark figure, each with its goal (issue 16's "done when").

Each benchmark records what it measured as `Figure`s with `record(group, figures)`, which writes
`reports/bench/<group>.json`; `python -m eval.benchmarks.figures` (the last step of `make bench`)
prints every recorded group as one table: figure, value, goal, whether it is met, and why not.

    from eval.benchmarks.figures import Figure, record
    record("ingest", [Figure("SciFact ingest", 412.0, "s", goal="<= 60 s", met=False, note="...")])
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

REPORTS = Path("reports/bench")


@dataclass
class Figure:
    """One measured figure. `met` is None when the figure has no goal of its own (context)."""

    name: str
    value: float | int | str
    unit: str = ""
    goal: str = ""
    met: bool | None = None
    note: str = ""  # why a goal is not met, or what the figure is measured against

    def shown(self) -> str:
        if isinstance(self.value, float):
            digits = 4 if abs(self.value) < 1 else (2 if abs(self.value) < 100 else 0)
            text = f"{self.value:,.{digits}f}"
        elif isinstance(self.value, int):
            text = f"{self.value:,}"
        else:
            text = str(self.value)
        return f"{text} {self.unit}".rstrip()


def record(group: str, figures: list[Figure], folder: Path = REPORTS) -> Path:
    """Write `figures` as `<folder>/<group>.json` (replacing an earlier run of the group)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{group}.json"
    path.write_text(json.dumps([asdict(f) for f in figures], indent=1), encoding="utf-8")
    return path


def load(folder: Path = REPORTS) -> dict[str, list[Figure]]:
    """Every recorded group, by name."""
    groups = {}
    for path in sorted(folder.glob("*.json")):
        groups[path.stem] = [Figure(**row) for row in json.loads(path.read_text(encoding="utf-8"))]
    return groups


def table(groups: dict[str, list[Figure]]) -> list[str]:
    def row(name: str, value: str, goal: str, mark: str, note: str) -> str:
        return f"{name:<52} {value:>14}  {goal:<22} {mark:<4} {note}".rstrip()

    lines = [row("figure", "value", "goal", "met", "note"), "-" * 110]
    for group, figures in groups.items():
        lines.append(f"[{group}]")
        for f in figures:
            mark = "" if f.met is None else ("yes" if f.met else "NO")
            lines.append(row(f"  {f.name}", f.shown(), f.goal, mark, f.note))
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reports", type=Path, default=REPORTS, help="folder of recorded groups")
    args = parser.parse_args(argv)
    groups = load(args.reports)
    if not groups:
        print(f"no benchmark figures under {args.reports}: run `make bench`")
        return 1
    print("\n".join(table(groups)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
