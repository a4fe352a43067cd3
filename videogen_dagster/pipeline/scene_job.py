"""One scene run's context (what it renders, for which video and task, and for an edit from which
version), what its renders went through, and what it made."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from videogen_dagster.authoring.codegen import GeneratedScene
from videogen_dagster.authoring.planning import ScenePlan, VideoPlan
from videogen_dagster.media import ffmpeg
from videogen_dagster.media.rendering import RenderResult
from videogen_dagster.models import GenerateRequest, scene_id
from videogen_dagster.pipeline.edit import EditSpec, offline_edit, scene_to_edit
from videogen_dagster.pipeline.narration import SceneVoice
from videogen_dagster.pipeline.plan import load_plan, load_request
from videogen_dagster.pipeline.progress import fail
from videogen_dagster.pipeline.services import PipelineError, Services
from videogen_dagster.stores.metastore import Scene
from videogen_dagster.stores.objectstore import StoredObject


@dataclass
class SceneJob:
    """Everything one run of one scene works from."""

    svc: Services
    video_key: str
    request: GenerateRequest
    plan: VideoPlan
    scene_plan: ScenePlan  # for an offline edit: the edited storyboard
    task_id: str | None
    run_id: str | None
    agents: Any = None  # LLM agents (llm.Agents), None: the offline planner and coder
    edit: EditSpec | None = None
    before: Scene | None = None  # an edit's starting point: the scene's current record
    edits: list[str] = field(default_factory=list)  # what the edit applied
    voice: SceneVoice | None = None  # the scene's spoken lines (None: silent)
    inputs: str = ""  # versions.scene_inputs: what this scene is made from

    def speech(self, plan: ScenePlan | None = None) -> list[float] | None:
        """The spoken length of each narration line of `plan` (default: the scene's)."""
        if self.voice is None:
            return None
        lines = (plan or self.scene_plan).narration
        self.voice.add(lines)
        return self.voice.durations(lines)

    @property
    def number(self) -> int:
        return self.scene_plan.scene_number

    @property
    def sid(self) -> str:
        return scene_id(self.plan.session_id, self.number)

    @property
    def editing(self) -> bool:
        return self.edit is not None and self.before is not None

    @property
    def target(self) -> float | None:
        """The duration an edit with preserve_timing must keep (None: any up to the limit)."""
        if self.edit and self.edit.preserve_timing and self.before:
            return self.before.duration
        return None

    @property
    def in_place(self) -> bool:
        """An edit with version_increment false: same version number, new files beside the old."""
        return bool(self.edit and self.before and not self.edit.version_increment)


@dataclass
class Attempts:
    """What the renders of one run went through: a line per problem, and every failed attempt's
    code with its error (kept with the version that finally rendered)."""

    count: int = 0
    errors: list[str] = field(default_factory=list)
    tried: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class Rendered:
    generated: GeneratedScene
    result: RenderResult
    workdir: Path | None = None  # the render's folder (where a narrated render says its lines)


@dataclass
class SceneOutcome:
    scene_number: int
    version: int
    objects: dict[str, StoredObject]
    info: ffmpeg.VideoInfo
    render_seconds: float
    attempts: int
    coder: str
    errors: list[str]
    edits: list[str] = field(default_factory=list)
    narration: dict | None = None  # narration.summary of the stored version (None: silent)
    layout: list[dict] = field(default_factory=list)  # the stored render's layout findings
    layout_checks: int = 0  # animations the layout inspector looked at (0: not inspected)
    checks: list = field(default_factory=list)  # checks.Check of the stored scene
    inputs: str | None = None  # versions.scene_inputs the version was made from
    data_version: str | None = None  # versions.render_version of the stored video
    reused: bool = False  # the current version, reused: nothing was written or rendered
    preview: dict | None = None  # progressive rendering: the preview stored with the version


def load_job(
    svc: Services,
    video_key: str,
    scene_number: int,
    task_id: str | None,
    run_id: str | None,
    edit: EditSpec | None,
) -> SceneJob:
    """The scene's request and plan; for an edit, the checked starting point and (offline) the
    edited storyboard. An edit that cannot be applied fails the task and changes nothing."""
    request = load_request(svc.meta, video_key)
    plan = load_plan(svc.meta, video_key)
    if scene_number > plan.scene_count:
        raise PipelineError(
            f"video {video_key!r} has {plan.scene_count} scenes; slot {scene_number:02d} is unused"
        )
    job = SceneJob(
        svc,
        video_key,
        request,
        plan,
        plan.scene(scene_number),
        task_id,
        run_id,
        agents=svc.agents_for(request, video_key),
        edit=edit,
    )
    if edit:
        try:
            job.before = scene_to_edit(svc.meta, video_key, scene_number, edit)
            if job.agents is None:
                job.scene_plan, job.edits = offline_edit(job.scene_plan, edit.prompt)
        except PipelineError as exc:
            fail(svc.meta, task_id, None, exc, "Edit not applied")
            raise
    return job
