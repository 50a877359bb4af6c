"""The citation-support checker scored against SciFact-style rationale labels."""

from __future__ import annotations

import argparse
import io
import json

import pytest
from rich.console import Console

from eval import support
from eval.support import evaluate_support, prf
from rag.errors import MeddraftError

CORPUS = [
    {
        "doc_id": 10,
        "title": "Aspirin trial",
        "abstract": [
            "Aspirin reduced stroke risk in adults over 65 years.",  # SUPPORT, predicted: TP
            "The trial enrolled participants from twelve centres.",  # not evidence, not predicted: TN
            "Stroke risk in adults was lower with aspirin after age 70.",  # CONTRADICT, number 65 missing: FN
        ],
    },
    {
        "doc_id": 20,
        "title": "Vitamin D",
        "abstract": [
            "Vitamin supplementation prevents fractures in elderly women.",  # not evidence, predicted: FP
            "Vitamin levels were measured.",  # SUPPORT, 1 of 4 terms: FN at 0.5
        ],
    },
    {"doc_id": 30, "title": "Never cited", "abstract": ["Aspirin reduces stroke risk in adults over 65."]},
]
CLAIMS = [
    {
        "id": 1,
        "claim": "Aspirin reduces stroke risk in adults over 65.",
        "cited_doc_ids": [10],
        "evidence": {
            "10": [{"sentences": [0], "label": "SUPPORT"}, {"sentences": [2], "label": "CONTRADICT"}]
        },
    },
    {
        "id": 2,
        "claim": "Vitamin D supplementation prevents fractures.",
        "cited_doc_ids": [20],
        "evidence": {"20": [{"sentences": [1], "label": "SUPPORT"}]},
    },
    {"id": 3, "claim": "A claim that cites nothing.", "cited_doc_ids": [], "evidence": {}},
]


@pytest.fixture
def scifact(tmp_path):
    folder = tmp_path / "scifact"
    (folder / "claims").mkdir(parents=True)
    (folder / "corpus.jsonl").write_text("".join(json.dumps(d) + "\n" for d in CORPUS))
    (folder / "claims" / "claims_dev.jsonl").write_text("".join(json.dumps(c) + "\n" for c in CLAIMS))
    return folder


def test_prf_from_counts():
    assert prf(1, 1, 2) == {"precision": 0.5, "recall": 0.3333, "f1": 0.4}
    assert prf(0, 0, 0) == {"precision": 0.0, "recall": 0.0, "f1": 0.0}


def test_evaluate_support_on_a_fixture_with_known_outcome(scifact):
    result = evaluate_support(scifact)
    assert (result["claims"], result["claims_citing"], result["pairs"], result["positives"]) == (3, 2, 5, 3)
    assert result["base_rate"] == 0.6
    assert (result["tp"], result["fp"], result["fn"], result["tn"]) == (1, 1, 2, 1)
    assert (result["precision"], result["recall"], result["f1"]) == (0.5, 0.3333, 0.4)
    assert result["variants"]["0.3"]["tp"] == 1
    loose = result["variants"]["0.25"]  # "vitamin" is 1 of the claim's 4 key terms
    assert (loose["tp"], loose["fp"], loose["fn"], loose["tn"]) == (2, 1, 1, 1)
    assert result["variants"]["0.5"]["recall_by_label"] == {"SUPPORT": 0.5, "CONTRADICT": 0.0}


def test_a_cited_abstract_missing_from_the_corpus_is_an_error(scifact):
    path = scifact / "claims" / "claims_dev.jsonl"
    path.write_text(json.dumps({**CLAIMS[0], "cited_doc_ids": [99]}) + "\n")
    with pytest.raises(MeddraftError, match=r"claims_dev\.jsonl:1: cited document 99 is not in corpus"):
        evaluate_support(scifact)


def test_run_prints_json_and_a_table(scifact):
    parser = argparse.ArgumentParser()
    support.add_arguments(parser)
    buffer = io.StringIO()
    assert (
        support.run(parser.parse_args(["--scifact", str(scifact), "--json"]), None, Console(file=buffer)) == 0
    )
    assert json.loads(buffer.getvalue())["pairs"] == 5
    buffer = io.StringIO()
    support.run(parser.parse_args(["--scifact", str(scifact)]), None, Console(file=buffer, width=200))
    assert "0.25" in buffer.getvalue() and "precision" in buffer.getvalue()


def test_format_json_equals_the_deprecated_json_flag(scifact, tmp_path, capsys):
    from rag.cli import main

    base = ["eval", "support", "--scifact", str(scifact), "--store", str(tmp_path / "s")]
    capsys.readouterr()
    assert main([*base, "--format", "json"]) == 0
    new = capsys.readouterr()
    assert main([*base, "--json"]) == 0
    old = capsys.readouterr()
    assert json.loads(new.out) == json.loads(old.out) and json.loads(new.out)["pairs"] == 5
    assert "deprecated" not in new.err
    assert old.err.strip().splitlines() == ["note: --json is deprecated; use --format json"]
    assert main([*base, "--format", "text"]) == 0
    assert "precision" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["eval", "support", "--help"])
    usage = capsys.readouterr().out
    assert "--format {text,json}" in usage and "--json" not in usage


def test_support_on_scifact_dev_counts_every_sentence_of_every_cited_abstract(shared_data):
    folder = shared_data / "scifact"
    sentences = {}
    for line in (folder / "corpus.jsonl").open():
        doc = json.loads(line)
        sentences[doc["doc_id"]] = len(doc["abstract"])
    claims = [json.loads(line) for line in (folder / "claims" / "claims_dev.jsonl").open()]
    result = evaluate_support(folder)
    assert result["claims"] == 300
    assert result["pairs"] == sum(sentences[d] for c in claims for d in c["cited_doc_ids"])
    assert 0 < result["positives"] < result["pairs"]
    assert 0 < result["precision"] <= 1 and 0 < result["recall"] <= 1
