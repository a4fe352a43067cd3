"""The groups of settings: S3, LLM, Convex, the nightly batch, Dagster. Each field is filled by
its environment variable (the alias) or, in code, by its name."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from videogen_dagster.settings.errors import Problem

MODELS_FILE_VARIABLE = "VIDEOGEN_MODELS_FILE"
MiB = 1024 * 1024
MAX_PRESIGN_SECONDS = 7 * 24 * 3600


class Group(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", validate_by_name=True, validate_by_alias=True)


class S3Settings(Group):
    """The object store: S3 when `bucket` is set, else the local folder under VIDEOGEN_VAR_DIR.

    The one declaration of the S3 settings: read from the environment here, used as they are by
    `S3ObjectStore`, the `ObjectStoreResource` and the bridge (a request's s3_config overrides a
    few per video)."""

    # Set: objects go to this bucket; unset: the local folder.
    bucket: str = Field("", alias="S3_BUCKET")
    # Key prefix of every object, in the bucket or the local folder.
    base_prefix: str = Field("projects/", alias="S3_BASE_PREFIX")
    # An S3-compatible endpoint (MinIO, R2, moto); path-style addressing is used for it.
    endpoint_url: str | None = Field(None, alias="S3_ENDPOINT_URL")
    region: str = Field("us-east-1", alias="AWS_REGION")
    # Credentials; unset: boto3 finds them itself (profile, IAM role).
    access_key_id: str | None = Field(None, alias="AWS_ACCESS_KEY_ID", repr=False)
    secret_access_key: str | None = Field(None, alias="AWS_SECRET_ACCESS_KEY", repr=False)
    # URLs become {public_base_url}/{quoted key} instead of presigned GETs.
    public_base_url: str | None = Field(None, alias="S3_PUBLIC_BASE_URL")
    storage_class: str = Field("STANDARD", alias="S3_STORAGE_CLASS")
    # Server-side encryption, e.g. "AES256" or "aws:kms" (unset: off).
    server_side_encryption: str | None = Field(None, alias="S3_SSE")
    # Presigned GET expiry when there is no public URL (1 s to 7 days, SigV4).
    presign_seconds: int = Field(3600, alias="S3_PRESIGN_SECONDS")
    # Files at least this big (MiB) go multipart. In code, `multipart_threshold=` takes bytes.
    multipart_threshold_mb: float = Field(16.0, alias="S3_MULTIPART_THRESHOLD_MB", gt=0)
    # Attempts per request in all (1 = no retry), botocore's retry mode, and the seconds to
    # connect / to wait for an answer before a request is abandoned and retried.
    max_attempts: int = Field(5, alias="S3_MAX_ATTEMPTS")
    retry_mode: Literal["standard", "adaptive"] = Field("standard", alias="S3_RETRY_MODE")
    connect_timeout: float = Field(5.0, alias="S3_CONNECT_TIMEOUT")
    read_timeout: float = Field(30.0, alias="S3_READ_TIMEOUT")
    # Create a missing bucket (with versioning on): for local S3-compatible stores.
    create_bucket: bool = Field(False, alias="S3_CREATE_BUCKET")
    # Not from the environment: a request's s3_config may turn versioning off for its bucket.
    enable_versioning: bool = True

    @model_validator(mode="before")
    @classmethod
    def _threshold_in_bytes(cls, data: Any) -> Any:
        if isinstance(data, dict) and "multipart_threshold" in data:
            data = dict(data)
            data["multipart_threshold_mb"] = data.pop("multipart_threshold") / MiB
        return data

    @field_validator("base_prefix")
    @classmethod
    def _slash(cls, v: str) -> str:
        return v if not v or v.endswith("/") else v + "/"

    @property
    def multipart_threshold(self) -> int:
        """In bytes."""
        return int(self.multipart_threshold_mb * MiB)

    def problems(self) -> list[Problem]:
        """Values S3 or botocore would refuse. Checked when the settings load, and by
        `S3ObjectStore` for settings made in code."""
        found = []
        if not 1 <= self.presign_seconds <= MAX_PRESIGN_SECONDS:
            found.append(Problem("S3_PRESIGN_SECONDS", "must be between 1 s and 7 days", self.presign_seconds))
        if self.max_attempts < 1:
            found.append(Problem("S3_MAX_ATTEMPTS", "must be at least 1", self.max_attempts))
        for variable, seconds in (("S3_CONNECT_TIMEOUT", self.connect_timeout), ("S3_READ_TIMEOUT", self.read_timeout)):
            if seconds <= 0:
                found.append(Problem(variable, "must be a positive number of seconds", seconds))
        return found


class ModelRoute(Group):
    """One entry of the models file (VIDEOGEN_MODELS_FILE): where a model name is served."""

    model: str | None = None  # the name the endpoint is asked for (default: the entry's name)
    base_url: str | None = None  # default: OPENAI_BASE_URL
    api_key_env: str | None = None  # the variable holding its key (default: OPENAI_API_KEY)
    api_key: str | None = Field(None, repr=False)  # that variable's value, read by the loader
    price_in: float | None = Field(None, ge=0)  # USD per 1M input tokens
    price_out: float | None = Field(None, ge=0)  # USD per 1M output tokens


class LLMSettings(Group):
    """The LLM agents: with a key (or a models file) they replace the offline planner."""

    # The key of OpenAI or of any compatible server; serves every spec model.
    api_key: str | None = Field(None, alias="OPENAI_API_KEY", repr=False)
    # A compatible endpoint (vLLM, Ollama, a gateway); unset: OpenAI's.
    base_url: str | None = Field(None, alias="OPENAI_BASE_URL")
    # A YAML file of per-model endpoints and keys, read once, with the settings.
    models_file: Path | None = Field(None, alias=MODELS_FILE_VARIABLE)
    models: dict[str, ModelRoute] = {}
    # Per-video budgets (0: none).
    budget_tokens: int = Field(0, alias="VIDEOGEN_BUDGET_TOKENS", ge=0)
    budget_usd: float = Field(0.0, alias="VIDEOGEN_BUDGET_USD", ge=0)
    # Refuse generation (503 at the bridge, a failed plan step and exit 1 in the CLI) when no
    # LLM provider is configured, instead of making a template video with the offline planner.
    require: bool = Field(False, alias="VIDEOGEN_REQUIRE_LLM")

    @property
    def key_variables(self) -> set[str]:
        """The variables the models file names for its keys."""
        return {r.api_key_env for r in self.models.values() if r.api_key_env}


class ConvexSettings(Group):
    """The Convex mirror: on when a deployment URL is set."""

    url: str | None = Field(None, alias="CONVEX_DEPLOYMENT_URL")
    # Admin key, sent as `Authorization: Convex <key>`.
    deploy_key: str | None = Field(None, alias="CONVEX_DEPLOY_KEY", repr=False)


_CRON_ALIASES = {"@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"}
_CRON_FIELD = re.compile(r"^[0-9A-Za-z*/,?#-]+$")


class BatchSettings(Group):
    """The nightly batch schedule: on when a topic list is set."""

    # A topic list (e.g. a TheoremExplainBench JSON file); unset: the schedule is stopped.
    topics_path: str = Field("", alias="VIDEOGEN_BATCH_TOPICS")
    cron: str = Field("0 2 * * *", alias="VIDEOGEN_BATCH_CRON")
    timezone: str = Field("UTC", alias="VIDEOGEN_BATCH_TZ")
    size: int = Field(5, alias="VIDEOGEN_BATCH_SIZE", ge=1)  # topics per night
    scene_count: int = Field(3, alias="VIDEOGEN_BATCH_SCENES", ge=1)  # scenes per video
    quality: Literal["preview", "low", "medium", "high", "production"] = Field("preview", alias="VIDEOGEN_BATCH_QUALITY")

    @field_validator("cron")
    @classmethod
    def _cron(cls, v: str) -> str:
        fields = v.split()
        if v.strip() not in _CRON_ALIASES and (len(fields) != 5 or not all(_CRON_FIELD.match(f) for f in fields)):
            raise ValueError("must be a cron expression of 5 fields, e.g. '0 2 * * *'")
        return v

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError("must be an IANA time zone, e.g. 'UTC' or 'Europe/Paris'") from None
        return v


class SpeechSettings(Group):
    """The narration's voice: the deployment's defaults, used where a request's
    narration_config leaves them out. `auto`: Piper's neural voice when installed, else espeak-ng."""

    enabled: bool = Field(True, alias="NARRATION_ENABLED")
    engine: Literal["auto", "piper", "espeak", "openai"] = Field("auto", alias="NARRATION_ENGINE")
    voice: str | None = Field(None, alias="NARRATION_VOICE")
    # The OpenAI-compatible speech endpoint (default: OPENAI_BASE_URL, key OPENAI_API_KEY).
    openai_model: str = Field("gpt-4o-mini-tts", alias="OPENAI_TTS_MODEL")
    openai_base_url: str | None = Field(None, alias="OPENAI_TTS_BASE_URL")
    # Spoken lines by content (default: VIDEOGEN_VAR_DIR/speech); shared by every worker.
    cache_dir: Path | None = Field(None, alias="SPEECH_CACHE_DIR")


