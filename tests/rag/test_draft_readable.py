"""A draft a medical writer would sign: the demo draft read as a writer reads it, plus the small
pieces (merged findings, whole quotes, table rows, age caveats) on their own."""

from __future__ import annotations

import re
from io import BytesIO

import docx
import pytest

from rag.analysis.comparators import _for_age
from rag.analysis.lexicon import generic_heads, synonyms
from rag.analysis.record import Mention
from rag.analysis.request import parse_request
from rag.drafting.findings import diagnosis_named
from rag.drafting.relevance import age_matters, disease_names, on_indication
from rag.rendering import render
from rag.retrieval.passages import Sentence, table_row, text_sentences
from rag.text import around, leading_clause, plain, shorten
from rag.types import Hit
from tests.rag.test_render import make_assessment


def _section(draft, key):
    return next(s for s in draft.sections if s.key == key)


def test_the_verdict_is_two_whole_sentences_with_the_deciding_reasons(demo):
    summary = demo.verdict.summary
    sentences = re.split(r"(?<=[.!?])\s+(?=[A-Z])", summary)
    assert len(sentences) == 2, summary
    assert "…" not in summary and "..." not in summary
    assert sentences[0].startswith("Omalizumab 600 mg SC every 2 weeks is not medically indicated")
    # the diagnosis the policy requires and the record rules out, and the dose, in plain words
    assert "systemic mastocytosis, which the record rules out" in sentences[1]
    assert "1,200 mg per 28 days is 4 times the policy's limit of 300 mg" in sentences[1]
    assert "Deciding:" not in summary and "(not met)" not in summary


def test_deciding_findings_merge_criteria_that_state_one_fact(demo):
    findings = _section(demo, "findings").bullets
    # coverage line P1, exclusion X1 and diagnosis 1 say one thing: one finding, and the dose
    assert len(findings) == 2, [b.text for b in findings]
    diagnosis, dose = findings
    assert "requires a diagnosis of systemic mastocytosis" in diagnosis.text
    assert "The record rules out systemic mastocytosis" in diagnosis.text
    assert re.search(r"\(Allergy Clinic Follow-up Note, 2025-04-07\)", diagnosis.text)
    assert "4 times that limit" in dose.text and "1,200 mg per 28 days" in dose.text
    assert all(b.supported and b.citations for b in findings)
    recommendation = _section(demo, "recommendation").bullets
    assert "(criteria 1, P1, and X1)" in recommendation[0].text
    assert "(criterion D1)" in recommendation[0].text
    assert "would change with documentation that confirms systemic mastocytosis" in recommendation[1].text


def test_each_finding_once_and_sub_criteria_of_a_ruled_out_diagnosis_say_so(demo):
    first = demo.criteria[0]
    assert first.status == "not_met" and "Needs at least" not in first.rationale
    assert all(c.rationale.startswith("Not reached: the record rules out") for c in first.children)
    quoted = "Bone marrow 2021: no mastocytosis"
    context = " ".join(b.text for b in _section(demo, "patient_context").bullets)
    assert quoted not in context  # the findings quote it; patient context does not repeat it
    statements = [b.text for s in demo.sections for b in s.bullets]
    assert len(statements) == len(set(statements))


def test_dosing_is_one_statement_and_one_table(demo):
    bullets = _section(demo, "dosing").bullets
    assert len(bullets) == 1
    assert "4 times the policy's limit (300 mg)" in bullets[0].text
    assert "4.0" not in bullets[0].text
    md = render(demo, "md")
    assert md.count("| Regimen | Dose |") == 1 and "## Dose comparison" not in md
    assert "**75 mg" not in md  # no Markdown inside quotes or cells


def test_no_pediatric_caveat_for_an_adult_and_evidence_about_the_drug(demo):
    pitfalls = " ".join(b.text for b in _section(demo, "pitfalls").bullets)
    assert "Pediatrics" not in pitfalls and "below 6 years" not in pitfalls
    evidence = _section(demo, "evidence").bullets
    refs = {r.n: r for r in demo.references}
    assert evidence and all("omalizumab" in (b.text + refs[b.citations[0]].title).lower() for b in evidence)
    md = render(demo, "md")
    assert "### Systematic reviews" in md


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("Diagnosis of systemic mastocytosis confirmed by either of the following:", "systemic mastocytosis"),
        ("A confirmed diagnosis of giant cell arteritis, by biopsy", "giant cell arteritis"),
        ("Prescribed by a rheumatologist", ""),
    ],
)
def test_diagnosis_named(text, name):
    assert diagnosis_named(text) == name


@pytest.mark.parametrize(
    ("sentence", "age", "kept"),
    [
        ("Pediatrics: safety not established below 6 years for asthma.", 38, False),
        ("Pediatrics: safety not established below 6 years for asthma.", 9, True),
        ("Pediatrics: safety not established below 6 years for asthma.", None, False),
        ("Use with caution in patients 65 years and older.", 63, True),
        ("Use with caution in patients 65 years and older.", 30, False),
        ("Anaphylaxis has occurred after the first dose.", 30, True),  # not an age caveat
    ],
)
def test_age_caveats_only_near_the_patients_age(sentence, age, kept):
    assert age_matters(sentence, age) is kept


