"""The FHIR door's mapping: a Synthea-shaped R4 Bundle -> a case's Markdown notes and request."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from ingest.fhir import FhirBundleError, case_documents, prepare
from ingest.fhir.notes import dosage_text
from ingest.loaders import SourceFile, load

BUNDLE = Path(__file__).resolve().parent.parent / "fixtures" / "fhir" / "psoriasis-biologic.json"
PHI = [
    "Quillfeather",
    "Dorothea",
    "Larkspur",
    "Marblehead",
    "01945",
    "MRN-778812",
    "999-41-7265",
    "555-318-4407",
    "1988-09-02",
    "Okonkwo",  # the prescriber's name: a specialty is written, never a name
]


@pytest.fixture(scope="module")
def docs() -> dict[str, str]:
    mapped = case_documents(BUNDLE, "fhir-ps-001")
    assert mapped.case_id == "fhir-ps-001"
    return {d.id.removeprefix("fhir-ps-001-fhir-"): d.markdown() for d in mapped.documents}


def _write(tmp_path: Path, data: object, name: str = "b.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(data) if not isinstance(data, str) else data)
    return path


def _bundle() -> dict:
    return json.loads(BUNDLE.read_text())


def test_every_resource_kind_becomes_a_dated_case_document(docs):
    note = next(k for k in docs if k.startswith("note-"))
    assert set(docs) == {"demographics", "problems", "medications", "labs", "procedures", note, "request"}
    for text in docs.values():
        assert "case_id: fhir-ps-001" in text and "source: FHIR R4 bundle" in text
    # Patient: age on the request's date, and sex
    assert "36-year-old female (age on 2025-02-20)" in docs["demographics"]
    # Condition: the code's display with its code, severity, statuses, onset
    assert (
        "- Chronic plaque psoriasis (code 200965009, SNOMED CT): moderate to severe, active, confirmed, "
        "onset 2010-06-01." in docs["problems"]
    )
    assert "## Past problems\n\n- Prediabetes" in docs["problems"]
    # MedicationStatement (structured dosage) and MedicationRequest (dosage text, boundsPeriod)
    assert (
        "| methotrexate | 15 mg orally every week | 2024-04-22 | 2024-06-03 | Stopped. Reason: "
        "Drug-induced transaminitis: ALT rose to 142 U/L (intolerance) | Chronic plaque psoriasis |"
    ) in docs["medications"]
    assert (
        "| calcipotriene/betamethasone foam | apply to plaques once daily | 2023-01-10 | 2024-03-01 |"
        in (docs["medications"])
    )
    meds = docs["medications"]
    assert (
        "| clobetasol 0.05% solution | apply to scalp twice daily as needed | 2016-03-01 | — | Ongoing"
        in meds
    )
    # Observation: value, unit, reference range, interpretation, date
    assert "- ALT: 142 U/L (reference 7 U/L to 40 U/L; interpretation High), 2024-06-03." in docs["labs"]
    assert "- QuantiFERON-TB Gold Plus (IGRA): negative (reference negative), 2025-01-08." in docs["labs"]
    assert "- BSA: 12%, 2025-02-14." in docs["labs"]
    # Procedure with its period and outcome
    row = "| NB-UVB phototherapy 3 times weekly | 2024-08-05 | 2024-11-11 | Completed. Inadequate response"
    assert row in docs["procedures"]
    # DocumentReference: the base64 text/plain attachment, dated; the URL-only one is not fetched
    assert "date: '2025-02-14'" in docs[note] and "Monotherapy; no other biologic" in docs[note]
    assert "ehr.example.org" not in "".join(docs.values())


def test_the_preauthorization_claim_is_the_request_and_its_drug_is_not_history(docs):
    request = docs["request"]
    assert "kind: request" in request and "date: '2025-02-20'" in request
    assert "- Drug: adalimumab-adaz (Hyrimoz)" in request
    dose = "- Dose and frequency: 80 mg subcutaneously once, then 40 mg subcutaneously every other week"
    assert dose in request
    assert "- L40.0 Psoriasis vulgaris" in request and "- Specialty: Dermatology" in request
    assert "Encounter for check up" not in request  # the billing Claim (use: claim) is not a request
    assert "adalimumab" not in docs["medications"]  # the drug asked for was never taken


def test_refuted_conditions_read_as_ruled_out_and_entered_in_error_ones_are_omitted(docs):
    problems = docs["problems"]
    assert "## Ruled out\n\n- Psoriatic arthritis (code 33339001, SNOMED CT): ruled out." in problems
    active = problems.split("## Active problems")[1].split("## Past problems")[0]
    assert "Psoriatic arthritis" not in active
    assert all("lupus" not in text.lower() for text in docs.values())


def test_no_name_address_identifier_or_birth_date_reaches_the_text(docs):
    text = "\n".join(docs.values())
    assert not [p for p in PHI if p in text]


def test_documents_parse_as_ordinary_markdown_notes(tmp_path, docs):
    path = tmp_path / "labs.md"
    path.write_text(docs["labs"])
    doc = load(SourceFile(path, None))
    assert doc.id == "fhir-ps-001-fhir-labs" and doc.meta.kind == "clinical_note"
    assert doc.meta.case_id == "fhir-ps-001" and str(doc.meta.date) == "2025-02-14"


def test_the_case_id_comes_from_the_patient_id_sanitised(tmp_path):
    data = _bundle()
    data["entry"][0]["resource"]["id"] = "ABC.Patient-123"
    mapped = case_documents(_write(tmp_path, data))
    assert mapped.case_id == "abc-patient-123"
    assert all(d.meta.case_id == "abc-patient-123" for d in mapped.documents)
    assert case_documents(BUNDLE).case_id == "6f1c2a3e-9b7d-4c1e-8f2a-1d3b5c7e9a01"
    data["entry"] = [e for e in data["entry"] if e["resource"]["resourceType"] != "Patient"]
    with pytest.raises(FhirBundleError, match="no Patient with an id to name the case: pass --case"):
        case_documents(_write(tmp_path, data, "nopatient.json"))


def test_mapping_is_deterministic():
    first = [(d.id, d.markdown()) for d in case_documents(BUNDLE, "x-1").documents]
    assert first == [(d.id, d.markdown()) for d in case_documents(BUNDLE, "x-1").documents]


def test_structured_dosage_reads_dose_route_and_timing():
    dosage = {
        "doseAndRate": [{"doseQuantity": {"value": 300, "unit": "mg"}}],
        "route": {"coding": [{"display": "Subcutaneous route"}]},
        "timing": {"repeat": {"frequency": 1, "period": 2, "periodUnit": "wk"}},
    }
    assert dosage_text(dosage) == "300 mg Subcutaneous route every 2 weeks"
    dosage["timing"] = {"repeat": {"frequency": 2, "period": 1, "periodUnit": "d"}}
    assert dosage_text(dosage).endswith("2 times a day")


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("{not json", r"not JSON \(line 1, column 2\)"),
        ({"resourceType": "Patient", "id": "p"}, r"not a FHIR Bundle \(resourceType 'Patient'\)"),
        ([1, 2], r"not a FHIR Bundle \(resourceType 'list'\)"),
    ],
)
def test_unreadable_bundles_name_the_file_and_the_problem(tmp_path, content, expected):
    path = _write(tmp_path, content)
    with pytest.raises(FhirBundleError, match=expected) as caught:
        case_documents(path)
    assert str(path) in str(caught.value)


def test_a_bundle_failing_validation_names_the_field_but_not_its_value(tmp_path):
    data = _bundle()
    condition = next(e for e in data["entry"] if e["resource"]["resourceType"] == "Condition")
    condition["resource"]["onsetDateTime"] = "Quillfeather-secret"  # not a dateTime
    condition["resource"]["favouriteColour"] = "Dorothea-secret"  # not a FHIR element
    with pytest.raises(FhirBundleError, match="fails FHIR R4 validation") as caught:
        case_documents(_write(tmp_path, data))
    message = str(caught.value)
    assert "(Condition)" in message and "favouriteColour" in message and "onsetDateTime" in message
    assert "secret" not in message


def test_a_bundle_of_two_patients_is_refused(tmp_path):
    data = _bundle()
    other = copy.deepcopy(data["entry"][0])
    other["fullUrl"], other["resource"]["id"] = "urn:uuid:other", "other"
    data["entry"].append(other)
    with pytest.raises(FhirBundleError, match="holds 2 patients"):
        case_documents(_write(tmp_path, data))


def test_prepare_writes_a_case_folder_and_reports_bad_bundles_without_stopping(tmp_path):
    bad = _write(tmp_path, {"resourceType": "Patient"}, "bad.json")
    done = prepare([bad, BUNDLE], tmp_path / "store", "fhir-ps-001")
    assert [(o.path, o.status) for o in done.outcomes] == [(bad, "failed")]
    assert done.folders == [tmp_path / "store" / "fhir" / "fhir-ps-001"]
    names = sorted(p.name for p in done.folders[0].iterdir())
    assert "fhir-ps-001-fhir-request.md" in names and len(names) == 7
    assert [w for _, w in done.warnings] == ["DocumentReference 2: attachment by URL only, not fetched"]
    # two bundles for one case in one run: the second is refused, the first stays
    twice = prepare([BUNDLE, BUNDLE], tmp_path / "store", "fhir-ps-001")
    assert len(twice.folders) == 1 and [o.status for o in twice.outcomes] == ["failed"]
    assert "maps to case 'fhir-ps-001', as another bundle of this run does" in twice.outcomes[0].reason
    # a newer bundle for the case replaces what the earlier one wrote
    data = _bundle()
    data["entry"] = [e for e in data["entry"] if e["resource"]["resourceType"] != "Procedure"]
    prepare([_write(tmp_path, data, "newer.json")], tmp_path / "store", "fhir-ps-001")
    assert not (done.folders[0] / "fhir-ps-001-fhir-procedures.md").exists()


def test_only_the_bundle_module_imports_fhir_resources_and_only_lazily():
    import ast

    repo = BUNDLE.parents[3]
    importers = []
    for path in repo.glob("*/**/*.py"):
        if ".venv" in path.parts or "tests" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            names += [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            if any(n.startswith("fhir") for n in names):
                importers.append((path.relative_to(repo).as_posix(), node.col_offset > 0))
    assert importers == [("ingest/fhir/bundle.py", True)]  # indented: inside the function that reads


def test_an_open_service_request_is_the_request_when_there_is_no_preauthorization_claim(tmp_path):
    data = _bundle()
    data["entry"] = [e for e in data["entry"] if e["resource"]["resourceType"] != "Claim"]
    condition = "urn:uuid:3e9b4c6f-5a7d-4c8e-8f1a-2b3c4d5e6f74"
    data["entry"].append(
        {
            "fullUrl": "urn:uuid:service-1",
            "resource": {
                "resourceType": "ServiceRequest",
                "id": "service-1",
                "status": "active",
                "intent": "order",
                "code": {
                    "coding": [
                        {
                            "system": "http://snomed.info/sct",
                            "code": "1149092001",
                            "display": "Narrowband ultraviolet B phototherapy",
                        }
                    ]
                },
                "subject": {"reference": "urn:uuid:6f1c2a3e-9b7d-4c1e-8f2a-1d3b5c7e9a01"},
                "authoredOn": "2025-03-01",
                "requester": {"reference": "urn:uuid:1c7f2a4d-3e5b-4a6c-8d9e-0f1a2b3c4d52"},
                "reasonReference": [{"reference": condition}],
            },
        }
    )
    mapped = case_documents(_write(tmp_path, data), "sr-1")
    request = next(d for d in mapped.documents if d.meta.kind == "request")
    text = request.markdown()
    assert "date: '2025-03-01'" in text and "- Service: Narrowband ultraviolet B phototherapy" in text
    assert "- 200965009 Chronic plaque psoriasis" in text and "- Specialty: Dermatology" in text
    assert not [w for w in mapped.warnings if "no prior-authorization" in w]
    data["entry"] = data["entry"][:-1]
    mapped = case_documents(_write(tmp_path, data, "norequest.json"), "sr-1")
    assert not [d for d in mapped.documents if d.meta.kind == "request"]
    assert "the case has no request document" in " ".join(mapped.warnings)


def test_a_resource_about_another_patient_is_refused(tmp_path):
    data = _bundle()
    condition = next(e for e in data["entry"] if e["resource"]["resourceType"] == "Condition")
    condition["resource"]["subject"] = {"reference": "Patient/someone-else"}
    with pytest.raises(
        FhirBundleError, match=r"resource \d+ \(Condition\) is about a patient the bundle does not"
    ):
        case_documents(_write(tmp_path, data))
    data["entry"][0]["resource"]["id"] = "someone-else"  # now the bundle holds that patient
    assert case_documents(_write(tmp_path, data, "same.json")).case_id == "someone-else"
