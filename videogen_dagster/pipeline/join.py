"""Step 3, the join: whichever scene run first finds every planned scene rendered claims the join
of that exact set of scene versions, joins the scenes and their subtitles, and writes the
manifest; the task then completes with its fixed result record."""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from videogen_dagster.authoring.codegen import Cue
from videogen_dagster.authoring.planning import VideoPlan
from videogen_dagster.media import ffmpeg, narration_audio
from videogen_dagster.media.hwaccel import hardware_warnings
from videogen_dagster.models import GenerateRequest, parse_scene_id
from videogen_dagster.models import video_key as make_video_key
from videogen_dagster.pipeline.plan import EDIT_STEPS, load_plan, load_request, total_steps
from videogen_dagster.pipeline.progress import advance, complete, fail
from videogen_dagster.pipeline.results import render_result, snapshot_result
from videogen_dagster.pipeline.services import DURATION_TOLERANCE, PipelineError, Services
from videogen_dagster.stores.metastore import MetadataStore, Scene, TaskStatus, Video, now_iso
from videogen_dagster.stores.metastore.status import TaskKind
from videogen_dagster.stores.objectstore import ObjectStore, StoredObject, video_object_key


@dataclass
class CombineOutcome:
    version: int
    video: StoredObject
    subtitles_srt: StoredObject
    subtitles_vtt: StoredObject
    manifest: StoredObject
    info: ffmpeg.VideoInfo
    method: str
    result: dict
    reused: bool = False  # the current joined version: its scenes are exactly those it was made from


def scenes_token(scenes: dict[int, Scene], scene_count: int) -> str | None:
    """Names the exact set of scene versions a join would use (number, version and video
    checksum, so an in-place edit counts as a change); None while a planned scene is not rendered."""
    parts = []
    for n in range(1, scene_count + 1):
        s = scenes.get(n)
        if s is None or not s.rendered:
            return None
        parts.append((n, s.version, s.assets["video"].get("sha256", "")))
    return versions_token(parts)


def versions_token(parts: Iterable[tuple[int, int, str]]) -> str:
    """The token of (scene number, version, video sha256) for each scene, in order."""
    return ",".join(f"{n}:{version}:{sha}" for n, version, sha in parts)


def scenes_by_number(meta: MetadataStore, video_key: str) -> dict[int, Scene]:
    return {s.scene_number: s for s in meta.list_scenes(video_key)}


def join_when_complete(svc: Services, video_key: str, task_id: str | None) -> CombineOutcome | None:
    """The join, made by whichever scene run first finds every planned scene rendered (no wait for
    a separate join run). None when a scene is still missing, when this set of scenes is already
    joined or being joined, or when the task was cancelled or failed."""
    task = svc.meta.get_task(task_id) if task_id else None
    if task and task.status in (TaskStatus.CANCELLED, TaskStatus.FAILED):
        return None
    plan = load_plan(svc.meta, video_key)
    token = scenes_token(scenes_by_number(svc.meta, video_key), plan.scene_count)
    if token is None:
        return None
    if joined_from(svc.meta.get_video(video_key), token):
        # Nothing changed since the last join: the task completes with that video.
        reuse_join(svc, video_key, plan, task_id)
        return None
    if not svc.meta.claim_join(video_key, token):
        return None
    try:
        return run_combine(svc, video_key, task_id)
    except BaseException:
        svc.meta.release_join(video_key, token)
        raise


@dataclass
class _Join:
    """One join: the video, its plan and rendered scenes, the task, and where to write."""

    svc: Services
    video_key: str
    plan: VideoPlan
    scenes: dict[int, Scene]
    task_id: str | None
    total: int  # the task's steps
    # An edit task's scene id ("the scene" when it names none); None: a generation.
    edited: str | None
    store: ObjectStore
    prefix: str
    work: Path


def joined_from(video: Video | None, token: str | None) -> bool:
    """Whether the video's current joined version was made from exactly these scene versions."""
    combined = (video.combined if video else None) or {}
    return bool(token) and combined.get("scenes_token") == token


