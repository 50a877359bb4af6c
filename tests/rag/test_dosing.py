import pytest

from rag.analysis.dosing import find_regimens, format_mg, parse_regimen

IVIG_LOADING = "2 g/kg IV divided over 5 days, then 1 g/kg IV every 3 weeks"
ONCE_THEN = "80 mg SC once, then 40 mg SC every other week starting one week after"

# text, weight_kg, dose_mg, interval_days, mg_per_28_days, loading present, per_kg
CASES = [
    ("600 mg SC every 2 weeks", None, 600, 14, 1200, False, False),
    ("600 mg subcutaneously every 2 weeks", None, 600, 14, 1200, False, False),
    ("300 mg every 4 weeks", None, 300, 28, 300, False, False),
    ("150 mg q2w", None, 150, 14, 300, False, False),
    ("300 mg every other week", None, 300, 14, 600, False, False),
    ("40 mg every other week", None, 40, 14, 80, False, False),
    ("2.4 mg SC once weekly", None, 2.4, 7, 9.6, False, False),
    ("2.4 mg weekly", None, 2.4, 7, 9.6, False, False),
    ("100 mg SC every 4 weeks", None, 100, 28, 100, False, False),
    ("10 mg daily", None, 10, 1, 280, False, False),
    ("5 mg twice daily", None, 5, 0.5, 280, False, False),
    ("5 mg BID", None, 5, 0.5, 280, False, False),
    ("5 mg PO TID", None, 5, 0.3333, 420, False, False),
    ("200 mg once a month", None, 200, 28, 200, False, False),
    ("200 mg monthly", None, 200, 28, 200, False, False),
    ("100 mg every 3 weeks", None, 100, 21, 133.3, False, False),
    ("100 mg q3w", None, 100, 21, 133.3, False, False),
    ("400 mg every 8 weeks", None, 400, 56, 200, False, False),
    ("300 mg q4w", None, 300, 28, 300, False, False),
    ("300 mg Q2W", None, 300, 14, 600, False, False),
    ("300 mg every two weeks", None, 300, 14, 600, False, False),
    ("600 mg every twelve weeks", None, 600, 84, 200, False, False),
    ("300 mg every 14 days", None, 300, 14, 600, False, False),
    ("300 mg biweekly", None, 300, 14, 600, False, False),
    ("10 mg three times weekly", None, 10, 2.3333, 120, False, False),
    ("15 mg per week", None, 15, 7, 60, False, False),
    ("1,200 mg per 28 days", None, 1200, 28, 1200, False, False),
    ("300 mg per month", None, 300, 28, 300, False, False),
    ("300 mg/month", None, 300, 28, 300, False, False),
    ("500 mcg daily", None, 0.5, 1, 14, False, False),
    ("250 µg weekly", None, 0.25, 7, 1, False, False),
    ("100 ug every 2 weeks", None, 0.1, 14, 0.2, False, False),
    ("1 g IV every 4 weeks", None, 1000, 28, 1000, False, False),
    ("1 g/kg IV every 3 weeks", 82, 82000, 21, 109333.3, False, True),
    ("1 g/kg IV every 3 weeks", None, None, 21, None, False, True),
    ("0.4 g/kg", 70, 28000, None, None, False, True),
    ("0.4 g/kg", None, None, None, None, False, True),
    ("400 mg/kg every 4 weeks", 70, 28000, 28, 28000, False, True),
    (IVIG_LOADING, 82, 82000, 21, 109333.3, True, True),
    ("600 mg once, then 300 mg every 2 weeks", None, 300, 14, 600, True, False),
    ("600 mg SC once (loading), then 300 mg every other week", None, 300, 14, 600, True, False),
    (ONCE_THEN, None, 40, 14, 80, True, False),
    ("0.25 mg SC weekly titrated to 2.4 mg SC weekly", None, 2.4, 7, 9.6, True, False),
    ("0.25 mg weekly escalated to 2.4 mg", None, 2.4, 7, 9.6, True, False),
    ("160 mg on day 1, 80 mg on day 15, then 40 mg weekly", None, 40, 7, 160, True, False),
    ("300 mg every 2 weeks after a 600 mg loading dose", None, 300, 14, 600, True, False),
    ("1000 mL ... twice weekly", None, None, 3.5, None, False, False),
    ("Dose: 600 mg (two 300 mg syringes per dose)", None, 600, None, None, False, False),
    ("two 300 mg syringes", None, 600, None, None, False, False),
    ("two 300 mg syringes or pens per 28 days", None, 600, 28, 600, False, False),
    ("150 mg or 300 mg SC every 4 weeks", None, 300, 28, 300, False, False),
    ("0.4 to 1 g/kg every 3 to 6 weeks", 50, 50000, 21, 66666.7, False, True),
    ("0.4 g/kg daily for 5 days", 70, 28000, 1, 140000, False, True),
]


