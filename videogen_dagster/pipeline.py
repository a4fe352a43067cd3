"""The generation workflow's steps as plain functions: plan, produce one scene, combine.

Dagster assets are thin wrappers around these (see `assets/`); the CLI and tests call the same
code through the assets. Each step reads its inputs from the object and metadata stores, writes
its artifacts under versioned keys, and reports task progress as it goes.
"""

from __future__ import annotations

import json
import re
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from videogen_dagster import media
from videogen_dagster.codegen import GeneratedScene, generate_scene_code
from videogen_dagster.metastore import SqliteMetadataStore, now_iso
from videogen_dagster.models import GenerateRequest, parse_scene_id, scene_id, split_video_key
from videogen_dagster.models import video_key as make_video_key
from videogen_dagster.objectstore import (
    ObjectStore,
    StoreConfig,
    StoredObject,
    plan_key,
    scene_object_key,
    video_object_key,
)
from videogen_dagster.planning import ScenePlan, VideoPlan, plan_offline, wrapped
from videogen_dagster.rendering import RenderError, RenderResult, latex_available, render_scene

SCENE_FILES = {"source": "scene.py", "video": "scene.mp4", "thumbnail": "thumbnail.jpg", "subtitles": "subtitles.srt"}
DURATION_TOLERANCE = 0.1


class PipelineError(RuntimeError):
    pass


Planner = Callable[[GenerateRequest], VideoPlan]
Coder = Callable[[ScenePlan, GenerateRequest], GeneratedScene]


def offline_planner(request: GenerateRequest) -> VideoPlan:
    assert request.session_id
    return plan_offline(
        request.project_id, request.session_id, request.content_prompt, request.scene_count,
        latex_available(),
    )


def template_coder(plan: ScenePlan, request: GenerateRequest) -> GeneratedScene:
    return generate_scene_code(plan, request.render_config.max_scene_duration)


def offline_fix(plan: ScenePlan, error: RenderError) -> ScenePlan | None:
    """The template coder's one repair: drop LaTeX when a LaTeX scene failed. None = no fix."""
    if plan.visual.get("use_latex"):
        return plan.model_copy(update={"visual": {**plan.visual, "use_latex": False}})
    return None


@dataclass
class Services:
    """The collaborators a step needs; resources build one of these per run."""

    stores: StoreConfig
    meta: SqliteMetadataStore
    workdir: Path
    planner: Planner = offline_planner
    coder: Coder = template_coder
    render_timeout: float = 300.0
    renderer: Callable[..., RenderResult] = field(default=render_scene)

    agents_factory: Callable[[GenerateRequest, dict], Any] | None = None

    def agents_for(self, request: GenerateRequest, video_key: str):
        """LLM agents for this video (None: the offline planner/coder), with the budget left."""
        if self.agents_factory is None:
            return None
        video = self.meta.get_video(video_key) or {}
        return self.agents_factory(request, video.get("llm_usage") or {})

    def store_for(self, request: GenerateRequest) -> tuple[ObjectStore, str]:
        """The object store and key prefix of one video (its s3_config overrides the defaults)."""
        s3 = request.s3_config.model_dump()
        return self.stores.store_for(s3), self.stores.prefix_for(s3)


def _visual_fix(svc, agents, plan, generated, result, work, request, errors, rounds: int = 2):
    """Show frames of the render to a vision model; re-render its corrections (bounded rounds).
    A correction that fails to render is dropped and the last good render kept."""
    for r in range(1, rounds + 1):
        frames = media.frames(result.video, work / f"frames{r}", count=3, duration=result.info.duration)
        problems, corrected = agents.review_frames(plan, generated, frames, request)
        if corrected is None:
            break
        try:
            result = svc.renderer(corrected.code, corrected.class_name, work / f"visual{r}",
                                  request.render_config, timeout=svc.render_timeout)
            generated = corrected
            errors.append(f"visual fix {r}: {'; '.join(problems) or 'layout corrected'}")
        except RenderError as exc:
            errors.append(f"visual fix {r} did not render, kept the previous version: {exc}")
            break
    return generated, result


def register_request(meta: SqliteMetadataStore, request: GenerateRequest, task_id: str, message: str = "Task queued") -> dict:
    """Record a video's request and its generate task (idempotent for the same task id)."""
    assert request.session_id, "call with_session() first"
    # One transaction: refuses (VideoBusy) while the video is being generated or edited, else
    # stores the request and the task. A video that exists gets new versions beside its old ones.
    return meta.create_task(
        task_id, "generate", request.project_id, request.session_id, request.video_key,
        total_steps(request.scene_count), request.render_config.quality, message=message,
        exclusive=True, request=request.to_stored(),
    )


