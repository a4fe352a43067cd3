"""The generation workflow's steps as plain functions: plan, produce one scene, join.

Dagster assets are thin wrappers around these (see `assets/`); the CLI and tests call the same
code through the assets. Each step reads its inputs from the object and metadata stores, writes
its artifacts under versioned keys, and reports task progress as it goes (`progress`, the one
writer of a task's progress and failure).

| module | what |
|---|---|
| `services` | the collaborators a step needs (`Services`), the offline planner, coder and fix |
| `progress` | task progress, completion, failure and cancellation, written one way |
| `plan` | step 1: register a request, plan its scenes, store the plan |
| `edit` | the edit request, the offline editor, the check that a scene may be edited |
| `scene`, `scene_job`, `scene_render`, `scene_store` | step 2: one scene (its context, its code and renders with the fix loop, storing it) |
| `join` | step 3: the join claimed once per set of scene versions, the combined video, the manifest |
| `preview` | progressive rendering: a scene's preview render, stored and published before its final |
| `results` | a task's fixed result record and the spec's task result made from it |
"""

from videogen_dagster.pipeline.edit import EDIT_COLOURS, EditSpec, offline_edit
from videogen_dagster.pipeline.join import (
    CombineOutcome,
    build_manifest,
    join_when_complete,
    run_combine,
    scenes_by_number,
    scenes_token,
)
from videogen_dagster.pipeline.plan import (
    EDIT_STEPS,
    PlanOutcome,
    load_plan,
    load_request,
    register_request,
    run_plan,
    total_steps,
)
from videogen_dagster.pipeline.results import (
    PREVIEW_FIELD,
    RECORD_VERSION,
    URL_FIELDS,
    build_result,
    render_result,
    snapshot_result,
    task_result,
)
from videogen_dagster.pipeline.scene import run_scene, scenes_to_retry
from videogen_dagster.pipeline.scene_job import SceneOutcome
from videogen_dagster.pipeline.scene_store import SCENE_FILES
from videogen_dagster.pipeline.services import (
    DURATION_TOLERANCE,
    Coder,
    PipelineError,
    Planner,
    Services,
    offline_fix,
    offline_planner,
    template_coder,
)

__all__ = [
    "DURATION_TOLERANCE",
    "EDIT_COLOURS",
    "EDIT_STEPS",
    "PREVIEW_FIELD",
    "RECORD_VERSION",
    "SCENE_FILES",
    "URL_FIELDS",
    "Coder",
    "CombineOutcome",
    "EditSpec",
    "PipelineError",
    "PlanOutcome",
    "Planner",
    "SceneOutcome",
    "Services",
    "build_manifest",
    "build_result",
    "join_when_complete",
    "load_plan",
    "load_request",
    "offline_edit",
    "offline_fix",
    "offline_planner",
    "register_request",
    "render_result",
    "run_combine",
    "run_plan",
    "run_scene",
    "scenes_by_number",
    "scenes_to_retry",
    "scenes_token",
    "snapshot_result",
    "task_result",
    "template_coder",
    "total_steps",
]
