"""Request models, ids and render presets shared by the pipeline, the CLI and the REST bridge.

Plain pydantic: no Dagster import, so the bridge can validate requests without loading assets.
Field names and defaults follow the user's API document (spec/video-generation-api.md).
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from videogen_dagster.authoring.llm_routes import known_models
from videogen_dagster.media.speech.voices import ENGINES, MAX_SPEED, MIN_SPEED
from videogen_dagster.settings import get_settings
from videogen_dagster.webhook_urls import WebhookUrl

# Scene slots are static partitions; a video uses the first `scene_count` of them.
MAX_SCENES = 12
MAX_PROMPT_CHARS = 4000
ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"
_ID_RE = re.compile(ID_PATTERN)
# The video partition key joins the two ids with a character neither may contain, so it can be
# split back without ambiguity, and it never contains Dagster's reserved `| , [ ]`.
VIDEO_KEY_SEPARATOR = "."

Quality = Literal["preview", "low", "medium", "high", "production"]
Resolution = Literal["720p", "1080p", "1440p", "4k"]
TaskStatus = Literal["queued", "progress", "completed", "failed", "cancelled"]

QUALITIES: tuple[str, ...] = ("preview", "low", "medium", "high", "production")
RESOLUTIONS: dict[str, tuple[int, int]] = {
    "720p": (1280, 720),
    "1080p": (1920, 1080),
    "1440p": (2560, 1440),
    "4k": (3840, 2160),
}


@dataclass(frozen=True)
class RenderPreset:
    """What a quality name means when resolution and fps are not given."""

    manim_flag: str
    width: int
    height: int
    fps: int


# preview/high map to Manim's own -ql/-qh presets; medium is the spec's example (1080p, 30 fps).
PRESETS: dict[str, RenderPreset] = {
    "preview": RenderPreset("l", 854, 480, 15),
    "low": RenderPreset("m", 1280, 720, 30),
    "medium": RenderPreset("h", 1920, 1080, 30),
    "high": RenderPreset("h", 1920, 1080, 60),
    "production": RenderPreset("p", 2560, 1440, 60),
}


def validate_id(value: str, field: str) -> str:
    if not isinstance(value, str) or not _ID_RE.fullmatch(value):
        raise ValueError(
            f"{field} must be 1-64 characters of letters, digits, '_' or '-' (got {value!r})"
        )
    return value


# Words a session id made from a prompt leaves out: they say nothing about the topic.
_SLUG_STOP = frozenset(
    "a an and about are as at be by can create do does explain explaining for from how i in into "
    "is it its me of on or our please show teach tell that the this to using video what when why "
    "with you".split()
)
SLUG_CHARS = 32


def new_session_id(prompt: str | None = None) -> str:
    """A new session id: the prompt's topic words as a short slug plus 6 hex characters of
    entropy ("pythagorean-theorem-3f9a2b"), so video partitions read in the Dagster UI; without
    a prompt (or with no usable word in it), "session_" and 12 hex characters."""
    words = [w for w in re.findall(r"[a-z0-9]+", (prompt or "").lower()) if w not in _SLUG_STOP]
    slug = ""
    for word in words:
        candidate = f"{slug}-{word}" if slug else word
        if len(candidate) > SLUG_CHARS:
            break
        slug = candidate
    if not slug:
        return "session_" + uuid.uuid4().hex[:12]
    return f"{slug}-{uuid.uuid4().hex[:6]}"


def new_task_id() -> str:
    return uuid.uuid4().hex


def video_key(project_id: str, session_id: str) -> str:
    """The `videos` partition key of one video."""
    validate_id(project_id, "project_id")
    validate_id(session_id, "session_id")
    return f"{project_id}{VIDEO_KEY_SEPARATOR}{session_id}"


def split_video_key(key: str) -> tuple[str, str]:
    project_id, sep, session_id = key.partition(VIDEO_KEY_SEPARATOR)
    if not sep:
        raise ValueError(f"not a video partition key: {key!r} (expected 'project.session')")
    return validate_id(project_id, "project_id"), validate_id(session_id, "session_id")


def slot_key(scene_number: int) -> str:
    """The scene-slot partition key of a 1-based scene number: 1 -> '01'."""
    if not 1 <= scene_number <= MAX_SCENES:
        raise ValueError(f"scene_number must be between 1 and {MAX_SCENES} (got {scene_number})")
    return f"{scene_number:02d}"


def scene_id(session_id: str, scene_number: int) -> str:
    """The spec's scene id form: `session_123_scene_1`."""
    return f"{session_id}_scene_{scene_number}"