EDIT_STEPS = 4  # render the edit, store it, re-join, manifest


def total_steps(scene_count: int) -> int:
    """plan + one per scene + combine + manifest."""
    return scene_count + 3


def load_request(meta: SqliteMetadataStore, video_key: str) -> GenerateRequest:
    video = meta.get_video(video_key)
    if video is None:
        raise PipelineError(
            f"video {video_key!r} is not registered: start it with `videogen generate` or the "
            "REST API, or give content_prompt in the scene_plan run config"
        )
    return GenerateRequest.model_validate(video["request"])


def load_plan(meta: SqliteMetadataStore, video_key: str) -> VideoPlan:
    video = meta.get_video(video_key)
    if not video or not video.get("plan"):
        raise PipelineError(f"video {video_key!r} has no plan yet: materialise scene_plan first")
    return VideoPlan.model_validate(video["plan"])


def _progress(meta: SqliteMetadataStore, task_id: str | None, done: int, total: int, **fields) -> None:
    if task_id:
        meta.update_task(task_id, progress=min(100, int(100 * done / max(total, 1))), total_steps=total, **fields)


# --- step 1: plan ----------------------------------------------------------------------------


@dataclass
class PlanOutcome:
    plan: VideoPlan
    version: int
    obj: StoredObject


def run_plan(svc: Services, video_key: str, task_id: str | None) -> PlanOutcome:
    request = load_request(svc.meta, video_key)
    total = total_steps(request.scene_count)
    if task_id:
        svc.meta.start_task(task_id)
        _progress(svc.meta, task_id, 0, total, message="Planning scenes...", current_step="planning")
    try:
        store, prefix = svc.store_for(request)
        # A missing bucket or bad credentials fail here, before any rendering is spent.
        store.check()
        agents = svc.agents_for(request, video_key)
        try:
            plan = agents.plan(request) if agents else svc.planner(request)
        finally:
            if agents and agents.client.budget.used.calls:
                svc.meta.add_llm_usage(video_key, agents.client.budget.used.as_dict())
        video = svc.meta.get_video(video_key) or {}
        version = int(video.get("plan_version") or 0) + 1
        key = plan_key(prefix, request.project_id, plan.session_id, version)
        obj = store.put_bytes(key, plan.model_dump_json(indent=2).encode())
    except Exception as exc:
        if task_id:
            svc.meta.update_task(task_id, status="failed", error=f"plan: {exc}"[:4000], message="Planning failed")
        raise
    svc.meta.save_plan(video_key, plan.model_dump(mode="json"), version, obj.as_dict())
    for s in plan.scenes:
        svc.meta.set_scene_status(video_key, s.scene_number, scene_id(plan.session_id, s.scene_number), s.title, "queued")
    _progress(
        svc.meta, task_id, 1, total,
        message=f"Planned {plan.scene_count} scenes; rendering...", current_step="planned",
    )
    return PlanOutcome(plan, version, obj)


# --- step 2: one scene -------------------------------------------------------------------------


@dataclass
class SceneOutcome:
    scene_number: int
    version: int
    objects: dict[str, StoredObject]
    info: media.VideoInfo
    render_seconds: float
    attempts: int
    coder: str
    errors: list[str]
    edits: list[str] = field(default_factory=list)


def _count_done(meta: SqliteMetadataStore, video_key: str, plan: VideoPlan) -> int:
    return sum(1 for s in meta.list_scenes(video_key) if s["status"] == "completed" and s["scene_number"] <= plan.scene_count)


EDIT_COLOURS = {
    "blue": "#3b82f6", "red": "#ef4444", "green": "#22c55e", "yellow": "#facc15",
    "orange": "#f97316", "purple": "#a855f7", "pink": "#ec4899", "teal": "#14b8a6", "white": "#f8fafc",
}


@dataclass(frozen=True)
class EditSpec:
    """An edit of one scene (the spec's edit-scene request, as run config)."""

    prompt: str
    preserve_timing: bool = True
    version_increment: bool = True
    expected_version: int | None = None  # the version the editor saw; another edit in between wins


_QUOTED = r"[\"'“”‘’]?(?P<text>[^\"'“”‘’]{1,80})[\"'“”‘’]?"


