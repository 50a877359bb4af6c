"""One settings tree: defaults < the user's meddraft.toml < the project's meddraft.toml <
MEDDRAFT_* environment < CLI flags; `explain_settings` says which layer each value came from."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from ingest.config import (
    ChunkingSettings,
    EmbeddingSettings,
    IngestSettings,
    StoreSettings,
    stable_hash,
)
from rag.errors import ConfigError
from rag.retrieval.fusion import FusionSettings


class AnalysisSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    criteria_files: list[str] = Field(
        default_factory=list,
        description="Reviewed criteria YAML files (from `meddraft policy export`) that replace the "
        "parse of the policies they name; a file <policy stem>.criteria.yaml beside a policy is "
        "found without being listed.",
    )
    section_min_similarity: float = Field(
        0.5,
        ge=0.0,
        le=1.0,
        description="Least similarity between the indication and a policy section's heading for "
        "the section to apply; below it the draft says no section applies.",
    )


class RetrievalSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    k_per_query: int = Field(8, ge=1, description="Hits kept per targeted query.")
    k_total: int = Field(30, ge=1, description="Hits kept per section after merging queries.")
    per_doc_cap: int = Field(3, ge=1, description="At most this many hits from one document.")
    fusion: FusionSettings = Field(
        default_factory=FusionSettings, description="How one query's dense and BM25 lists are fused."
    )


class LLMSettings(BaseModel):
    """An OpenAI-compatible endpoint (OpenAI, Azure, vLLM, Ollama, llama.cpp server)."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    base_url: str | None = Field(
        None,
        description="Endpoint root, e.g. http://127.0.0.1:8080/v1. Unset: no model is configured "
        "(with --generator openai and an API key, OpenAI's own endpoint is used).",
    )
    api_key: SecretStr | None = Field(
        None,
        description="Set through MEDDRAFT_LLM__API_KEY or OPENAI_API_KEY only; never read from a "
        "file, logged, hashed or stored.",
    )
    model: str | None = Field(None, description="Model name the endpoint serves.")
    temperature: float = Field(0.0, ge=0.0, le=2.0, description="Sampling temperature.")
    timeout: float = Field(
        120.0,
        gt=0,
        description="Seconds to wait for the server: for the whole answer, or while streaming, "
        "between two pieces of it.",
    )
    max_retries: int = Field(
        3, ge=0, le=10, description="Retries on 429, 5xx, timeouts and connection errors."
    )
    max_retry_wait: float = Field(
        60.0, gt=0, description="Longest wait honoured between retries (Retry-After included)."
    )
    max_reasks: int = Field(
        2, ge=0, le=5, description="Re-asks with the error after invalid, truncated or unbound output."
    )
    max_output_tokens: int = Field(4096, ge=16, description="Upper bound on the model's answer.")
    context_tokens: int = Field(
        12000, ge=500, description="Budget (approximate tokens) for the source chunks in a prompt."
    )
    response_format: Literal["auto", "json_schema", "json_object_schema", "json_object", "none"] = Field(
        "auto",
        description="auto: JSON schema where the server supports it, else JSON mode with the schema "
        "(llama.cpp), else JSON mode, else instructions only.",
    )
    text_max_chars: int = Field(
        600, ge=80, description="Longest statement the schema allows (where the server enforces it)."
    )
    bullets_per_section: int = Field(6, ge=1, le=20, description="Most bullets per section.")
    stream: bool = Field(True, description="Stream the answer (progress on the terminal).")


