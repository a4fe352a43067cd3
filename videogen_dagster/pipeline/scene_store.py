"""Storing a rendered scene: its four files under the version's keys, every failed attempt's
source, then (only once every object is written) the metadata record that points at them."""

from __future__ import annotations

from pathlib import Path

from videogen_dagster.authoring.codegen import Cue, GeneratedScene
from videogen_dagster.media import ffmpeg
from videogen_dagster.pipeline import narration
from videogen_dagster.pipeline.checks import scene_checks
from videogen_dagster.pipeline.scene_job import Rendered, SceneJob, SceneOutcome
from videogen_dagster.pipeline.versions import render_version
from videogen_dagster.stores.objectstore import scene_object_key

SCENE_FILES = {
    "source": "scene.py",
    "video": "scene.mp4",
    "thumbnail": "thumbnail.jpg",
    "subtitles": "subtitles.srt",
}


def version_slot(job: SceneJob) -> tuple[int, str]:
    """The version the scene's new files are stored as, and the folder under it: an in-place
    edit keeps the version number but writes beside the version's earlier files (v{n}/r{k}/...),
    so what a finished task made stays exactly as it was."""
    svc, n = job.svc, job.number
    if job.in_place and job.before:
        return job.before.version, f"r{len(svc.meta.edit_history(job.video_key, n)) + 1}/"
    return svc.meta.next_scene_version(job.video_key, n), ""


def object_key(job: SceneJob, slot: tuple[int, str], name: str) -> str:
    _, prefix = job.svc.store_for(job.request)
    version, folder = slot
    plan = job.plan
    return scene_object_key(prefix, plan.project_id, plan.session_id, job.number, version, folder + name)


def store_scene(
    job: SceneJob, rendered: Rendered, work: Path, tried: list[tuple[str, str]], llm: dict | None,
    slot: tuple[int, str] | None = None, preview: dict | None = None,
) -> SceneOutcome:
    """`slot`: the version_slot a preview was stored under (taken now when None); `preview`:
    that preview's object (StoredObject.as_dict() and its probe), kept with the version."""
    svc, n = job.svc, job.number
    files, info, spoken = _write_files(job, rendered, work)
    slot = slot or version_slot(job)
    version = slot[0]
    store, _ = svc.store_for(job.request)

    def key(name: str) -> str:
        return object_key(job, slot, name)

    objects = {kind: store.put_file(key(SCENE_FILES[kind]), path) for kind, path in files.items()}
    assets = {k: o.as_dict() for k, o in objects.items()}
    assets["video"]["media"] = info.as_metadata()
    if preview:
        assets["preview"] = preview
    # Every failed attempt is kept as a version of the source, with its error.
    attempts = [
        {
            "attempt": i,
            "source": store.put_bytes(key(f"attempts/attempt{i}.py"), code.encode()).as_dict(),
            "error": error[-2000:],
        }
        for i, (code, error) in enumerate(tried, 1)
    ]
    generated = rendered.generated
    extra = {"attempts": attempts, "coder": generated.coder, **({"llm": llm} if llm else {})}
    if spoken:
        extra["narration"] = spoken
    # What the version was made from (a later run with the same inputs reuses it) and the data
    # version Dagster shows for its video.
    data_version = render_version(objects["source"].sha256, job.request, job.voice and job.voice.voice)
    extra.update(inputs=job.inputs, data_version=data_version)
    if job.svc.worker:
        extra["worker"] = job.svc.worker
    findings = [f.to_dict() for f in rendered.result.layout]
    extra["layout"] = {"checks": rendered.result.layout_checks, "findings": findings}
    # Only after every object is written does the record point at them.
    if job.in_place:
        svc.meta.replace_scene_version(job.video_key, n, version, assets, info.duration, extra)
    else:
        svc.meta.record_scene_version(
            job.video_key,
            n,
            job.sid,
            job.scene_plan.title,
            version,
            assets,
            info.duration,
            rendered.result.seconds,
            job.request.render_config.quality,
            job.task_id,
            job.run_id,
            job.edit.prompt if job.edit else None,
            extra=extra,
        )
    outcome = SceneOutcome(n, version, objects, info, rendered.result.seconds, 1, generated.coder, [])
    outcome.narration, outcome.preview = spoken, preview
    outcome.layout, outcome.layout_checks = findings, rendered.result.layout_checks
    outcome.inputs, outcome.data_version = job.inputs, data_version
    outcome.checks = scene_checks(
        info, job.request.render_config, findings, rendered.result.layout_checks
    )
    return outcome


def _write_files(
    job: SceneJob, rendered: Rendered, work: Path
) -> tuple[dict[str, Path], ffmpeg.VideoInfo, dict | None]:
    """The scene's files in the work folder (source, video with its sound, thumbnail and
    subtitles), the final video's probe, and what its narration said (None: silent)."""
    generated, result = rendered.generated, rendered.result
    info = result.info
    # The frame just before the outro shows the scene at its fullest.
    thumb = ffmpeg.thumbnail(result.video, work / "thumbnail.jpg", at=max(0.0, info.duration - 1.0))
    spoken = None
    if job.voice is not None:
        placed = narration.place(job.voice, generated, rendered.workdir, info.duration)
        video, _ = narration.voice_video(result.video, placed, info.duration, work)
        cues = narration.cues(placed)
        spoken = narration.summary(job.voice, placed)
    else:
        video = narration.silent_video(result.video, work)
        cues = _cues(generated, info.duration)
    info = ffmpeg.probe(video)
    srt = work / "subtitles.srt"
    srt.write_text(ffmpeg.to_srt(ffmpeg.fit_cues(cues, info.duration)), encoding="utf-8")
    source = work / "scene.py"
    source.write_text(generated.code, encoding="utf-8")
    files = {"source": source, "video": video, "thumbnail": thumb, "subtitles": srt}
    return files, info, spoken


def _cues(generated: GeneratedScene, duration: float) -> list[Cue]:
    """A silent scene's cues (fitted to the video once, by the caller)."""
    if generated.spread_cues:
        return ffmpeg.spread_cues([c.text for c in generated.cues], duration)
    return generated.cues
