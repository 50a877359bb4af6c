from eval.benchmarks.figures import Figure, load, record, table


def test_recorded_groups_print_as_one_table_with_goals_and_misses(tmp_path):
    record(
        "cold", [Figure("cold assess", 4.62, "s", goal="<= 2.5 s", met=False, note="medspaCy load")], tmp_path
    )
    record("ingest", [Figure("chunks", 12654), Figure("ratio", 2.0, "x", goal=">= 4x", met=False)], tmp_path)
    record("ingest", [Figure("chunks", 12700)], tmp_path)  # a re-run replaces the group

    groups = load(tmp_path)
    lines = table(groups)

    assert list(groups) == ["cold", "ingest"]
    assert [f.value for f in groups["ingest"]] == [12700]
    cold = next(line for line in lines if "cold assess" in line)
    assert "4.62 s" in cold and "<= 2.5 s" in cold and "NO" in cold and "medspaCy load" in cold
    assert any("12,700" in line for line in lines)
