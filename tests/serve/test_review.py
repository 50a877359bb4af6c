"""The review as data: decisions folded from the trail, the reviewed draft, an append-only trail."""

from __future__ import annotations

import sqlite3

import pytest

from rag.review import AuditLog, review_of, reviewed
from rag.types import Assessment, Criterion, Provenance, VerdictInfo


def _draft() -> Assessment:
    leaf = lambda cid, status: Criterion(id=cid, text=f"criterion {cid}", logic="leaf", status=status)  # noqa: E731
    return Assessment(
        question="q",
        case_id="c",
        verdict=VerdictInfo(label="not_indicated", summary="Criterion 1 is not met.", confidence=0.9),
        criteria=[
            Criterion(
                id="1",
                text="any of",
                logic="any",
                status="not_met",
                children=[leaf("1.a", "not_met"), leaf("1.b", "not_met")],
            ),
            leaf("2", "met"),
        ],
        provenance=Provenance(generator="extractive", embedding_model="m", store="s", settings_hash="h"),
        policy={"doc_id": "p", "title": "P", "section": "S"},
    )


def test_an_override_recombines_the_parent_and_changes_the_verdict(tmp_path):
    log = AuditLog(tmp_path)
    log.record(
        "s1",
        "Dr. A",
        "criterion_overridden",
        criterion="1.b",
        reason="trial documented",
        **{"from": "not_met", "to": "met"},
    )
    log.record("s1", "Dr. A", "criterion_accepted", criterion="2", status="met")
    engine = _draft()
    review = review_of(log.events("s1"))
    draft = reviewed(engine, review)
    assert draft.criteria[0].status == "met"  # any-of: one child is now met
    assert draft.verdict.label == "indicated" and engine.verdict.label == "not_indicated"
    assert "the engine's verdict was not indicated" in draft.verdict.summary
    assert "because trial documented" in draft.criteria[0].children[1].rationale
    assert "accepted this status" in draft.criteria[1].rationale
    assert {f.kind for f in draft.flags} == {"reviewer_override", "verdict_changed_by_review"}
    assert engine.criteria[0].status == "not_met"  # the engine's draft is untouched


def test_the_last_decision_counts_and_a_reviewer_can_restore_the_engine_status(tmp_path):
    log = AuditLog(tmp_path)
    log.record(
        "s1", "A", "criterion_overridden", criterion="2", reason="x", **{"from": "met", "to": "not_met"}
    )
    log.record("s1", "B", "criterion_accepted", criterion="2", status="met")
    draft = reviewed(_draft(), review_of(log.events("s1")))
    assert draft.criteria[1].status == "met" and not review_of(log.events("s1")).overrides


def test_no_section_means_no_approval_whatever_the_overrides(tmp_path):
    log = AuditLog(tmp_path)
    log.record(
        "s1", "A", "criterion_overridden", criterion="1", reason="x", **{"from": "not_met", "to": "met"}
    )
    engine = _draft()
    engine.policy = {"doc_id": "p", "title": "P", "section": None}
    assert reviewed(engine, review_of(log.events("s1"))).verdict.label == "not_indicated"


def test_the_trail_is_append_only(tmp_path):
    log = AuditLog(tmp_path)
    log.record("s1", "A", "signed_off", verdict="indicated", engine_verdict="indicated")
    with sqlite3.connect(log.path) as db, pytest.raises(sqlite3.DatabaseError, match="append-only"):
        db.execute("UPDATE audit SET actor = 'B'")
    with sqlite3.connect(log.path) as db, pytest.raises(sqlite3.DatabaseError, match="append-only"):
        db.execute("DELETE FROM audit")
    assert [e.actor for e in log.events("s1")] == ["A"]
    with pytest.raises(ValueError, match="unknown audit action"):
        log.record("s1", "A", "deleted_everything")
