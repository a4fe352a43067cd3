"""`Settings`, the whole configuration, and `get_settings()`, validated once and cached."""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, NamedTuple

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from videogen_dagster.settings.cluster import ClusterSettings
from videogen_dagster.settings.environment import (
    EXPLICIT_ENV,
    FlatEnvironment,
    VariableWatch,
    group_of,
    variables_of,
)
from videogen_dagster.settings.errors import SettingsError, problem_of
from videogen_dagster.settings.events import EventSettings
from videogen_dagster.settings.groups import (
    MODELS_FILE_VARIABLE,
    BatchSettings,
    ConvexSettings,
    DagsterSettings,
    LLMSettings,
    LogSettings,
    McpSettings,
    ObjectUrlSettings,
    S3Settings,
    SpeechSettings,
)


class Settings(BaseSettings):
    """Every setting of the project. Groups: `s3`, `llm`, `convex`, `batch`, `dagster`, `speech`,
    `urls`, `mcp` (the stdio MCP server); the rest (local state, scene concurrency, the bridge's
    own) at the top."""

    model_config = SettingsConfigDict(extra="forbid", validate_by_name=True, validate_by_alias=True)

    # Local state (objects, metadata, scratch) of the pipeline and the bridge.
    var_dir: Path = Field(Path("var"), alias="VIDEOGEN_VAR_DIR")
    # Cluster mode: the metadata store (and the Convex outbox) in this PostgreSQL database, shared
    # by every machine; unset: the SQLite file under var_dir. postgresql://, postgres:// or
    # postgresql+psycopg2:// (kept as postgresql://). May hold a password: kept out of reprs.
    database_url: str | None = Field(None, alias="VIDEOGEN_DATABASE_URL", repr=False)
    # Scenes rendered at once: the CLI's default --concurrency and the bridge's render slots.
    # Must match dagster.yaml's `videogen/kind=scene` limit (3).
    scene_concurrency: int = Field(3, alias="SCENE_CONCURRENCY", ge=1)
    # x264's options for every render's video (media/encoder.py): veryfast at crf 21 spends about
    # a third less CPU than Manim's own (medium, crf 23), for a PSNR about 1 dB lower. "manim":
    # Manim's own options (the crf is then ignored).
    x264_preset: Literal[
        "manim", "ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower",
        "veryslow",
    ] = Field("veryfast", alias="VIDEOGEN_X264_PRESET")
    x264_crf: int = Field(21, alias="VIDEOGEN_X264_CRF", ge=0, le=51)
    s3: S3Settings = Field(default_factory=S3Settings)
    llm: LLMSettings = Field(default_factory=LLMSettings)
    convex: ConvexSettings = Field(default_factory=ConvexSettings)
    batch: BatchSettings = Field(default_factory=BatchSettings)
    dagster: DagsterSettings = Field(default_factory=DagsterSettings)
    speech: SpeechSettings = Field(default_factory=SpeechSettings)
    urls: ObjectUrlSettings = Field(default_factory=ObjectUrlSettings)
    events: EventSettings = Field(default_factory=EventSettings)  # live progress and webhooks
    mcp: McpSettings = Field(default_factory=McpSettings)
    log: LogSettings = Field(default_factory=LogSettings)
    cluster: ClusterSettings = Field(default_factory=ClusterSettings)  # Celery broker (cluster mode)
    # The bridge: JWT auth (HS256 secret, or an RS256/ES256 public key; optional audience). With
    # neither, the bridge runs open.
    jwt_secret: str | None = Field(None, alias="JWT_SECRET", repr=False)
    jwt_public_key: str | None = Field(None, alias="JWT_PUBLIC_KEY")
    jwt_audience: str | None = Field(None, alias="JWT_AUDIENCE")
    # Largest request body the bridge accepts (413 past it): a batch of 100 requests or 100 kB
    # of scene code fit with room to spare.
    max_body_bytes: int = Field(2 * 1024 * 1024, alias="MAX_BODY_BYTES", ge=1)
    # Not from the environment: seconds of rendering per scene by quality, used for estimates
    # until there is measured history.
    fallback_scene_seconds: dict[str, float] = {
        "preview": 6.0, "low": 15.0, "medium": 30.0, "high": 60.0, "production": 120.0,
    }

    def __init__(self, **values: Any):
        try:
            super().__init__(**values)
        except ValidationError as exc:
            raise SettingsError([problem_of(e, VARIABLES, MODELS_FILE_VARIABLE) for e in exc.errors()]) from None

    @field_validator("database_url")
    @classmethod
    def _postgres_url(cls, v: str | None) -> str | None:
        return None if v is None else postgres_dsn(v)

    @model_validator(mode="after")
    def _usable(self) -> Settings:
        if problems := self.s3.problems() + self.urls.problems() + self.events.problems():
            raise SettingsError(problems)
        return self

    @classmethod
    def settings_customise_sources(
        cls, settings_cls: type[BaseSettings], init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource, dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Values given in code win; then the flat variable names, for the groups too.
        return init_settings, FlatEnvironment(settings_cls)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        """The settings of an explicit environment (not this process's, nor `.env`)."""
        token = EXPLICIT_ENV.set(env)
        try:
            return cls()
        finally:
            EXPLICIT_ENV.reset(token)

    @property
    def metadata_path(self) -> Path:
        return state_paths(self.var_dir).metadata

    @property
    def objects_root(self) -> Path:
        return state_paths(self.var_dir).objects

    @property
    def speech_cache(self) -> Path:
        return self.speech.cache_dir or state_paths(self.var_dir).speech


POSTGRES_SCHEMES = ("postgresql://", "postgres://", "postgresql+psycopg2://")


def postgres_dsn(url: str) -> str:
    """A PostgreSQL URL as psycopg2 takes it (`postgresql://...`: an SQLAlchemy driver part
    dropped); ValueError for any other scheme."""
    for scheme in POSTGRES_SCHEMES:
        if url.startswith(scheme):
            return "postgresql://" + url[len(scheme):]
    raise ValueError("must be a PostgreSQL URL: postgresql://user:password@host:port/database")


class StatePaths(NamedTuple):
    objects: Path  # the local object store
    metadata: Path  # the SQLite metadata store
    work: Path  # the renderer's scratch folders
    speech: Path  # spoken lines, by content


def state_paths(var_dir: Path) -> StatePaths:
    """Where local state lives under VIDEOGEN_VAR_DIR (the same for the pipeline and the bridge)."""
    base = var_dir.resolve()
    return StatePaths(base / "objects", base / "metadata.sqlite", base / "work", base / "speech")


# Every variable read, and the setting it fills ("s3.bucket", "var_dir").
VARIABLES: dict[str, str] = {
    **variables_of(Settings.model_fields),
    **{var: f"{name}.{field_name}"
       for name, field in Settings.model_fields.items() if (group := group_of(field))
       for var, field_name in variables_of(group.model_fields).items()},
}


class _CachedSettings:
    """`get_settings()`: validated once, then served from a cache. The cache is keyed by the
    values of the variables it read, so a process that changes its environment (a test's
    monkeypatch) gets fresh settings; `.env` is read with the first load. A hit costs a few
    microseconds (VariableWatch): the bridge calls this more than once per request."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._watch = VariableWatch(VARIABLES)
        self._key: tuple | None = None
        self._value: Settings | None = None

    def __call__(self) -> Settings:
        with self._lock:
            if self._value is None or self._watch.values() != self._key:
                value = Settings()
                # Also the variables that the models file names for its keys.
                names = set(VARIABLES) | value.llm.key_variables
                if set(self._watch.names) != names:
                    self._watch = VariableWatch(names)
                self._key, self._value = self._watch.values(), value
            return self._value

    def cache_clear(self) -> None:
        with self._lock:
            self._key = self._value = None

    def _after_fork(self) -> None:
        # A child forked while another thread held the lock would wait for it forever.
        self._lock = threading.Lock()


get_settings = _CachedSettings()
os.register_at_fork(after_in_child=get_settings._after_fork)