_SCENE_ID_RE = re.compile(r"^(?P<session>[A-Za-z0-9_-]{1,64})_scene_(?P<n>[0-9]{1,2})$")


def parse_scene_id(value: str) -> tuple[str, int]:
    m = _SCENE_ID_RE.fullmatch(value or "")
    if not m:
        raise ValueError(f"scene_id must look like '<session_id>_scene_<n>' (got {value!r})")
    n = int(m.group("n"))
    slot_key(n)
    return m.group("session"), n


def _clean_bounded(limit: int, field: str):
    def check(v: str) -> str:
        v = clean_prompt(v)
        if not v:
            raise ValueError(f"{field} must not be empty")
        if len(v) > limit:
            raise ValueError(f"{field} is {len(v)} characters; the limit is {limit}")
        return v

    return check


# Validated field types, shared by every request model (generate, edit, batch entries).
# The validators give the messages; the schema entries let the OpenAPI document show the rules.
_ID_SCHEMA = {"pattern": "^[A-Za-z0-9_-]{1,64}$", "minLength": 1, "maxLength": 64}
ProjectId = Annotated[str, AfterValidator(lambda v: validate_id(v, "project_id")), WithJsonSchema(
    {"type": "string", **_ID_SCHEMA})]
SessionId = Annotated[str, AfterValidator(lambda v: validate_id(v, "session_id")), WithJsonSchema(
    {"type": "string", **_ID_SCHEMA})]
ContentPrompt = Annotated[str, AfterValidator(_clean_bounded(MAX_PROMPT_CHARS, "content_prompt")),
                          WithJsonSchema({"type": "string", "minLength": 1, "maxLength": MAX_PROMPT_CHARS})]
EditPrompt = Annotated[str, AfterValidator(_clean_bounded(2000, "edit_prompt"))]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", protected_namespaces=())


class ModelConfig(_Strict):
    planner_model: str = "gpt-4o-mini"
    scene_model: str | None = None
    helper_model: str | None = None
    temperature: float = Field(0.7, ge=0.0, le=2.0)
    max_tokens: int = Field(4000, ge=1, le=200_000)
    use_rag: bool = False
    use_visual_fix: bool = False

    @field_validator("planner_model", "scene_model", "helper_model")
    @classmethod
    def _known_model(cls, v: str | None, info: ValidationInfo) -> str | None:
        """The spec's models and the models file's; `context={"settings": ...}` judges by
        other settings than this process's (validation reads no environment itself)."""
        if v is None:
            return v
        settings = (info.context or {}).get("settings") or get_settings()
        known = known_models(settings.llm)
        if v not in known:
            raise ValueError(f"unknown model {v!r}; known models: {', '.join(sorted(known))}")
        return v


class RenderConfig(_Strict):
    quality: Quality = "medium"
    # None means "what the quality preset says"; the spec's example values are medium's preset.
    resolution: Resolution | None = None
    fps: int | None = Field(None, ge=15, le=60)
    max_scene_duration: float = Field(30.0, gt=0, le=600)
    use_hardware_acceleration: bool = False
    max_retries: int = Field(3, ge=0, le=10)
    # pipeline/preview.py; versions.py leaves it out of what a scene is made from.
    progressive: bool = Field(False, description="render each scene at the preview preset first and publish it "
                              "(the status's previews, scene.preview events) while this quality renders")

    def output_format(self) -> tuple[int, int, int]:
        """(width, height, fps) that the renderer will produce."""
        preset = PRESETS[self.quality]
        width, height = (
            RESOLUTIONS[self.resolution] if self.resolution else (preset.width, preset.height)
        )
        return width, height, self.fps or preset.fps


