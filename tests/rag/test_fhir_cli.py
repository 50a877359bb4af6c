"""The FHIR door end to end: `meddraft ingest --fhir` into a real Chroma store, then `assess`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rag.cli import main

REPO = Path(__file__).resolve().parent.parent.parent
BUNDLE = REPO / "tests" / "fixtures" / "fhir" / "psoriasis-biologic.json"
POLICY = REPO / "corpus" / "policies" / "policy-adalimumab.md"
QUESTION = (
    "Is adalimumab-adaz 80 mg SC once, then 40 mg SC every other week medically indicated for this "
    "patient with plaque psoriasis who failed methotrexate and phototherapy?"
)
PHI = ["Quillfeather", "Dorothea", "Larkspur", "Marblehead", "MRN-778812", "999-41-7265", "1988-09-02"]


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Path:
    """The adalimumab policy and the bundle, ingested once through the CLI."""
    path = tmp_path_factory.mktemp("fhir") / "store"
    code = main(["ingest", str(POLICY), "--fhir", str(BUNDLE), "--case", "fhir-ps-001", "--store", str(path)])
    assert code == 0
    return path


def _case_chunks(store: Path, case_id: str):
    from rag.components import build_store
    from rag.settings import load_settings

    return build_store(load_settings(overrides={"store.path": str(store)})).get(where={"case_id": case_id})


def test_ingest_fhir_puts_every_document_in_one_case_without_phi(store, capsys):
    chunks = _case_chunks(store, "fhir-ps-001")
    doc_ids = {c.metadata["doc_id"] for c in chunks}
    assert {"fhir-ps-001-fhir-medications", "fhir-ps-001-fhir-request", "fhir-ps-001-fhir-labs"} <= doc_ids
    assert len(doc_ids) == 7
    kinds = {c.metadata["doc_id"]: c.metadata["kind"] for c in chunks}
    assert kinds["fhir-ps-001-fhir-request"] == "request"
    text = "\n".join(c.text for c in chunks)
    assert "methotrexate" in text and not [p for p in PHI if p in text]


def test_ingesting_the_same_bundle_again_changes_nothing(store, capsys):
    capsys.readouterr()
    args = ["ingest", "--fhir", str(BUNDLE), "--case", "fhir-ps-001", "--store", str(store), "--quiet"]
    assert main(args) == 0
    captured = capsys.readouterr()
    assert "nothing changed" in captured.out and "7 unchanged" in captured.out
    assert "FHIR bundle" in captured.err and "-> case fhir-ps-001" in captured.err
    assert "Quillfeather" not in captured.out + captured.err


def test_a_bad_bundle_fails_alone_with_exit_3(store, tmp_path, capsys):
    bad = tmp_path / "broken.json"
    bad.write_text(
        '{"resourceType": "Bundle", "type": "collection", "entry": [{"resource": '
        '{"resourceType": "Condition", "onsetDateTime": "Quillfeather"}}]}'
    )
    capsys.readouterr()
    code = main(["ingest", "--fhir", str(bad), "--fhir", str(BUNDLE), "--store", str(store), "--quiet"])
    assert code == 3
    captured = capsys.readouterr()
    assert f"FAILED  {bad}: is not a usable FHIR R4 bundle: fails FHIR R4 validation" in captured.err
    assert "entry[0].resource (Condition).onsetDateTime" in captured.err
    assert "Quillfeather" not in captured.err + captured.out  # the failing value is never printed
    # the good bundle of the same batch landed, in the case named by its Patient id
    derived = _case_chunks(store, "6f1c2a3e-9b7d-4c1e-8f2a-1d3b5c7e9a01")
    assert len({c.metadata["doc_id"] for c in derived}) == 7


def test_usage_errors_exit_2(store, capsys):
    assert main(["ingest", "--store", str(store)]) == 2
    assert "nothing to ingest" in capsys.readouterr().err
    assert main(["ingest", str(POLICY), "--case", "x", "--store", str(store)]) == 2


def test_assess_reads_the_failed_therapies_from_the_fhir_notes(store, tmp_path, capsys):
    out = tmp_path / "draft.json"
    args = ["assess", QUESTION, "--case", "fhir-ps-001", "--store", str(store), "--format", "json"]
    assert main([*args, "--out", str(out)]) == 0
    draft = json.loads(out.read_text())
    assert draft["verdict"]["label"] == "indicated"
    criteria = {c["id"]: c for c in draft["criteria"]}
    step = next(c for c in criteria.values() if c["text"].startswith("Inadequate response after at least 3"))
    assert step["status"] == "met"
    children = {c["text"]: c for c in step["children"]}
    methotrexate, photo = children["methotrexate"], children["phototherapy (NB-UVB or PUVA)"]
    assert methotrexate["status"] == "met" and "intolerance" in methotrexate["rationale"]
    assert "fhir-ps-001-fhir-medications" in methotrexate["rationale"]
    assert photo["status"] == "met" and "fhir-ps-001-fhir-procedures" in photo["rationale"]
    tb = next(c for c in criteria.values() if c["text"].startswith("Negative tuberculosis"))
    assert tb["status"] == "met" and "fhir-ps-001-fhir-labs" in tb["rationale"]
    specialty = next(c for c in criteria.values() if "dermatologist" in c["text"])
    assert specialty["status"] == "met" and "fhir-ps-001-fhir-request" in specialty["rationale"]
    cited = {r["doc_id"] for r in draft["references"]}
    assert not {d for d in cited if d.startswith("6f1c2a3e")}  # the other case's copy is never seen


def test_the_patient_record_reads_the_fhir_notes_as_notes(store, capsys):
    capsys.readouterr()
    assert main(["case", "show", "fhir-ps-001", "--store", str(store), "--format", "json"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["age"] == 36 and record["weight_kg"] == 68
    by_name = {
        (i["kind"], i["name"]): i for i in record["items"] if i["doc_id"].endswith(("medications", "labs"))
    }
    assert by_name[("medication", "methotrexate")]["outcome"].startswith("intolerance")
    assert by_name[("test", "tuberculosis screening")]["value"] == "negative"
    # codes are written so that no code reads as a measurement ("SNOMED CT 200965009" read as "CT")
    assert not [
        i for i in record["items"] if i["kind"] == "measurement" and i["name"] not in {"ALT", "BSA", "PASI"}
    ]


def test_the_python_api_ingests_bundles(tmp_path):
    from meddraft import Settings, ingest

    settings = Settings(store={"path": str(tmp_path / "api")})
    report = ingest([], settings, fhir=[BUNDLE], case_id="api-1")
    assert report.count("added") == 7 and not report.failed
    assert (tmp_path / "api" / "fhir" / "api-1" / "api-1-fhir-request.md").is_file()
