"""The user-level config file, the five layers, and `meddraft config` saying where each value came
from (run through `main`, with a temporary HOME / XDG_CONFIG_HOME and real files)."""

import json
from pathlib import Path

import pytest

from rag.cli import main
from rag.errors import ConfigError
from rag.settings import MASK, load_settings, user_config_file


def _user_file(home: Path, text: str) -> Path:
    path = home / "meddraft" / "meddraft.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


@pytest.fixture
def config_home(tmp_path, monkeypatch) -> Path:
    home = tmp_path / "xdg"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home))
    monkeypatch.chdir(tmp_path)  # no project meddraft.toml unless a test writes one
    return home


def _explained(capsys, *argv: str) -> dict:
    capsys.readouterr()
    assert main(["config", "--format", "json", *argv]) == 0
    return json.loads(capsys.readouterr().out)


def test_the_tests_never_read_the_developers_own_config():
    assert "meddraft-tests-config-" in str(user_config_file())  # set by tests/conftest.py
    assert not user_config_file().exists()


def test_user_file_location_honours_xdg_config_home_then_home(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    assert user_config_file() == tmp_path / "xdg" / "meddraft" / "meddraft.toml"
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("XDG_CONFIG_HOME")
    assert user_config_file() == tmp_path / "home" / ".config" / "meddraft" / "meddraft.toml"
    monkeypatch.setenv("XDG_CONFIG_HOME", "relative/dir")  # the XDG spec: ignored
    assert user_config_file() == tmp_path / "home" / ".config" / "meddraft" / "meddraft.toml"
    _user_file(tmp_path / "home" / ".config", "[store]\ncollection = 'from-home'\n")
    assert load_settings().store.collection == "from-home"


def test_five_layers_each_win_over_the_ones_below(config_home, tmp_path, monkeypatch, capsys):
    user = _user_file(
        config_home,
        "[store]\npath = 'user-store'\nport = 1\ncollection = 'user-coll'\n[chunking]\ntarget_tokens = 101\n",
    )
    project = tmp_path / "meddraft.toml"
    project.write_text("[store]\npath = 'project-store'\nport = 2\n[chunking]\ntarget_tokens = 102\n")
    monkeypatch.setenv("MEDDRAFT_STORE__PATH", "env-store")
    monkeypatch.setenv("MEDDRAFT_CHUNKING__TARGET_TOKENS", "103")

    s = load_settings(overrides={"store.path": "flag-store"})
    assert s.store.path == Path("flag-store")  # flag > env
    assert s.chunking.target_tokens == 103  # env > project
    assert s.store.port == 2  # project > user
    assert s.store.collection == "user-coll"  # user > default
    assert s.retrieval.k_total == 30  # default

    explained = _explained(capsys, "--store", "flag-store")
    assert explained["store.path"] == {"value": "flag-store", "source": "flag --store"}
    assert explained["chunking.target_tokens"] == {
        "value": 103,
        "source": "env MEDDRAFT_CHUNKING__TARGET_TOKENS",
    }
    assert explained["store.port"] == {"value": 2, "source": f"project file {project}"}
    assert explained["store.collection"] == {"value": "user-coll", "source": f"user file {user}"}
    assert explained["retrieval.k_total"] == {"value": 30, "source": "default"}
    assert explained["embedding.model"]["source"] == "default"

    # without the flag, env; without env, the project file; --config replaces the project file only
    monkeypatch.delenv("MEDDRAFT_STORE__PATH")
    assert _explained(capsys)["store.path"]["source"] == f"project file {project}"
    other = tmp_path / "other.toml"
    other.write_text("[retrieval]\nk_total = 7\n")
    explained = _explained(capsys, "--config", str(other))
    assert explained["store.path"] == {"value": "user-store", "source": f"user file {user}"}
    assert explained["retrieval.k_total"] == {"value": 7, "source": f"project file {other}"}


def test_global_flags_before_the_command_and_a_group_set_as_json_in_env(config_home, monkeypatch, capsys):
    monkeypatch.setenv("MEDDRAFT_LLM", '{"model": "m1", "temperature": 0.5}')
    capsys.readouterr()
    assert main(["--embedding-model", "/models/x", "config", "--format", "json"]) == 0
    explained = json.loads(capsys.readouterr().out)
    assert explained["embedding.model"] == {"value": "/models/x", "source": "flag --embedding-model"}
    assert explained["llm.model"] == {"value": "m1", "source": "env MEDDRAFT_LLM"}
    assert explained["llm.temperature"] == {"value": 0.5, "source": "env MEDDRAFT_LLM"}


def test_secrets_are_masked_in_json_and_text(config_home, monkeypatch, capsys):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-very-secret-1")
    monkeypatch.setenv("MEDDRAFT_SERVE__TOKEN", "token-very-secret-2")
    explained = _explained(capsys)
    assert explained["llm.api_key"] == {"value": MASK, "source": "env OPENAI_API_KEY"}
    assert explained["serve.token"] == {"value": MASK, "source": "env MEDDRAFT_SERVE__TOKEN"}
    monkeypatch.setenv("MEDDRAFT_LLM__API_KEY", "sk-very-secret-3")
    explained = _explained(capsys)
    assert explained["llm.api_key"] == {"value": MASK, "source": "env MEDDRAFT_LLM__API_KEY"}
    monkeypatch.setenv("COLUMNS", "200")  # one line per row
    assert main(["config"]) == 0
    text = capsys.readouterr().out
    assert "very-secret" not in text
    row = next(line for line in text.splitlines() if "serve.token" in line)
    assert MASK in row and "env MEDDRAFT_SERVE__TOKEN" in row
    monkeypatch.delenv("MEDDRAFT_SERVE__TOKEN")
    assert _explained(capsys)["serve.token"] == {"value": None, "source": "default"}


def test_text_format_is_a_table_of_value_and_source(config_home, tmp_path, monkeypatch, capsys):
    user = _user_file(config_home, "[retrieval]\nper_doc_cap = 5\n")
    monkeypatch.setenv("COLUMNS", "250")  # one line per row
    capsys.readouterr()
    assert main(["config", "--store", str(tmp_path / "s")]) == 0
    lines = capsys.readouterr().out.splitlines()
    row = next(line for line in lines if "retrieval.per_doc_cap" in line)
    assert "│ 5 " in row and f"user file {user}" in row
    assert any("store.path" in line and "flag --store" in line for line in lines)
    assert any("retrieval.k_total" in line and "default" in line for line in lines)
    assert lines[-1] == f"user file: {user}; secrets are masked"


def test_config_never_creates_a_store(config_home, tmp_path, capsys):
    assert main(["config", "--store", str(tmp_path / "nowhere")]) == 0
    assert main(["config"]) == 0
    assert not (tmp_path / "nowhere").exists() and not (tmp_path / ".meddraft").exists()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("[store\n", "cannot read config file {path} (user file)"),
        ("[store]\npth = 'x'\n", "store.pth: Extra inputs are not permitted (from user file {path})"),
        ("[llm]\napi_key = 'sk-x'\n", "{path} sets llm.api_key"),
    ],
)
def test_a_bad_user_file_is_a_usage_error_naming_the_file(config_home, capsys, content, message):
    path = _user_file(config_home, content)
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert message.format(path=path) in str(caught.value)
    capsys.readouterr()
    assert main(["config"]) == 2  # ConfigError: usage (rag/cli/exits.py)
    assert str(path) in capsys.readouterr().err.replace("\n", "")
    assert main(["status"]) == 2  # every command reads the same layers


