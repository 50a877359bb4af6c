"""The fault report: figures the fault tests record (mutants, crashes, hangs, documents and chunks
lost, injections unflagged), printed together at the end of the test run by `tests/conftest.py`
and written to `reports/faults.json`."""

from __future__ import annotations

FIGURES: dict[str, int] = {}


def record(name: str, value: int) -> None:
    """Add `value` to the figure `name` (figures of several tests add up)."""
    FIGURES[name] = FIGURES.get(name, 0) + value
