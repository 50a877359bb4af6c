"""Dates as clinics write them, normalised: ISO, 3/14/25, 03/14/2025, 6/2023, Mar 2025,
March 14, 2025, 14 Mar 2025; and ranges between any two of them ('6/2023–9/2023',
'05/2018 to 11/2024', '2019-03-01 to present').

A date with no day is read as the middle of its month, a year alone is not a date (it is too often
a guideline's or a drug's year). Two-digit years are 20xx up to the current year, else 19xx.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from itertools import pairwise

_MONTHS = {
    m: i
    for i, names in enumerate(
        [
            ("jan", "january"),
            ("feb", "february"),
            ("mar", "march"),
            ("apr", "april"),
            ("may",),
            ("jun", "june"),
            ("jul", "july"),
            ("aug", "august"),
            ("sep", "sept", "september"),
            ("oct", "october"),
            ("nov", "november"),
            ("dec", "december"),
        ],
        start=1,
    )
    for m in names
}
_MONTH = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|"
    r"sept?(?:ember)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?"
)
_PATTERNS = [
    ("iso", re.compile(r"(?<!\d)(?P<y>(?:19|20)\d{2})-(?P<m>\d{1,2})-(?P<d>\d{1,2})(?!\d)")),
    ("us", re.compile(r"(?<![\d/])(?P<m>\d{1,2})/(?P<d>\d{1,2})/(?P<y>(?:19|20)?\d{2})(?![\d/])")),
    ("month_year_num", re.compile(r"(?<![\d/])(?P<m>\d{1,2})/(?P<y>(?:19|20)\d{2})(?![\d/])")),
    ("mdy_words", re.compile(rf"\b(?P<mon>{_MONTH})\s+(?P<d>\d{{1,2}}),?\s+(?P<y>(?:19|20)\d{{2}})\b", re.I)),
    ("dmy_words", re.compile(rf"\b(?P<d>\d{{1,2}})\s+(?P<mon>{_MONTH})\s+(?P<y>(?:19|20)\d{{2}})\b", re.I)),
    ("month_year", re.compile(rf"\b(?P<mon>{_MONTH})\s+(?P<y>(?:19|20)\d{{2}})\b", re.I)),
]
_TO = r"\s*(?:to|through|until|-|–|—)\s*"
_PRESENT = re.compile(r"\b(?:present|now|current|today|ongoing)\b", re.I)


@dataclass(frozen=True)
class Found:
    start: int
    end: int
    value: date
    precision: str  # day | month


def _year(text: str, today: date) -> int:
    year = int(text)
    if year < 100:
        year += 2000 if 2000 + year <= today.year else 1900
    return year


def find_dates(text: str, today: date | None = None) -> list[Found]:
    """Every date in the text, left to right, without overlaps (the most specific form wins)."""
    today = today or date.today()
    found: list[Found] = []
    taken: list[tuple[int, int]] = []
    for _kind, pattern in _PATTERNS:
        for m in pattern.finditer(text):
            if any(s < m.end() and m.start() < e for s, e in taken):
                continue
            try:
                month = (
                    _MONTHS[m["mon"].lower().rstrip(".")]
                    if "mon" in m.groupdict() and m["mon"]
                    else int(m["m"])
                )
                day = int(m["d"]) if "d" in m.groupdict() and m["d"] else 15
                value = date(_year(m["y"], today), month, day)
            except (ValueError, KeyError):
                continue
            precision = "day" if "d" in m.groupdict() and m["d"] else "month"
            found.append(Found(m.start(), m.end(), value, precision))
            taken.append((m.start(), m.end()))
    return sorted(found, key=lambda f: f.start)


def first_date(text: str | None, today: date | None = None) -> date | None:
    if not text:
        return None
    found = find_dates(text, today)
    return found[0].value if found else None


def date_ranges(text: str, today: date | None = None) -> list[tuple[date, date]]:
    """'6/2023–9/2023', '05/2018 to 11/2024', '2019-03-01 to present' -> (start, end) pairs."""
    today = today or date.today()
    found = find_dates(text, today)
    out = []
    for a, b in pairwise(found):
        if re.fullmatch(_TO, text[a.end : b.start]) and b.value >= a.value:
            out.append((a.value, b.value))
    for a in found:
        tail = text[a.end : a.end + 14]
        if re.match(rf"{_TO}(?:present|now|current|today|ongoing)\b", tail, re.I):
            out.append((a.value, today))
    return out
