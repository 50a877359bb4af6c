"""The medication timeline read from tables, cell by cell under its header (issue: patient records)."""

from __future__ import annotations

from datetime import date

from rag.analysis.medications import header_roles, outcomes_of, read_tables

PIPE = """Prior therapy:

| Drug | Dose | Start | Stop | Reason stopped |
|---|---|---|---|---|
| Mesalamine | 4.8 g/d | 3/2016 | 9/2016 | No benefit |
| Azathioprine | 150 mg/d | 6/2016 | 4/2018 | Active dz x 22 mo despite therapeutic levels |
| Infliximab | 5 mg/kg q8wk | 5/2018 | 11/2024 | Secondary loss of response; anti-drug Ab |
| Prednisone | 40 mg/d taper (current) | 1/27/2025 | — | Bridge, ongoing |
"""

DATES_COLUMN = """| Medication | Dose | Dates | Outcome |
|---|---|---|---|
| Famotidine | 20 mg twice daily | 2019-03-01 to present | Less heartburn; no effect on episode frequency |
| Cromolyn sodium, oral | 200 mg four times daily | 2021-07-15 to 2023-09-30 | stopped for nausea |
| Six-food elimination diet | - | 2024-06 to 2024-09 | no histologic response |
"""

ALIGNED = """MEDICATION HISTORY (printed from EHR)
Medication          Sig                  Started     Stopped     Comment
methotrexate        15 mg PO weekly      03/14/23    09/20/23    transaminitis, d/c'd
adalimumab          40 mg SC q2wk        10/02/23    06/01/24    lost response after
                                                                 8 months
naproxen            500 mg BID           01/05/22                ongoing

Plan: will consider sulfasalazine.
"""


def test_each_row_keeps_its_own_outcome_and_dates():
    rows = {e.drug: e for e in read_tables(PIPE, as_of=date(2025, 2, 18))}
    assert set(rows) == {"mesalamine", "azathioprine", "infliximab", "prednisone"}
    assert rows["mesalamine"].outcomes == ["inadequate response"]
    assert rows["mesalamine"].start == date(2016, 3, 15) and rows["mesalamine"].stop == date(2016, 9, 15)
    assert rows["azathioprine"].duration_days == (date(2018, 4, 15) - date(2016, 6, 15)).days
    assert rows["infliximab"].outcomes == ["inadequate response"]
    assert "TNF inhibitor" in rows["infliximab"].classes
    pred = rows["prednisone"]
    assert pred.ongoing and pred.stop is None and pred.outcomes == ["ongoing"]
    assert pred.duration_days == (date(2025, 2, 18) - date(2025, 1, 27)).days


def test_the_next_row_is_never_the_previous_drugs_outcome():
    rows = {e.drug: e for e in read_tables(DATES_COLUMN, as_of=date(2025, 1, 1))}
    assert rows["famotidine"].outcomes == ["inadequate response", "ongoing"]
    assert "intolerance" not in rows["famotidine"].outcomes
    assert rows["famotidine"].ongoing and rows["famotidine"].start == date(2019, 3, 1)
    assert rows["cromolyn sodium"].outcomes == ["intolerance"]
    assert rows["cromolyn sodium"].stop == date(2023, 9, 30)
    assert "elimination diet" not in " ".join(rows)  # not a drug the lexicon knows


def test_a_fixed_width_ehr_table_is_read_by_its_columns():
    rows = {e.drug: e for e in read_tables(ALIGNED, as_of=date(2024, 7, 1))}
    assert set(rows) == {"methotrexate", "adalimumab", "naproxen"}  # the plan line is no row
    mtx = rows["methotrexate"]
    assert mtx.dose == "15 mg PO weekly" and mtx.outcomes == ["intolerance"]
    assert mtx.start == date(2023, 3, 14) and mtx.stop == date(2023, 9, 20)
    assert rows["adalimumab"].outcome_text == "lost response after 8 months"  # the wrapped line joined
    assert rows["adalimumab"].outcomes == ["inadequate response"]
    assert rows["naproxen"].ongoing and rows["naproxen"].outcomes == ["ongoing"]


def test_a_table_without_a_drug_column_is_not_a_medication_table():
    labs = "| Test | Result | Reference |\n|---|---|---|\n| QuantiFERON | POSITIVE | Negative |\n"
    assert read_tables(labs) == []
    assert header_roles(["Drug", "Dose", "Start", "Stop", "Reason stopped"]) == [
        "drug",
        "dose",
        "start",
        "stop",
        "outcome",
    ]


def test_outcome_words_in_several_styles():
    assert outcomes_of("d/c'd for rash") == ["intolerance"]
    assert outcomes_of("contraindicated (CKD stage 4)") == ["contraindication"]
    assert outcomes_of("missed doses; non-adherent") == ["adherence"]
    assert outcomes_of("partial response, flared on taper") == ["inadequate response"]
    assert outcomes_of("") == []