def test_table_rows_read_as_one_statement():
    cells = ["Famotidine", "40 mg BID", "2021-06-01 to present", "some reduction in heartburn"]
    assert table_row(cells) == "Famotidine 40 mg BID, 2021-06-01 to present: some reduction in heartburn"
    assert table_row(["Prednisone, maintenance", "10 mg daily", "Inadequate"]) == (
        "Prednisone, maintenance 10 mg daily: Inadequate"
    )
    assert table_row(["Weight", "82 kg"]) == "Weight: 82 kg"


def test_plain_text_and_cuts_at_word_boundaries():
    assert plain("Dose: **75 mg to 600 mg** `SC` every *2* weeks") == "Dose: 75 mg to 600 mg SC every 2 weeks"
    assert (
        shorten("Abscess + inflammatory nodule (AN) count at baseline", 31)
        == "Abscess + inflammatory nodule…"
    )
    cut = shorten("confirmed by either of the following criteria", 36)
    assert cut == "confirmed by either of the…"


def test_a_drug_is_known_by_its_other_names():
    """The lexicon's synonyms make 'IVIG' and 'immune globulin intravenous' one drug, so a trial
    titled with the written-out name is evidence about the request."""
    assert "immune globulin intravenous" in synonyms("IVIG")
    assert "IVIG" in synonyms("Intravenous Immune Globulin")
    assert synonyms("omalizumab") == []
    request = parse_request(
        "Is IVIG 2 g/kg IV every 3 weeks medically indicated for this patient with CIDP?", []
    )
    assert "intravenous immune globulin" in request.drug_aliases


@pytest.mark.parametrize(
    ("row", "age", "fits"),
    [
        ("Members 4 to 17 years: 0.8 mg/kg (maximum 40 mg) every other week.", 41, False),
        ("Members 4 to 17 years: 0.8 mg/kg (maximum 40 mg) every other week.", 12, True),
        ("Members 4 to 17 years: 0.8 mg/kg (maximum 40 mg) every other week.", None, True),
        ("Adults 18 years and older: 40 mg every other week.", 41, True),
        ("Adults 18 years and older: 40 mg every other week.", 16, False),
        ("40 mg every other week.", 41, True),
    ],
)
def test_a_policy_limit_for_another_age_band_is_not_the_patients(row, age, fits):
    assert _for_age(row, age) is fits


def _hit(title: str, text: str, section: str = "") -> Hit:
    return Hit(doc_id="d", title=title, kind="study", chunk_id="c", text=text, section=section)


def test_literature_on_another_indication_is_told_apart():
    terms = ["moderate-to-severe plaque psoriasis", "plaque psoriasis"]
    reveal = _hit("Adalimumab Therapy for Moderate to Severe Psoriasis (REVEAL)", "71% reached PASI 75.")
    assert on_indication(reveal, "71% reached PASI 75.", terms)  # 'psoriasis', hyphens as spaces
    solo = _hit("Dupilumab in atopic dermatitis: SOLO 1 and 2", "EASI-75 in 44% to 51%.")
    assert not on_indication(solo, "EASI-75 in 44% to 51%.", ["eosinophilic gastritis"])
    # a generic head noun ('syndrome') does not make a paper about another syndrome on-topic
    other = _hit("Omalizumab in idiopathic anaphylaxis", "Most patients responded.")
    assert not on_indication(other, "Most patients responded.", ["mast cell activation syndrome"])


def test_other_indications_are_a_group_of_their_own_that_says_so():
    a = make_assessment()
    evidence = next(s for s in a.sections if s.key == "evidence")
    evidence.bullets[2].other_indication = True  # the systematic review [5]
    md = render(a, "md")
    body = md[md.index("## Evidence") : md.index("## Patient")]
    assert body.index("### Trials and studies") < body.index("### Other indications (context only)")
    note = "These sources report on widgetumab in other indications than chronic widget disease"
    assert note in body and note in render(a, "html")
    doc = docx.Document(BytesIO(render(a, "docx")))
    assert any(p.text.startswith(note) for p in doc.paragraphs)
    for bullet in evidence.bullets:
        bullet.other_indication = True
    assert "The library holds no guideline, systematic review or trial on widgetumab" in render(a, "md")


def test_disease_names_come_from_the_terms_and_the_lexicon():
    names = disease_names(["class 1 obesity and hyperlipidemia", "idiopathic mast cell activation syndrome"])
    assert "obesity" in names and "hyperlipidemia" in names
    assert "mast cell activation syndrome" in names
    assert "syndrome" not in names  # a generic head (lexicon: generic_disease_heads)
    assert "arthritis" in generic_heads() and "arthritis" not in disease_names(["psoriatic arthritis"])


LAB_ROW = (
    "Data Reviewed Test (03/04/2025 unless noted) Result Reference range CRP 14.0 mg/L (H) < 5.0 mg/L "
    "ESR 32 mm/h (H) 0-20 mm/h Rheumatoid factor < 10 IU/mL < 14 IU/mL Anti-CCP < 16 U/mL < 20 U/mL "
    "QuantiFERON-TB Gold Plus (02/26/2025) Negative Negative HLA-B27 Negative Negative"
)


