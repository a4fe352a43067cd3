"""The scene's code and its renders: the first code (template, LLM or an edit of the stored
source), the fix loop after a failed render, the visual fix, and the duration checks."""

from __future__ import annotations

from pathlib import Path

from videogen_dagster.authoring.codegen import GeneratedScene, generate_scene_code
from videogen_dagster.authoring.timeline import OUTRO_SECONDS, SPEECH_PAUSE, NarrationTooLong
from videogen_dagster.media import ffmpeg, layout, voiceover
from videogen_dagster.media.rendering import RenderError, RenderResult
from videogen_dagster.models import RenderConfig
from videogen_dagster.pipeline.scene_job import Attempts, Rendered, SceneJob
from videogen_dagster.pipeline.services import DURATION_TOLERANCE, PipelineError, offline_fix

# How much faster than asked a narration may be spoken to fit its scene.
MAX_SPEEDUP = 1.25


def first_code(job: SceneJob) -> GeneratedScene:
    agents, request, plan = job.agents, job.request, job.scene_plan
    if agents and job.editing:
        assert job.edit and job.before
        # The stored source is the starting point, read from the object store.
        store, _ = job.svc.store_for(request)
        source = store.get_bytes(job.before.object_key("source")).decode()
        generated = agents.edit(plan, source, job.edit.prompt, request, job.target)
        job.edits = [f"rewritten by {agents.scene_model}"]
        return generated
    if agents:
        return agents.code(plan, request)
    for speaking_faster in (False, True):
        try:
            if job.target is not None:
                return generate_scene_code(
                    plan, request.render_config.max_scene_duration, job.target, job.speech()
                )
            return job.svc.coder(plan, request, speech=job.speech())
        except NarrationTooLong as exc:
            if speaking_faster or not _speak_faster(job):
                raise PipelineError(f"scene {job.number}: {exc}") from exc
    raise AssertionError("unreachable")


def _speak_faster(job: SceneJob) -> bool:
    """A narration a little too long for the scene is spoken up to MAX_SPEEDUP faster (a
    template beat never cuts its line). False: it would need more than that."""
    voice = job.voice
    if voice is None:
        return False
    spoken = sum(voice.durations(job.scene_plan.narration))
    beats = len(job.scene_plan.narration) * SPEECH_PAUSE + OUTRO_SECONDS
    room = (job.target or job.request.render_config.max_scene_duration) - beats
    if room <= 0:
        return False
    factor = spoken / room * 1.03
    if factor > MAX_SPEEDUP:
        return False
    job.voice = voice.faster(factor)
    return True


def render_with_fixes(
    job: SceneJob, generated: GeneratedScene, work: Path, log: Attempts
) -> Rendered:
    """Render; after a failure, render a fixed version, up to 1 + max_retries attempts in all."""
    max_attempts = 1 + job.request.render_config.max_retries
    while True:
        log.count += 1
        try:
            rendered = render_once(job, generated, work / f"attempt{log.count}")
            _check_length(job, generated, rendered.result)
            return rendered
        except RenderError as exc:
            log.errors.append(f"attempt {log.count}: {exc}")
            log.tried.append((generated.code, f"{exc}\n{exc.log[-2000:]}"))
            fixed = _fix(job, generated, exc) if log.count < max_attempts else None
            if fixed is None:
                raise PipelineError(
                    f"scene {job.number} failed after {log.count} attempt(s): {exc}\n{exc.log[-1500:]}"
                ) from exc
            generated = fixed


def _fix(job: SceneJob, generated: GeneratedScene, error: RenderError) -> GeneratedScene | None:
    """The next attempt's code (None: nothing left to try)."""
    if job.agents:
        return job.agents.fix(job.scene_plan, generated, f"{error}\n{error.log}", job.request)
    fixed_plan = offline_fix(job.scene_plan, error)
    if fixed_plan is None:
        return None
    return generate_scene_code(
        fixed_plan, job.request.render_config.max_scene_duration, job.target, job.speech(fixed_plan)
    )