def offline_edit(plan: ScenePlan, prompt: str) -> tuple[ScenePlan, list[str]]:
    """The offline editor, applied to the scene's storyboard (its plan):
    - colour: "make it blue" (blue, red, green, yellow, orange, purple, pink, teal, white);
    - speed: "slower" / "faster" (animations, inside each beat: the duration is kept);
    - title: `title: New title` or `change the title to "New title"`;
    - points (key points and summary scenes): `add a point: text`, `remove point 2`,
      `remove the last point`.
    Anything else is refused, saying what it understands."""
    low = prompt.lower()
    visual, applied = dict(plan.visual), []
    title, narration = plan.title, list(plan.narration)
    for name, hexcode in EDIT_COLOURS.items():
        if re.search(rf"\b{name}\b", low):
            visual["accent"] = hexcode
            applied.append(f"accent colour {name}")
            break
    if re.search(r"\bslow(er)?\b", low):
        visual["speed"] = 0.6
        applied.append("slower animations")
    elif re.search(r"\b(fast(er)?|quick(er)?)\b", low):
        visual["speed"] = 1.6
        applied.append("faster animations")
    m = re.search(r"(?:title\s*:\s*|(?:change|set|rename) the title to\s+)" + _QUOTED, prompt, re.I)
    if m:
        title = m.group("text").strip()
        applied.append(f"title {title!r}")
    points = list(visual.get("points", []))
    has_points = plan.kind in ("points", "summary")
    m = re.search(r"add (?:a |another )?point\s*:?\s*" + _QUOTED, prompt, re.I)
    if m and has_points:
        text = m.group("text").strip().rstrip(".")
        points.append(wrapped(text) if plan.kind == "points" else wrapped(text, 50, 96))
        narration.append(text + ".")
        applied.append(f"added point {text!r}")
    m = re.search(r"remove (?:the )?(?:point (?P<n>\d+)|(?P<last>last) point)", prompt, re.I)
    if m and has_points and points:
        i = len(points) - 1 if m.group("last") else int(m.group("n")) - 1
        if not 0 <= i < len(points) or len(points) == 1:
            raise PipelineError(f"the scene has {len(points)} point(s); cannot remove point {i + 1}")
        points.pop(i)
        # Narration line k+offset belongs to point k (summary scenes open with one extra line).
        offset = 1 if plan.kind == "summary" else 0
        if len(narration) > 1 and i + offset < len(narration):
            narration.pop(i + offset)
        applied.append(f"removed point {i + 1}")
    if ("point" in low) and not has_points:
        raise PipelineError(f"scene {plan.scene_number} ({plan.kind}) has no points to add or remove")
    if not applied:
        raise PipelineError(
            f"the offline editor cannot apply {prompt!r}: it understands colours "
            f"({', '.join(EDIT_COLOURS)}), 'slower'/'faster', 'title: ...', 'add a point: ...' and "
            "'remove point N'; configure an LLM for free-form edits"
        )
    if has_points:
        visual["points"] = points
    return plan.model_copy(update={"visual": visual, "title": title, "narration": narration}), applied


def _scene_to_edit(svc: Services, video_key: str, scene_number: int, edit: EditSpec) -> dict:
    """The scene's current record, from the metadata store (Convex when configured), checked
    against the version the editor saw."""
    current = svc.meta.current_scene(video_key, scene_number)
    if current is None or current["status"] != "completed" or not current.get("assets"):
        raise PipelineError(f"scene {scene_number} of {video_key} has no rendered version to edit")
    if edit.expected_version is not None and current["version"] != edit.expected_version:
        raise PipelineError(
            f"conflict: scene {scene_number} is at version {current['version']}, the edit was made "
            f"against version {edit.expected_version}; nothing was changed"
        )
    return current