class ServeSettings(BaseModel):
    """`meddraft serve`: the reviewers' web page and its JSON API."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    host: str = Field("127.0.0.1", description="Interface to bind; anything but loopback needs a token.")
    port: int = Field(8765, ge=0, le=65535, description="TCP port (0: any free port).")
    token: SecretStr | None = Field(
        None,
        description="Shared secret every request must carry (Authorization: Bearer, or the cookie "
        "set by ?token=); required when binding beyond 127.0.0.1. Never logged, hashed or stored.",
    )


CONFIG_ENV = "MEDDRAFT_CONFIG"
XDG_ENV = "XDG_CONFIG_HOME"
OPENAI_KEY_ENV = "OPENAI_API_KEY"
DEFAULT_CONFIG = Path("meddraft.toml")


class Settings(BaseSettings):
    """Everything meddraft can be told. Unknown keys are rejected."""

    model_config = SettingsConfigDict(
        env_prefix="MEDDRAFT_",
        env_nested_delimiter="__",
        extra="forbid",
        validate_assignment=True,
    )

    store: StoreSettings = Field(default_factory=StoreSettings, description="Vector store.")
    embedding: EmbeddingSettings = Field(default_factory=EmbeddingSettings, description="Embedding model.")
    chunking: ChunkingSettings = Field(
        default_factory=ChunkingSettings, description="How documents are split."
    )
    ingest: IngestSettings = Field(default_factory=IngestSettings, description="Ingestion.")
    analysis: AnalysisSettings = Field(
        default_factory=AnalysisSettings, description="Deterministic analysis."
    )
    retrieval: RetrievalSettings = Field(
        default_factory=RetrievalSettings, description="Hybrid retrieval for drafting."
    )

    llm: LLMSettings = Field(
        default_factory=LLMSettings, description="Model endpoint for --generator openai."
    )
    serve: ServeSettings = Field(
        default_factory=ServeSettings, description="The reviewers' web page (`meddraft serve`)."
    )
    generator: str = Field(
        "auto",
        description="Who writes the draft: extractive (offline), openai (the configured endpoint), "
        "another registered generator, or auto (openai only when llm.base_url is set, else "
        "extractive). Never falls back.",
    )

    @field_validator("generator")
    @classmethod
    def _known_generator(cls, value: str) -> str:
        from rag.drafting import names

        if value != "auto" and value not in names():
            raise ValueError(f"unknown generator {value!r}: choose auto or one of {', '.join(names())}")
        return value

    config_files: ClassVar[tuple[Path, ...]] = ()  # highest precedence first; set by load_settings

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        files = getattr(settings_cls, "config_files", ())
        toml = [TomlConfigSettingsSource(settings_cls, toml_file=path) for path in files]
        return (init_settings, env_settings, *toml)

    def hash(self) -> str:
        """Hash of every setting that shapes an output (secrets excluded)."""
        return stable_hash(
            self.model_dump(mode="json", exclude={"store": {"path"}, "llm": {"api_key"}, "serve": True})
        )

    def generator_name(self) -> str:
        """The generator `auto` resolves to: a model only when an endpoint was configured."""
        if self.generator != "auto":
            return self.generator
        return "openai" if self.llm.base_url else "extractive"


def user_config_file() -> Path:
    """`$XDG_CONFIG_HOME/meddraft/meddraft.toml`, else `~/.config/meddraft/meddraft.toml` (a relative
    XDG_CONFIG_HOME is ignored, as the XDG spec says)."""
    base = os.environ.get(XDG_ENV, "")
    root = Path(base) if base and Path(base).is_absolute() else Path.home() / ".config"
    return root / "meddraft" / "meddraft.toml"


@dataclass
class _Inputs:
    """What load_settings reads before validating: the files (with their tables) and the flags."""

    files: list[tuple[str, Path, dict[str, Any]]] = field(default_factory=list)  # highest first
    overrides: dict[str, Any] = field(default_factory=dict)  # dotted key -> flag value
    openai_key: bool = False  # llm.api_key taken from OPENAI_API_KEY

    def init(self) -> dict[str, Any]:
        tree: dict[str, Any] = {}
        for key, value in self.overrides.items():
            _deep_set(tree, key, value)
        if self.openai_key:
            _deep_set(tree, "llm.api_key", os.environ[OPENAI_KEY_ENV])
        return tree


def _read_config(path: Path, role: str) -> dict[str, Any]:
    import tomllib

    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read config file {path} ({role}): {exc}; fix the file") from exc
    if isinstance(data.get("llm"), dict) and "api_key" in data["llm"]:
        raise ConfigError(
            f"{path} sets llm.api_key: API keys are read from the environment only "
            f"(MEDDRAFT_LLM__API_KEY or {OPENAI_KEY_ENV}); remove it from the file"
        )
    return data


def _deep_set(tree: dict[str, Any], dotted: str, value: Any) -> None:
    *parents, leaf = dotted.split(".")
    for part in parents:
        tree = tree.setdefault(part, {})
    tree[leaf] = value


def _flatten(tree: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """`{"store": {"path": x}}` -> `{"store.path": x}` (empty tables set nothing)."""
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        if isinstance(value, Mapping):
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def _gather(config_file: Path | str | None, overrides: Mapping[str, Any] | None) -> _Inputs:
    explicit = config_file or os.environ.get(CONFIG_ENV)
    project = Path(explicit) if explicit else DEFAULT_CONFIG
    if explicit and not project.is_file():
        raise ConfigError(f"config file {project} not found: fix the path or drop --config")
    inputs = _Inputs(overrides={k: v for k, v in (overrides or {}).items() if v is not None})
    for role, path in (("project file", project), ("user file", user_config_file())):
        if path.is_file():
            inputs.files.append((role, path, _read_config(path, role)))
    inputs.openai_key = bool(not os.environ.get("MEDDRAFT_LLM__API_KEY") and os.environ.get(OPENAI_KEY_ENV))
    return inputs


def _build(inputs: _Inputs, flag_names: Mapping[str, str] | None = None) -> Settings:
    cls = type("Settings", (Settings,), {"config_files": tuple(path for _, path, _ in inputs.files)})
    try:
        return cls(**inputs.init())
    except ValidationError as exc:
        layers = _layers(inputs, flag_names or {})
        problems = "; ".join(_problem(err, layers) for err in exc.errors())
        raise ConfigError(f"invalid settings ({problems}); fix each where it is set") from exc
    except ValueError as exc:  # a MEDDRAFT_* group variable that is not JSON (pydantic-settings)
        raise ConfigError(f"invalid settings: {exc}; fix the MEDDRAFT_* variable") from exc


def load_settings(
    config_file: Path | str | None = None,
    overrides: dict[str, Any] | None = None,
    flag_names: Mapping[str, str] | None = None,
) -> Settings:
    """Build the settings; `overrides` maps dotted keys (`store.path`) to CLI values, and
    `flag_names` the same keys to the flags that set them (for error messages).

    Layers, lowest first: defaults, the user file (`user_config_file()`), the project file
    (`config_file`, else `$MEDDRAFT_CONFIG`, else `./meddraft.toml` if present), `MEDDRAFT_*`
    variables, `overrides`. A named file that does not exist is an error; so is any invalid or
    unknown key, in whichever layer (the message names it).
    """
    return _build(_gather(config_file, overrides), flag_names)


# --- where each value came from ----------------------------------------------------------------

MASK = "**********"


def _env_name(key: str, names: Mapping[str, str]) -> str:
    """The variable that set `key`: MEDDRAFT_STORE__PATH, or MEDDRAFT_STORE holding JSON."""
    parts = key.split(".")
    for size in range(len(parts), 0, -1):
        name = "MEDDRAFT_" + "__".join(parts[:size]).upper()
        if name in names:
            return names[name]
    return "MEDDRAFT_" + "__".join(parts).upper()


def _layers(inputs: _Inputs, flag_names: Mapping[str, str]) -> list[dict[str, str]]:
    """Per layer, highest precedence first: each dotted key the layer sets -> its source."""
    flags = {
        key: f"flag {flag_names[key]}" if key in flag_names else f"argument {key}" for key in inputs.overrides
    }
    names = {name.upper(): name for name in os.environ}
    env = {key: f"env {_env_name(key, names)}" for key in _flatten(EnvSettingsSource(Settings)())}
    if inputs.openai_key:
        env["llm.api_key"] = f"env {OPENAI_KEY_ENV}"
    files = [{key: f"{role} {path.resolve()}" for key in _flatten(data)} for role, path, data in inputs.files]
    return [flags, env, *files]


def _source(key: str, layers: list[dict[str, str]]) -> str | None:
    """The highest layer that sets `key`, a group holding it, or a key inside it (for errors)."""
    for layer in layers:
        for given, source in layer.items():
            if given == key or key.startswith(f"{given}.") or given.startswith(f"{key}."):
                return source
    return None


def _problem(err: Any, layers: list[dict[str, str]]) -> str:
    key = ".".join(str(p) for p in err["loc"])
    source = _source(key, layers)
    return f"{key}: {err['msg']}" + (f" (from {source})" if source else "")


def explain_settings(
    config_file: Path | str | None = None,
    overrides: dict[str, Any] | None = None,
    flag_names: Mapping[str, str] | None = None,
) -> dict[str, dict[str, Any]]:
    """Every setting as `{dotted key: {"value": ..., "source": ...}}`, values as JSON, secrets
    masked. A source is `default`, `user file PATH`, `project file PATH`, `env NAME` or
    `flag --NAME` (`flag_names` maps dotted keys to the flags that set them)."""
    inputs = _gather(config_file, overrides)
    settings = _build(inputs, flag_names)
    layers = _layers(inputs, flag_names or {})
    secrets = {k for k, v in _flatten(settings.model_dump()).items() if isinstance(v, SecretStr)}
    result: dict[str, dict[str, Any]] = {}
    for key, value in _flatten(settings.model_dump(mode="json")).items():
        if key in secrets:
            value = MASK
        result[key] = {"value": value, "source": _source(key, layers) or "default"}
    return result
