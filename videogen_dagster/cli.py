"""`videogen`: generate a video from the command line, on the same Dagster instance as the UI.

The CLI drives the chain itself (plan -> scenes, 3 at a time -> combine) with in-process runs of
the same jobs, tagged `videogen/driver=cli` so the chain sensor leaves them alone. The runs, their
event logs and the asset materialisations are in $DAGSTER_HOME, visible in `make up`'s UI.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from pydantic import ValidationError

from videogen_dagster import cli_delete, cli_worker
from videogen_dagster.instance import dagster_instance as _instance
from videogen_dagster.instance import prepare_dagster_home
from videogen_dagster.models import (
    MAX_SCENES,
    QUALITIES,
    RESOLUTIONS,
    GenerateRequest,
    format_validation_error,
    new_task_id,
)
from videogen_dagster.partitions import scene_partition_key, sync_scene_partitions
from videogen_dagster.settings import SettingsError, get_settings
from videogen_dagster.stores.metastore import MetadataStore, Task, TaskStatus
from videogen_dagster.tags import (
    COMBINE_JOB,
    DRIVER_TAG,
    PLAN_JOB,
    SCENE_JOB,
    TASK_TAG,
    plan_run_tags,
    scene_title_tag,
)

REPO_ROOT = Path(__file__).resolve().parent.parent


def _log(quiet: bool, msg: str) -> None:
    if not quiet:
        print(msg, file=sys.stderr, flush=True)


def generate(request: GenerateRequest, concurrency: int | None = None, quiet: bool = False) -> Task:
    """Run the whole chain for one request (`concurrency` scenes at once, default
    SCENE_CONCURRENCY); returns the task (with its result)."""
    prepare_dagster_home()

    from videogen_dagster.definitions import defs
    from videogen_dagster.pipeline import register_request

    request = request.with_session()
    video_key = request.video_key
    resources = defs.resources
    # Fail before registering anything when the object store cannot be used.
    resources["storage"].store_config().store_for(request.s3_config.model_dump()).check()
    meta = resources["metadata"].get_store()
    task_id = new_task_id()
    register_request(meta, request, task_id)
    _log(quiet, f"[videogen] task {task_id}: planning {video_key} ({request.scene_count} scenes)")
    return _drive(meta, task_id, video_key, None, concurrency, quiet)


def retry(task_id: str, concurrency: int | None = None, quiet: bool = False) -> Task:
    """Re-run only what failed of a task (its failed or unfinished scenes), then join."""
    prepare_dagster_home()
    from videogen_dagster.definitions import defs
    from videogen_dagster.pipeline import scenes_to_retry

    meta = defs.resources["metadata"].get_store()
    task = meta.get_task(task_id)
    if task is None:
        raise LookupError(f"no task {task_id!r}")
    if task.status != TaskStatus.FAILED:
        raise ValueError(f"task {task_id} is {task.status}; only a failed task can be retried")
    video = meta.get_video(task.video_key)
    scenes = scenes_to_retry(meta, task.video_key) if video and video.planned else None
    meta.reopen_task(task_id, "Retrying failed scenes" if scenes is not None else "Retrying the plan")
    _log(quiet, f"[videogen] retrying task {task_id}: " + (f"scenes {scenes}" if scenes is not None else "from the plan"))
    return _drive(meta, task_id, task.video_key, scenes, concurrency, quiet)


def _drive(meta: MetadataStore, task_id: str, video_key: str, scenes: list[int] | None,
           concurrency: int | None, quiet: bool) -> Task:
    """Plan (when `scenes` is None), render the scenes (all planned ones, or `scenes`), join."""
    concurrency = get_settings().scene_concurrency if concurrency is None else concurrency
    with _instance() as instance:
        if not instance.has_dynamic_partition("videos", video_key):
            instance.add_dynamic_partitions("videos", [video_key])
    tags = {TASK_TAG: task_id, DRIVER_TAG: "cli"}
    started = time.perf_counter()
    from videogen_dagster.pipeline.plan import load_plan, load_request

    # The plan run shows what it was asked (prompt, scenes, quality), as from the bridge.
    plan_tags = plan_run_tags(video_key, task_id, load_request(meta, video_key), partition=False)
    planned = scenes is not None or _run_step(PLAN_JOB, video_key, {**plan_tags, **tags})
    done = meta.get_task(task_id)
    if planned and done is not None and done.status == TaskStatus.COMPLETED:
        # The plan step found nothing changed (plan, scenes, joined video): nothing to render.
        _log(quiet, "[videogen] nothing changed since the last generation: reused as it is")
    elif planned:
        if scenes is None:
            video = meta.get_video(video_key)
            assert video is not None  # registered before the plan run
            scenes = list(range(1, video.scene_count + 1))
        _log(quiet, f"[videogen] rendering {len(scenes)} scene(s), {concurrency} at a time")
        keys = [scene_partition_key(video_key, n) for n in scenes]
        with _instance() as instance:  # the plan step adds them; a retry of an older plan may not
            sync_scene_partitions(instance, video_key, load_plan(meta, video_key).scene_count)
        # Dagster's in-process execution is not thread-safe on a SQLite instance (its event log
        # and logging locks deadlock), so each scene runs in a forked child process. A failed
        # scene does not stop the others.
        ctx = multiprocessing.get_context("fork")
        with ProcessPoolExecutor(max_workers=max(1, concurrency), mp_context=ctx) as pool:
            titles = {s.scene_number: s.title for s in meta.list_scenes(video_key)}
            scene_tags = [{**tags, **scene_title_tag(titles.get(n))} for n in scenes]
            ok = list(pool.map(_run_step, [SCENE_JOB] * len(keys), keys, scene_tags))
        if all(ok):
            _log(quiet, "[videogen] joining scenes")
            _run_step(COMBINE_JOB, video_key, tags)
        else:
            failed = [n for n, good in zip(scenes, ok, strict=True) if not good]
            _log(quiet, f"[videogen] scene(s) {failed} failed; `videogen retry {task_id}` re-runs only those")
    _log(quiet, f"[videogen] finished in {time.perf_counter() - started:.1f}s")
    task = meta.get_task(task_id)
    assert task is not None
    return task


def _run_step(job_name: str, partition: str, tags: dict[str, str]) -> bool:
    """One in-process run of a job for one partition ("video/01" for scenes) on the instance."""
    from videogen_dagster.definitions import defs

    with _instance() as instance:
        result = defs.resolve_job_def(job_name).execute_in_process(
            instance=instance, partition_key=partition, tags=tags, raise_on_error=False,
            # Progress goes to stderr as [videogen] lines; the full event log is in the UI.
            run_config={"loggers": {"console": {"config": {"log_level": "WARNING"}}}},
        )
    return result.success


def llm_refused() -> bool:
    """VIDEOGEN_REQUIRE_LLM is on and no LLM provider is configured."""
    from videogen_dagster.authoring.llm import load_routes
    from videogen_dagster.settings import get_settings

    settings = get_settings()
    return settings.llm.require and not load_routes(settings.llm)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="videogen", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    g = sub.add_parser("generate", help="generate a video from a prompt")
    g.add_argument("prompt", help="what the video should explain")
    g.add_argument("--scenes", type=int, default=3, help=f"number of scenes (1-{MAX_SCENES}, default 3)")
    g.add_argument("--quality", default="preview", help=f"one of {', '.join(QUALITIES)} (default preview)")
    g.add_argument("--resolution", default=None, help=f"one of {', '.join(RESOLUTIONS)} (default: the quality's)")
    g.add_argument("--fps", type=int, default=None, help="15-60 (default: the quality's)")
    g.add_argument("--max-scene-duration", type=float, default=30.0, help="seconds per scene at most")
    g.add_argument("--progressive", action="store_true",
                   help="publish each scene at preview quality first, while its final quality renders")
    g.add_argument("--project", default="default", help="project id (letters, digits, _ and -)")
    g.add_argument("--session", default=None, help="session id (generated when absent)")
    g.add_argument("--concurrency", type=int, default=None,
                   help="scenes rendered at once (default: SCENE_CONCURRENCY, 3)")
    g.add_argument("--json", action="store_true", help="print the task result as JSON")
    voice = g.add_mutually_exclusive_group()
    voice.add_argument("--narration", dest="narration", action="store_const", const=True, default=None,
                       help="speak the narration (default: NARRATION_ENABLED, on)")
    voice.add_argument("--no-narration", dest="narration", action="store_const", const=False,
                       help="silent scenes (a silent audio track)")
    g.add_argument("--voice-engine", default=None, help="piper, espeak or openai (default: NARRATION_ENGINE)")
    g.add_argument("--voice", default=None, help="the engine's voice (default: its first)")
    g.add_argument("--voice-speed", type=float, default=1.0, help="0.5-2.0 (default 1.0)")
    g.add_argument("--voice-language", default=None, help="espeak's language (piper and openai speak English)")
    r = sub.add_parser("retry", help="re-run only the failed scenes of a failed task, then join")
    r.add_argument("task_id")
    r.add_argument("--concurrency", type=int, default=None, help="default: SCENE_CONCURRENCY, 3")
    r.add_argument("--json", action="store_true", help="print the task result as JSON")
    e = sub.add_parser(
        "evaluate",
        help="score a finished video: measured layout, readability, durations and speech, and a "
        "vision model's judgement when one is configured",
    )
    e.add_argument("ref", metavar="task_id|video_key", help="a task id, or project.session")
    e.add_argument("--json", action="store_true", help="print the evaluation as JSON")
    e.add_argument(
        "--vision-model",
        default=None,
        help="the model that judges frames (default: the request's helper model; "
        "needs OPENAI_API_KEY or VIDEOGEN_MODELS_FILE)",
    )
    e.add_argument(
        "--frames", type=int, default=3, help="frames per scene shown to the model (1-8)"
    )
    cli_delete.add_parser(sub)
    cli_worker.add_parsers(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        get_settings()
    except SettingsError as exc:
        print(f"videogen: invalid settings: {exc}", file=sys.stderr)
        return 2
    if args.command == "evaluate":
        return _evaluate(args)
    if args.command == "delete":
        return cli_delete.run(args)
    if args.command == "worker":
        return cli_worker.run_worker(args)
    if args.command == "cluster-config":
        return cli_worker.run_config(args)
    if args.command == "retry":
        try:
            task = retry(args.task_id, concurrency=args.concurrency, quiet=args.json)
        except (LookupError, ValueError) as exc:
            print(f"videogen: {exc}", file=sys.stderr)
            return 2
        return _report(task, args.json)
    raw = {
        "project_id": args.project,
        "content_prompt": args.prompt,
        "scene_count": args.scenes,
        "session_id": args.session,
        "render_config": {
            "quality": args.quality,
            "resolution": args.resolution,
            "fps": args.fps,
            "max_scene_duration": args.max_scene_duration,
            "progressive": args.progressive,
        },
        "narration_config": {
            "enabled": args.narration,
            "engine": args.voice_engine,
            "voice": args.voice,
            "speed": args.voice_speed,
            "language": args.voice_language,
        },
    }
    try:
        request = GenerateRequest.model_validate(raw)
    except ValidationError as exc:
        print(f"videogen: invalid request: {format_validation_error(exc)}", file=sys.stderr)
        return 2
    from videogen_dagster.stores.metastore import VideoBusy
    from videogen_dagster.stores.objectstore import ObjectStoreError

    if llm_refused():
        # Before anything is registered: the same sentence as the bridge's 503.
        from videogen_dagster.pipeline.plan import LLM_REQUIRED

        print(f"videogen: {LLM_REQUIRED}", file=sys.stderr)
        return 2
    try:
        task = generate(request, concurrency=args.concurrency, quiet=args.json)
    except ObjectStoreError as exc:
        print(f"videogen: object store: {exc}", file=sys.stderr)
        return 2
    except VideoBusy as exc:
        print(f"videogen: {exc}", file=sys.stderr)
        return 3
    return _report(task, args.json)


def _evaluate(args: argparse.Namespace) -> int:
    """`videogen evaluate`: 0 with the report, 2 when there is nothing to evaluate (or a bad
    argument), 1 when reading the video or the model's judgement failed."""
    from videogen_dagster.evaluation import NotEvaluable, evaluate, format_report
    from videogen_dagster.media.ffmpeg import MediaError
    from videogen_dagster.stores.objectstore import ObjectStoreError

    try:
        ev = evaluate(args.ref, vision_model=args.vision_model, frames_per_scene=args.frames)
    except (NotEvaluable, ValueError) as exc:
        print(f"videogen: {exc}", file=sys.stderr)
        return 2
    except (ObjectStoreError, MediaError) as exc:
        print(f"videogen: evaluating {args.ref} failed: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(ev.as_dict(), indent=2) if args.json else format_report(ev))
    return 1 if ev.judgement_error else 0


def _report(task: Task, as_json: bool) -> int:
    from videogen_dagster.definitions import defs
    from videogen_dagster.pipeline import task_result

    meta = defs.resources["metadata"].get_store()
    video = meta.get_video(task.video_key)
    # The result is built now, so a failed task still lists what succeeded (and its URLs).
    result = (
        task_result(meta, defs.resources["storage"].store_config(), task)
        if video and video.planned else None
    )
    status = str(task.status)
    if result is not None:
        result["status"] = status
    if as_json:
        print(json.dumps({**(result or {}), "task_id": task.task_id, "status": status,
                          "error": task.error}, indent=2))
    elif task.status == TaskStatus.COMPLETED and result:
        print(f"combined video: {result['s3_combined_video_url']}")
        print(f"manifest:       {result['s3_manifest_url']}")
        print(f"subtitles:      {result['s3_subtitles_url']}")
        print(f"duration:       {result['total_duration']:.2f}s in {result['scene_count']} scenes")
    else:
        print(f"videogen: task {task.task_id} {status}: {task.error}", file=sys.stderr)
        for s in (result or {}).get("scenes", []):
            where = s["s3_video_url"] if s["status"] == "completed" else s.get("error")
            print(f"  scene {s['scene_number']}: {s['status']}: {where}", file=sys.stderr)
    return 0 if task.status == TaskStatus.COMPLETED else 1


if __name__ == "__main__":
    sys.exit(main())
