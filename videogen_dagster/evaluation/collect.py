"""The model-free part: a finished video's scenes measured from what was stored (the manifest,
the scene videos and subtitles in the object store), with ffprobe and ffmpeg's silencedetect."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ffmpeg as ffmpeg_python

from videogen_dagster.evaluation import measures
from videogen_dagster.evaluation.records import (
    AudioSync,
    CueCheck,
    FindingNote,
    Layout,
    Readability,
    SceneEvaluation,
    Totals,
)
from videogen_dagster.media import ffmpeg
from videogen_dagster.media.layout import LayoutKind, Thresholds
from videogen_dagster.media.narration_audio import speech_spans
from videogen_dagster.stores.metastore import MetadataReader, TaskStatus
from videogen_dagster.stores.objectstore import ObjectStore, StoreConfig

# A scene may run this much past max_scene_duration (the pipeline's own tolerance).
DURATION_TOLERANCE = 0.1


class NotEvaluable(LookupError):
    """No such task or video, or it has no finished (joined) video to evaluate."""


@dataclass(frozen=True)
class Target:
    """A finished video: its manifest, where its objects are, and what its request asked."""

    video_key: str
    task_id: str | None
    manifest: dict[str, Any]
    store: ObjectStore
    max_duration: float
    # The request's models, the one to judge with first: helper, scene, planner.
    models: tuple[str, ...]


def locate(meta: MetadataReader, stores: StoreConfig, ref: str) -> Target:
    """The finished video of a task id, or the current one of a video key ("project.session").
    A task's own result record names the manifest it made, so a later edit of the same video
    does not change what evaluating that task reports."""
    task = meta.get_task(ref)
    video_key = task.video_key if task else ref
    video = meta.get_video(video_key)
    if task is None and video is None:
        raise NotEvaluable(
            f"no task or video {ref!r}: give a task id (printed by `videogen generate --json`) "
            "or a video key (project.session)"
        )
    if video is None:
        raise NotEvaluable(f"task {ref} names video {video_key!r}, which is not stored")
    record = task.result if task and isinstance(task.result, dict) else {}
    if task is not None and task.status != TaskStatus.COMPLETED:
        raise NotEvaluable(
            f"task {ref} is {task.status}: only a finished video can be evaluated "
            f"(`videogen retry {ref}` re-runs what failed)"
        )
    manifest_key = (record.get("combined_objects") or {}).get("manifest") or (
        (video.combined or {}).get("manifest") or {}
    ).get("key")
    if not manifest_key:
        raise NotEvaluable(
            f"video {video_key!r} has no joined video yet (its manifest is written when every "
            "scene is rendered and joined)"
        )
    request = video.request or {}
    store = stores.store_for(record.get("s3_config") or request.get("s3_config"))
    manifest = json.loads(store.get_bytes(manifest_key).decode("utf-8"))
    render = request.get("render_config") or {}
    llm = request.get("model_config") or {}
    models = [llm.get("helper_model"), llm.get("scene_model"), llm.get("planner_model")]
    return Target(
        video_key=video_key,
        task_id=task.task_id if task else None,
        manifest=manifest,
        store=store,
        max_duration=float(render.get("max_scene_duration") or 30.0),
        models=tuple(m for m in models if m) or ("gpt-4o-mini",),
    )


def stream_ends(path: Path) -> tuple[float, float | None, float]:
    """(video stream end, audio stream end or None, fps), each end start_time + duration."""
    try:
        data = ffmpeg_python.probe(str(path))
    except ffmpeg_python.Error as exc:
        raise ffmpeg.MediaError(
            f"ffprobe could not read {path}: {exc.stderr.decode(errors='replace')[-400:]}"
        ) from exc
    streams = data.get("streams", [])
    fmt = float(data.get("format", {}).get("duration") or 0.0)

    def end(kind: str) -> float | None:
        s = next((s for s in streams if s.get("codec_type") == kind), None)
        if s is None:
            return None
        return round(float(s.get("start_time") or 0.0) + float(s.get("duration") or fmt), 3)

    video: dict[str, Any] = next((s for s in streams if s.get("codec_type") == "video"), {})
    num, _, den = str(video.get("r_frame_rate", "0/1")).partition("/")
    fps = float(num) / float(den) if den and float(den) else 0.0
    return end("video") or fmt, end("audio"), fps


def audio_sync(path: Path) -> AudioSync:
    video_end, audio_end, fps = stream_ends(path)
    # One frame: the video's last frame lasts 1/fps, the audio ends anywhere inside it.
    return AudioSync(video_end, audio_end, round(1.0 / fps if fps else 0.05, 4))


def layout_of(raw: dict[str, Any] | None) -> tuple[Layout, Readability]:
    raw = raw or {}
    notes = [
        FindingNote(
            kind=str(f.get("kind")),
            time=float(f.get("time") or 0.0),
            mobject=str(f.get("mobject") or ""),
            text=str(f.get("text") or ""),
            message=str(f.get("message") or ""),
        )
        for f in raw.get("findings") or []
    ]
    by_kind: dict[str, int] = {}
    for n in notes:
        by_kind[n.kind] = by_kind.get(n.kind, 0) + 1
    findings = raw.get("findings") or []
    small = [f for f in findings if f.get("kind") == LayoutKind.TOO_SMALL]
    dim = [f for f in findings if f.get("kind") == LayoutKind.LOW_CONTRAST]
    defaults = Thresholds()
    readability = Readability(
        too_small=len(small),
        low_contrast=len(dim),
        smallest_glyph_px=min((float(f["amount"]) for f in small), default=None),
        lowest_contrast=min((float(f["amount"]) for f in dim), default=None),
        min_glyph_px=float(
            next((f["limit"] for f in small if f.get("limit")), defaults.min_glyph_px)
        ),
        min_contrast=float(
            next((f["limit"] for f in dim if f.get("limit")), defaults.min_contrast)
        ),
    )
    return Layout(int(raw.get("checks") or 0), by_kind, notes), readability


def evaluate_scene(target: Target, scene: dict[str, Any], video: Path) -> SceneEvaluation:
    """One scene, from its manifest entry and its video (downloaded to `video`)."""
    info = ffmpeg.probe(video)
    duration = round(info.duration, 3)
    subtitles = scene.get("assets", {}).get("subtitles")
    cues = ffmpeg.parse_srt(target.store.get_bytes(subtitles["key"]).decode()) if subtitles else []
    windows = [(c.start, c.end) for c in cues]
    spoken = scene.get("narration") or None
    speech = speech_spans(video) if spoken and info.audio else None
    checks = [
        CueCheck(
            start=c.start,
            end=c.end,
            text=c.text,
            speech_share=None
            if speech is None
            else measures.share(measures.covered(speech, c.start, c.end), c.end - c.start),
            onset=None if speech is None else measures.onset(speech, c.start, c.end),
        )
        for c in cues
    ]
    cue_time = sum(e - s for s, e in windows)
    inside = sum(measures.covered(speech, s, e) for s, e in windows) if speech is not None else 0.0
    heard = measures.length(speech) if speech is not None else 0.0
    in_cues = sum(measures.covered(measures.union(windows), s, e) for s, e in speech or [])
    layout, readability = layout_of(scene.get("layout"))
    return SceneEvaluation(
        scene_number=int(scene["scene_number"]),
        scene_id=str(scene.get("scene_id") or ""),
        title=str(scene.get("title") or ""),
        version=int(scene.get("version") or 0),
        duration=duration,
        stored_duration=scene.get("duration"),
        max_duration=target.max_duration,
        within_limit=duration <= target.max_duration + DURATION_TOLERANCE,
        layout=layout,
        readability=readability,
        subtitles_coverage=measures.share(measures.covered(windows, 0.0, duration), duration),
        cues=checks,
        narrated=speech is not None,
        voice=f"{spoken.get('engine')}/{spoken.get('voice')}" if spoken else None,
        speech_seconds=round(heard, 3) if speech is not None else None,
        speech_coverage=measures.share(inside, cue_time) if speech is not None else None,
        speech_in_cues=measures.share(in_cues, heard) if speech is not None else None,
        audio=audio_sync(video),
    )


def totals(scenes: list[SceneEvaluation], combined: Path) -> Totals:
    """The video's figures from its scenes' and the joined video's probe."""
    by_kind: dict[str, int] = {}
    for s in scenes:
        for kind, n in s.layout.by_kind.items():
            by_kind[kind] = by_kind.get(kind, 0) + n
    inspected = [s for s in scenes if s.layout.inspected]
    flagged = [s for s in inspected if s.layout.findings]
    narrated = [s for s in scenes if s.narrated]
    cues = [c for s in narrated for c in s.cues]
    cue_time = sum(c.end - c.start for c in cues)
    speech_inside = sum((c.speech_share or 0.0) * (c.end - c.start) for c in cues)
    onsets = [abs(c.onset) for c in cues if c.onset is not None]
    scene_time = sum(s.duration for s in scenes)
    subtitled = sum((s.subtitles_coverage or 0.0) * s.duration for s in scenes)
    return Totals(
        scenes=len(scenes),
        duration=round(ffmpeg.probe(combined).duration, 3),
        scenes_duration=round(scene_time, 3),
        within_limit=sum(s.within_limit for s in scenes),
        findings=sum(by_kind.values()),
        findings_by_kind=dict(sorted(by_kind.items())),
        scenes_inspected=len(inspected),
        scenes_with_findings=len(flagged),
        layout_score=measures.layout_score(len(inspected), len(flagged)),
        readable_scenes=sum(s.readability.readable for s in inspected),
        subtitles_coverage=measures.share(subtitled, scene_time),
        speech_coverage=measures.share(speech_inside, cue_time) if narrated else None,
        cues=sum(len(s.cues) for s in scenes),
        cues_without_speech=sum(c.onset is None for c in cues),
        worst_onset=round(max(onsets), 3) if onsets else None,
        audio=audio_sync(combined),
    )