def run_scene(
    svc: Services, video_key: str, scene_number: int, task_id: str | None, run_id: str | None,
    edit: EditSpec | None = None,
) -> SceneOutcome:
    request = load_request(svc.meta, video_key)
    plan = load_plan(svc.meta, video_key)
    if scene_number > plan.scene_count:
        raise PipelineError(
            f"video {video_key!r} has {plan.scene_count} scenes; slot {scene_number:02d} is unused"
        )
    scene_plan = plan.scene(scene_number)
    edits: list[str] = []
    before: dict | None = None
    agents = svc.agents_for(request, video_key)
    if edit:
        try:
            before = _scene_to_edit(svc, video_key, scene_number, edit)
            if agents is None:
                scene_plan, edits = offline_edit(scene_plan, edit.prompt)
        except PipelineError as exc:
            if task_id:
                svc.meta.update_task(task_id, status="failed", error=str(exc), message="Edit not applied")
            raise
    sid = scene_id(plan.session_id, scene_number)
    total = total_steps(plan.scene_count)
    if task_id:
        svc.meta.start_task(task_id)
        if edit and before:
            _progress(
                svc.meta, task_id, 1, EDIT_STEPS,
                message=f"Editing scene {scene_number} (version {before['version']}): rendering...",
                current_step="render_edit",
            )
        else:
            done = _count_done(svc.meta, video_key, plan)
            _progress(
                svc.meta, task_id, 1 + done, total,
                message=f"Rendering scenes: {done} of {plan.scene_count} done (scene {scene_number} started)",
                current_step=f"render_scene_{scene_number}",
            )
    svc.meta.set_scene_status(video_key, scene_number, sid, scene_plan.title, "rendering")
    work = Path(tempfile.mkdtemp(prefix=f"{video_key}-scene{scene_number:02d}-", dir=_ensure(svc.workdir)))
    errors: list[str] = []
    tried: list[tuple[str, str]] = []  # (code, error) of every failed attempt, kept with the version
    try:
        attempt, current = 0, scene_plan
        max_attempts = 1 + request.render_config.max_retries
        target = before["duration"] if edit and edit.preserve_timing and before else None
        if agents and edit and before:
            # The stored source is the starting point, read from the object store.
            store, _ = svc.store_for(request)
            source = store.get_bytes(before["assets"]["source"]["key"]).decode()
            generated = agents.edit(current, source, edit.prompt, request, target)
            edits = [f"rewritten by {agents.scene_model}"]
        elif agents:
            generated = agents.code(current, request)
        elif target is not None:
            generated = generate_scene_code(current, request.render_config.max_scene_duration, target)
        else:
            generated = svc.coder(current, request)
        while True:
            attempt += 1
            try:
                result = svc.renderer(
                    generated.code, generated.class_name, work / f"attempt{attempt}",
                    request.render_config, timeout=svc.render_timeout,
                )
                limit = request.render_config.max_scene_duration
                # Template timelines are fitted to the limit (up to frame rounding); code written
                # elsewhere is measured.
                if generated.spread_cues and target is None and result.info.duration > limit + DURATION_TOLERANCE:
                    # Too long is a defect like any other: it goes back to the fix loop.
                    raise RenderError(
                        f"the scene lasts {result.info.duration:.2f}s; max_scene_duration is {limit:g}s",
                        "Shorten the animations: the sum of run_time and wait values must not exceed the limit.",
                    )
                break
            except RenderError as exc:
                errors.append(f"attempt {attempt}: {exc}")
                tried.append((generated.code, f"{exc}\n{exc.log[-2000:]}"))
                if attempt >= max_attempts:
                    fixed = None
                elif agents:
                    fixed = agents.fix(current, generated, f"{exc}\n{exc.log}", request)
                else:
                    fixed_plan = offline_fix(current, exc)
                    fixed = (
                        generate_scene_code(fixed_plan, request.render_config.max_scene_duration, target)
                        if fixed_plan else None
                    )
                if fixed is None:
                    raise PipelineError(
                        f"scene {scene_number} failed after {attempt} attempt(s): {exc}\n{exc.log[-1500:]}"
                    ) from exc
                generated = fixed
        if agents and request.llm.use_visual_fix:
            generated, result = _visual_fix(svc, agents, current, generated, result, work, request, errors)
        if target is not None and abs(result.info.duration - target) > DURATION_TOLERANCE:
            raise PipelineError(
                f"the edited scene {scene_number} lasts {result.info.duration:.2f}s, not {target:.2f}s "
                "(preserve_timing); the current version is kept"
            )
        llm = None
        if agents:
            llm = {"usage": agents.client.budget.used.as_dict(), "retrieved": agents.retrieved.get(scene_number, [])}
            svc.meta.add_llm_usage(video_key, agents.client.budget.used.as_dict())
        outcome = _store_scene(
            svc, plan, scene_plan, video_key, sid, generated, result, work, request, task_id, run_id,
            edit, before, tried, llm,
        )
        if edit and before:
            svc.meta.record_edit(
                video_key, scene_number, before["version"], outcome.version, edit.prompt,
                agents.scene_model if agents else "offline-editor", edits, task_id,
            )
        outcome.attempts, outcome.errors, outcome.edits = attempt, errors, edits
        if edits and not agents:
            # Later re-renders keep the offline edit: the scene's plan is the edited one from now on.
            svc.meta.save_scene_plan(video_key, scene_number, scene_plan.model_dump(mode="json"))
    except Exception as exc:
        if agents and agents.client.budget.used.calls:
            svc.meta.add_llm_usage(video_key, agents.client.budget.used.as_dict())
        if edit:
            # A failed edit leaves the scene exactly as it was: its current version, and its status.
            if before is not None:
                svc.meta.set_scene_status(video_key, scene_number, sid, before["title"], "completed")
            if task_id:
                svc.meta.update_task(task_id, status="failed", error=f"edit of scene {scene_number}: {exc}"[:4000],
                                     message=f"Edit of scene {scene_number} failed after {len(errors)} attempt(s)")
            raise
        svc.meta.set_scene_status(video_key, scene_number, sid, scene_plan.title, "failed", error=str(exc)[:4000])
        if task_id:
            svc.meta.update_task(
                task_id, status="failed", error=f"scene {scene_number}: {exc}"[:4000],
                message=f"Scene {scene_number} of {plan.scene_count} failed",
            )
        raise
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if edit:
        _progress(
            svc.meta, task_id, 2, EDIT_STEPS,
            message=f"Scene {scene_number} edited: version {outcome.version}", current_step="edited",
        )
    else:
        done = _count_done(svc.meta, video_key, plan)
        _progress(
            svc.meta, task_id, 1 + done, total,
            message=f"Rendering scenes: {done} of {plan.scene_count} done (scene {scene_number} finished)",
            current_step=f"render_scene_{scene_number}",
        )
    return outcome