class S3Config(_Strict):
    bucket_name: str | None = Field(None, pattern=r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
    # None: the deployment's S3_BASE_PREFIX (default "projects/").
    base_prefix: str | None = None
    public_base_url: str | None = None
    enable_versioning: bool = True
    storage_class: str = "STANDARD"

    @field_validator("base_prefix")
    @classmethod
    def _prefix(cls, v: str | None) -> str | None:
        if v is None:
            return None
        if v and (".." in v.split("/") or v.startswith("/")):
            raise ValueError("base_prefix must be a relative key prefix without '..'")
        if v and not v.endswith("/"):
            v += "/"
        return v


NarrationEngine = Literal["piper", "espeak", "openai"]
# Piper's voice and OpenAI's voices speak English; espeak-ng's language is its voice.
ENGLISH = ("en", "en-US", "en_US")


class NarrationConfig(_Strict):
    """The voice that speaks each scene's narration. Left out, each value is the deployment's
    (NARRATION_ENABLED, NARRATION_ENGINE, NARRATION_VOICE): Piper's offline neural voice when
    installed, else espeak-ng."""

    # None: the deployment's NARRATION_ENABLED (on by default).
    enabled: bool | None = None
    engine: NarrationEngine | None = None
    voice: str | None = Field(None, max_length=64)
    speed: float = Field(1.0, ge=MIN_SPEED, le=MAX_SPEED)
    language: str | None = Field(None, max_length=32)

    @model_validator(mode="after")
    def _known_voice(self, info: ValidationInfo) -> NarrationConfig:
        engine = self.engine
        if self.voice is not None:
            offering = [e for e, voices in ENGINES.items() if self.voice in voices]
            if engine is None and not offering:
                raise ValueError(
                    f"unknown voice {self.voice!r}; voices: "
                    + "; ".join(f"{e}: {', '.join(v)}" for e, v in ENGINES.items())
                )
            if engine is not None and engine not in offering:
                raise ValueError(
                    f"unknown {engine} voice {self.voice!r}; {engine} voices: {', '.join(ENGINES[engine])}"
                )
            engine = engine or offering[0]
        if self.language is not None:
            if engine == "espeak" or (engine is None and self.language not in ENGLISH):
                if self.language not in ENGINES["espeak"]:
                    raise ValueError(
                        f"unknown language {self.language!r}; espeak languages: {', '.join(ENGINES['espeak'])}"
                    )
            elif self.language not in ENGLISH:
                raise ValueError(
                    f"the {engine or 'default'} voice speaks English only ({', '.join(ENGLISH)}); "
                    f"use engine 'espeak' for language {self.language!r}"
                )
        if engine == "openai" and self.enabled is not False:
            settings = (info.context or {}).get("settings") or get_settings()
            if not settings.llm.api_key:
                raise ValueError(
                    "engine 'openai' needs a speech provider: set OPENAI_API_KEY (and "
                    "OPENAI_TTS_BASE_URL or OPENAI_BASE_URL for another OpenAI-compatible endpoint)"
                )
        return self


class GenerateRequest(_Strict):
    project_id: ProjectId
    content_prompt: ContentPrompt
    # strict: `true` is not a scene count (lax mode read it as 1).
    scene_count: int = Field(3, strict=True, json_schema_extra={"minimum": 1, "maximum": MAX_SCENES})
    session_id: SessionId | None = None
    # `model_config` is the spec's field name; pydantic reserves the attribute, hence the alias.
    llm: ModelConfig = Field(default_factory=ModelConfig, alias="model_config")
    render_config: RenderConfig = Field(default_factory=RenderConfig)
    s3_config: S3Config = Field(default_factory=S3Config)
    narration_config: NarrationConfig = Field(default_factory=NarrationConfig)
    webhook_url: WebhookUrl | None = None  # the task's, not the video's: never stored with the request

    model_config = ConfigDict(extra="forbid", populate_by_name=True, protected_namespaces=())

    @field_validator("scene_count")
    @classmethod
    def _count(cls, v: int) -> int:
        if not 1 <= v <= MAX_SCENES:
            raise ValueError(f"scene_count must be between 1 and {MAX_SCENES} (got {v})")
        return v

    def with_session(self) -> GenerateRequest:
        if self.session_id:
            return self
        return self.model_copy(update={"session_id": new_session_id(self.content_prompt)})

    @property
    def video_key(self) -> str:
        assert self.session_id, "call with_session() first"
        return video_key(self.project_id, self.session_id)

    def to_stored(self) -> dict:
        return self.model_dump(mode="json", by_alias=True, exclude={"webhook_url"})


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def clean_prompt(text: str) -> str:
    """Prompts are data: drop control characters (newlines and tabs kept) and outer whitespace."""
    return _CONTROL.sub("", text or "").strip()


def format_validation_error(exc: Exception) -> str:
    """One line per failing field, naming it: `render_config.fps: ...`."""
    from pydantic import ValidationError

    if not isinstance(exc, ValidationError):
        return str(exc)
    parts = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"]) or "request"
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "literal_error":
            msg = f"{msg} (got {err.get('input')!r})"
        parts.append(f"{loc}: {msg}")
    return "; ".join(parts)
