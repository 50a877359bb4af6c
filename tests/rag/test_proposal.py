"""A model may propose a policy's criteria, never silently decide: the answer is read against the
policy's own lines, checked, diffed against the parse, refused until a reviewer accepts it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from rag.analysis.compile import compile_policy
from rag.analysis.criteria import LEAF_TYPES
from rag.analysis.criteria_diff import diff
from rag.analysis.proposal import answer_schema, policy_lines, read_answer
from rag.analysis.reviewed import accept, export_yaml, load_yaml
from rag.cli import main
from rag.errors import ConfigError
from rag.llm.schema import OutputProblem
from tests.conftest import FIXTURES
from tests.llm_support import Fault

POLICY = FIXTURES / "policies" / "northwind-tezepelumab.txt"
TEXT = POLICY.read_text(encoding="utf-8").split("---\n", 2)[2]


def _nowhere(start, end):
    return None, None


def _key(lines, start: str) -> str:
    return next(line.key for line in lines if line.text.startswith(start))


def _answer(lines, **change) -> dict:
    """What a careful model would answer for the tezepelumab policy's initial criteria."""
    k = lambda text: _key(lines, text)  # noqa: E731
    initial = [
        {"line": k("For initial therapy"), "parent": "", "logic": "all", "n": 0, "leaf": None},
        {
            "line": k("Diagnosis of severe asthma"),
            "parent": k("For initial therapy"),
            "logic": "leaf",
            "n": 0,
            "leaf": {"type": "diagnosis", "names": ["severe asthma"]},
        },
        {
            "line": k("Patient is 12 years"),
            "parent": k("For initial therapy"),
            "logic": "leaf",
            "n": 0,
            "leaf": {"type": "age", "min_years": 12, "max_years": None},
        },
        {
            "line": k("Asthma remains uncontrolled"),
            "parent": k("For initial therapy"),
            "logic": "any",
            "n": 0,
            "leaf": None,
        },
        {
            "line": k("At least 3 months of a high-dose inhaled corticosteroid plus a long"),
            "parent": k("Asthma remains uncontrolled"),
            "logic": "leaf",
            "n": 0,
            "leaf": {"type": "prior_therapy", "classes": ["ICS-LABA"], "min_duration_days": 90},
        },
        {
            "line": k("At least 3 months of a high-dose inhaled corticosteroid plus a leuk"),
            "parent": k("Asthma remains uncontrolled"),
            "logic": "leaf",
            "n": 0,
            "leaf": {"type": "free_text"},
        },
    ]
    data = {"indications": [{"name": "Severe asthma", "initial": initial, "continuation": []}]}
    for index, fields in change.items():
        data["indications"][0]["initial"][int(index.removeprefix("n"))].update(fields)
    return data


def _read(lines, data) -> object:
    return read_answer(json.dumps(data), lines, "northwind-tezepelumab", "Tezspire", _nowhere, "m at h")


def test_the_model_sees_the_criteria_lines_not_the_codes_or_background():
    lines = policy_lines(TEXT)
    texts = [line.text for line in lines]
    assert any(t.startswith("Patient is 12 years of age or older") for t in texts)
    assert any(t.startswith("Documentation of positive clinical response") for t in texts)
    assert not any("J2356" in t or "thymic stromal" in t for t in texts)
    assert len({line.key for line in lines}) == len(lines)
    for line in lines:  # every line is the policy's own text at its offsets (whitespace aside)
        assert " ".join(TEXT[line.start : line.end].split())[:40] in " ".join(TEXT.split())


def test_the_schema_offers_every_leaf_type_and_only_the_policys_lines():
    lines = policy_lines(TEXT)
    schema = answer_schema(lines)
    node = schema["$defs"]["ProposedNode"]
    assert node["properties"]["line"]["enum"] == [line.key for line in lines]
    types = set()
    for ref in node["properties"]["leaf"]["anyOf"][:-1]:
        leaf = schema["$defs"][ref["$ref"].rsplit("/", 1)[1]]
        assert leaf["additionalProperties"] is False and set(leaf["required"]) == set(leaf["properties"])
        assert "text" not in leaf["properties"] and "page" not in leaf["properties"]
        types.add(leaf["properties"]["type"]["const"])
    assert types == set(LEAF_TYPES)


