"""The fusion of dense and BM25 candidate lists, its settings, and the tuner's split discipline."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from rag.retrieval.fusion import FusionSettings, fuse, ranked

DENSE = [("a", 0.10), ("b", 0.20), ("c", 0.40)]  # (id, cosine distance), best first
LEXICAL = [("a", 9.0), ("d", 6.0), ("b", 1.0)]  # (id, BM25 score), best first
ALL = [FusionSettings(method=m) for m in ("rrf", "minmax", "dbsf")]


@pytest.mark.parametrize("params", ALL, ids=lambda p: p.method)
def test_first_in_both_lists_ranks_first(params):
    assert ranked(DENSE, LEXICAL, params)[0][0] == "a"


@pytest.mark.parametrize("method", ["rrf", "minmax", "dbsf"])
def test_weights_shift_the_order_toward_their_half(method):
    # b: dense 2nd, BM25 3rd; d: BM25 2nd only
    dense_heavy = FusionSettings(method=method, w_dense=0.9, w_bm25=0.1, k=1)
    lexical_heavy = FusionSettings(method=method, w_dense=0.1, w_bm25=0.9, k=1)
    order = [i for i, _ in ranked(DENSE, LEXICAL, dense_heavy)]
    assert order.index("b") < order.index("d")
    order = [i for i, _ in ranked(DENSE, LEXICAL, lexical_heavy)]
    assert order.index("d") < order.index("b")


@pytest.mark.parametrize("method", ["rrf", "minmax", "dbsf"])
def test_a_zero_weight_half_only_breaks_nothing(method):
    only_dense = FusionSettings(method=method, w_dense=1.0, w_bm25=0.0)
    assert [i for i, _ in ranked(DENSE, [], only_dense)] == ["a", "b", "c"]


@pytest.mark.parametrize("method", ["minmax", "dbsf"])
def test_single_candidate_and_equal_scores_do_not_divide_by_zero(method):
    params = FusionSettings(method=method)
    assert fuse([("a", 0.3)], [("a", 2.0)], params) == {"a": pytest.approx(1.0)}
    equal = fuse([("a", 0.3), ("b", 0.3)], [("a", 2.0), ("b", 2.0)], params)
    assert equal["a"] == equal["b"] == pytest.approx(1.0)


@pytest.mark.parametrize("params", ALL, ids=lambda p: p.method)
def test_one_sided_hits_still_score(params):
    scores = fuse(DENSE, LEXICAL, params)
    assert scores["d"] > 0  # BM25 only
    assert set(scores) == {"a", "b", "c", "d"}
    assert fuse([], LEXICAL, params)["a"] > 0
    assert fuse(DENSE, [], params)["a"] > 0


def test_depth_cuts_each_list():
    scores = fuse(DENSE, LEXICAL, FusionSettings(depth=1))
    assert set(scores) == {"a"}


@pytest.mark.parametrize(
    ("values", "words"),
    [
        ({"method": "borda"}, "method"),
        ({"w_dense": -0.1}, "w_dense"),
        ({"w_bm25": 1.5}, "w_bm25"),
        ({"k": 0}, "k"),
        ({"depth": 0}, "depth"),
        ({"w_dense": 0, "w_bm25": 0}, "at least one half"),
    ],
)
def test_bad_settings_are_refused_with_the_field_named(values, words):
    with pytest.raises(ValidationError, match=words):
        FusionSettings(**values)


def test_settings_tree_carries_fusion_and_rejects_bad_env(monkeypatch):
    from rag.errors import ConfigError
    from rag.settings import Settings, load_settings

    assert Settings().retrieval.fusion == FusionSettings()
    monkeypatch.setenv("MEDDRAFT_RETRIEVAL__FUSION__K", "0")
    with pytest.raises(ConfigError, match="k"):
        load_settings()


def test_the_tuner_refuses_the_test_qrels(tmp_path):
    from eval.benchmarks.fusion import dev_split
    from rag import MeddraftError

    (tmp_path / "qrels").mkdir()
    (tmp_path / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\n1\t10\t1\n")
    (tmp_path / "qrels" / "train.tsv").write_text("query-id\tcorpus-id\tscore\n1\t10\t1\n")
    with pytest.raises(MeddraftError, match="test split"):
        dev_split(tmp_path, tmp_path / "qrels" / "test.tsv")
    copy = tmp_path / "renamed.tsv"
    copy.write_text((tmp_path / "qrels" / "test.tsv").read_text())
    with pytest.raises(MeddraftError, match="share no query"):
        dev_split(tmp_path, copy)  # a renamed copy of test queries is refused too
    with pytest.raises(MeddraftError, match="share no query"):
        dev_split(tmp_path)  # a train file that judges a test query