class DagsterSettings(Group):
    """The Dagster instance and webserver (the bridge talks to it over GraphQL)."""

    # The instance's folder (runs, event logs, schedules); the CLI's default is ./var/dagster.
    home: Path | None = Field(None, alias="DAGSTER_HOME")
    host: str = Field("127.0.0.1", alias="DAGSTER_HOST")
    port: int = Field(3000, alias="DAGSTER_PORT", ge=1, le=65535)
    location: str = Field("videogen_dagster", alias="DAGSTER_LOCATION")
    # Per GraphQL query (a launch gets at least 30 s).
    timeout_seconds: float = Field(10.0, alias="DAGSTER_TIMEOUT_SECONDS", gt=0)
    # A launch that fails for a transient reason (webserver still loading the code location, a
    # dropped connection) is retried for this long before the task fails (0: no retry).
    launch_retry_seconds: float = Field(30.0, alias="DAGSTER_LAUNCH_RETRY_SECONDS", ge=0)
    # Launches sent to the webserver at once (it plans each run through the code server; more at
    # once only makes each slower). Others wait their turn in the bridge.
    max_concurrent_launches: int = Field(4, alias="DAGSTER_MAX_CONCURRENT_LAUNCHES", ge=1)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"



class ObjectUrlSettings(Group):
    """The local store's objects over HTTP: signed, expiring URLs served by the REST bridge
    (`GET /api/v1/objects/{key}`). Unused in S3 mode (presigned S3 URLs there)."""

    # The bridge's address as clients reach it, e.g. http://127.0.0.1:8000 (`make up` sets it);
    # unset: the local store's URLs stay file:// URLs (the CLI alone, no server).
    public_url: str | None = Field(None, alias="VIDEOGEN_PUBLIC_URL")
    # Lifetime of a signed URL, from when it is made (as S3_PRESIGN_SECONDS: 1 s to 7 days).
    seconds: int = Field(3600, alias="VIDEOGEN_URL_SECONDS", ge=1, le=MAX_PRESIGN_SECONDS)
    # The HMAC-SHA256 key (at least 32 characters); unset: 32 random bytes generated once into
    # VIDEOGEN_VAR_DIR/url-signing.key (mode 0600), shared by the bridge and the run workers.
    signing_key: str | None = Field(None, alias="VIDEOGEN_URL_SIGNING_KEY", repr=False)

    @field_validator("public_url")
    @classmethod
    def _http(cls, v: str | None) -> str | None:
        if v is None:
            return v
        if not re.fullmatch(r"https?://[^/?#\s]+(/[^?#\s]*)?", v):
            raise ValueError("must be an http:// or https:// address, e.g. http://127.0.0.1:8000")
        return v.rstrip("/")

    def problems(self) -> list[Problem]:
        """Checked when the settings load; the key itself is never quoted in the message."""
        if self.signing_key is not None and len(self.signing_key) < 32:
            return [Problem("VIDEOGEN_URL_SIGNING_KEY", f"must be at least 32 characters (got {len(self.signing_key)})")]
        return []