def _store_scene(
    svc: Services, plan: VideoPlan, scene_plan: ScenePlan, video_key: str, sid: str,
    generated: GeneratedScene, result: RenderResult, work: Path, request: GenerateRequest,
    task_id: str | None, run_id: str | None, edit: EditSpec | None = None, before: dict | None = None,
    tried: list[tuple[str, str]] | None = None, llm: dict | None = None,
) -> SceneOutcome:
    n = scene_plan.scene_number
    info = result.info
    # The frame just before the outro shows the scene at its fullest.
    thumb = media.thumbnail(result.video, work / "thumbnail.jpg", at=max(0.0, info.duration - 1.0))
    cues = (
        media.spread_cues([c.text for c in generated.cues], info.duration)
        if generated.spread_cues else media.fit_cues(generated.cues, info.duration)
    )
    srt = work / "subtitles.srt"
    srt.write_text(media.to_srt(cues), encoding="utf-8")
    source = work / "scene.py"
    source.write_text(generated.code, encoding="utf-8")
    in_place = bool(edit and before and not edit.version_increment)
    version = before["version"] if in_place and before else svc.meta.next_scene_version(video_key, n)
    files = {"source": source, "video": result.video, "thumbnail": thumb, "subtitles": srt}
    store, prefix = svc.store_for(request)
    # An in-place edit keeps the version number but writes beside the version's earlier files
    # (v{n}/r{k}/...): what a finished task made stays exactly as it was.
    folder = f"r{len(svc.meta.edit_history(video_key, n)) + 1}/" if in_place else ""
    objects = {
        kind: store.put_file(
            scene_object_key(prefix, plan.project_id, plan.session_id, n, version, folder + SCENE_FILES[kind]), path
        )
        for kind, path in files.items()
    }
    assets = {k: o.as_dict() for k, o in objects.items()}
    assets["video"]["media"] = info.as_metadata()
    # Every failed attempt is kept as a version of the source, with its error.
    attempts = []
    for i, (code, error) in enumerate(tried or [], 1):
        key = scene_object_key(prefix, plan.project_id, plan.session_id, n, version, f"{folder}attempts/attempt{i}.py")
        attempts.append({"attempt": i, "source": store.put_bytes(key, code.encode()).as_dict(), "error": error[-2000:]})
    extra = {"attempts": attempts, "coder": generated.coder, **({"llm": llm} if llm else {})}
    # Only after every object is written does the record point at them.
    if in_place:
        svc.meta.replace_scene_version(video_key, n, version, assets, info.duration, extra)
    else:
        svc.meta.record_scene_version(
            video_key, n, sid, scene_plan.title, version, assets, info.duration, result.seconds,
            request.render_config.quality, task_id, run_id, edit.prompt if edit else None, extra=extra,
        )
    return SceneOutcome(n, version, objects, info, result.seconds, 1, generated.coder, [])


