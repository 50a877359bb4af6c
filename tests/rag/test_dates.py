"""Dates as clinics write them: every common US and ISO form, ranges, two-digit years."""

from datetime import date

import pytest

from rag.analysis.dates import date_ranges, find_dates, first_date
from rag.analysis.record import durations_days

TODAY = date(2025, 6, 1)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Collected 2025-03-14 08:41", date(2025, 3, 14)),
        ("QuantiFERON 3/14/25 negative", date(2025, 3, 14)),
        ("Reported: 09/14/2024 16:20", date(2024, 9, 14)),
        ("methotrexate since 6/2023", date(2023, 6, 15)),
        ("Colonoscopy Mar 2025: severe", date(2025, 3, 15)),
        ("seen on March 14, 2025 in clinic", date(2025, 3, 14)),
        ("biopsy 14 Mar 2025", date(2025, 3, 14)),
        ("DOB 12/01/66", date(1966, 12, 1)),
    ],
)
def test_each_form_reads_as_the_same_calendar_date(text, expected):
    assert first_date(text, TODAY) == expected


def test_a_year_alone_or_a_dose_is_not_a_date():
    assert find_dates("2018 ACR guideline; 15 mg/25 mL; 1/2 tablet", TODAY) == []


def test_ranges_in_any_form():
    assert date_ranges("Infliximab 05/2018–11/2024 then stopped", TODAY) == [
        (date(2018, 5, 15), date(2024, 11, 15))
    ]
    assert date_ranges("naproxen 6/2023 to 9/2023", TODAY) == [(date(2023, 6, 15), date(2023, 9, 15))]
    assert date_ranges("famotidine 2019-03-01 to present", TODAY) == [(date(2019, 3, 1), TODAY)]


def test_durations_from_slash_ranges_and_written_spans():
    assert 450 < max(durations_days("Methotrexate 1/2/2023 - 4/15/2024", TODAY)) < 470
    assert 70 in durations_days("apremilast x 10 wk", TODAY)
    assert max(durations_days("for 3 months", TODAY)) == pytest.approx(91.3, abs=0.1)