class McpSettings(Group):
    """The MCP server on stdio (`videogen-mcp`): the REST bridge it calls, and the bearer token it
    sends. Over streamable HTTP (`/mcp` on the bridge) neither is used: each caller's own
    Authorization header goes with the calls, served in the bridge's process."""

    # The bridge's address as the MCP server reaches it.
    api_url: str = Field("http://127.0.0.1:8000", alias="VIDEOGEN_MCP_API_URL")
    # A JWT for the bridge (its `projects` claim decides what the assistant may touch); unset:
    # no Authorization header (a bridge without JWT auth).
    token: str | None = Field(None, alias="VIDEOGEN_MCP_TOKEN", repr=False)
    # Seconds each call to the bridge may take.
    timeout_seconds: float = Field(60.0, alias="VIDEOGEN_MCP_TIMEOUT_SECONDS", gt=0)

    @field_validator("api_url")
    @classmethod
    def _http(cls, v: str) -> str:
        if not re.fullmatch(r"https?://[^/?#\s]+(/[^?#\s]*)?", v):
            raise ValueError("must be an http:// or https:// address, e.g. http://127.0.0.1:8000")
        return v.rstrip("/")


class LogSettings(Group):
    """The structured logs of the bridge and the run workers (videogen_dagster/observability/logs.py)."""

    # true: DEBUG level and the human-readable format, unless LOG_LEVEL / LOG_FORMAT say otherwise.
    debug: bool = Field(False, alias="DEBUG")
    # DEBUG, INFO, WARNING, ERROR or CRITICAL (any case); unset: INFO (DEBUG with DEBUG=true).
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] | None = Field(None, alias="LOG_LEVEL")
    # json: one JSON object a line; console: aligned, coloured lines for a terminal. Unset: json
    # (console with DEBUG=true).
    format: Literal["json", "console"] | None = Field(None, alias="LOG_FORMAT")

    @field_validator("level", "format", mode="before")
    @classmethod
    def _case(cls, v: Any, info: Any) -> Any:
        if not isinstance(v, str):
            return v
        return v.strip().upper() if info.field_name == "level" else v.strip().lower()

    @property
    def effective_level(self) -> str:
        return self.level or ("DEBUG" if self.debug else "INFO")

    @property
    def effective_format(self) -> str:
        return self.format or ("console" if self.debug else "json")
