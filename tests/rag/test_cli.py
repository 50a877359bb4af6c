import json

from rag.cli import main


def test_ingest_then_status(tmp_path, mini_corpus, capsys):
    store = str(tmp_path / "s")
    assert main(["ingest", str(mini_corpus), "--store", store, "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "added    policy-widgetumab" in out and "4 added" in out
    assert main(["ingest", str(mini_corpus), "--store", store, "--quiet"]) == 0
    assert "nothing changed" in capsys.readouterr().out
    assert main(["status", "--store", store, "--format", "json"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert status["documents"] == 4 and status["embedding_model"] == "all-MiniLM-L6-v2"
    assert set(status["by_case"]) == {"case-a", "case-b"}


def test_ingest_exit_code_and_one_line_per_failure(tmp_path, mini_corpus, capsys):
    (mini_corpus / "bad.md").write_text("---\nkind: clinical_note\n---\nx\n")
    code = main(["ingest", str(mini_corpus), "--store", str(tmp_path / "s"), "--format", "json"])
    assert code == 3
    report = json.loads(capsys.readouterr().out)
    assert report["counts"]["failed"] == 1 and report["counts"]["added"] == 4
    code = main(["ingest", str(mini_corpus), "--store", str(tmp_path / "s"), "--quiet"])
    err = capsys.readouterr().err
    assert code == 3
    assert [line for line in err.splitlines() if line.startswith("FAILED")] == [
        f"FAILED  {mini_corpus / 'bad.md'}: invalid metadata: front matter: "
        "case_id is required for kind clinical_note"
    ]


def test_store_env_variable_and_config_errors(tmp_path, mini_corpus, capsys, monkeypatch):
    monkeypatch.setenv("MEDDRAFT_STORE__PATH", str(tmp_path / "envstore"))
    assert main(["ingest", str(mini_corpus / "literature"), "--quiet"]) == 0
    assert (tmp_path / "envstore" / "chroma").is_dir()
    capsys.readouterr()
    assert main(["status", "--config", str(tmp_path / "nope.toml")]) == 2
    assert "config file" in capsys.readouterr().err


def test_status_on_another_model_is_an_error(tmp_path, mini_corpus, capsys):
    store = str(tmp_path / "s")
    main(["ingest", str(mini_corpus), "--store", store, "--quiet"])
    capsys.readouterr()
    assert main(["status", "--store", store, "--embedding-model", "/models/other"]) == 2
    assert "built with embedding model 'all-MiniLM-L6-v2'" in capsys.readouterr().err