def test_an_invalid_value_is_blamed_on_the_layer_that_set_it(config_home, tmp_path, monkeypatch):
    user = _user_file(config_home, "[store]\nport = 'eighty'\n")
    (tmp_path / "meddraft.toml").write_text("[chunking]\ntarget_tokens = 2\n")
    with pytest.raises(ConfigError) as caught:
        load_settings()
    message = str(caught.value)
    assert "store.port: Input should be a valid integer" in message
    assert f"integer (from user file {user})" in message
    assert f"(from project file {tmp_path / 'meddraft.toml'})" in message
    monkeypatch.setenv("MEDDRAFT_STORE__PORT", "ninety")
    with pytest.raises(ConfigError, match=r"\(from env MEDDRAFT_STORE__PORT\)"):
        load_settings()


def test_a_bad_flag_value_or_unparsable_env_group_names_its_source(config_home, monkeypatch, capsys):
    with pytest.raises(ConfigError, match=r"store\.port: .* \(from flag --port\)"):
        load_settings(overrides={"store.port": "x"}, flag_names={"store.port": "--port"})
    monkeypatch.setenv("MEDDRAFT_LLM", "not json")
    capsys.readouterr()
    assert main(["config"]) == 2
    assert "MEDDRAFT_* variable" in capsys.readouterr().err
