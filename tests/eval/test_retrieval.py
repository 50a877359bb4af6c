"""BEIR retrieval benchmark: metric math, BEIR files, and a tiny benchmark end to end."""

from __future__ import annotations

import argparse
import io
import json
import os
import re
from pathlib import Path

import pytest
from rich.console import Console

from eval import retrieval
from eval.beir import BeirData, BeirDoc, load_beir, pubmedqa_beir, scifact_beir, write_beir
from eval.retrieval import (
    evaluate,
    first_occurrences,
    materialise,
    ndcg_at_k,
    rankings,
    recall_at_k,
    reciprocal_rank,
    safe_id,
    score_runs,
    store_ids,
)
from ingest.loaders import SourceFile, load
from rag.errors import MeddraftError
from rag.settings import load_settings
from rag.types import Hit

# --- metric math, by hand ----------------------------------------------------------------------


def test_ndcg_with_graded_relevance_matches_a_hand_computation():
    qrels = {"a": 2, "b": 1, "c": 0}
    ranking = ["b", "x", "a"]
    # the grade as gain (trec_eval, BEIR): DCG = 1/log2(2) + 0 + 2/log2(4) = 2; ideal 2 + 1/log2(3)
    assert ndcg_at_k(ranking, qrels, 3) == pytest.approx(2 / (2 + 1 / 1.5849625))
    assert ndcg_at_k(ranking, qrels, 1) == pytest.approx(1 / 2)
    # gains 2^rel - 1: b=1, x=0, a=3 -> DCG = 1/log2(2) + 0 + 3/log2(4) = 2.5; ideal 3 + 1/log2(3)
    assert ndcg_at_k(ranking, qrels, 3, exponential=True) == pytest.approx(
        2.5 / (3 + 1 / 1.5849625), abs=1e-6
    )
    assert ndcg_at_k(ranking, qrels, 1, exponential=True) == pytest.approx(1 / 3)
    assert ndcg_at_k(["a", "b"], qrels, 10) == pytest.approx(1.0)
    assert ndcg_at_k(["c", "x"], qrels, 10) == 0.0
    assert ndcg_at_k(["a"], {"c": 0}, 10) == 0.0  # no relevant document: nothing to find


def test_recall_at_k_counts_relevant_in_the_top_k_over_all_relevant():
    qrels = {"a": 1, "b": 1, "c": 2, "d": 0}
    ranking = ["d", "a", "x", "b"]
    assert recall_at_k(ranking, qrels, 1) == 0.0
    assert recall_at_k(ranking, qrels, 2) == pytest.approx(1 / 3)
    assert recall_at_k(ranking, qrels, 4) == pytest.approx(2 / 3)
    assert recall_at_k(ranking, qrels, 100) == pytest.approx(2 / 3)


def test_mrr_is_one_over_the_first_relevant_rank_or_zero():
    assert reciprocal_rank(["x", "d", "b"], {"d": 0, "b": 1}) == pytest.approx(1 / 3)
    assert reciprocal_rank(["b"], {"b": 1}) == 1.0
    assert reciprocal_rank(["x", "y"], {"b": 1}) == 0.0


def test_score_runs_averages_over_queries():
    qrels = {"q1": {"a": 1}, "q2": {"b": 1}}
    runs = {"q1": ["a", "b"], "q2": ["a", "b"]}
    scores = score_runs(runs, qrels, (1, 10))
    assert scores["mrr"] == pytest.approx(0.75)
    assert scores["recall@1"] == pytest.approx(0.5)
    assert scores["recall@10"] == pytest.approx(1.0)
    assert scores["ndcg@10"] == pytest.approx((1 + 1 / 1.5849625) / 2, abs=1e-4)


def _hit(chunk: str, doc: str, dense: int | None, bm25: int | None) -> Hit:
    return Hit(
        chunk_id=chunk, doc_id=doc, text="t", kind="study", title="t", dense_rank=dense, bm25_rank=bm25
    )


def test_rankings_split_one_hit_list_into_dense_bm25_and_fused_document_orders():
    hits = [  # fused order
        _hit("c1", "beir-a", 2, 1),
        _hit("c2", "beir-b", 1, None),
        _hit("c3", "beir-a", None, 2),
        _hit("c4", "beir-c", 3, 3),
    ]
    got = rankings(hits, {"beir-a": "A", "beir-b": "B", "beir-c": "C"})
    assert got == {"dense": ["B", "A", "C"], "bm25": ["A", "C"], "hybrid": ["A", "B", "C"]}
    assert first_occurrences(["x", "y", "x", "z", "y"]) == ["x", "y", "z"]


