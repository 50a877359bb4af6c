"""The medication timeline read from tables: one entry per row, each cell read by its column header.

Clinics list prior therapies in tables: Markdown (`| Drug | Dose | Start | Stop | Reason stopped |`)
or fixed-width text copied from an EHR (columns aligned with spaces). A row is one trial: its
outcome comes from its own outcome cell, never from the row below; its dates from its own date
cells ("3/2016", "2019-03-01 to present", "—"); its duration from a duration cell or the dates.
Which column is which comes from the header words (medication, dose, start, stop, dates,
duration, outcome / response / reason stopped), so a table without a recognisable medication
header is not read as one. Drug names and classes come from the lexicon.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache

from rag.analysis import lexicon
from rag.analysis.dates import date_ranges, find_dates
from rag.analysis.record import durations_days

# Column roles by header words (generic clinical table vocabulary, not names of drugs).
_ROLES: list[tuple[str, re.Pattern]] = [
    ("outcome", re.compile(r"outcome|response|result|reason|effect|comment|notes?|why stopped", re.I)),
    ("duration", re.compile(r"duration|length|how long|trial", re.I)),
    ("start", re.compile(r"\bstart|began|begun|initiated|from\b|\bon\b", re.I)),
    ("stop", re.compile(r"\bstop|\bend|discontinu|d/c|\bto\b|until", re.I)),
    ("dates", re.compile(r"dates?|period|when", re.I)),
    ("dose", re.compile(r"dose|dosing|sig|regimen|strength|frequency", re.I)),
    ("drug", re.compile(r"medication|medicine|drug|therapy|treatment|agent|\brx\b|product", re.I)),
]
_OUTCOMES: list[tuple[str, re.Pattern]] = [
    ("contraindication", re.compile(r"contraindicat", re.I)),
    (
        "intolerance",
        re.compile(
            r"intoleran|not tolerated|adverse|side effects?|stopped (?:for|due to|because of) "
            r"(?!lack|loss|inadequate|no\b)|allerg(?:y|ic)|rash|nausea|hepatotox|transaminitis|"
            r"elevated (?:alt|ast|lfts?)|cytopeni|infection",
            re.I,
        ),
    ),
    (
        "inadequate response",
        re.compile(
            r"inadequate|insufficient|fail|no (?:meaningful |significant |clinical )?(?:benefit|response|"
            r"effect|improvement)|loss of (?:response|efficacy)|lost response|partial|minimal|refractory|"
            r"does not prevent|not controlled|uncontrolled|flared?|relapse|active (?:disease|dz)|despite|"
            r"lack of (?:effect|efficacy|benefit)|no change(?! (?:in|of) (?:the )?dos)|"
            r"nothing (?:was )?chang",
            re.I,
        ),
    ),
    ("adherence", re.compile(r"non-?adheren|non-?complian|missed doses|did not take|never filled", re.I)),
    ("ongoing", re.compile(r"\bongoing\b|\bcurrent(?:ly)?\b|\bcontinu|to present|\bpresent\b|bridge", re.I)),
]
_OPEN = re.compile(r"^\s*(?:—|–|-|present|current|ongoing|now|n/?a)?\s*$", re.I)


@dataclass
class MedicationEntry:
    """One row of a medication table."""

    drug: str  # the name as the lexicon knows it ('azathioprine'), else the cell as written
    drug_cell: str
    classes: list[str]
    dose: str
    start: date | None
    stop: date | None  # None: ongoing or not stated
    ongoing: bool
    duration_days: float | None
    outcomes: list[str]
    outcome_text: str
    row: str  # the row as written, cells joined by ' | '
    start_offset: int = 0
    end_offset: int = 0
    cells: dict[str, str] = field(default_factory=dict)


def outcomes_of(text: str) -> list[str]:
    """What became of a trial, from its outcome words: contraindication, intolerance, inadequate
    response, adherence, ongoing (all that apply, in that order)."""
    return [name for name, pattern in _OUTCOMES if pattern.search(text)]


def header_roles(cells: list[str]) -> list[str | None]:
    """The role of each header cell, or None. A table without a drug column is not a medication table."""
    roles: list[str | None] = []
    for cell in cells:
        words = cell.strip()
        role = next((name for name, pattern in _ROLES if pattern.search(words)), None) if words else None
        roles.append(role if role not in roles else None)
    return roles


def read_tables(text: str, as_of: date | None = None) -> list[MedicationEntry]:
    """Every row of every medication table in a document's text, in order."""
    return list(_read_tables(text, as_of))


@lru_cache(maxsize=256)
def _read_tables(text: str, as_of: date | None) -> tuple[MedicationEntry, ...]:
    entries: list[MedicationEntry] = []
    for rows in _pipe_tables(text) + _aligned_tables(text):
        header, *body = rows
        roles = header_roles(header[0])
        if "drug" not in roles or not ({"outcome", "dates", "start", "duration"} & set(roles)):
            continue
        for cells, start, end in body:
            entry = _entry(dict(zip(roles, cells, strict=False)), cells, start, end, as_of)
            if entry is not None:
                entries.append(entry)
    return tuple(sorted(entries, key=lambda e: e.start_offset))