def scenes_to_retry(meta: SqliteMetadataStore, video_key: str) -> list[int]:
    """The planned scenes without a finished render (failed, interrupted or never run)."""
    plan = load_plan(meta, video_key)
    done = {s["scene_number"] for s in meta.list_scenes(video_key) if s["status"] == "completed"}
    return [n for n in range(1, plan.scene_count + 1) if n not in done]


# --- step 3: combine ---------------------------------------------------------------------------


@dataclass
class CombineOutcome:
    version: int
    video: StoredObject
    subtitles_srt: StoredObject
    subtitles_vtt: StoredObject
    manifest: StoredObject
    info: media.VideoInfo
    method: str
    result: dict


def scenes_token(scenes: dict[int, dict], scene_count: int) -> str | None:
    """Names the exact set of scene versions a join would use (number, version and video
    checksum, so an in-place edit counts as a change); None while a planned scene is not rendered."""
    parts = []
    for n in range(1, scene_count + 1):
        s = scenes.get(n)
        if not s or s["status"] != "completed" or not s.get("assets"):
            return None
        parts.append(f"{n}:{s['version']}:{s['assets']['video'].get('sha256', '')}")
    return ",".join(parts)


def join_when_complete(svc: Services, video_key: str, task_id: str | None) -> CombineOutcome | None:
    """The join, made by whichever scene run first finds every planned scene rendered (no wait for
    a separate join run). None when a scene is still missing, when this set of scenes is already
    joined or being joined, or when the task was cancelled or failed."""
    task = svc.meta.get_task(task_id) if task_id else None
    if task and task["status"] in ("cancelled", "failed"):
        return None
    plan = load_plan(svc.meta, video_key)
    token = scenes_token({s["scene_number"]: s for s in svc.meta.list_scenes(video_key)}, plan.scene_count)
    if token is None or not svc.meta.claim_join(video_key, token):
        return None
    try:
        return run_combine(svc, video_key, task_id)
    except BaseException:
        svc.meta.release_join(video_key, token)
        raise


