"""Response bodies of the spec (requests are videogen_dagster.models)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from videogen_dagster.models import (
    EditPrompt,
    ModelConfig,
    ProjectId,
    RenderConfig,
    SessionId,
    TaskStatus,
    parse_scene_id,
)
from videogen_dagster.webhook_urls import WebhookUrl

WARNINGS_DESCRIPTION = (
    "What to know about how the video is made, e.g. that no LLM provider is configured and the "
    "request's model_config is not used, or that the offline planner does not know the topic "
    "(empty: nothing to say)"
)


class GenerateAccepted(BaseModel):
    task_id: str
    project_id: str
    session_id: str
    status: TaskStatus
    message: str
    estimated_duration_minutes: float
    created_at: str
    warnings: list[str] = Field(default_factory=list, description=WARNINGS_DESCRIPTION)


class EditSceneRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, protected_namespaces=())

    scene_id: str
    project_id: ProjectId
    edit_prompt: EditPrompt
    session_id: SessionId | None = None
    llm: ModelConfig = Field(default_factory=ModelConfig, alias="model_config")
    render_config: RenderConfig | None = None
    preserve_timing: bool = True
    version_increment: bool = True
    webhook_url: WebhookUrl | None = None

    @field_validator("scene_id")
    @classmethod
    def _scene(cls, v: str) -> str:
        parse_scene_id(v)
        return v



class EditAccepted(BaseModel):
    task_id: str
    scene_id: str
    project_id: str
    status: TaskStatus
    message: str
    estimated_duration_minutes: float
    created_at: str


class EditRecordPublic(BaseModel):
    from_version: int
    to_version: int
    edit_prompt: str
    model: str
    applied: list[str] | None = None
    task_id: str | None = None
    created_at: str


class NarrationPublic(BaseModel):
    """Who spoke a scene: the engine and voice, the speed, and the spoken seconds."""

    engine: str
    voice: str
    speed: float
    language: str | None = None
    duration: float


class SceneResultPublic(BaseModel):
    """One scene of a result; URLs are made when the result is read (presigned ones expire)."""

    scene_id: str
    scene_number: int
    title: str
    duration: float | None = None
    status: str = Field(description="queued, rendering, completed or failed")
    s3_video_url: str | None = None
    s3_source_url: str | None = None
    s3_thumbnail_url: str | None = None
    s3_subtitles_url: str | None = None
    version: int
    error: str | None = None
    edit_history: list[EditRecordPublic] = []
    narration: NarrationPublic | None = Field(
        None, description="the voice that speaks the scene (absent: a silent scene)"
    )
    preview_url: str | None = Field(
        None, description="render_config.progressive: the scene's preview render (854x480, 15 fps)"
    )


class ScenePreviewPublic(BaseModel):
    """A scene's preview render, published while its final quality renders (progressive)."""

    scene_id: str
    scene_number: int
    version: int = Field(description="the version the final render will be stored as")
    preview_url: str
    duration: float
    width: int
    height: int
    fps: float
    created_at: str


class VideoResultPublic(BaseModel):
    """The spec's task result: what the task made (fixed once it finished)."""

    project_id: str
    session_id: str
    status: str
    scene_count: int
    scenes: list[SceneResultPublic]
    total_duration: float | None = None
    s3_combined_video_url: str | None = None
    s3_subtitles_url: str | None = None
    s3_manifest_url: str | None = None
    combined_version: int | None = None
    plan_version: int | None = None
    llm_usage: dict[str, Any] | None = None
    warnings: list[str] = Field(default_factory=list, description=WARNINGS_DESCRIPTION)
    generation_time_seconds: float | None = None
    completed_at: str | None = None


class TaskStatusPublic(BaseModel):
    task_id: str
    status: TaskStatus
    progress: int
    message: str
    current_step: str | None
    total_steps: int
    estimated_completion: str | None
    project_id: str
    session_id: str
    scene_id: str | None = None
    result: VideoResultPublic | None = None
    error: str | None = None
    created_at: str
    updated_at: str
    previews: list[ScenePreviewPublic] | None = Field(
        None, description="render_config.progressive: the scene previews published so far "
        "(null: none yet, or progressive is off)")


class TaskResultPublic(BaseModel):
    task_id: str
    status: TaskStatus
    result: VideoResultPublic | None
    completed_at: str | None
    message: str | None = None


class CancelPublic(BaseModel):
    task_id: str
    message: str
    status: TaskStatus


class RetryAccepted(BaseModel):
    task_id: str
    status: TaskStatus
    message: str
    scenes: list[int]


class BatchTask(BaseModel):
    index: int
    task_id: str
    project_id: str
    session_id: str


class BatchAccepted(BaseModel):
    batch_id: str
    status: TaskStatus
    message: str
    tasks: list[BatchTask]