def test_a_valid_answer_becomes_a_tree_quoting_the_policy():
    lines = policy_lines(TEXT)
    proposal = _read(lines, _answer(lines))
    assert proposal.proposed_by == "m at h" and proposal.source == "model"
    tree = proposal.indications[0].initial
    assert tree.logic == "all" and [c.logic for c in tree.children] == ["leaf", "leaf", "any"]
    age = tree.children[1]
    assert age.leaf.type == "age" and age.leaf.min_years == 12
    assert age.text.startswith("Patient is 12 years of age or older")
    assert tree.children[2].children[0].leaf.min_duration_days == 90


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"n1": {"parent": "L999"}}, "parent 'L999' must be a line listed earlier"),
        ({"n4": {"parent": "__leaf__"}}, "is a leaf; make it all, any or at_least"),
        ({"n3": {"logic": "at_least", "n": 5}}, "at_least with n=5 but has 2 children"),
        ({"n2": {"leaf": {"type": "age", "min_years": "twelve"}}}, "leaf.age.min_years"),
        ({"n2": {"leaf": None}}, "a leaf needs 'leaf'"),
        ({"n1": {"line": "L0"}}, "line 'L0' is not one of the numbered lines"),
        ({"n5": {"line": "__dup__"}}, "is used twice"),
    ],
)
def test_each_problem_in_an_answer_says_what_to_fix(change, message):
    lines = policy_lines(TEXT)
    data = _answer(lines)
    items = data["indications"][0]["initial"]
    for index, fields in change.items():
        if fields.get("parent") == "__leaf__":
            fields["parent"] = items[1]["line"]
        if fields.get("line") == "__dup__":
            fields["line"] = items[4]["line"]
        items[int(index[1:])].update(fields)
    with pytest.raises(OutputProblem, match=message.replace("(", r"\(").replace(")", r"\)")):
        _read(lines, data)


def test_a_branch_without_children_is_refused():
    lines = policy_lines(TEXT)
    data = _answer(lines)
    del data["indications"][0]["initial"][4:]
    with pytest.raises(OutputProblem, match="without children; make it a leaf"):
        _read(lines, data)


def test_the_diff_shows_what_the_proposal_changes_in_the_parse():
    parse = compile_policy("northwind-tezepelumab", "Tezspire", TEXT)
    lines = policy_lines(TEXT)
    proposal = _read(lines, _answer(lines))
    result = diff(parse, proposal)
    joined = "\n".join(result.lines)
    assert result.same >= 2  # diagnosis and age read alike
    # the leukotriene option: a typed prior therapy in the parse, free text in the proposal
    assert "~ initial: " in joined and '-> "free_text"' in joined
    assert "- continuation: " in joined  # the proposal left the continuation criteria out
    assert result.removed >= 2 and result.changed >= 1
    assert diff(parse, parse).lines == [] and diff(parse, parse).changed == 0


def test_a_proposal_is_refused_until_a_reviewer_accepts_it(tmp_path: Path):
    lines = policy_lines(TEXT)
    proposal = _read(lines, _answer(lines))
    path = tmp_path / "northwind-tezepelumab.criteria.proposed.yaml"
    path.write_text(export_yaml(proposal), encoding="utf-8")
    assert "NOT USED until" in path.read_text()
    with pytest.raises(ConfigError, match="model's proposal .* no reviewer has accepted"):
        load_yaml(path)
    with pytest.raises(ConfigError, match="--reviewer NAME"):
        accept(path, "  ")
    written = accept(path, "R. Osei")
    assert written.name == "northwind-tezepelumab.criteria.yaml"
    reviewed = load_yaml(written)
    assert reviewed.source == "reviewed" and reviewed.proposed_by is None
    assert reviewed.accepted.startswith("R. Osei on ") and "m at h" in reviewed.accepted
    assert reviewed.indications == proposal.indications
    with pytest.raises(ConfigError, match="not a model's proposal"):
        accept(written, "R. Osei")


@pytest.fixture
def policy_store(tmp_path, embedder):
    from rag.components import build_indexer
    from rag.settings import load_settings

    folder = tmp_path / "policies"
    folder.mkdir()
    shutil.copy(POLICY, folder)
    store = str(tmp_path / "store")
    build_indexer(load_settings(overrides={"store.path": store}), embedder=embedder).ingest([folder])
    return store


