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
    assert status["documents"] == 4
    assert status["embedding_model"] == "all-MiniLM-L6-v2+onnx-int8"  # a new store: int8
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
    assert main(["status", "--store", store, "--embedding-model", "/models/other"]) == 3
    err = capsys.readouterr().err
    assert "built with embedding model 'all-MiniLM-L6-v2+onnx-int8'" in err
    assert "--embedding-model 'all-MiniLM-L6-v2' with embedding.quantize = 'int8'" in err


def test_global_options_before_or_after_the_command_and_version(tmp_path, mini_corpus, capsys):
    store = str(tmp_path / "s")
    assert main(["--store", store, "ingest", str(mini_corpus), "--quiet"]) == 0
    capsys.readouterr()
    assert main(["--store", store, "status", "--format", "json"]) == 0
    before = json.loads(capsys.readouterr().out)
    assert main(["status", "--store", store, "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out) == before and before["documents"] == 4
    assert main(["search", "widgetumab dose", "-k", "2", "--store", store, "--format", "json"]) == 0
    assert len(json.loads(capsys.readouterr().out)) == 2
    # given in both places, the one after the command wins (it is the nearer)
    assert main(["--store", str(tmp_path / "nowhere"), "status", "--store", store]) == 0
    capsys.readouterr()
    try:
        main(["--version"])
    except SystemExit as done:
        assert done.code == 0
    assert capsys.readouterr().out.startswith("meddraft 0.")


def test_exit_statuses_tell_usage_from_data_from_try_later():
    from rag.cli.exits import exit_status
    from rag.errors import (
        CaseNotFoundError,
        ConfigError,
        LLMQuotaError,
        LLMRateLimitError,
        LLMTimeoutError,
        LLMTransportError,
        QuestionError,
        StoreError,
    )

    assert exit_status(ConfigError("bad key")) == exit_status(QuestionError("empty")) == 2
    assert exit_status(StoreError("no store")) == exit_status(CaseNotFoundError("x", [])) == 3
    assert exit_status(LLMRateLimitError("429", status=429, attempts=5)) == 75
    assert exit_status(LLMTimeoutError("slow", attempts=3)) == 75
    assert exit_status(LLMTransportError("refused")) == 75  # no answer at all
    assert exit_status(LLMTransportError("503", status=503)) == 75
    assert exit_status(LLMTransportError("401", status=401)) == 3  # the key: retrying cannot help
    assert exit_status(LLMQuotaError("out of credit", status=429)) == 3


def test_every_option_and_argument_has_help_text():
    import argparse

    from rag.cli.main import build_parser

    missing = []

    def walk(parser: argparse.ArgumentParser, path: str) -> None:
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, child in action.choices.items():
                    walk(child, f"{path} {name}")
            elif not action.help:
                missing.append(f"{path} {'/'.join(action.option_strings) or action.dest}")

    walk(build_parser(), "meddraft")
    assert not missing, missing


def test_one_format_option_everywhere_and_json_only_as_a_hidden_alias():
    import argparse

    from rag.cli.main import build_parser

    formats, visible_json = {}, []

    def walk(parser: argparse.ArgumentParser, path: str) -> None:
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, child in action.choices.items():
                    walk(child, f"{path} {name}")
            elif "--format" in action.option_strings:
                formats[path] = action.choices
            elif "--json" in action.option_strings and action.help != argparse.SUPPRESS:
                visible_json.append(path)

    walk(build_parser(), "meddraft")
    assert not visible_json, visible_json
    for command in ("config", "eval retrieval", "eval support", "eval cases", "status", "search"):
        assert "json" in formats[f"meddraft {command}"], command
