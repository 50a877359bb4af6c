"""The JSON API with FastAPI's TestClient: every route, bad input, errors as JSON with a status."""

from __future__ import annotations

import io
import json

import pytest

from tests.conftest import DEMO_Q
from tests.serve.conftest import new_session

SPANISH = "¿Está indicado omalizumab 300 mg cada 4 semanas para este paciente con urticaria?"


def _error(response, status: int) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["status"] == status and body["error"] and "Traceback" not in response.text
    return body


def test_cases_lists_the_demo_case_and_the_policies(client):
    body = client.get("/api/cases").json()
    assert "mcas-001" in [c["case_id"] for c in body["cases"]]
    assert any(p["doc_id"] == "policy-omalizumab" for p in body["policies"])
    mcas = next(c for c in body["cases"] if c["case_id"] == "mcas-001")
    assert {d["kind"] for d in mcas["documents"]} >= {"clinical_note"}


def test_a_case_and_an_unknown_case(client):
    body = client.get("/api/cases/mcas-001").json()
    assert body["documents"] and all(d["doc_id"] for d in body["documents"])
    missing = _error(client.get("/api/cases/no-such-case"), 404)
    assert "mcas-001" in missing["known_cases"]
    page = client.get("/cases/no-such-case")
    assert page.status_code == 404 and "text/html" in page.headers["content-type"]
    assert "no documents for case no-such-case" in page.text


