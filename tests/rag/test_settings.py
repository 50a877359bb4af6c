from pathlib import Path

import pytest

from rag.errors import ConfigError
from rag.settings import load_settings


def test_defaults_run_offline_with_the_bundled_model():
    s = load_settings()
    assert s.store.path == Path(".meddraft") and s.store.host is None
    assert s.embedding.model == "all-MiniLM-L6-v2"


def test_precedence_defaults_toml_env_cli(tmp_path, monkeypatch):
    toml = tmp_path / "meddraft.toml"
    toml.write_text('[store]\npath = "from-toml"\nport = 9000\n[chunking]\ntarget_tokens = 100\n')
    s = load_settings(toml)
    assert (s.store.path, s.store.port, s.chunking.target_tokens) == (Path("from-toml"), 9000, 100)
    monkeypatch.setenv("MEDDRAFT_STORE__PATH", "from-env")
    s = load_settings(toml)
    assert (s.store.path, s.store.port) == (Path("from-env"), 9000)  # env wins, toml kept
    s = load_settings(toml, {"store.path": "from-cli", "embedding.model": None})
    assert s.store.path == Path("from-cli") and s.store.port == 9000
    assert s.embedding.model == "all-MiniLM-L6-v2"  # an unset flag overrides nothing


def test_config_file_from_cwd_and_env(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "meddraft.toml").write_text("[ingest]\ndefault_kind = 'guideline'\n")
    assert load_settings().ingest.default_kind == "guideline"
    other = tmp_path / "other.toml"
    other.write_text("[ingest]\ndefault_kind = 'policy'\n")
    monkeypatch.setenv("MEDDRAFT_CONFIG", str(other))
    assert load_settings().ingest.default_kind == "policy"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("[store]\npth = 'x'\n", "store.pth: Extra inputs are not permitted"),
        ("[nonsense]\na = 1\n", "nonsense: Extra inputs are not permitted"),
        ("[chunking]\ntarget_tokens = 2\n", "chunking.target_tokens"),
        ("[store\n", "cannot read config file"),
    ],
)
def test_bad_settings_are_clear_errors(tmp_path, content, message):
    toml = tmp_path / "bad.toml"
    toml.write_text(content)
    with pytest.raises(ConfigError, match=message.replace("[", r"\[")):
        load_settings(toml)


def test_bad_env_value_and_missing_config_file(tmp_path, monkeypatch):
    with pytest.raises(ConfigError, match="not found"):
        load_settings(tmp_path / "missing.toml")
    monkeypatch.setenv("MEDDRAFT_STORE__PORT", "eighty")
    with pytest.raises(ConfigError, match="store.port"):
        load_settings()