@pytest.mark.parametrize(("text", "weight", "mg", "interval", "per28", "loading", "per_kg"), CASES)
def test_parse_regimen_table(text, weight, mg, interval, per28, loading, per_kg):
    dose = parse_regimen(text, weight_kg=weight)
    assert dose is not None
    assert dose.dose_mg == (None if mg is None else pytest.approx(mg))
    assert dose.interval_days == (None if interval is None else pytest.approx(interval, abs=1e-3))
    assert dose.mg_per_28_days == (None if per28 is None else pytest.approx(per28))
    assert (dose.loading_text is not None) is loading
    assert dose.per_kg is per_kg
    assert dose.arithmetic


def test_arithmetic_is_shown_as_readers_check_it():
    assert parse_regimen("600 mg SC every 2 weeks").arithmetic == (
        "600 mg every 14 days = 600 x 28/14 = 1200 mg per 28 days"
    )
    assert parse_regimen("1 g/kg IV every 3 weeks", weight_kg=82).arithmetic == (
        "1 g/kg x 82 kg = 82 g = 82000 mg every 21 days = 82000 x 28/21 = 109333 mg per 28 days"
    )
    assert parse_regimen("5 mg twice daily").arithmetic == (
        "5 mg twice daily (56 doses per 28 days) = 5 x 56 = 280 mg per 28 days"
    )
    assert "weight needed" in parse_regimen("1 g/kg IV every 3 weeks").arithmetic
    assert "twice weekly" in parse_regimen("300 mg biweekly").arithmetic  # ambiguity noted
    assert "28 days" in parse_regimen("200 mg monthly").arithmetic
    assert "highest of '150 mg or 300 mg'" in parse_regimen("150 mg or 300 mg q4w").arithmetic


def test_loading_and_titration_keep_the_earlier_phase_as_text():
    dose = parse_regimen("600 mg SC once (loading), then 300 mg SC every 2 weeks", drug="x")
    assert (dose.loading_text, dose.dose_text) == (
        "600 mg SC once (loading)",
        "300 mg SC every 2 weeks",
    )
    assert dose.drug == "x"
    dose = parse_regimen("160 mg on day 1, 80 mg on day 15, then 40 mg weekly")
    assert dose.loading_text == "160 mg on day 1, 80 mg on day 15"
    dose = parse_regimen("2 g/kg IV divided over 5 days, then 1 g/kg IV every 3 weeks", weight_kg=82)
    assert dose.loading_text == "2 g/kg IV divided over 5 days" and dose.weight_kg == 82
    dose = parse_regimen("0.25 mg SC weekly titrated to 2.4 mg SC weekly")
    assert dose.loading_text == "0.25 mg SC weekly" and dose.dose_mg == 2.4
    steps = (
        "0.25 mg SC once weekly for 4 weeks, then 0.5 mg, 1 mg and 1.7 mg weekly for 4 weeks "
        "each, then 2.4 mg SC once weekly (maintenance)"
    )
    assert parse_regimen(steps).mg_per_28_days == 9.6
    table = (
        "| Loading dose | 600 mg (two 300 mg injections) subcutaneously once on day 1 |\n"
        "| Maintenance dose | 300 mg subcutaneously every 2 weeks, starting day 15 |"
    )
    dose = parse_regimen(table)
    assert (dose.dose_mg, dose.mg_per_28_days, dose.route) == (300, 600, "SC")
    assert dose.loading_text.startswith("600 mg (two 300 mg injections)")


