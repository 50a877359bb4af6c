"""One settings tree: defaults < meddraft.toml < MEDDRAFT_* environment < CLI flags."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic_settings import (
    BaseSettings,
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
from ingest.errors import ConfigError


class AnalysisSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)

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


CONFIG_ENV = "MEDDRAFT_CONFIG"
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

    config_path: ClassVar[Path | None] = None

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        toml_file = getattr(settings_cls, "config_path", None)
        if toml_file is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=toml_file))
        return tuple(sources)

    def hash(self) -> str:
        """Hash of every setting that shapes an output (secrets excluded)."""
        return stable_hash(self.model_dump(mode="json", exclude={"store": {"path"}}))


def _deep_set(tree: dict[str, Any], dotted: str, value: Any) -> None:
    *parents, leaf = dotted.split(".")
    for part in parents:
        tree = tree.setdefault(part, {})
    tree[leaf] = value


def load_settings(config_file: Path | str | None = None, overrides: dict[str, Any] | None = None) -> Settings:
    """Build the settings; `overrides` maps dotted keys (`store.path`) to CLI values.

    The config file is `config_file`, else `$MEDDRAFT_CONFIG`, else `./meddraft.toml` if present.
    A named file that does not exist is an error; so is any invalid or unknown key.
    """
    explicit = config_file or os.environ.get(CONFIG_ENV)
    path = Path(explicit) if explicit else DEFAULT_CONFIG
    if explicit and not path.is_file():
        raise ConfigError(f"config file {path} not found: fix the path or drop --config")
    init: dict[str, Any] = {}
    for key, value in (overrides or {}).items():
        if value is not None:
            _deep_set(init, key, value)
    cls = type("Settings", (Settings,), {"config_path": path if path.is_file() else None})
    try:
        return cls(**init)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors())
        raise ConfigError(
            f"invalid settings ({problems}); check meddraft.toml, MEDDRAFT_* variables and flags"
        ) from exc
    except ValueError as exc:  # malformed TOML
        raise ConfigError(f"cannot read config file {path}: {exc}") from exc