def test_a_quote_from_a_long_line_holds_what_it_quotes():
    start = LAB_ROW.index("QuantiFERON")
    quoted = around(LAB_ROW, start, start + len("QuantiFERON"), 160)
    assert "QuantiFERON-TB Gold Plus (02/26/2025) Negative" in quoted and len(quoted) <= 160
    assert quoted.startswith("…") and quoted.strip("…") in LAB_ROW  # cut, marked, never mid-word
    assert set(quoted.strip("…").split()) <= set(LAB_ROW.split())
    crp = LAB_ROW.index("CRP")
    assert around(LAB_ROW, crp, crp + 3, 160) == shorten(LAB_ROW, 160)  # near the start: as before
    assert around("Diagnosis: psoriatic arthritis.", 11, 30, 160) == "Diagnosis: psoriatic arthritis."


def test_a_diagnosis_is_quoted_from_what_the_clinician_wrote_not_the_banner():
    def mention(text):
        sentence = Sentence(text, 0, len(text), "n", "n-1", "clinical_note", None, "")
        return Mention(sentence, "psoriatic arthritis", "present", [], 0, 0)

    banner = mention("DOE, JANE | DOB 07/22/1983 | MRN 221904 Rheumatology consult: psoriatic arthritis")
    written = mention("Diagnosis: psoriatic arthritis, peripheral predominant, moderately active.")
    assert banner.in_header and not written.in_header
    assert min([banner, written], key=lambda m: m.in_header) is written


def test_list_items_join_only_the_line_that_introduces_them():
    items = [
        "IL-17 inhibition may cause new inflammatory bowel disease; use caution in Crohn's disease.",
        "Mucocutaneous candidiasis is more common than with placebo.",
        "Do not combine with another biologic.",
    ]
    assert text_sentences("".join(f"- {i}\n" for i in items)) == items  # no "disease.; Mucocutaneous"
    intro = "Of 77 patients:\n- complete response: 14 (18%)\n- partial response: 47 (61%)\n"
    assert text_sentences(intro) == [
        "Of 77 patients: complete response: 14 (18%); partial response: 47 (61%)"
    ]


def test_a_finding_that_ends_on_a_quote_has_one_full_stop():
    from rag.drafting.findings import _why
    from rag.types import Criterion

    leaf = Criterion(
        id="1.3.1",
        text="History of failure to a 3-month trial of one conventional DMARD",
        logic="leaf",
        status="not_met",
        rationale='The record states no trial of DMARD: "She has not had a conventional DMARD." (psa-9).',
    )
    branch = Criterion(id="1.3", text="One of the following:", logic="any", status="not_met", children=[leaf])
    why = _why(branch)
    assert why.endswith(
        'Criterion 1.3.1: The record states no trial of DMARD: "She has not had a conventional DMARD."'
    )


POLICY_OPTION = (
    "History of failure to a minimum 3-month trial of one conventional disease-modifying antirheumatic "
    "drug (DMARD) — methotrexate, leflunomide, sulfasalazine, or cyclosporine — at maximally indicated "
    "doses, unless contraindicated"
)


def test_a_long_policy_option_keeps_its_whole_leading_clause():
    # as the realworld secukinumab PDF words it; a 60-character cut read "... trial of one…"
    assert leading_clause(POLICY_OPTION, 140) == (
        "History of failure to a minimum 3-month trial of one conventional disease-modifying "
        "antirheumatic drug (DMARD)"
    )
    no_break = "Patient has predominantly axial disease or active enthesitis and a history of failure, " * 2
    assert leading_clause(no_break, 140) == shorten(no_break, 140)  # no clause end in reach: word cut
    assert (
        leading_clause("Diagnosis: active psoriatic arthritis", 140)
        == "Diagnosis: active psoriatic arthritis"
    )
    assert leading_clause("Dx: " + POLICY_OPTION, 140).startswith(
        "Dx: History"
    )  # a break too early is not one


def test_patient_context_skips_order_set_checkbox_runs_and_signature_lines():
    from types import SimpleNamespace

    from rag.drafting.extractive import ExtractiveGenerator

    text = (
        "Flaring since 10/2024: 7-9 bloody stools/day, 2 nocturnal, urgency, tenesmus.\n"
        "ORDERS [X] Ustekinumab 520 mg in 0.9% NaCl 250 mL IV over at least 1 hour, ONCE (week 0) "
        "[ ] Premedication: none required\n"
        "Electronically signed: Anand Kulkarni, MD, Gastroenterology, 03/03/2025 16:12\n"
    )
    hit = Hit(doc_id="n", title="n", kind="clinical_note", chunk_id="c", text=text, case_id="case-x")
    analysis = SimpleNamespace(case_id="case-x", deciding=[])
    picked = [b.text for b in ExtractiveGenerator()._patient([hit], analysis)]
    assert picked == ["Flaring since 10/2024: 7-9 bloody stools/day, 2 nocturnal, urgency, tenesmus."], picked