class BatchStatusPublic(BaseModel):
    batch_id: str
    status: str  # running | done
    counts: dict[str, int]
    entries: list[dict[str, Any]]


class VideoPartitionsPublic(BaseModel):
    videos: list[str] = Field(description="the video's key in the `videos` partitions (empty: it had none)")
    scenes: list[str] = Field(description="its scene keys in the `scenes` partitions (`<video_key>/NN`)")


class VideoRecordsPublic(BaseModel):
    videos: int
    tasks: int
    scenes: int
    scene_versions: int
    scene_edits: int


class VideoDeleted(BaseModel):
    """What DELETE /api/v1/videos/{project_id}/{session_id} removed."""

    video_key: str
    project_id: str
    session_id: str
    status: Literal["deleted"] = "deleted"
    message: str
    partitions: VideoPartitionsPublic = Field(
        description="Dagster partitions deleted, each with its materialisations and other events")
    records: VideoRecordsPublic = Field(
        description="metadata records deleted per table (its tasks then answer 404)")
    objects: int | None = Field(
        description="stored objects deleted (every version); null when delete_objects is false and they are kept")
    deleted_at: str



class VideoScenePublic(SceneResultPublic):
    """One scene of a video as it is now, with its plan (the storyboard it is rendered from)."""

    plan: dict[str, Any] | None = Field(None, description="the scene's entry of the video's plan")


class VideoPublic(BaseModel):
    """GET /api/v1/videos/{project_id}/{session_id}: a video as it is now (URLs made when read)."""

    video_key: str
    project_id: str
    session_id: str
    status: str
    scene_count: int
    scenes: list[VideoScenePublic]
    total_duration: float | None = None
    s3_combined_video_url: str | None = None
    combined_version: int | None = None
    plan_version: int | None = None
    plan: dict[str, Any] | None = Field(None, description="the video's current plan (null until planned)")


class SceneSourcePublic(BaseModel):
    """A scene's current Manim source, as stored for its current version."""

    scene_id: str
    scene_number: int
    title: str
    version: int
    status: str
    object_key: str
    s3_source_url: str | None = None
    code: str

class ClusterHealthPublic(BaseModel):
    """Cluster mode's part of the health answer (only when VIDEOGEN_CELERY_BROKER_URL is set)."""

    workers: dict[str, list[str]] = Field(
        default={}, description="Celery workers that answered, each with the queues it takes")
    queues: dict[str, int] | None = Field(
        default=None, description="Runs waiting per queue (render, light); null while Redis is unreachable")
    details: dict[str, str] = Field(
        default={}, description="What each cluster check found (postgresql, redis, celery_workers, object_store)")
    checked_at: str = Field(description="When the checks ran (answers are cached for a few seconds)")


class HealthPublic(BaseModel):
    status: str
    service: str = "video-generation"
    message: str
    checks: dict[str, str] = {}
    cluster: ClusterHealthPublic | None = Field(default=None, description="Cluster mode only")


class ErrorPublic(BaseModel):
    detail: str
    error_code: str
    timestamp: str


# --- error responses, as each operation declares them in the OpenAPI document ---------------------

ERROR_DESCRIPTIONS = {
    400: "Invalid request: `VALIDATION_ERROR` naming the field (never FastAPI's 422)",
    401: "Missing or invalid bearer token (`UNAUTHORIZED`; only when JWT_SECRET or JWT_PUBLIC_KEY is set)",
    404: "Not found, or another project's (`NOT_FOUND`)",
    409: "Conflict with the resource's current state (`CONFLICT`)",
    413: "Request body over MAX_BODY_BYTES (`PAYLOAD_TOO_LARGE`; default 2 MiB)",
    429: "Too many requests (`RATE_LIMITED`); Retry-After says when to try again",
    500: "Internal error (`INTERNAL_ERROR`; no stack trace, it goes to the bridge's log)",
    502: "The LLM provider failed or answered unusably (`LLM_ERROR`)",
    503: "A service the operation needs is unavailable (`SERVICE_UNAVAILABLE`)",
}

RETRY_AFTER = {"Retry-After": {"description": "Seconds to wait before retrying", "schema": {"type": "integer"}}}


def error_responses(*codes: int, notes: dict[int, str] | None = None) -> dict[int | str, dict[str, Any]]:
    """`responses=` entries for error answers in the spec's shape (ErrorPublic); `notes` give an
    operation's own reason for a code (appended to the generic description)."""
    out: dict[int | str, dict[str, Any]] = {}
    for code in codes:
        description = ERROR_DESCRIPTIONS[code]
        if notes and code in notes:
            description = f"{description}: {notes[code]}"
        out[code] = {"model": ErrorPublic, "description": description}
        if code == 429:
            out[code]["headers"] = RETRY_AFTER
    return out