def test_assess_returns_a_session_and_the_draft(client):
    response = client.post("/api/assess", json={"question": DEMO_Q, "case_id": "mcas-001"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["assessment"]["verdict"]["label"] == "not_indicated"
    assert body["assessment"]["provenance"]["generator"] == "extractive"
    assert body["url"] == f"/sessions/{body['session_id']}"
    session = client.get(f"/api/sessions/{body['session_id']}").json()
    assert session["verdict"] == session["engine_verdict"] == "not_indicated"


@pytest.mark.parametrize(
    ("payload", "status", "words"),
    [
        ({"question": DEMO_Q, "case_id": "nobody"}, 404, "no documents for case nobody"),
        ({"question": "   ", "case_id": "mcas-001"}, 422, "question"),
        ({"question": SPANISH, "case_id": "mcas-001"}, 422, "reads as Spanish"),
        ({"case_id": "mcas-001"}, 422, "question: Field required"),
        ({"question": DEMO_Q, "case_id": "mcas-001", "generator": "oracle"}, 422, "unknown generator"),
    ],
)
def test_assess_refuses_bad_input_clearly(client, payload, status, words):
    body = _error(client.post("/api/assess", json=payload), status)
    assert words.lower() in body["error"].lower()
    if payload.get("question") == SPANISH:  # unparseable: the page says what was understood
        assert body["kind"] == "UnansweredQuestionError" and "drug: omalizumab" in body["understood"]


def test_unknown_session_is_404_everywhere(client):
    for method, url in [
        ("get", "/api/sessions/feedfacecafe"),
        ("get", "/api/sessions/feedfacecafe/export?format=md"),
        ("get", "/api/sessions/feedfacecafe/citations/1"),
        ("get", "/api/sessions/feedfacecafe/audit"),
    ]:
        _error(getattr(client, method)(url), 404)
    _error(client.post("/api/sessions/feedfacecafe/ask", json={"question": "Which dose?"}), 404)
    _error(
        client.post("/api/sessions/feedfacecafe/criteria/1", json={"action": "accept", "reviewer": "A"}), 404
    )


def test_citation_returns_the_cited_passage_with_the_sentence_highlighted(client, demo_session):
    draft = client.get(f"/api/sessions/{demo_session}").json()["assessment"]
    ref = next(r for r in draft["references"] if r["n"] == 1)
    quote = "Up to 300 mg SC every 4 weeks"
    body = client.get(f"/api/sessions/{demo_session}/citations/1", params={"quote": quote}).json()
    assert body["doc_id"] == ref["doc_id"] == "policy-omalizumab"
    assert body["chunk_id"] in ref["chunk_ids"]
    start, end = body["highlight"]
    assert quote in body["text"][start:end]
    _error(client.get(f"/api/sessions/{demo_session}/citations/999"), 404)
    _error(client.get(f"/api/sessions/{demo_session}/citations/one"), 422)


def test_follow_up_keeps_the_draft_numbering(client):
    session_id = new_session(client)
    before = {
        r["doc_id"]: r["n"]
        for r in client.get(f"/api/sessions/{session_id}").json()["assessment"]["references"]
    }
    response = client.post(
        f"/api/sessions/{session_id}/ask", json={"question": "Which dose did the 2021 review use?"}
    )
    assert response.status_code == 200, response.text
    answer = response.json()
    assert "300 mg every 4 weeks" in " ".join(p["text"] for p in answer["answer"])
    after = {r["doc_id"]: r["n"] for r in answer["references"]}
    assert all(after[doc] == n for doc, n in before.items())
    turns = client.get(f"/api/sessions/{session_id}").json()["turns"]
    assert [t["question"] for t in turns] == ["Which dose did the 2021 review use?"]
    _error(client.post(f"/api/sessions/{session_id}/ask", json={"question": " "}), 422)


def test_override_needs_a_reason_and_a_reviewer_and_a_change(client):
    session_id = new_session(client)
    url = f"/api/sessions/{session_id}/criteria/2"
    assert (
        "reason"
        in _error(client.post(url, json={"action": "override", "status": "not_met", "reviewer": "A"}), 422)[
            "error"
        ]
    )
    assert (
        "reviewer"
        in _error(
            client.post(
                url, json={"action": "override", "status": "not_met", "reason": "why", "reviewer": " "}
            ),
            422,
        )["error"]
    )
    assert (
        "accept it"
        in _error(
            client.post(url, json={"action": "override", "status": "met", "reason": "same", "reviewer": "A"}),
            422,
        )["error"]
    )
    _error(
        client.post(url, json={"action": "override", "status": "maybe", "reason": "r", "reviewer": "A"}), 422
    )
    _error(client.post(url, json={"action": "veto", "reviewer": "A"}), 422)
    _error(
        client.post(f"/api/sessions/{session_id}/criteria/Z9", json={"action": "accept", "reviewer": "A"}),
        404,
    )


def test_overrides_change_the_reviewed_verdict_and_every_export(client):
    session_id = new_session(client)
    engine = client.get(f"/api/sessions/{session_id}").json()["engine_assessment"]
    failing = [c["id"] for c in engine["criteria"] if c["status"] != "met"]
    assert failing  # the demo is not indicated: some criteria are not met
    for cid in failing:
        response = client.post(
            f"/api/sessions/{session_id}/criteria/{cid}",
            json={
                "action": "override",
                "status": "met",
                "reason": f"peer review found {cid} met",
                "reviewer": "Dr. Ruiz",
            },
        )
        assert response.status_code == 200, response.text
    accepted = client.post(
        f"/api/sessions/{session_id}/criteria/2", json={"action": "accept", "reviewer": "Dr. Ruiz"}
    )
    body = accepted.json()
    assert body["engine_verdict"] == "not_indicated" and body["verdict"] == "indicated"
    assert body["engine_assessment"]["criteria"][0]["status"] == engine["criteria"][0]["status"]
    assert {d["criterion"] for d in body["decisions"] if d["changed"]} == set(failing)

    md = client.get(f"/api/sessions/{session_id}/export", params={"format": "md", "reviewer": "Dr. Ruiz"})
    assert md.status_code == 200 and md.headers["content-type"].startswith("text/markdown")
    assert f'attachment; filename="meddraft-{session_id}.md"' == md.headers["content-disposition"]
    assert (
        "**Verdict: Medically indicated.**" in md.text and "the engine's verdict was not indicated" in md.text
    )
    assert f"because peer review found {failing[0]} met" in md.text and "Reviewer Dr. Ruiz changed" in md.text
    data = client.get(f"/api/sessions/{session_id}/export?format=json").json()
    assert data["verdict"]["label"] == "indicated"
    assert any(f["kind"] == "reviewer_override" for f in data["flags"])
    html = client.get(f"/api/sessions/{session_id}/export?format=html").text
    assert "peer review found" in html and "<html" in html

    from docx import Document

    docx = client.get(f"/api/sessions/{session_id}/export?format=docx")
    text = "\n".join(p.text for p in Document(io.BytesIO(docx.content)).paragraphs)
    assert "peer review found" in text and "Medically indicated" in text
    _error(client.get(f"/api/sessions/{session_id}/export?format=pdf"), 422)

    signed = client.post(
        f"/api/sessions/{session_id}/signoff", json={"reviewer": "Dr. Ruiz", "note": "agreed"}
    )
    assert signed.json()["signed_off"]["actor"] == "Dr. Ruiz"
    closed = client.post(f"/api/sessions/{session_id}/criteria/2", json={"action": "accept", "reviewer": "B"})
    assert "signed off" in _error(closed, 409)["error"]
    _error(client.post(f"/api/sessions/{session_id}/signoff", json={"reviewer": "B"}), 409)

    actions = [e["action"] for e in client.get(f"/api/sessions/{session_id}/audit").json()]
    assert actions[0] == "draft_created" and actions.count("criterion_overridden") == len(failing)
    assert actions[-1] == "signed_off" and actions.count("exported") == 4


def test_pages_render_the_draft_with_citations_and_controls(client, demo_session):
    page = client.get(f"/sessions/{demo_session}")
    assert page.status_code == 200
    for needle in (
        'class="cite" data-n="1"',
        "Criteria check",
        'id="ask-form"',
        "export?format=docx",
        "Audit trail",
    ):
        assert needle in page.text, needle
    assert "Case <code>mcas-001</code>" in client.get("/cases/mcas-001").text
    case_page = client.get("/cases/mcas-001").text
    assert demo_session in case_page and "Patient record" in case_page  # past drafts, the record
    record = client.get("/api/cases/mcas-001").json()["record"]
    assert any(row["kind"] == "medication" and "omalizumab" not in row["name"].lower() for row in record)
    doc = client.get("/documents/policy-omalizumab")
    assert doc.status_code == 200 and 'id="chunk-' in doc.text
    note = client.get("/api/cases/mcas-001").json()["documents"][0]["doc_id"]
    assert client.get(f"/documents/{note}").status_code == 404  # a note is never shown without its case
    assert client.get(f"/documents/{note}?case=mcas-001").status_code == 200
    assert client.get(f"/documents/{note}?case=ad-001").status_code == 404  # nor under another case


def test_docs_and_assets_are_served_locally(client):
    docs = client.get("/docs")
    assert docs.status_code == 200 and "/static/docs/swagger-ui-bundle.js" in docs.text
    assert "http://" not in docs.text and "https://" not in docs.text
    assert client.get("/static/docs/swagger-ui-bundle.js").status_code == 200
    spec = client.get("/openapi.json").json()
    assert {
        "/api/assess",
        "/api/sessions/{session_id}/ask",
        "/api/sessions/{session_id}/criteria/{criterion_id}",
    } <= set(spec["paths"])
    for page in ("/", "/cases/mcas-001"):
        text = client.get(page).text
        assert "http://" not in text and "https://" not in text, page


def test_audit_command_prints_the_trail(client, desk, capsys):
    from rag.cli import main

    session_id = new_session(client, reviewer="Dr. Audit")
    client.post(
        f"/api/sessions/{session_id}/ask",
        json={"question": "Which dose did the 2021 review use?", "reviewer": "Dr. Audit"},
    )
    store = str(desk.sessions.path.parent)
    assert main(["audit", session_id[:8], "--store", store]) == 0
    out = capsys.readouterr().out
    assert "Dr. Audit  created the draft with extractive" in out and "asked follow-up 1" in out
    assert main(["audit", session_id, "--store", store, "--format", "json"]) == 0
    events = json.loads(capsys.readouterr().out)
    assert events[0]["detail"]["documents"]["policy-omalizumab"]  # the content hash of a document read
    assert (
        main(["audit", "feedfacecafe", "--store", store]) == 3
    )  # an unknown session is a data error (rag/cli/exits.py)
