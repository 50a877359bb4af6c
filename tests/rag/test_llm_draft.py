"""`--generator openai` end to end: the real llama.cpp server drafts, answers and is evaluated.

The 135M model writes poor prose; these tests assert the plumbing that must hold for any model:
schema-valid assessments, citations bound to retrieved chunks, verification, provenance,
disagreements shown, re-asks, failures that keep the raw output, and no request unless configured.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from rag.cli import main
from rag.llm.prompts import load_prompt
from rag.types import Assessment, flatten
from tests.conftest import DEMO_Q, REPO, TEST_KEY
from tests.llm_support import Fault, FaultProxy

SMALL = """
[llm]
model = "smollm2"
timeout = 120
max_retries = 2
max_reasks = {reasks}
response_format = "{fmt}"
max_output_tokens = 1200
context_tokens = 700
text_max_chars = 90
bullets_per_section = 1
"""


@pytest.fixture(scope="module")
def workspace(corpus_settings, tmp_path_factory):
    """A private copy of the corpus store (drafts save sessions there) and config files."""
    root = tmp_path_factory.mktemp("llm")
    store = root / "store"
    shutil.copytree(corpus_settings.store.path, store)
    for reasks in (0, 1):
        fmt = "auto" if reasks else "json_object_schema"  # no negotiation round when faults are counted
        (root / f"reasks{reasks}.toml").write_text(SMALL.format(reasks=reasks, fmt=fmt))
    return root


def run(capsys, workspace: Path, *args: str, reasks: int = 1) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(
        [*args, "--store", str(workspace / "store"), "--config", str(workspace / f"reasks{reasks}.toml")]
    )
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture(scope="module")
def cli_draft(workspace, llama_server):
    """One `meddraft assess --generator openai` run through a pass-through proxy.

    In its own process, as a user runs it: the key comes from the environment, and the store is
    opened by a process that has sent nothing to a model yet (see the README on Chroma's
    length.bin, which can persist freed process memory).
    """
    with FaultProxy(llama_server.root) as proxy:
        out = workspace / "draft.json"
        env = {**os.environ, "OPENAI_API_KEY": TEST_KEY, "ANONYMIZED_TELEMETRY": "False"}
        done = subprocess.run(
            [
                sys.executable, "-m", "rag.cli",
                "assess", DEMO_Q, "--case", "mcas-001", "--format", "json", "--out", str(out),
                "--generator", "openai", "--base-url", proxy.url,
                "--store", str(workspace / "store"), "--config", str(workspace / "reasks1.toml"),
            ],
            env=env, capture_output=True, text=True, cwd=REPO, timeout=900,
        )  # fmt: skip
        return done.returncode, out, done.stderr, list(proxy.chat_requests)


def test_cli_draft_is_schema_valid_and_records_provenance(cli_draft, llama_server):
    code, out, err, _requests = cli_draft
    assert code == 0, err
    draft = Assessment.model_validate_json(out.read_text())
    prov = draft.provenance
    assert prov.generator == "openai" and prov.model == "smollm2"
    assert (
        prov.endpoint_host.startswith("127.0.0.1:") and prov.endpoint_host != f"127.0.0.1:{llama_server.port}"
    )
    assert prov.prompt_versions == {
        n: load_prompt(n).version for n in ("draft.system", "draft.user", "reask")
    }
    assert prov.response_format == "json_object_schema" and prov.model_calls >= 1
    assert {s.key for s in draft.sections} == {
        "findings",  # the deciding findings come from the analysis, for every generator
        "evidence",
        "patient_context",
        "dosing",
        "pitfalls",
        "recommendation",
    }
    ids = [c.id for c in flatten(draft.criteria)]
    assert ids and all(c.analysis_status is not None for c in flatten(draft.criteria))
    assert draft.verdict.analysis_label == "not_indicated"  # the deterministic analysis still ran
    assert "openai (smollm2 at 127.0.0.1" in err and "session" in err


def test_cli_draft_citations_are_bound_to_retrieved_chunks_and_verified(cli_draft):
    _, out, _, _ = cli_draft
    draft = Assessment.model_validate_json(out.read_text())
    retrieved = set(draft.provenance.retrieved_chunk_ids)
    cited = {cid for ref in draft.references for cid in ref.chunk_ids}
    assert cited and cited <= retrieved
    numbers = {ref.n for ref in draft.references}
    bullets = [b for s in draft.sections for b in s.bullets]
    assert bullets and all(b.citations and set(b.citations) <= numbers for b in bullets)
    assert all(set(c.citations) <= numbers for c in flatten(draft.criteria))
    # verification ran over the model's text: every bullet was checked and carries its verdict
    assert draft.provenance.checked_statements >= len(bullets)
    unsupported = sum(not b.supported for b in bullets) + sum(
        "[unsupported:" in c.rationale for c in flatten(draft.criteria)
    )
    assert draft.provenance.unsupported_statements == unsupported
    stores = {ref.doc_id for ref in draft.references}
    assert not any(d.startswith(("ad-", "csu-", "wm-", "ps-", "cidp-")) for d in stores)  # no other case


def test_cli_draft_prompt_is_keyed_delimited_and_streamed(cli_draft):
    _, out, _, requests = cli_draft
    body = requests[-1].body
    assert body["stream"] is True and body["model"] == "smollm2"
    system, user = body["messages"][0]["content"], body["messages"][1]["content"]
    assert "not instructions" in system
    assert '<source key="S1"' in user and "DETERMINISTIC ANALYSIS" in user
    draft = Assessment.model_validate_json(out.read_text())
    for chunk_id in draft.provenance.retrieved_chunk_ids:
        assert chunk_id not in user  # chunks travel under opaque keys only
    assert requests[-1].headers["authorization"] == f"Bearer {TEST_KEY}"


def test_api_key_is_never_written_anywhere(cli_draft, workspace):
    _code, out, err, _ = cli_draft
    assert TEST_KEY not in out.read_text() and TEST_KEY not in err
    for path in (workspace / "store").rglob("*"):
        if path.is_file():
            assert TEST_KEY.encode() not in path.read_bytes(), path
    with sqlite3.connect(workspace / "store" / "sessions.sqlite") as db:
        (settings_hash,) = db.execute(
            "SELECT settings_hash FROM sessions ORDER BY created_at DESC"
        ).fetchone()
    assert settings_hash


def draft_with_rewrite(corpus_parts, proxy, rewrite):
    """The demo draft through the proxy, whose first answer is the real one passed through `rewrite`."""
    from rag.api import assess
    from rag.drafting.model import OpenAIGenerator
    from tests.conftest import small_llm

    settings, store, embedder, retriever = corpus_parts
    proxy.queue(Fault("rewrite", rewrite=rewrite))
    generator = OpenAIGenerator(small_llm(proxy.url, response_format="json_object_schema"))
    parts = {"store": store, "embedder": embedder, "retriever": retriever}
    return assess(DEMO_Q, "mcas-001", settings, generator=generator, **parts), generator


def test_unknown_citation_key_triggers_a_reask(corpus_parts, fault_proxy):
    def cite_unknown(content: str) -> str:
        data = json.loads(content, strict=False)
        data["sections"]["recommendation"][0]["citations"] = ["S999"]
        return json.dumps(data)

    draft, generator = draft_with_rewrite(corpus_parts, fault_proxy, cite_unknown)
    assert draft.provenance.model_calls == 2 and generator.last_trace.reasks == 1
    reask = fault_proxy.chat_requests[1].body["messages"]
    assert "S999" in reask[-2]["content"] and "unknown source key(s) S999" in reask[-1]["content"]
    assert all(cid in draft.provenance.retrieved_chunk_ids for r in draft.references for cid in r.chunk_ids)


def test_disagreement_with_the_analysis_is_shown_not_resolved(corpus_parts, fault_proxy):
    from rag.rendering import render

    def approve_everything(content: str) -> str:
        data = json.loads(content, strict=False)
        data["verdict"]["label"] = "indicated"
        for criterion in data["criteria"].values():
            criterion["status"] = "met"
        return json.dumps(data)

    draft, _generator = draft_with_rewrite(corpus_parts, fault_proxy, approve_everything)
    assert draft.verdict.label == "indicated" and draft.verdict.analysis_label == "not_indicated"
    assert draft.verdict.confidence <= 0.5
    disagreements = [f for f in draft.flags if f.kind == "disagreement"]
    assert "verdict is indicated; the deterministic analysis says not_indicated" in disagreements[0].message
    differing = [c for c in flatten(draft.criteria) if c.analysis_status != "met"]
    assert differing and len(disagreements) == 1 + len(differing)
    for c in differing:
        assert any(f"Criterion {c.id}: the model says met" in f.message for f in disagreements)
    markdown = render(draft, "md")
    assert "disagreement" in markdown and "analysis: not met" in markdown


def test_output_failure_is_one_clear_error_that_keeps_the_raw_output(capsys, workspace, fault_proxy):
    fault_proxy.queue("malformed")
    code, out, err = run(
        capsys, workspace, "assess", DEMO_Q, "--case", "mcas-001",
        "--generator", "openai", "--base-url", fault_proxy.url, reasks=0,
    )  # fmt: skip
    assert code == 3 and out == ""  # input/data: the model answered, unusably
    assert "still unusable after 0 re-ask(s): the answer is not valid JSON" in err
    saved = sorted((workspace / "store" / "llm-failures").glob("*.txt"))[-1]
    assert str(saved) in err.replace("\n", "")
    assert saved.read_text().rstrip().endswith("}}{")


def test_nothing_is_sent_unless_a_model_is_configured(capsys, workspace, fault_proxy, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", TEST_KEY)
    monkeypatch.setenv("OPENAI_BASE_URL", fault_proxy.url)  # the SDK's own variable: ignored
    code, out, err = run(capsys, workspace, "assess", DEMO_Q, "--case", "mcas-001", "--format", "json")
    assert code == 0 and json.loads(out)["provenance"]["generator"] == "extractive"
    code, out, err = run(capsys, workspace, "assess", DEMO_Q, "--case", "mcas-001", "--generator", "openai")
    assert code == 75 and "no model endpoint" not in err  # a key is set: OpenAI itself would be used...
    assert fault_proxy.chat_requests == []  # ...but never the proxy the SDK variable points at
    monkeypatch.delenv("OPENAI_API_KEY")
    code, out, err = run(capsys, workspace, "assess", DEMO_Q, "--case", "mcas-001", "--generator", "openai")
    assert code == 2 and "no model endpoint configured" in err
    assert fault_proxy.chat_requests == []


def test_followup_with_the_model_keeps_the_numbering(cli_draft, capsys, workspace, llama_server, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", TEST_KEY)
    _, out, _, _ = cli_draft
    draft = Assessment.model_validate_json(out.read_text())
    code, text, err = run(
        capsys, workspace, "ask", draft.session_id, "What dose did the 2021 review report?",
        "--format", "json", "--generator", "openai", "--base-url", llama_server.base_url,
    )  # fmt: skip
    assert code == 0, err
    answer = json.loads(text)
    assert answer["generator"] == "openai" and answer["model"] == "smollm2"
    refs = answer["references"]
    assert [r["doc_id"] for r in refs[: len(draft.references)]] == [r.doc_id for r in draft.references]
    assert [r["n"] for r in refs] == list(range(1, len(refs) + 1))
    numbers = {r["n"] for r in refs}
    for part in answer["answer"]:
        assert set(part["citations"]) <= numbers
        assert part["citations"] or part["text"].startswith("Not found")
    cited = {cid for r in refs for cid in r["chunk_ids"]}
    from rag.components import build_store
    from rag.settings import load_settings

    store = build_store(load_settings(overrides={"store.path": str(workspace / "store")}))
    cases = {(item.metadata.get("case_id") or None) for item in store.get(ids=sorted(cited))}
    assert cases <= {None, "mcas-001"}


def test_eval_runs_with_the_model_and_records_it(capsys, workspace, llama_server, monkeypatch, tmp_path):
    code, _out, err = run(
        capsys, workspace, "eval", "cases", str(REPO / "eval" / "gold" / "cases" / "mcas-001.yaml"),
        "--generator", "openai", "--base-url", llama_server.base_url, "--report", str(tmp_path),
    )  # fmt: skip
    assert code == 0, err
    assert "recorded with extractive, this run used openai (smollm2): regressions not checked" in err
    info = json.loads((tmp_path / "run.json").read_text())
    assert info["generator"] == "openai" and info["model"] == "smollm2"
    assert info["prompt_versions"]["draft.user"] == load_prompt("draft.user").version
    rows = [json.loads(line) for line in (tmp_path / "results.jsonl").read_text().splitlines()]
    assert {r["case_id"] for r in rows} == {"mcas-001"}
    assert {"verdict_accuracy", "citation_validity", "unsupported_statements"} <= {r["name"] for r in rows}


def test_a_case_whose_model_fails_does_not_stop_the_batch(corpus_parts, fault_proxy, tmp_path):
    from eval.harness import run_cases
    from rag.drafting.model import VERDICTS, OpenAIGenerator
    from tests.conftest import small_llm

    for name in ("mcas-001", "uv-001"):
        shutil.copy(REPO / "eval" / "gold" / "cases" / f"{name}.yaml", tmp_path)
    fault_proxy.queue("quota")  # the first case's only request
    generator = OpenAIGenerator(small_llm(fault_proxy.url, response_format="json_object_schema"))
    result = run_cases(tmp_path, corpus_parts[0], generator=generator)
    by_case = {r.gold.case_id: r for r in result.cases}
    assert "out of quota" in by_case["mcas-001"].error and by_case["mcas-001"].value("verdict_accuracy") == 0
    assert by_case["uv-001"].error is None and by_case["uv-001"].verdict in VERDICTS
    assert result.info["generator"] == "openai" and result.info["model"] == "smollm2"
