"""Step 2, one scene: write its code, render it (fixing failed attempts), store it; a failure
marks the scene (or, for an edit, leaves it as it was) and fails the task, never the others."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from videogen_dagster.authoring.planning import VideoPlan
from videogen_dagster.pipeline import narration
from videogen_dagster.pipeline.edit import EditSpec
from videogen_dagster.pipeline.plan import EDIT_STEPS, load_plan, total_steps
from videogen_dagster.pipeline.preview import publish_preview
from videogen_dagster.pipeline.progress import advance, clip, fail
from videogen_dagster.pipeline.reuse import reusable_scene
from videogen_dagster.pipeline.scene_job import Attempts, SceneJob, SceneOutcome, load_job
from videogen_dagster.pipeline.scene_render import (
    check_timing,
    first_code,
    layout_fix,
    render_with_fixes,
    visual_fix,
)
from videogen_dagster.pipeline.scene_store import store_scene
from videogen_dagster.pipeline.services import PipelineError, Services
from videogen_dagster.pipeline.versions import scene_brief
from videogen_dagster.stores.metastore import MetadataStore, SceneStatus


def run_scene(
    svc: Services,
    video_key: str,
    scene_number: int,
    task_id: str | None,
    run_id: str | None,
    edit: EditSpec | None = None,
    force: bool = False,
) -> SceneOutcome:
    """One scene: reused as it is when its current version was made from the same inputs
    (unless `force`, or an edit), else written, rendered and stored as a new version."""
    job = load_job(svc, video_key, scene_number, task_id, run_id, edit)
    job.inputs = _inputs(job)
    if task_id:
        svc.meta.start_task(task_id)
    if not (force or edit):
        reused = reusable_scene(svc, job.request, video_key, scene_number, job.inputs)
        if reused is not None:
            svc.meta.set_scene_status(
                video_key, scene_number, job.sid, job.scene_plan.title, SceneStatus.COMPLETED
            )
            _report_done(job, reused)
            return reused
    if task_id:
        _report_start(job)
    svc.meta.set_scene_status(
        video_key, scene_number, job.sid, job.scene_plan.title, SceneStatus.RENDERING
    )
    work = Path(
        tempfile.mkdtemp(prefix=f"{video_key}-scene{scene_number:02d}-", dir=svc.work_folder())
    )
    log = Attempts()
    try:
        outcome = _produce(job, work, log)
    except Exception as exc:
        _record_failure(job, exc, log)
        raise
    finally:
        shutil.rmtree(work, ignore_errors=True)
    _report_done(job, outcome)
    return outcome


def _inputs(job: SceneJob) -> str:
    """What this scene is made from (versions.scene_brief)."""
    svc = job.svc
    return scene_brief(job.request, job.scene_plan, svc.narrator, svc.coder, job.agents)


def _produce(job: SceneJob, work: Path, log: Attempts) -> SceneOutcome:
    svc, agents = job.svc, job.agents
    try:
        job.voice = narration.for_scene(
            svc.narrator, job.request.narration_config, job.scene_plan.narration
        )
    except narration.NarrationError as exc:
        raise PipelineError(f"scene {job.number}: {exc}") from exc
    generated = first_code(job)
    # Progressive rendering: a preview published before the final render (None: none made).
    preview = publish_preview(job, generated, work, log.errors)
    if preview is not None:
        _report_preview(job)
    rendered = render_with_fixes(job, generated, work, log)
    rendered = layout_fix(job, rendered, work, log)
    if agents and job.request.llm.use_visual_fix:
        rendered = visual_fix(job, rendered, work, log.errors)
    check_timing(job, rendered.result)
    llm = None
    if agents:
        llm = {
            "usage": agents.client.budget.used.as_dict(),
            "retrieved": agents.retrieved.get(job.number, []),
        }
        svc.meta.add_llm_usage(job.video_key, agents.client.budget.used.as_dict())
    slot, asset = preview or (None, None)
    outcome = store_scene(job, rendered, work, log.tried, llm, slot, asset)
    if job.editing:
        assert job.edit and job.before
        svc.meta.record_edit(
            job.video_key,
            job.number,
            job.before.version,
            outcome.version,
            job.edit.prompt,
            agents.scene_model if agents else "offline-editor",
            job.edits,
            job.task_id,
        )
    outcome.attempts, outcome.errors, outcome.edits = log.count, log.errors, job.edits
    if job.edits and not agents:
        # Later re-renders keep the offline edit: the scene's plan is the edited one from now on.
        svc.meta.save_scene_plan(job.video_key, job.number, job.scene_plan.model_dump(mode="json"))
    return outcome


def _record_failure(job: SceneJob, exc: Exception, log: Attempts) -> None:
    meta, n, agents = job.svc.meta, job.number, job.agents
    if agents and agents.client.budget.used.calls:
        meta.add_llm_usage(job.video_key, agents.client.budget.used.as_dict())
    if job.edit:
        # A failed edit leaves the scene exactly as it was: its current version, and its status.
        if job.before is not None:
            meta.set_scene_status(
                job.video_key, n, job.sid, job.before.title, SceneStatus.COMPLETED
            )
        fail(
            meta,
            job.task_id,
            f"edit of scene {n}",
            exc,
            f"Edit of scene {n} failed after {len(log.errors)} attempt(s)",
        )
        return
    meta.set_scene_status(
        job.video_key, n, job.sid, job.scene_plan.title, SceneStatus.FAILED, error=clip(str(exc))
    )
    fail(meta, job.task_id, f"scene {n}", exc, f"Scene {n} of {job.plan.scene_count} failed")


def _report_start(job: SceneJob) -> None:
    if not job.editing:
        return _report_scenes(job, "started")
    assert job.before
    message = f"Editing scene {job.number} (version {job.before.version}): rendering..."
    advance(job.svc.meta, job.task_id, 1, EDIT_STEPS, message, "render_edit")


def _report_preview(job: SceneJob) -> None:
    if not job.editing:
        return _report_scenes(job, "preview published, final quality rendering")
    assert job.before
    message = (
        f"Editing scene {job.number} (version {job.before.version}): preview published, "
        "final quality rendering..."
    )
    advance(job.svc.meta, job.task_id, 1, EDIT_STEPS, message, "render_edit")


def _report_done(job: SceneJob, outcome: SceneOutcome) -> None:
    if not job.edit:
        return _report_scenes(job, "unchanged, reused" if outcome.reused else "finished")
    message = f"Scene {job.number} edited: version {outcome.version}"
    advance(job.svc.meta, job.task_id, 2, EDIT_STEPS, message, "edited")


def _report_scenes(job: SceneJob, stage: str) -> None:
    """A generation's progress: one step per rendered scene, after the plan's."""
    meta, n, plan = job.svc.meta, job.number, job.plan
    done = _count_done(meta, job.video_key, plan)
    advance(
        meta,
        job.task_id,
        1 + done,
        total_steps(plan.scene_count),
        f"Rendering scenes: {done} of {plan.scene_count} done (scene {n} {stage})",
        f"render_scene_{n}",
    )


def _count_done(meta: MetadataStore, video_key: str, plan: VideoPlan) -> int:
    return sum(
        1
        for s in meta.list_scenes(video_key)
        if s.status == SceneStatus.COMPLETED and s.scene_number <= plan.scene_count
    )


def scenes_to_retry(meta: MetadataStore, video_key: str) -> list[int]:
    """The planned scenes without a finished render (failed, interrupted or never run)."""
    plan = load_plan(meta, video_key)
    done = {
        s.scene_number for s in meta.list_scenes(video_key) if s.status == SceneStatus.COMPLETED
    }
    return [n for n in range(1, plan.scene_count + 1) if n not in done]