def render_once(
    job: SceneJob, generated: GeneratedScene, folder: Path, render: RenderConfig | None = None
) -> Rendered:
    """One render of `generated` in `folder` (at `render`, default the request's settings). Code
    that speaks through `self.voiceover` first gets its lines spoken and the runtime that times
    them (with narration off, the runtime alone: the blocks are timed at a speaking pace)."""
    if voiceover.uses_voiceover(generated.code):
        if job.voice is not None:
            job.voice.prepare_render(generated.code, folder)
        else:
            voiceover.install(folder, {})
    result = job.svc.renderer(
        generated.code,
        generated.class_name,
        folder,
        render or job.request.render_config,
        timeout=job.svc.render_timeout,
    )
    return Rendered(generated, result, folder)


def _check_length(job: SceneJob, generated: GeneratedScene, result: RenderResult) -> None:
    """Template timelines are fitted to the limit (up to frame rounding); code written elsewhere
    is measured. Too long is a defect like any other: it goes back to the fix loop."""
    limit = job.request.render_config.max_scene_duration
    if (
        generated.spread_cues
        and job.target is None
        and result.info.duration > limit + DURATION_TOLERANCE
    ):
        raise RenderError(
            f"the scene lasts {result.info.duration:.2f}s; max_scene_duration is {limit:g}s",
            "Shorten the animations: the sum of run_time and wait values must not exceed the limit.",
        )


def visual_fix(
    job: SceneJob, rendered: Rendered, work: Path, errors: list[str], rounds: int = 2
) -> Rendered:
    """Show frames of the render to a vision model; re-render its corrections (bounded rounds).
    A correction that fails to render is dropped and the last good render kept."""
    request = job.request
    for r in range(1, rounds + 1):
        result = rendered.result
        frames = ffmpeg.frames(
            result.video, work / f"frames{r}", count=3, duration=result.info.duration
        )
        problems, corrected = job.agents.review_frames(
            job.scene_plan, rendered.generated, frames, request
        )
        if corrected is None:
            break
        try:
            rendered = render_once(job, corrected, work / f"visual{r}")
            errors.append(f"visual fix {r}: {'; '.join(problems) or 'layout corrected'}")
        except RenderError as exc:
            errors.append(f"visual fix {r} did not render, kept the previous version: {exc}")
            break
    return rendered


def layout_fix(job: SceneJob, rendered: Rendered, work: Path, log: Attempts) -> Rendered:
    """Model-written code whose render has layout findings gets one fix with the findings as
    concrete feedback (before, and cheaper than, a visual review). The fix is kept only when
    it renders with fewer findings; otherwise the first render stays."""
    findings = rendered.result.layout
    if not (job.agents and findings) or log.count >= 1 + job.request.render_config.max_retries:
        return rendered
    problems = "The render has layout problems; fix them and change nothing else:\n"
    fixed = job.agents.fix(
        job.scene_plan, rendered.generated, problems + layout.feedback(findings), job.request
    )
    log.count += 1
    try:
        second = render_once(job, fixed, work / "layout1")
        _check_length(job, fixed, second.result)
    except RenderError as exc:
        log.errors.append(f"layout fix did not render, kept the previous version: {exc}")
        return rendered
    left = len(second.result.layout)
    if left >= len(findings):
        log.errors.append(f"layout fix left {left} finding(s) of {len(findings)}: kept the first render")
        return rendered
    log.errors.append(f"layout fix: {len(findings)} finding(s) -> {left}")
    return second


def check_timing(job: SceneJob, result: RenderResult) -> None:
    """An edit with preserve_timing keeps the scene's duration, or changes nothing."""
    target = job.target
    if target is not None and abs(result.info.duration - target) > DURATION_TOLERANCE:
        raise PipelineError(
            f"the edited scene {job.number} lasts {result.info.duration:.2f}s, not {target:.2f}s "
            "(preserve_timing); the current version is kept"
        )
