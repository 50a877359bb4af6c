"""The fault suite: 300 mutants of the shared PDFs, made deterministically (fixed seed, five kinds
of damage), each parsed in the isolated worker; then a batch of good documents and the worst
mutants ingested together. The report it prints is the one issue 15 asks for: mutants tried,
crashes, hangs, good documents lost (each must be 0)."""

from __future__ import annotations

import random
import re
import time
from pathlib import Path

import pytest

from ingest.config import IngestSettings
from ingest.errors import DocumentError
from ingest.loaders import SourceFile
from ingest.parsing import Parser
from tests.faults import record

SOURCES = [  # the small real PDFs of ../shared/data (the 940-page reports are tested elsewhere)
    "fda_ibuprofen_label_2024.pdf",
    "intpsychogeriatrics_2014.pdf",
    "bmc_jtmo_2010_dvt_prophylaxis_trauma_review.pdf",
    "bmc_2014_malawi_quality_improvement.pdf",
    "fda_metformin_extended_release_2025.pdf",
    "fda_ciprofloxacin_highlights_2025.pdf",
]
MUTANTS = 300
TIMEOUT_S = 10.0  # pypdf loops on a few mutants: the limit ends them (ParseLimitError)
HANG_S = TIMEOUT_S + 15  # the worker is killed at its limit: anything longer is a hang


def _mutate(data: bytes, rng: random.Random) -> bytes:
    """One of five kinds of damage: flipped bytes, a truncation, a deleted span, a duplicated
    span, or a corrupted stream length."""
    out = bytearray(data)
    kind = rng.randrange(5)
    if kind == 0:
        for _ in range(rng.randint(1, 40)):
            out[rng.randrange(len(out))] = rng.randrange(256)
    elif kind == 1:
        del out[rng.randrange(len(out) // 10, len(out)) :]
    elif kind == 2:
        start = rng.randrange(len(out))
        del out[start : start + rng.randint(1, 4096)]
    elif kind == 3:
        start = rng.randrange(len(out))
        out[start:start] = out[start : start + rng.randint(1, 4096)]
    else:
        lengths = [m.span(1) for m in re.finditer(rb"/Length (\d+)", bytes(out))]
        if lengths:
            a, b = rng.choice(lengths)
            out[a:b] = str(rng.choice([0, 1, 10**9, rng.randrange(10**6)])).encode()
    return bytes(out)


@pytest.mark.slow
def test_300_mutants_no_crash_no_hang_no_good_document_lost(
    tmp_path: Path, shared_data: Path, mini_corpus, indexer
):
    rng = random.Random(2026)
    originals = [(shared_data / "pdfs/medical_text" / name).read_bytes() for name in SOURCES]
    outcomes: dict[str, int] = {}
    crashes: list[str] = []
    hangs: list[str] = []
    failed_paths: list[Path] = []
    folder = tmp_path / "mutants"
    folder.mkdir()
    with Parser(IngestSettings(parse_timeout_s=TIMEOUT_S)) as parser:
        for n in range(MUTANTS):
            path = folder / f"mutant-{n:03d}.pdf"
            path.write_bytes(_mutate(originals[n % len(originals)], rng))
            started = time.monotonic()
            try:
                parser.parse(SourceFile(path, folder), passwords=[], content_hash=str(n))
                outcomes["parsed"] = outcomes.get("parsed", 0) + 1
            except DocumentError as exc:
                outcomes[type(exc).__name__] = outcomes.get(type(exc).__name__, 0) + 1
                failed_paths.append(path)
            except Exception as exc:
                crashes.append(f"{path.name}: {type(exc).__name__}: {exc}")
            if time.monotonic() - started > HANG_S:
                hangs.append(path.name)
    # the worst mutants in one batch with good documents: every good document lands
    batch = mini_corpus / "literature" / "mutants"
    batch.mkdir()
    for path in failed_paths[:20]:
        (batch / path.name).write_bytes(path.read_bytes())
    report = indexer.ingest([mini_corpus])
    good = [o for o in report.outcomes if "mutants" not in o.path.parts]
    lost = sorted(o.path.name for o in good if o.status != "added")
    kinds = ", ".join(f"{k} {v}" for k, v in sorted(outcomes.items()))
    print(
        f"\nfault suite: {MUTANTS} mutants tried ({kinds}); "
        f"crashes {len(crashes)}, hangs {len(hangs)}, good documents lost {len(lost)} "
        f"(batch of {len(good)} good files and {min(20, len(failed_paths))} failing mutants)"
    )
    record("PDF mutants tried", MUTANTS)
    record("parser crashes", len(crashes))
    record("parser hangs", len(hangs))
    record("good documents lost beside bad ones", len(lost))
    assert sum(outcomes.values()) + len(crashes) == MUTANTS
    assert not crashes, crashes[:5]
    assert not hangs, hangs
    assert not lost, lost
    assert len(report.failed) == min(20, len(failed_paths))  # each failing mutant reported, once