@pytest.mark.parametrize(
    ("text", "route"),
    [
        ("600 mg SC every 2 weeks", "SC"),
        ("600 mg subcutaneously every 2 weeks", "SC"),
        ("1 g/kg IV every 3 weeks", "IV"),
        ("1 g/kg intravenously every 3 weeks", "IV"),
        ("10 mg orally daily", "oral"),
        ("10 mg PO daily", "oral"),
        ("10 mg by mouth daily", "oral"),
        ("2.4 mg IM every 4 weeks", "IM"),
        ("300 mg every 4 weeks", None),
    ],
)
def test_route(text, route):
    assert parse_regimen(text).route == route


def test_non_mass_units_keep_the_text_but_no_mg():
    dose = parse_regimen("1000 mL normal saline IV twice weekly")
    assert (dose.dose_mg, dose.mg_per_28_days, dose.interval_days) == (None, None, 3.5)
    assert dose.dose_text == "1000 mL normal saline IV twice weekly"
    assert "not a mass unit" in dose.arithmetic


def test_a_short_course_is_not_extrapolated_to_28_days():
    dose = parse_regimen("1 g/kg daily for 1 to 2 days (2 g/kg total per course)", weight_kg=70)
    assert dose.mg_per_28_days == 140000  # two doses, not 28
    assert "one course" in dose.arithmetic


def test_parse_regimen_prefers_the_named_drug():
    text = "She takes cetirizine 10 mg daily. Request: omalizumab 600 mg SC every 2 weeks."
    assert parse_regimen(text).dose_mg == 10
    assert parse_regimen(text, drug="Omalizumab").dose_mg == 600


@pytest.mark.parametrize(
    "text",
    ["", "no dose here", "Glucose 98 mg/dL, CRP 3 mg/L, IgE 30 IU/mL", "100 mg/mL vial",
     "300 mg/2 mL prefilled syringe", "infuse at 8 mg/kg/min", "500/50 mcg", "every 2 weeks"],
)  # fmt: skip
def test_no_dose_gives_none_and_nothing_found(text):
    assert parse_regimen(text) is None
    assert find_regimens(text) == []


def _found(text, **kw):
    return [(text[s:e], d) for s, e, d in find_regimens(text, **kw)]


def test_find_regimens_in_a_policy_dosing_paragraph():
    text = (
        "Dosing and quantity limits:\n"
        "- 75 mg to 600 mg SC every 2 or 4 weeks according to the label table.\n"
        "- Maximum covered dose: 600 mg every 2 weeks (1,200 mg per 28 days), and only when "
        "the label table supports that dose.\n"
        "- For urticaria: up to 300 mg SC every 4 weeks. Maximum covered dose: 300 mg per 28 days."
        " Adults: 80 mg subcutaneously once, then 40 mg every other week starting one week after"
        " the initial dose.\n"
    )
    found = _found(text)
    quotes = [q for q, _ in found]
    assert quotes == [
        "75 mg to 600 mg SC every 2 or 4 weeks",
        "600 mg every 2 weeks (1,200 mg per 28 days)",  # the restatement is not a second dose
        "300 mg SC every 4 weeks",
        "300 mg per 28 days",
        "80 mg subcutaneously once, then 40 mg every other week",
    ]
    assert [d.mg_per_28_days for _, d in found] == [1200, 1200, 300, 300, 80]
    assert "shortest interval" in found[0][1].arithmetic  # 'every 2 or 4 weeks' -> 14 days
    assert found[-1][1].loading_text == "80 mg subcutaneously once"