def reuse_join(
    svc: Services, video_key: str, plan: VideoPlan, task_id: str | None
) -> CombineOutcome:
    """The current joined video as the outcome, and the task completed with it."""
    video = svc.meta.get_video(video_key)
    assert video is not None and video.combined
    c = video.combined
    objs = {k: StoredObject.from_dict(c[k]) for k in ("video", "subtitles_srt", "subtitles_vtt", "manifest")}
    info = ffmpeg.VideoInfo.from_metadata(c["video"].get("media") or {}, objs["video"].bytes)
    record = snapshot_result(svc.meta, video_key, task_id)
    task = svc.meta.get_task(task_id) if task_id else None
    if task is not None and task.status not in (TaskStatus.COMPLETED, TaskStatus.CANCELLED, TaskStatus.FAILED):
        total = total_steps(plan.scene_count)
        said = f"Video generation completed: nothing changed, joined version {video.combined_version} reused"
        complete(svc.meta, task_id, total, said, record)
    result = render_result(record, svc.stores)
    assert info is not None
    return CombineOutcome(
        video.combined_version, objs["video"], objs["subtitles_srt"], objs["subtitles_vtt"],
        objs["manifest"], info, str(c.get("join_method", "")), result, reused=True,
    )


def run_combine(
    svc: Services, video_key: str, task_id: str | None, force: bool = False
) -> CombineOutcome:
    plan = load_plan(svc.meta, video_key)
    scenes = scenes_by_number(svc.meta, video_key)
    missing = [
        n for n in range(1, plan.scene_count + 1) if n not in scenes or not scenes[n].rendered
    ]
    if missing:
        raise PipelineError(
            f"video {video_key!r} cannot be joined: scene(s) {missing} of {plan.scene_count} "
            "are not rendered (the plan names exactly which scenes must exist)"
        )
    task = svc.meta.get_task(task_id) if task_id else None
    edited = (task.scene_id or "the scene") if task and task.kind == TaskKind.EDIT else None
    total = EDIT_STEPS if edited else total_steps(plan.scene_count)
    token = scenes_token(scenes, plan.scene_count)
    if not edited and not force and joined_from(svc.meta.get_video(video_key), token):
        return reuse_join(svc, video_key, plan, task_id)
    advance(
        svc.meta,
        task_id,
        total - 2,
        total,
        f"Re-joining the video with the edited {edited}..." if edited else "Combining scenes...",
        "combine",
    )
    store, prefix = svc.store_for(load_request(svc.meta, video_key))
    work = Path(tempfile.mkdtemp(prefix="combine-", dir=svc.work_folder()))
    try:
        return _join(
            _Join(svc, video_key, plan, scenes, task_id, total, edited, store, prefix, work)
        )
    except Exception as exc:
        fail(svc.meta, task_id, "combine", exc, "Combining scenes failed")
        raise
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _join(j: _Join) -> CombineOutcome:
    meta = j.svc.meta
    out, method, info, cues = _concat(j)
    video = meta.get_video(j.video_key)
    assert video is not None  # load_plan found it
    version = video.combined_version + 1

    def key(name: str) -> str:
        return video_object_key(j.prefix, j.plan.project_id, j.plan.session_id, version, name)

    vid = j.store.put_file(key("combined.mp4"), out)
    srt = j.store.put_bytes(key("subtitles.srt"), ffmpeg.to_srt(cues).encode())
    vtt = j.store.put_bytes(key("subtitles.vtt"), ffmpeg.to_vtt(cues).encode())
    advance(meta, j.task_id, j.total - 1, j.total, "Writing manifest...", "manifest")
    combined = {
        "version": version,
        "video": {**vid.as_dict(), "media": info.as_metadata()},
        "subtitles_srt": srt.as_dict(),
        "subtitles_vtt": vtt.as_dict(),
        "join_method": method,
        # The scene versions it was joined from: a later join of the same ones reuses it.
        "scenes_token": scenes_token(j.scenes, j.plan.scene_count),
    }
    manifest = build_manifest(j.svc, j.plan, video, j.scenes, combined)
    man = j.store.put_bytes(key("manifest.json"), json.dumps(manifest, indent=2).encode())
    combined["manifest"] = man.as_dict()
    meta.save_combined(j.video_key, version, combined, info.duration)
    meta.set_join_token(j.video_key, scenes_token(j.scenes, j.plan.scene_count) or "")
    record = snapshot_result(meta, j.video_key, j.task_id)
    result = render_result(record, j.svc.stores)
    if j.task_id:
        complete(meta, j.task_id, j.total, _done_message(j, version), record)
    return CombineOutcome(version, vid, srt, vtt, man, info, method, result)


