"""Criteria a reviewer can see and correct: show, export, a reviewed file that replaces the parse
(recorded in the draft), clear errors naming the line; unknown stays unknown."""

from __future__ import annotations

import json
import shutil

import pytest
import yaml

from rag.analysis.reviewed import SUFFIX, export_yaml, load_yaml
from rag.cli import main
from rag.errors import ConfigError
from tests.conftest import DEMO_Q, REPO


def test_policy_show_prints_the_tree_a_reviewer_checks(corpus_settings, capsys):
    store = str(corpus_settings.store.path)
    assert (
        main(["policy", "show", "policy-omalizumab", "--indication", "mastocytosis", "--store", store]) == 0
    )
    out = capsys.readouterr().out
    assert "== Systemic Mastocytosis" in out and "initial:" in out and "continuation:" in out
    assert "[specialty]" in out and "allergist" in out
    assert "limit: mg=300.0, every_days=28.0" in out
    assert "Chronic Spontaneous Urticaria" not in out  # only the indication asked for


def test_policy_show_json_and_unknown_document(corpus_settings, capsys):
    store = str(corpus_settings.store.path)
    assert main(["policy", "show", "policy-ivig", "--format", "json", "--store", store]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["doc_id"] == "policy-ivig" and data["indications"]
    assert main(["policy", "show", "no-such-policy", "--store", store]) == 3
    assert "policies: policy-adalimumab" in capsys.readouterr().err


def test_export_then_load_is_the_same_tree(corpus_settings, tmp_path, capsys):
    store = str(corpus_settings.store.path)
    out = tmp_path / "omalizumab.criteria.yaml"
    assert main(["policy", "export", "policy-omalizumab", "-o", str(out), "--store", store]) == 0
    reviewed = load_yaml(out)
    assert reviewed.source == "reviewed" and len(reviewed.source_hash) == 16
    assert main(["policy", "check", str(out)]) == 0
    assert "valid; policy-omalizumab" in capsys.readouterr().out
    again = yaml.safe_load(export_yaml(reviewed))
    assert again == yaml.safe_load(out.read_text())


def test_invalid_yaml_and_unknown_leaf_type_name_the_line(tmp_path):
    broken = tmp_path / "broken.criteria.yaml"
    broken.write_text("doc_id: x\nindications:\n  - name: [unclosed\n")
    with pytest.raises(ConfigError, match=r"line \d+: not valid YAML"):
        load_yaml(broken)
    unknown = tmp_path / "unknown.criteria.yaml"
    unknown.write_text(
        "doc_id: x\nindications:\n- name: A\n  initial:\n    id: '1'\n    text: t\n    logic: leaf\n"
        "    leaf:\n      type: horoscope\n"
    )
    with pytest.raises(ConfigError, match=r"line (8|9): indications\.0\.initial\.leaf"):
        load_yaml(unknown)


def test_a_reviewed_file_beside_the_policy_replaces_the_parse(tmp_path, embedder):
    """The reviewer marks the specialty criterion of the demo's section as free text: the draft
    now says it needs a reviewer, and its provenance names the reviewed file's hash."""
    from rag.api import assess
    from rag.components import build_indexer
    from rag.settings import load_settings

    corpus = tmp_path / "corpus"
    shutil.copytree(REPO / "corpus" / "cases" / "mcas-001", corpus / "cases" / "mcas-001")
    (corpus / "policies").mkdir()
    shutil.copy(REPO / "corpus" / "policies" / "policy-omalizumab.md", corpus / "policies")
    settings = load_settings(overrides={"store.path": str(tmp_path / "store")})
    build_indexer(settings, embedder=embedder).ingest([corpus])
    store = str(settings.store.path)
    exported = tmp_path / "exported.yaml"
    assert main(["policy", "export", "policy-omalizumab", "-o", str(exported), "--store", store]) == 0
    data = yaml.safe_load(exported.read_text())
    section = next(i for i in data["indications"] if i["name"] == "Systemic Mastocytosis")
    specialty = next(n for n in _walk(section["initial"]) if (n.get("leaf") or {}).get("type") == "specialty")
    specialty["leaf"] = {"type": "free_text"}
    (corpus / "policies" / f"policy-omalizumab{SUFFIX}").write_text(yaml.safe_dump(data, sort_keys=False))
    draft = assess(DEMO_Q, "mcas-001", settings, embedder=embedder)
    assert draft.policy["criteria_source"] == "reviewed" and draft.policy["criteria_hash"]
    changed = next(c for c in _flat(draft.criteria) if c.id == specialty["id"] and "allergist" in c.text)
    assert changed.status == "insufficient" and changed.rationale.startswith("Needs a reviewer")


def _walk(node: dict) -> list[dict]:
    return [node, *(n for child in node.get("children", []) for n in _walk(child))]


def _flat(criteria):
    return [c for top in criteria for c in [top, *_flat(top.children)]]


def test_case_show_lists_what_the_engine_reads_each_row_cited(corpus_settings, capsys):
    store = str(corpus_settings.store.path)
    assert main(["case", "show", "mcas-001", "--format", "json", "--store", store]) == 0
    record = json.loads(capsys.readouterr().out)
    meds = {i["name"] for i in record["items"] if i["kind"] == "medication"}
    assert {"famotidine", "cetirizine"} <= meds
    assert all(i["doc_id"].startswith("mcas-001") and i["quote"] for i in record["items"])
    assert main(["case", "show", "no-such-case", "--store", store]) == 3
    assert "no documents for case no-such-case" in capsys.readouterr().err