def test_find_regimens_in_label_table_rows():
    text = (
        "| Population | Loading | Maintenance |\n|---|---|---|\n"
        "| Adults | 600 mg | 300 mg every 2 weeks |\n"
        "| EGPA | 300 mg SC (three separate 100 mg injections) | every 4 weeks |\n"
        "| CIDP | Loading dose 2 g/kg (may be divided over 2 to 4 consecutive days); "
        "maintenance 1 g/kg every 3 weeks |\n"
    )
    found = _found(text, weight_kg=70)
    assert [q for q, _ in found] == [
        "600 mg | 300 mg every 2 weeks",
        "300 mg SC (three separate 100 mg injections) | every 4 weeks",
        "2 g/kg (may be divided over 2 to 4 consecutive days); maintenance 1 g/kg every 3 weeks",
    ]
    doses = [d for _, d in found]
    assert [(d.dose_mg, d.mg_per_28_days) for d in doses] == [
        (300, 600),
        (300, 300),
        (70000, 93333.3),
    ]
    assert doses[0].loading_text == "600 mg" and doses[1].route == "SC"


def test_find_regimens_in_a_literature_sentence():
    text = (
        "The most common dose was 150 mg every 2 weeks; 300 mg every 4 weeks was used in 12 "
        "patients, and doses of 300 mg per month or more were linked to complete response. "
        "No patient received 600 mg every 2 weeks (1,200 mg per 4 weeks)."
    )
    found = _found(text)
    assert [q for q, _ in found] == [
        "150 mg every 2 weeks",
        "300 mg every 4 weeks",
        "300 mg per month",
        "600 mg every 2 weeks (1,200 mg per 4 weeks)",
    ]
    assert [d.mg_per_28_days for _, d in found] == [300, 300, 300, 1200]


def test_find_regimens_keeps_alternatives_apart():
    text = "Escalation to 40 mg every week or 80 mg every other week may be approved."
    assert [(q, d.mg_per_28_days) for q, d in _found(text)] == [
        ("40 mg every week", 160),
        ("80 mg every other week", 160),
    ]


def test_find_regimens_does_not_borrow_a_frequency_from_a_note():
    text = (
        "Per 28 days, the highest maintenance dose is 1200 mg (300 mg weekly, in patients\n"
        "40 kg or more). Pediatric syringes: 10 mg and 20 mg."
    )
    found = _found(text)
    assert [(q, d.interval_days, d.loading_text) for q, d in found] == [
        ("1200 mg", None, None),  # not '1200 mg weekly'
        ("10 mg", None, None),  # two strengths, not a loading dose and its maintenance
        ("20 mg", None, None),
    ]


def test_find_regimens_weight_based_with_and_without_weight():
    text = "Maintenance: up to 1 g/kg every 3 weeks. Induction: 2 g/kg total."
    with_weight = [d for _, d in _found(text, weight_kg=82)]
    assert [(d.dose_mg, d.mg_per_28_days) for d in with_weight] == [
        (82000, 109333.3),
        (164000, None),
    ]
    without = [d for _, d in _found(text)]
    assert all(d.per_kg and d.dose_mg is None and d.mg_per_28_days is None for d in without)
    assert without[0].interval_days == 21


@pytest.mark.parametrize(
    ("value", "text"),
    [(1200, "1200 mg"), (1200.0, "1200 mg"), (9.6, "9.6 mg"), (109333.33, "109333 mg"),
     (133.33, "133.3 mg"), (0.25, "0.25 mg"), (0.025, "0.025 mg"), (80.0, "80 mg")],
)  # fmt: skip
def test_format_mg(value, text):
    assert format_mg(value) == text


def test_a_dose_per_square_metre_uses_the_stated_body_surface_area():
    dose = parse_regimen("375 mg/m2 IV once weekly x 4 doses, BSA 1.8 m2")
    assert dose.dose_mg == 675 and dose.mg_per_28_days == 2700
    assert dose.arithmetic.startswith("375 mg/m² x BSA 1.8 m² = 675 mg per dose")
    stated = parse_regimen("375 mg/m2 IV weekly for 4 weeks (750 mg per dose)")
    assert stated.dose_mg == 750 and "stated as 750 mg per dose" in stated.arithmetic
    assert parse_regimen("375 mg/m2 IV weekly for 4 weeks") is None  # no surface area: no guess
