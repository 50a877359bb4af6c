"""The LangChain peer and meddraft end to end on a tiny SciFact subset: real LangChain, Chroma, model."""

from __future__ import annotations

import pytest

from eval.benchmarks import peer

pytest.importorskip("langchain_chroma", reason="the peer's packages are in the dev extra")


def test_subset_keeps_every_judged_document(shared_data):
    data = peer.scifact_beir(shared_data / "scifact").limit(3)
    small = peer.subset(data, 10)
    judged = {d for q in data.judged_queries() for d, g in data.qrels[q].items() if g > 0}
    assert judged <= set(small.corpus)
    assert len(small.corpus) == max(10, len(judged))
    with pytest.raises(peer.MeddraftError, match="--limit-docs"):
        peer.subset(data, 0)


def test_peer_and_meddraft_rank_the_same_claims_and_print_ratios(shared_data, tmp_path, capsys):
    argv = ["--data", str(shared_data / "scifact"), "--limit-queries", "3", "--limit-docs", "12"]
    assert peer.main([*argv, "--reuse", str(tmp_path), "--no-record"]) == 0
    out = capsys.readouterr().out
    for row in ("ingest (s)", "chunks", "nDCG@10 dense", "nDCG@10 hybrid", "query p50", "query p95"):
        line = next(line for line in out.splitlines() if line.startswith(row))
        assert line.rstrip().endswith("x"), line  # the meddraft/peer ratio
    assert (tmp_path / "peer" / "chroma.sqlite3").is_file()

    # the stores are reused: both sides rank every claim from them, and the figures carry the goals
    data = peer.subset(peer.scifact_beir(shared_data / "scifact").limit(3), 12)
    settings = peer.load_settings()
    theirs = peer.run_peer(data, tmp_path / "peer", peer.bundled_model_dir(settings.embedding.cache_dir))
    ours = peer.run_meddraft(data, tmp_path / "meddraft", settings)
    for side in (theirs, ours):
        assert set(side["runs"]) == set(data.judged_queries())
        assert all(ranking and set(ranking) <= set(data.corpus) for ranking in side["runs"].values())
        assert 0 < side["dense"] <= 1 and side["chunks"] >= len(data.corpus)
    assert theirs["ingest_seconds"] is None and ours["ingest_seconds"] is None  # nothing re-embedded
    goals = {f.name: f for f in peer.figures(theirs, ours, len(data.corpus)) if f.goal}
    hybrid = f"meddraft nDCG@10 hybrid (SciFact, {len(data.corpus)} docs)"
    assert list(goals) == [hybrid]
    assert goals[hybrid].met == (ours["hybrid"] > theirs["dense"])