def run_combine(svc: Services, video_key: str, task_id: str | None) -> CombineOutcome:
    plan = load_plan(svc.meta, video_key)
    total = total_steps(plan.scene_count)
    scenes = {s["scene_number"]: s for s in svc.meta.list_scenes(video_key)}
    missing = [
        n for n in range(1, plan.scene_count + 1)
        if n not in scenes or scenes[n]["status"] != "completed" or not scenes[n].get("assets")
    ]
    if missing:
        raise PipelineError(
            f"video {video_key!r} cannot be joined: scene(s) {missing} of {plan.scene_count} "
            "are not rendered (the plan names exactly which scenes must exist)"
        )
    task = svc.meta.get_task(task_id) if task_id else None
    editing = bool(task and task["kind"] == "edit")
    if editing:
        total = EDIT_STEPS
        edited = (task or {}).get("scene_id") or "the scene"
    if task_id:
        _progress(
            svc.meta, task_id, total - 2, total, current_step="combine",
            message=f"Re-joining the video with the edited {edited}..." if editing else "Combining scenes...",
        )
    request = load_request(svc.meta, video_key)
    store, prefix = svc.store_for(request)
    work = Path(tempfile.mkdtemp(prefix="combine-", dir=_ensure(svc.workdir)))
    try:
        parts, cue_sets, infos = [], [], []
        for n in range(1, plan.scene_count + 1):
            assets = scenes[n]["assets"]
            local = store.download(assets["video"]["key"], work / f"{n:02d}.mp4")
            parts.append(local)
            cues = media.parse_srt(store.get_bytes(assets["subtitles"]["key"]).decode())
            # Duration and streams were probed when the scene was stored: no second probe.
            cue_sets.append((cues, float(scenes[n]["duration"])))
            infos.append(media.VideoInfo.from_metadata(assets["video"].get("media") or {}, local.stat().st_size))
        out = work / "combined.mp4"
        method = media.concat(parts, out, infos)
        info = media.probe(out)
        expected = sum(d for _, d in cue_sets)
        if abs(info.duration - expected) > DURATION_TOLERANCE:
            raise PipelineError(
                f"joined video lasts {info.duration:.3f}s but its scenes add up to {expected:.3f}s"
            )
        cues = media.offset_cues(cue_sets)
        video = svc.meta.get_video(video_key) or {}
        version = int(video.get("combined_version") or 0) + 1
        p, s = plan.project_id, plan.session_id
        vid = store.put_file(video_object_key(prefix, p, s, version, "combined.mp4"), out)
        srt = store.put_bytes(video_object_key(prefix, p, s, version, "subtitles.srt"), media.to_srt(cues).encode())
        vtt = store.put_bytes(video_object_key(prefix, p, s, version, "subtitles.vtt"), media.to_vtt(cues).encode())
        if task_id:
            _progress(svc.meta, task_id, total - 1, total, message="Writing manifest...", current_step="manifest")
        combined = {
            "version": version, "video": {**vid.as_dict(), "media": info.as_metadata()},
            "subtitles_srt": srt.as_dict(), "subtitles_vtt": vtt.as_dict(), "join_method": method,
        }
        manifest_data = build_manifest(svc, plan, video, scenes, combined)
        man = store.put_bytes(
            video_object_key(prefix, p, s, version, "manifest.json"),
            json.dumps(manifest_data, indent=2).encode(),
        )
        combined["manifest"] = man.as_dict()
        svc.meta.save_combined(video_key, version, combined, info.duration)
        svc.meta.set_join_token(video_key, scenes_token(scenes, plan.scene_count) or "")
        record = snapshot_result(svc.meta, video_key, task_id)
        result = render_result(record, svc.stores)
        if task_id:
            if editing:
                n = parse_scene_id(str(edited))[1]
                v = scenes[n]["version"] if n in scenes else "?"
                done_message = f"Edit completed: scene {n} is at version {v}; video re-joined (version {version})"
            else:
                done_message = "Video generation completed"
            svc.meta.update_task(
                task_id, status="completed", progress=100, message=done_message,
                current_step="completed", result=record, completed_at=record["completed_at"], total_steps=total,
            )
        return CombineOutcome(version, vid, srt, vtt, man, info, method, result)
    except Exception as exc:
        if task_id:
            svc.meta.update_task(task_id, status="failed", error=f"combine: {exc}"[:4000], message="Combining scenes failed")
        raise
    finally:
        shutil.rmtree(work, ignore_errors=True)


def build_manifest(svc: Services, plan: VideoPlan, video: dict, scenes: dict, combined: dict) -> dict:
    request = GenerateRequest.model_validate(video["request"])
    width, height, fps = request.render_config.output_format()
    return {
        "manifest_version": 1,
        "project_id": plan.project_id,
        "session_id": plan.session_id,
        "prompt": plan.prompt,
        "topic": plan.topic,
        "planner": plan.planner,
        "source": plan.source,
        "render": {"quality": request.render_config.quality, "width": width, "height": height, "fps": fps},
        "llm_usage": video.get("llm_usage"),
        "plan": {"version": video.get("plan_version"), **(video.get("plan_object") or {})},
        "scenes": [
            {
                "scene_id": scenes[n]["scene_id"],
                "scene_number": n,
                "title": scenes[n]["title"],
                "version": scenes[n]["version"],
                "duration": scenes[n]["duration"],
                "assets": scenes[n]["assets"],
                **_version_extra(svc.meta, plan, n, scenes[n]["version"]),
            }
            for n in range(1, plan.scene_count + 1)
        ],
        "combined": combined,
        "created_at": now_iso(),
    }


def _version_extra(meta: SqliteMetadataStore, plan: VideoPlan, n: int, version: int) -> dict:
    """Coder, failed attempts and LLM usage/retrievals of one scene version."""
    for h in meta.scene_history(make_video_key(plan.project_id, plan.session_id), n):
        if h["version"] == version:
            return {**(h.get("extra") or {}), "edit_prompt": h.get("edit_prompt")}
    return {}


URL_FIELDS = {"video": "s3_video_url", "source": "s3_source_url", "thumbnail": "s3_thumbnail_url",
              "subtitles": "s3_subtitles_url"}
RECORD_VERSION = 1


