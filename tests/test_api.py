"""The public Python API (`meddraft`): the calls of the README's example, end to end on the real
store and model; importing it costs nothing heavy."""

from __future__ import annotations

import json
import subprocess
import sys

from rag.cli import main
from tests.conftest import REPO

QUESTION = "Is widgetumab 300 mg SC every 4 weeks medically indicated?"


def test_ingest_assess_render_ask_through_the_api(tmp_path, mini_corpus):
    import meddraft
    from meddraft import Settings, ask, assess, ingest, render

    settings = Settings(store={"path": str(tmp_path / "store")})
    report = ingest([mini_corpus], settings)
    assert not report.failed and len(report.outcomes) == 4
    draft = assess(QUESTION, "case-a", settings)
    assert isinstance(draft, meddraft.Assessment) and draft.case_id == "case-a"
    assert draft.verdict.label in {"indicated", "not_indicated", "insufficient_information"}
    markdown = render(draft)
    assert markdown.startswith("# Widgetumab: Medical Necessity Assessment") and "## References" in markdown
    assert render(draft, "docx")[:2] == b"PK"  # a zip: the Word file
    import rispy

    listed = rispy.loads(meddraft.references(draft, "ris"))
    assert [e["id"] for e in listed] == [r.doc_id for r in sorted(draft.references, key=lambda r: r.n)]
    assert [i["id"] for i in json.loads(meddraft.references(draft, "csl-json"))] == [e["id"] for e in listed]
    answer = ask(draft.session_id, "What is the requested dose?", settings)
    assert isinstance(answer, meddraft.Answer) and answer.session_id == draft.session_id
    assert answer.answer and not answer.not_saved
    try:
        assess(QUESTION, "no-such-case", settings)
    except meddraft.MeddraftError as exc:
        assert "no documents for case no-such-case" in str(exc)
    else:
        raise AssertionError("an unknown case must raise")


def test_import_is_light_and_the_schema_is_published(capsys):
    heavy = "('torch', 'chromadb', 'rag', 'pydantic')"
    probe = f"import sys, meddraft; print(sorted(m for m in {heavy} if m in sys.modules))"
    loaded = subprocess.run(
        [sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, check=True
    )
    assert loaded.stdout.strip() == "[]"
    assert main(["schema", "assessment"]) == 0
    schema = json.loads(capsys.readouterr().out)
    assert {"question", "case_id", "verdict", "criteria", "sections", "references", "provenance"} <= set(
        schema["properties"]
    )
    import meddraft

    assert schema == meddraft.schema("assessment")