def _llm_args(tmp_path: Path, base_url: str, store: str, reasks: int, tokens: int) -> list[str]:
    config = tmp_path / "llm.toml"
    config.write_text(
        f'[llm]\nbase_url = "{base_url}"\nmodel = "smollm2"\ntimeout = 300\nmax_retries = 0\n'
        f'max_reasks = {reasks}\nmax_output_tokens = {tokens}\nresponse_format = "json_object_schema"\n'
    )
    return ["--store", store, "--config", str(config)]


def test_policy_export_with_a_model_re_asks_then_writes_a_proposal_and_its_diff(
    fault_proxy, policy_store, tmp_path, capsys
):
    """Through the real llama.cpp server: the request carries the schema of this policy's lines; an
    answer with a misplaced parent is sent back with the problem; the corrected answer becomes a
    proposal file and its diff. The engine refuses the proposal until it is accepted, then reads the
    accepted file as reviewed criteria. (The two answers are set by the proxy: a 135M model cannot
    be relied on to write a valid tree, and this test is about what happens around the model.)"""
    lines = policy_lines(TEXT)
    good = _answer(lines)
    bad = _answer(lines, n1={"parent": _key(lines, "Asthma remains uncontrolled")})
    fault_proxy.queue(
        Fault("rewrite", rewrite=lambda _: json.dumps(bad), finish_reason="stop"),
        Fault("rewrite", rewrite=lambda _: json.dumps(good), finish_reason="stop"),
    )
    common = _llm_args(tmp_path, fault_proxy.url, policy_store, reasks=1, tokens=64)
    proposed = tmp_path / "northwind-tezepelumab.criteria.proposed.yaml"
    capsys.readouterr()
    argv = ["policy", "export", "northwind-tezepelumab", "--generator", "openai", "-o", str(proposed)]
    code = main([*argv, *common])
    err = capsys.readouterr().err
    assert code == 0, err
    first, second = fault_proxy.chat_requests
    sent = first.body["response_format"]["schema"]["$defs"]["ProposedNode"]["properties"]["line"]["enum"]
    assert sent == [line.key for line in lines]
    assert "Patient is 12 years of age or older" in first.body["messages"][1]["content"]
    assert "must be a line listed earlier" in second.body["messages"][-1]["content"]
    assert "differences from the parse of northwind-tezepelumab:" in err and '-> "free_text"' in err
    proposal = load_yaml(proposed, proposals=True)
    assert proposal.proposed_by.startswith("smollm2 at 127.0.0.1:")
    assert proposal.indications[0].initial.children[1].text.startswith("Patient is 12 years of age")
    assert main(["policy", "show", "northwind-tezepelumab", "--criteria", str(proposed), *common]) == 2
    assert "no reviewer has accepted" in capsys.readouterr().err
    assert main(["policy", "accept", str(proposed), "--reviewer", "R. Osei"]) == 0
    accepted = proposed.with_name("northwind-tezepelumab.criteria.yaml")
    assert main(["policy", "show", "northwind-tezepelumab", "--criteria", str(accepted), *common]) == 0
    shown = capsys.readouterr().out
    assert "criteria reviewed, hash " in shown and "[age] Patient is 12 years" in shown


def test_the_real_models_own_proposal_is_valid_or_refused_never_half_used(
    fault_proxy, policy_store, tmp_path, capsys
):
    """The 135M model's own answer, unaltered: whatever it writes, either a proposal that quotes
    only the policy's lines is written, or the command fails, keeps the raw output, and writes
    nothing. Its output is bounded by the schema (a looping model stops at maxItems)."""
    common = _llm_args(tmp_path, fault_proxy.url, policy_store, reasks=0, tokens=700)
    proposed = tmp_path / "p.proposed.yaml"
    capsys.readouterr()
    argv = ["policy", "export", "northwind-tezepelumab", "--generator", "openai", "-o", str(proposed)]
    code = main([*argv, *common])
    err = capsys.readouterr().err
    assert len(fault_proxy.chat_requests) == 1
    schema = fault_proxy.chat_requests[0].body["response_format"]["schema"]
    assert schema["properties"]["indications"]["maxItems"] == 12
    if code == 0:
        policy_text = " ".join(TEXT.split())
        proposal = load_yaml(proposed, proposals=True)
        nodes = [n for i in proposal.indications for t in (i.initial, i.continuation) if t for n in t.walk()]
        assert nodes and all(n.text in policy_text for n in nodes if n.id)
    else:
        assert code == 3 and "the model's raw output is kept in" in err
        assert not proposed.exists()