def snapshot_result(meta: SqliteMetadataStore, video_key: str, task_id: str | None = None) -> dict:
    """What the video is made of now, as a fixed record: versions, titles, durations and object
    keys (no URLs: presigned URLs expire). A finished task keeps the record of what it made, so a
    later re-generation or edit of the same video never changes an earlier task's result."""
    project_id, session_id = split_video_key(video_key)
    video = meta.get_video(video_key) or {}
    plan = VideoPlan.model_validate(video["plan"]) if video.get("plan") else None
    count = plan.scene_count if plan else 0
    by_number = {s["scene_number"]: s for s in meta.list_scenes(video_key)}
    scenes = []
    for n in range(1, count + 1):
        s = by_number.get(n) or {}
        assets = s.get("assets") or {}
        scenes.append({
            "scene_id": scene_id(session_id, n),
            "scene_number": n,
            "title": s.get("title") or plan.scene(n).title,
            "duration": s.get("duration"),
            "status": s.get("status", "queued"),
            "objects": {kind: a["key"] for kind, a in assets.items() if kind in URL_FIELDS},
            "version": s.get("version", 0),
            "error": s.get("error"),
            "edit_history": [
                {k: e[k] for k in ("from_version", "to_version", "edit_prompt", "model", "applied", "task_id", "created_at")}
                for e in meta.edit_history(video_key, n)
            ],
        })
    combined = video.get("combined") or {}
    task = meta.get_task(task_id) if task_id else None
    started = (task or {}).get("started_at") or (task or {}).get("created_at")
    completed_at = (task or {}).get("completed_at") or now_iso()
    gen_time = None
    if started:
        gen_time = round((_parse(completed_at) - _parse(started)).total_seconds(), 1)
    all_done = bool(combined) and all(s["status"] == "completed" for s in scenes)
    return {
        "record_version": RECORD_VERSION,
        "s3_config": (video.get("request") or {}).get("s3_config"),
        "project_id": project_id,
        "session_id": session_id,
        "status": "completed" if all_done else video.get("status", "queued"),
        "scene_count": count,
        "scenes": scenes,
        "total_duration": round(video.get("total_duration") or sum(s["duration"] or 0 for s in scenes), 3),
        "combined_objects": {
            k: combined[k]["key"] for k in ("video", "subtitles_srt", "manifest") if combined.get(k)
        },
        "combined_version": combined.get("version"),
        "plan_version": video.get("plan_version"),
        "llm_usage": video.get("llm_usage"),
        "generation_time_seconds": gen_time,
        "completed_at": completed_at,
    }


def render_result(record: dict, stores: StoreConfig) -> dict:
    """The spec's task result from a record, with URLs made now (fields in the spec's order)."""
    store = stores.store_for(record.get("s3_config"))

    def url(key: str | None) -> str | None:
        return store.url(key) if key else None

    scenes = []
    for s in record["scenes"]:
        objects = s.get("objects") or {}
        scene = {k: s.get(k) for k in ("scene_id", "scene_number", "title", "duration", "status")}
        scene.update({field_name: url(objects.get(kind)) for kind, field_name in URL_FIELDS.items()})
        scene.update({k: s.get(k) for k in ("version", "error", "edit_history")})
        scenes.append(scene)
    objs = record.get("combined_objects") or {}
    out = {k: record.get(k) for k in ("project_id", "session_id", "status", "scene_count")}
    out.update(
        scenes=scenes, total_duration=record.get("total_duration"),
        s3_combined_video_url=url(objs.get("video")), s3_subtitles_url=url(objs.get("subtitles_srt")),
        s3_manifest_url=url(objs.get("manifest")),
    )
    internal = {"record_version", "s3_config", "combined_objects", "scenes", *out}
    out.update({k: v for k, v in record.items() if k not in internal})
    return out


def build_result(meta: SqliteMetadataStore, stores: StoreConfig, video_key: str, task_id: str | None = None) -> dict:
    """The spec's task result for the video as it is now (URLs made now, never stored)."""
    return render_result(snapshot_result(meta, video_key, task_id), stores)


def task_result(meta: SqliteMetadataStore, stores: StoreConfig, task: dict) -> dict:
    """A finished task's result: the record it stored when it finished (what *it* made), or, for
    a task stored before records existed, the video as it is now."""
    record = task.get("result")
    if isinstance(record, dict) and record.get("record_version"):
        return render_result(record, stores)
    return build_result(meta, stores, task["video_key"], task["task_id"])


def _parse(ts: str) -> datetime:
    return datetime.fromisoformat(ts.replace("Z", "+00:00")).astimezone(UTC)


def _ensure(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path
