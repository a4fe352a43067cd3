"""Response bodies of the spec (requests are videogen_dagster.models)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from videogen_dagster.models import (
    ModelConfig,
    RenderConfig,
    TaskStatus,
    clean_prompt,
    parse_scene_id,
    validate_id,
)


class GenerateAccepted(BaseModel):
    task_id: str
    project_id: str
    session_id: str
    status: TaskStatus
    message: str
    estimated_duration_minutes: float
    created_at: str


class EditSceneRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, protected_namespaces=())

    scene_id: str
    project_id: str
    edit_prompt: str
    session_id: str | None = None
    llm: ModelConfig = Field(default_factory=ModelConfig, alias="model_config")
    render_config: RenderConfig | None = None
    preserve_timing: bool = True
    version_increment: bool = True

    @field_validator("scene_id")
    @classmethod
    def _scene(cls, v: str) -> str:
        parse_scene_id(v)
        return v

    @field_validator("project_id")
    @classmethod
    def _project(cls, v: str) -> str:
        return validate_id(v, "project_id")

    @field_validator("session_id")
    @classmethod
    def _session(cls, v: str | None) -> str | None:
        return None if v is None else validate_id(v, "session_id")

    @field_validator("edit_prompt")
    @classmethod
    def _prompt(cls, v: str) -> str:
        v = clean_prompt(v)
        if not v:
            raise ValueError("edit_prompt must not be empty")
        if len(v) > 2000:
            raise ValueError(f"edit_prompt is {len(v)} characters; the limit is 2000")
        return v


class EditAccepted(BaseModel):
    task_id: str
    scene_id: str
    project_id: str
    status: TaskStatus
    message: str
    estimated_duration_minutes: float
    created_at: str


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
    result: dict[str, Any] | None = None
    error: str | None = None
    created_at: str
    updated_at: str


class TaskResultPublic(BaseModel):
    task_id: str
    status: TaskStatus
    result: dict[str, Any] | None
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


class HealthPublic(BaseModel):
    status: str
    service: str = "video-generation"
    message: str
    checks: dict[str, str] = {}


class ErrorPublic(BaseModel):
    detail: str
    error_code: str
    timestamp: str