def _pipe_tables(text: str) -> list[list[tuple[list[str], int, int]]]:
    tables: list[list[tuple[list[str], int, int]]] = []
    current: list[tuple[list[str], int, int]] = []
    offset = 0
    for line in text.split("\n"):
        start, end = offset, offset + len(line)
        offset = end + 1
        if line.strip().startswith("|"):
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if all(set(c) <= set("-: ") for c in cells):
                continue  # the |---|---| rule
            current.append((cells, start, end))
            continue
        if len(current) > 1:
            tables.append(current)
        current = []
    if len(current) > 1:
        tables.append(current)
    return tables


_COLUMN_GAP = re.compile(r"\S(?:.*?\S)?(?=\s{2,}|$)")


def _aligned_tables(text: str) -> list[list[tuple[list[str], int, int]]]:
    """Fixed-width tables: a header of three or more columns separated by two or more spaces, and
    the rows below it until a blank line, sliced at the header's column starts."""
    lines = text.split("\n")
    offsets = [0]
    for line in lines:
        offsets.append(offsets[-1] + len(line) + 1)
    tables = []
    i = 0
    while i < len(lines):
        line = lines[i]
        columns = [m.start() for m in _COLUMN_GAP.finditer(line)] if "|" not in line else []
        names = [m.group(0) for m in _COLUMN_GAP.finditer(line)] if columns else []
        if len(columns) >= 3 and "drug" in header_roles(names):
            rows = [(names, offsets[i], offsets[i] + len(line))]
            j = i + 1
            while j < len(lines) and lines[j].strip():
                row = lines[j]
                if set(row.strip()) <= set("-=_ "):
                    j += 1
                    continue
                bounds = [*columns[1:], None]
                cells = [
                    row[a:b].strip() if a < len(row) else "" for a, b in zip(columns, bounds, strict=False)
                ]
                if row[: columns[0]].strip() or not cells[0]:  # a wrapped line: belongs to the previous row
                    if len(rows) > 1:
                        prev, s, _ = rows[-1]
                        merged = [f"{p} {c}".strip() for p, c in zip(prev, cells, strict=False)]
                        rows[-1] = (merged, s, offsets[j] + len(row))
                else:
                    rows.append((cells, offsets[j], offsets[j] + len(row)))
                j += 1
            if len(rows) > 1:
                tables.append(rows)
            i = j
        else:
            i += 1
    return tables


def _entry(cells: dict, raw: list[str], start: int, end: int, as_of: date | None) -> MedicationEntry | None:
    drug_cell = (cells.get("drug") or "").strip()
    if not drug_cell or _OPEN.match(drug_cell):
        return None
    names = lexicon.drug_names(drug_cell)
    classes = sorted({c for n in names for c in lexicon.classes_of(n)})
    if not names and not lexicon.class_names(drug_cell):
        return None  # 'Six-food elimination diet', 'Phototherapy': not a drug the lexicon knows
    dates_text = " ".join(cells.get(k, "") for k in ("dates", "start", "stop"))
    ranges = date_ranges(cells.get("dates", ""), as_of)
    start_date = stop_date = None
    ongoing = False
    if ranges:
        start_date, stop_date = ranges[0]
        ongoing = bool(re.search(r"present|now|current|ongoing", cells.get("dates", ""), re.I))
    else:
        begun = find_dates(cells.get("start", "") or cells.get("dates", ""))
        ended = find_dates(cells.get("stop", ""))
        start_date = begun[0].value if begun else None
        stop_date = ended[0].value if ended else None
        ongoing = "stop" in cells and stop_date is None and bool(_OPEN.match(cells["stop"]))
    if stop_date is None and "ongoing" in outcomes_of(cells.get("outcome", "")):
        ongoing = True  # 'continue' in a comment column of a table without a stop column
    if ongoing:
        stop_date = None
    outcome_text = cells.get("outcome", "")
    outcomes = outcomes_of(outcome_text)
    if ongoing and "ongoing" not in outcomes:
        outcomes.append("ongoing")
    duration = None
    if cells.get("duration"):
        found = durations_days(cells["duration"], as_of)
        duration = found[0] if found else None
    if duration is None and start_date and (stop_date or (ongoing and as_of)):
        duration = float(((stop_date or as_of) - start_date).days)
    if duration is None:
        found = durations_days(f"{cells.get('dose', '')} {dates_text}", as_of)
        duration = found[0] if found else None
    return MedicationEntry(
        drug=names[0] if names else drug_cell,
        drug_cell=drug_cell,
        classes=classes,
        dose=cells.get("dose", ""),
        start=start_date,
        stop=stop_date,
        ongoing=ongoing,
        duration_days=duration,
        outcomes=outcomes,
        outcome_text=outcome_text,
        row=" | ".join(c for c in raw if c),
        start_offset=start,
        end_offset=end,
        cells=cells,
    )