def _concat(j: _Join) -> tuple[Path, str, ffmpeg.VideoInfo, list[Cue]]:
    """The scenes joined in order (the joined file, how, its probe) and their subtitles, offset."""
    parts, cue_sets, infos = [], [], []
    for n in range(1, j.plan.scene_count + 1):
        scene = j.scenes[n]
        local = j.store.download(scene.object_key("video"), j.work / f"{n:02d}.mp4")
        parts.append(local)
        cues = ffmpeg.parse_srt(j.store.get_bytes(scene.object_key("subtitles")).decode())
        # Duration and streams were probed when the scene was stored: no second probe.
        cue_sets.append((cues, float(scene.duration or 0.0)))
        infos.append(
            ffmpeg.VideoInfo.from_metadata(
                scene.assets["video"].get("media") or {}, local.stat().st_size
            )
        )
    parts, infos = _with_sound(parts, infos)
    out = j.work / "combined.mp4"
    method = ffmpeg.concat(parts, out, infos)
    info = ffmpeg.probe(out)
    expected = sum(d for _, d in cue_sets)
    if abs(info.duration - expected) > DURATION_TOLERANCE:
        raise PipelineError(
            f"joined video lasts {info.duration:.3f}s but its scenes add up to {expected:.3f}s"
        )
    return out, method, info, ffmpeg.offset_cues(cue_sets)


def _with_sound(
    parts: list[Path], infos: list[ffmpeg.VideoInfo | None]
) -> tuple[list[Path], list[ffmpeg.VideoInfo | None]]:
    """Scenes stored before narration have no audio stream: beside narrated ones they get a
    silent track, so the joined video has sound throughout and the join stays a copy."""
    probes = [info or ffmpeg.probe(p) for p, info in zip(parts, infos, strict=True)]
    if all(i.audio for i in probes) or not any(i.audio for i in probes):
        return parts, list(probes)
    out_parts, out_infos = [], []
    for part, info in zip(parts, probes, strict=True):
        if info.audio is None:
            part = narration_audio.mux(part, None, part.with_name(f"{part.stem}.sound.mp4"))
            info = ffmpeg.probe(part)
        out_parts.append(part)
        out_infos.append(info)
    return out_parts, out_infos


def _done_message(j: _Join, version: int) -> str:
    if j.edited is None:
        return "Video generation completed"
    n = parse_scene_id(j.edited)[1]
    v = j.scenes[n].version if n in j.scenes else "?"
    return f"Edit completed: scene {n} is at version {v}; video re-joined (version {version})"


def build_manifest(
    svc: Services, plan: VideoPlan, video: Video, scenes: dict[int, Scene], combined: dict
) -> dict:
    request = GenerateRequest.model_validate(video.request)
    width, height, fps = request.render_config.output_format()
    return {
        "manifest_version": 1,
        "project_id": plan.project_id,
        "session_id": plan.session_id,
        "prompt": plan.prompt,
        "topic": plan.topic,
        "planner": plan.planner,
        "source": plan.source,
        "warnings": [*plan.warnings, *hardware_warnings(request.render_config)],
        "render": {
            "quality": request.render_config.quality,
            "width": width,
            "height": height,
            "fps": fps,
        },
        "llm_usage": video.llm_usage,
        "plan": {"version": video.plan_version, **(video.plan_object or {})},
        "scenes": [
            {
                "scene_id": scenes[n].scene_id,
                "scene_number": n,
                "title": scenes[n].title,
                "version": scenes[n].version,
                "duration": scenes[n].duration,
                "assets": scenes[n].assets,
                **_version_extra(svc.meta, plan, n, scenes[n].version),
            }
            for n in range(1, plan.scene_count + 1)
        ],
        "combined": combined,
        "created_at": now_iso(),
    }


def _version_extra(meta: MetadataStore, plan: VideoPlan, n: int, version: int) -> dict:
    """Coder, failed attempts and LLM usage/retrievals of one scene version."""
    for h in meta.scene_history(make_video_key(plan.project_id, plan.session_id), n):
        if h.version == version:
            return {**h.extra, "edit_prompt": h.edit_prompt}
    return {}