# --- BEIR files ------------------------------------------------------------------------------


def _write(folder: Path, corpus: list[dict], queries: list[dict], qrels: str) -> tuple[Path, Path, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = folder / "corpus.jsonl", folder / "queries.jsonl", folder / "qrels.tsv"
    paths[0].write_text("".join(json.dumps(d) + "\n" for d in corpus))
    paths[1].write_text("".join(json.dumps(q) + "\n" for q in queries))
    paths[2].write_text(qrels)
    return paths


def test_load_beir_names_the_file_and_line_of_what_is_wrong(tmp_path):
    good_corpus = [{"_id": "d1", "title": "T", "text": "x"}]
    good_queries = [{"_id": "q1", "text": "x"}]
    c, q, r = _write(tmp_path, good_corpus, good_queries, "query-id\tcorpus-id\tscore\nq1\td1\t1\n")
    assert load_beir(c, q, r).qrels == {"q1": {"d1": 1}}

    with pytest.raises(MeddraftError, match=r"missing\.jsonl: file not found"):
        load_beir(tmp_path / "missing.jsonl", q, r)
    c.write_text(json.dumps(good_corpus[0]) + "\n{not json\n")
    with pytest.raises(MeddraftError, match=r"corpus\.jsonl:2: invalid JSON"):
        load_beir(c, q, r)
    c.write_text(json.dumps(good_corpus[0]) + "\n" + json.dumps({"title": "no id", "text": "x"}) + "\n")
    with pytest.raises(MeddraftError, match=r"corpus\.jsonl:2: missing or empty '_id'"):
        load_beir(c, q, r)
    c.write_text(json.dumps(good_corpus[0]) + "\n" + json.dumps(good_corpus[0]) + "\n")
    with pytest.raises(MeddraftError, match=r"corpus\.jsonl:2: duplicate _id 'd1'"):
        load_beir(c, q, r)
    c.write_text(json.dumps(good_corpus[0]) + "\n")
    q.write_text(json.dumps({"_id": "q1", "text": "  "}) + "\n")
    with pytest.raises(MeddraftError, match=r"queries\.jsonl:1: missing or empty 'text'"):
        load_beir(c, q, r)
    q.write_text(json.dumps(good_queries[0]) + "\n")
    r.write_text("query-id\tcorpus-id\tscore\nq1\td1\n")
    with pytest.raises(MeddraftError, match=r"qrels\.tsv:2: expected 'query-id corpus-id score', got 2"):
        load_beir(c, q, r)
    r.write_text("query-id\tcorpus-id\tscore\nq1\td1\thigh\n")
    with pytest.raises(MeddraftError, match=r"qrels\.tsv:2: score 'high' is not an integer"):
        load_beir(c, q, r)


def test_write_beir_then_load_beir_round_trips(tmp_path):
    data = BeirData(
        corpus={"d1": BeirDoc('Title: with "quotes"', "Text one."), "d2": BeirDoc("", "Text two.")},
        queries={"q1": "first", "q2": "second"},
        qrels={"q1": {"d1": 2, "d2": 0}, "q2": {"d2": 1}},
    )
    back = load_beir(*write_beir(data, tmp_path / "beir"))
    assert (back.corpus, back.queries, back.qrels) == (data.corpus, data.queries, data.qrels)
    assert back.limit(1).queries == {"q1": "first"} and back.limit(1).corpus == data.corpus


def test_ids_are_valid_store_ids_that_map_back_and_never_collide():
    data = BeirData(
        corpus={k: BeirDoc("", "text") for k in ("12345", "Doc/1", "doc-1", "a b", "A B", ".hidden")},
        queries={},
        qrels={},
    )
    ids = store_ids(data)
    assert sorted(ids.values()) == sorted(data.corpus)  # every doc, and back to its BEIR id
    assert all(re.match(r"^[a-z0-9][a-z0-9._-]*$", i) for i in ids)
    assert ids["beir-12345"] == "12345" and ids["beir-doc-1"] == "doc-1"
    assert safe_id("a b") != safe_id("A B")
    assert not safe_id(".hidden").startswith(".")  # hidden files are not ingested


def test_materialise_writes_loadable_markdown_and_rewrites_only_changed_files(tmp_path):
    data = BeirData(
        corpus={
            "1": BeirDoc('A title: "quoted" # not a comment', "Body one."),
            "2": BeirDoc("", "Body two."),
        },
        queries={},
        qrels={},
    )
    folder = materialise(data, tmp_path / "docs")
    doc = load(SourceFile(folder / "1.md", folder))
    assert (doc.id, doc.meta.kind, doc.meta.title) == ("beir-1", "study", 'A title: "quoted" # not a comment')
    assert doc.text.strip() == "Body one."
    for path in folder.iterdir():
        os.utime(path, ns=(0, 0))
    data.corpus["2"] = BeirDoc("", "Body two, changed.")
    data.corpus.pop("1")
    data.corpus["3"] = BeirDoc("New", "Body three.")
    materialise(data, folder)
    assert sorted(p.name for p in folder.iterdir()) == ["2.md", "3.md"]  # 1.md removed
    assert (folder / "2.md").stat().st_mtime_ns != 0
    data.corpus["2"] = BeirDoc("", "Body two, changed.")
    for path in folder.iterdir():
        os.utime(path, ns=(0, 0))
    materialise(data, folder)
    assert all(p.stat().st_mtime_ns == 0 for p in folder.iterdir())  # nothing rewritten


# --- a tiny benchmark end to end ---------------------------------------------------------------

DOCS = {
    "PMC:1": (
        "Omalizumab in chronic spontaneous urticaria",
        "Omalizumab reduced itch severity and hive "
        "counts in chronic spontaneous urticaria refractory to antihistamines.",
    ),
    "doc 2": (
        "Dupilumab for atopic dermatitis",
        "Dupilumab improved eczema area and severity index "
        "scores in adults with moderate to severe atopic dermatitis.",
    ),
    "3": (
        "Metformin and lactic acidosis",
        "Lactic acidosis with metformin is rare and mostly occurs with severe renal impairment.",
    ),
    "4": (
        "Warfarin dosing",
        "Warfarin doses are adjusted to keep the INR between 2 and 3; the INR is "
        "checked weekly after each dose change.",
    ),
    "5": (
        "Amoxicillin hypersensitivity",
        "Serious anaphylactic reactions have been reported with "
        "amoxicillin in patients with penicillin allergy.",
    ),
    "6": (
        "Immunoglobulin in CIDP",
        "Intravenous immunoglobulin improved disability in chronic "
        "inflammatory demyelinating polyneuropathy.",
    ),
    "7": (
        "Ustekinumab in plaque psoriasis",
        "Ustekinumab achieved PASI 75 responses in most patients with moderate to severe plaque psoriasis.",
    ),
    "8": (
        "Vitamin D and fractures",
        "Vitamin D supplementation with calcium lowered the rate of hip "
        "fractures in elderly women living in care homes.",
    ),
    "9": (
        "Statins and myopathy",
        "Muscle pain and myopathy are the most common reasons to stop statin "
        "therapy; creatine kinase is measured when symptoms appear.",
    ),
    "10": (
        "Influenza vaccination in older adults",
        "Annual influenza vaccination reduced hospital admissions for pneumonia in people over 65.",
    ),
}
QUERIES = {
    "q1": "omalizumab for chronic spontaneous urticaria",
    "q2": "warfarin INR monitoring after a dose change",
    "q3": "intravenous immunoglobulin for CIDP",
    "q4": "statin muscle pain myopathy",
    "q5": "does vitamin D prevent hip fractures in elderly women",
    "q6": "a query nobody judged",
}
QRELS = "query-id\tcorpus-id\tscore\nq1\tPMC:1\t2\nq2\t4\t1\nq3\t6\t1\nq4\t9\t1\nq5\t8\t1\nq5\t9\t0\n"


@pytest.fixture
def tiny_beir(tmp_path) -> tuple[Path, Path, Path]:
    corpus = [{"_id": k, "title": t, "text": x} for k, (t, x) in DOCS.items()]
    queries = [{"_id": k, "text": v} for k, v in QUERIES.items()]
    return _write(tmp_path / "tiny", corpus, queries, QRELS)


def _check_shape(result: dict) -> None:
    json.dumps(result)  # JSON-serialisable as a whole
    for mode in ("dense", "bm25", "hybrid"):
        assert {"ndcg@10", "recall@10", "recall@100", "mrr"} <= set(result[mode])
        assert all(0.0 <= v <= 1.0 for v in result[mode].values())
    assert {"queries", "docs", "seconds", "ingest"} <= set(result)


def test_tiny_benchmark_end_to_end_and_second_run_reuses_every_embedding(
    tiny_beir, settings, embedder, tmp_path
):
    data = load_beir(*tiny_beir)
    first = evaluate(data, settings, embedder=embedder)
    _check_shape(first)
    assert first["queries"] == 5 and first["docs"] == 10  # q6 has no judgement: not scored
    assert first["ingest"]["counts"]["added"] == 10 and first["ingest"]["chunks_embedded"] >= 10
    for mode in ("dense", "bm25", "hybrid"):
        assert first[mode]["recall@10"] == 1.0, mode
        assert first[mode]["mrr"] >= 0.8, mode

    second = evaluate(data, settings, embedder=embedder)
    assert second["ingest"]["chunks_embedded"] == 0
    assert second["ingest"]["counts"]["unchanged"] == 10
    assert {m: second[m] for m in ("dense", "bm25", "hybrid")} == {
        m: first[m] for m in ("dense", "bm25", "hybrid")
    }

    # the obvious query, alone: its document (a BEIR id that needed mapping) first in every mode
    obvious = BeirData(corpus=data.corpus, queries={"q1": QUERIES["q1"]}, qrels={"q1": data.qrels["q1"]})
    only = evaluate(obvious, settings, embedder=embedder)
    assert only["queries"] == 1 and only["ingest"]["chunks_embedded"] == 0
    for mode in ("dense", "bm25", "hybrid"):
        assert only[mode]["mrr"] == 1.0 and only[mode]["ndcg@10"] == 1.0, mode


def test_evaluate_refuses_a_store_that_holds_other_documents(tiny_beir, settings, embedder, mini_corpus):
    from rag.components import build_indexer

    build_indexer(settings, embedder=embedder).ingest([mini_corpus])
    with pytest.raises(MeddraftError, match="not part of the benchmark"):
        evaluate(load_beir(*tiny_beir), settings, embedder=embedder)


def _args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    retrieval.add_arguments(parser)
    return parser.parse_args(list(argv))


def test_run_prints_the_json_object_and_the_table(tiny_beir, settings):
    corpus, queries, qrels = map(str, tiny_beir)
    buffer = io.StringIO()
    code = retrieval.run(
        _args(
            "--corpus", corpus, "--queries", queries, "--qrels", qrels, "--json", "--quiet", "--limit", "2"
        ),
        settings,
        Console(file=buffer, width=200),
    )
    assert code == 0
    result = json.loads(buffer.getvalue())
    assert {"dense", "bm25", "hybrid"} <= set(result) and result["queries"] == 2
    assert Path(result["store"]) == Path(settings.store.path).resolve()
    buffer = io.StringIO()
    retrieval.run(
        _args("--corpus", corpus, "--queries", queries, "--qrels", qrels, "--quiet"),
        settings,
        Console(file=buffer, width=200),
    )
    table = buffer.getvalue()
    assert "hybrid" in table and "ndcg@10" in table and "0 chunks embedded" in table


def _without_timings(value):
    """The result less its wall-clock figures (seconds, ms per query), which differ run to run."""
    if isinstance(value, dict):
        return {k: _without_timings(v) for k, v in value.items() if "seconds" not in k and "ms_" not in k}
    return value


def test_format_json_equals_the_deprecated_json_flag(tiny_beir, tmp_path, capsys):
    from rag.cli import main

    corpus, queries, qrels = map(str, tiny_beir)
    argv = ["eval", "retrieval", "--corpus", corpus, "--queries", queries, "--qrels", qrels]
    argv += ["--quiet", "--limit", "2", "--store", str(tmp_path / "s")]
    assert main([*argv, "--format", "json"]) == 0  # ingests: later runs reuse every embedding
    capsys.readouterr()
    runs = {}
    for flags in (("--format", "json"), ("--json",)):
        assert main([*argv, *flags]) == 0
        captured = capsys.readouterr()
        runs[flags[-1]] = (_without_timings(json.loads(captured.out)), captured.err)
    assert runs["json"][0] == runs["--json"][0]
    assert runs["json"][0]["queries"] == 2 and "hybrid" in runs["json"][0]
    assert "deprecated" not in runs["json"][1]
    assert "note: --json is deprecated; use --format json" in runs["--json"][1]
    with pytest.raises(SystemExit):
        main(["eval", "retrieval", "--help"])
    usage = capsys.readouterr().out
    assert "--format {text,json}" in usage and "--json" not in usage


def test_arguments_need_a_dataset_or_all_three_files(tmp_path):
    settings = load_settings(overrides={"store.path": str(tmp_path / "s")})
    with pytest.raises(MeddraftError, match="give --dataset"):
        retrieval.load_from_args(_args("--corpus", "c.jsonl"), settings)
    with pytest.raises(MeddraftError, match="not both"):
        retrieval.load_from_args(_args("--dataset", "scifact", "--qrels", "r.tsv"), settings)


def test_the_default_store_is_never_used_for_a_benchmark(tmp_path):
    default = load_settings()
    bench = retrieval._bench_settings(default, "scifact")
    assert bench.store.path.name == "meddraft-bench-scifact" and default.store.path == Path(".meddraft")
    chosen = load_settings(overrides={"store.path": str(tmp_path / "mine")})
    assert retrieval._bench_settings(chosen, "scifact").store.path == tmp_path / "mine"


# --- the shared data ---------------------------------------------------------------------------


def test_pubmedqa_dev_converts_to_500_queries_each_with_its_own_abstract(shared_data):
    data = pubmedqa_beir(shared_data / "pubmedqa" / "pqal_dev.json")
    assert len(data.queries) == 500 and len(data.corpus) == 500 and len(data.judged_queries()) == 500
    assert all(data.qrels[q] == {q: 1} for q in data.queries)
    raw = json.loads((shared_data / "pubmedqa" / "pqal_dev.json").read_text())
    pmid = next(iter(raw))
    assert data.corpus[pmid].text == " ".join(raw[pmid]["CONTEXTS"])
    assert data.queries[pmid] == raw[pmid]["QUESTION"]


def test_scifact_converts_to_5183_docs_and_300_judged_claims(shared_data):
    data = scifact_beir(shared_data / "scifact")
    assert len(data.corpus) == 5183 and len(data.queries) == 300 and len(data.judged_queries()) == 300
    assert all(d in data.corpus for rels in data.qrels.values() for d in rels)
    first = json.loads((shared_data / "scifact" / "corpus.jsonl").open().readline())
    doc = data.corpus[str(first["doc_id"])]
    assert doc.title == first["title"] and doc.text == " ".join(first["abstract"])


def test_ndcg_equals_trec_eval_on_graded_qrels():
    """The dev extra's ir-measures runs trec_eval's ndcg_cut (what BEIR reports) on a graded toy set."""
    import ir_measures
    from ir_measures import nDCG

    qrels = {
        "q1": {"a": 3, "b": 1, "c": 2, "d": 0},
        "q2": {"e": 1, "f": 2},
        "q3": {"g": 2, "h": 2, "i": 1, "j": 3, "k": 1},
    }
    runs = {
        "q1": ["d", "b", "x", "c", "a"],
        "q2": ["f", "y", "e"],
        "q3": ["k", "i", "z", "h", "w", "g", "v", "j"],
    }
    scored = [
        ir_measures.ScoredDoc(q, d, float(100 - r))
        for q, ranked in runs.items()
        for r, d in enumerate(ranked)
    ]
    judged = [ir_measures.Qrel(q, d, g) for q, docs in qrels.items() for d, g in docs.items()]
    for k in (1, 3, 5, 10):
        theirs = {m.query_id: m.value for m in ir_measures.iter_calc([nDCG @ k], judged, scored)}
        ours = {q: ndcg_at_k(runs[q], qrels[q], k) for q in qrels}
        assert ours == pytest.approx(theirs, abs=1e-6), k
        graded = {q: ndcg_at_k(runs[q], qrels[q], k, exponential=True) for q in qrels}
        assert graded != pytest.approx(theirs, abs=1e-6)  # the old gain would not match
