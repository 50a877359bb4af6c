"""What an ingest run did, file by file: the report the CLI prints and the progress hooks it sets."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

STATUSES = ("added", "updated", "unchanged", "removed", "failed", "skipped")


@dataclass
class FileOutcome:
    path: Path
    status: str
    doc_id: str | None = None
    chunks: int = 0
    reason: str | None = None
    warnings: list[str] = field(default_factory=list)


@dataclass
class IngestReport:
    outcomes: list[FileOutcome] = field(default_factory=list)
    seconds: float = 0.0
    chunks_embedded: int = 0
    tokens_embedded: int = 0
    # documents found incomplete or inconsistent and removed before the run, one sentence each;
    # those whose file is still there were ingested again in the same run
    recovered: list[str] = field(default_factory=list)
    adopted: int = 0  # whole documents the manifest did not list, recorded as they are

    def count(self, status: str) -> int:
        return sum(1 for o in self.outcomes if o.status == status)

    @property
    def failed(self) -> list[FileOutcome]:
        return [o for o in self.outcomes if o.status == "failed"]

    @property
    def changed(self) -> bool:
        return bool(self.recovered) or any(o.status in ("added", "updated", "removed") for o in self.outcomes)

    def summary(self) -> str:
        parts = ", ".join(f"{self.count(s)} {s}" for s in STATUSES)
        rate = self.chunks_embedded / self.seconds if self.seconds else 0.0
        line = (
            f"{parts}; {self.chunks_embedded} chunks ({self.tokens_embedded} tokens) embedded "
            f"in {self.seconds:.1f} s ({rate:.1f} chunks/s)"
        )
        return line if self.changed or self.failed else f"nothing changed: {line}"

    def failures(self) -> str | None:
        """One sentence naming the files that did not land, or None when every file did."""
        if not self.failed:
            return None
        names = ", ".join(o.path.name for o in self.failed)
        n = len(self.failed)
        return (
            f"{n} file{'s' * (n != 1)} did not land ({names}); the reason for each is above, "
            "and everything else is in the store"
        )

    def to_dict(self) -> dict:
        return {
            "counts": {s: self.count(s) for s in STATUSES},
            "chunks_embedded": self.chunks_embedded,
            "tokens_embedded": self.tokens_embedded,
            "seconds": round(self.seconds, 3),
            "recovered": self.recovered,
            "adopted": self.adopted,
            "files": [
                {
                    "path": str(o.path),
                    "status": o.status,
                    "doc_id": o.doc_id,
                    "chunks": o.chunks,
                    "reason": o.reason,
                    "warnings": o.warnings,
                }
                for o in self.outcomes
            ],
        }


@dataclass
class Progress:
    """Hooks a front end can set to show progress; all optional."""

    files: Callable[[int], None] = lambda total: None
    file_done: Callable[[FileOutcome], None] = lambda outcome: None
    chunks: Callable[[int], None] = lambda total: None
    embedded: Callable[[int], None] = lambda n: None
