"""Follow-up questions on a saved draft: numbering, new sources, honesty, case scope, sessions."""

import io
import json

import pytest

from rag.cli import main
from rag.followup.extractive import NOT_FOUND, answer
from rag.followup.sessions import SessionNotFoundError, SessionStore
from tests.conftest import DEMO_Q


@pytest.fixture
def session(demo, tmp_path):
    store = SessionStore(tmp_path)
    draft = demo.model_copy(deep=True)
    session_id = store.save(draft, "hash")
    return store, session_id


def _ask(corpus_parts, store, session_id, question):
    _, vector_store, _, retriever = corpus_parts
    draft = store.load(session_id)
    result = answer(draft, question, store=vector_store, retriever=retriever)
    draft.references = result.references
    store.update(draft)
    store.add_turn(session_id, question, json.loads(result.model_dump_json()))
    return result


def test_numbering_is_stable_and_new_sources_are_appended(corpus_parts, session, demo):
    store, session_id = session
    before = {r.doc_id: r.n for r in demo.references}
    first = _ask(corpus_parts, store, session_id, "Which dose did the 2021 review use?")
    text = " ".join(p.text for p in first.answer)
    assert "300 mg every 4 weeks" in text
    review = before["sr-2021-omalizumab-idiopathic-anaphylaxis"]
    assert any(review in p.citations for p in first.answer)
    after = {r.doc_id: r.n for r in first.references}
    assert all(after[d] == n for d, n in before.items())  # old numbers never move
    second = _ask(
        corpus_parts, store, session_id, "What do the opioid guidance documents say about hydromorphone?"
    )
    numbers = {r.doc_id: r.n for r in second.references}
    assert all(numbers[d] == n for d, n in after.items())
    new = [r for r in second.references if r.doc_id not in after]
    assert new and min(r.n for r in new) == len(after) + 1  # appended in order of first use
    assert {r.doc_id: r.n for r in store.load(session_id).references} == numbers  # persisted


def test_questions_about_the_draft_use_its_evidence_trail(corpus_parts, session):
    store, session_id = session
    result = _ask(corpus_parts, store, session_id, "Why is criterion 1 not met?")
    assert result.answer[0].text.startswith("Criterion 1 (")
    assert "KIT D816V" in result.answer[0].text and result.answer[0].citations
    quote = _ask(corpus_parts, store, session_id, "Quote the policy's continuation criteria.")
    assert any("Reduction in the frequency or severity of anaphylaxis" in p.text for p in quote.answer)


def test_out_of_corpus_question_says_not_found(corpus_parts, session):
    store, session_id = session
    result = _ask(corpus_parts, store, session_id, "What is the capital of Mongolia?")
    assert [p.text for p in result.answer] == [NOT_FOUND]


def test_a_follow_up_never_reaches_another_case(corpus_parts, session):
    store, session_id = session
    _, vector_store, _, _ = corpus_parts
    result = _ask(
        corpus_parts,
        store,
        session_id,
        "For case ad-001 and patient with atopic dermatitis: what was the EASI score and tacrolimus trial?",
    )
    cited = {cid for r in result.references for cid in r.chunk_ids}
    cases = {item.metadata.get("case_id") or "" for item in vector_store.get(ids=sorted(cited))}
    assert cases <= {"", "mcas-001"}
    assert "EASI 24" not in " ".join(p.text for p in result.answer)


def test_sessions_survive_a_restart(corpus_parts, session, tmp_path):
    store, session_id = session
    _ask(corpus_parts, store, session_id, "Which dose did the 2021 review use?")
    reopened = SessionStore(tmp_path)
    assert reopened.load(session_id[:6]).session_id == session_id
    assert [t["question"] for t in reopened.turns(session_id)] == ["Which dose did the 2021 review use?"]
    assert reopened.list()[0]["turns"] == 1
    with pytest.raises(SessionNotFoundError, match="no session 'zzz'"):
        reopened.load("zzz")


def test_cli_assess_saves_a_session_then_ask_show_and_chat(corpus_settings, capsys, monkeypatch):
    store = str(corpus_settings.store.path)
    argv = ["assess", DEMO_Q, "--case", "mcas-001", "--store", store, "--format", "json"]
    assert main([*argv, "--reviewer", "Dr  CLI"]) == 0
    session_id = json.loads(capsys.readouterr().out)["session_id"]
    assert session_id
    assert main(["sessions", "--store", store, "--format", "json"]) == 0
    assert session_id in [row["id"] for row in json.loads(capsys.readouterr().out)]
    assert (
        main(["ask", session_id, "Which dose did the 2021 review use?", "--store", store, "--format", "json"])
        == 0
    )
    reply = json.loads(capsys.readouterr().out)
    assert reply["session_id"] == session_id and reply["answer"] and reply["references"]
    assert main(["show", session_id, "--store", store]) == 0
    assert "Verdict: NOT medically indicated" in capsys.readouterr().out
    monkeypatch.setattr(
        "sys.stdin", io.StringIO("/sources 1\nWhy is criterion 1 not met?\n/history\n/quit\n")
    )
    assert main(["chat", session_id, "--store", store]) == 0
    out = capsys.readouterr().out
    assert "[1] Omalizumab (Xolair)" in out and "Criterion 1 (" in out
    assert "1. Which dose did the 2021 review use?" in out
    # the CLI's draft and follow-ups are in the audit trail, as the page's are
    assert main(["audit", session_id, "--store", store, "--format", "json"]) == 0
    trail = json.loads(capsys.readouterr().out)
    assert [e["action"] for e in trail] == ["draft_created", "followup", "followup"]
    created = trail[0]
    assert created["actor"] == "Dr CLI" and created["detail"]["case_id"] == "mcas-001"
    hashed = created["detail"]["documents"]
    assert any(d.startswith("mcas-001") for d in hashed) and all(len(h) >= 16 for h in hashed.values())
    assert not any(d.startswith(("ad-", "asthma-", "cidp-")) for d in hashed)  # no other case's notes
    assert trail[1]["detail"]["n"] == 1 and trail[2]["detail"]["n"] == 2
    assert trail[1]["actor"].endswith("(command line)")
