"""The chain sensor: plan -> scenes -> combine, advanced inside Dagster.

It reads materialisations from the event log (not run launches), so a scene re-materialised
from the UI re-joins its video too, and a daemon restart resumes from the stored cursor.
Run keys make every request idempotent. A plan run usually submits its scene runs itself
(plan_submit.py, with these requests and run keys): the sensor decides about a plan only once
its run has ended, and then requests only the scenes that have no run yet.
"""

from __future__ import annotations

import json

import dagster as dg

from videogen_dagster import batches
from videogen_dagster.chain_runs import CHAIN_SENSOR, existing_run
from videogen_dagster.jobs import combine_job, plan_job, scene_job
from videogen_dagster.partitions import scene_partition_key, video_of, videos_partitions
from videogen_dagster.pipeline import register_request, scenes_by_number, scenes_token
from videogen_dagster.resources.metadata import MetadataStoreResource
from videogen_dagster.resources.storage import ObjectStoreResource
from videogen_dagster.stores.metastore import BatchEntry, MetadataStore, TaskStatus, VideoBusy
from videogen_dagster.stores.metastore.status import BatchStatus
from videogen_dagster.stores.objectstore import move
from videogen_dagster.tags import (
    BATCH_TAG,
    DRIVER_TAG,
    KIND_TAG,
    PARTITION_TAG,
    PRIORITY_TAG,
    TASK_TAG,
    plan_run_tags,
    scene_title_tag,
)

PLAN = dg.AssetKey("scene_plan")
SCENE_VIDEO = dg.AssetKey("scene_video")
COMBINED = dg.AssetKey("combined_video")
BATCH = 200
_ACTIVE = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
]


def _latest(instance: dg.DagsterInstance, key: dg.AssetKey, partition: str) -> dg.EventLogRecord | None:
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=key, asset_partitions=[partition]), limit=1
    ).records
    return records[0] if records else None


def _run_tags(instance: dg.DagsterInstance, run_id: str) -> dict[str, str]:
    run = instance.get_run_by_id(run_id)
    return dict(run.tags) if run else {}


def _scene_count(record: dg.EventLogRecord) -> int:
    mat = record.asset_materialization
    assert mat is not None
    return int(mat.metadata["scene_count"].value)  # type: ignore[arg-type]


def _passed(tags: dict[str, str]) -> dict[str, str]:
    """Tags a chain's later runs inherit: the task, and a batch's cap and priority."""
    return {k: tags[k] for k in (TASK_TAG, BATCH_TAG, PRIORITY_TAG) if k in tags}


def _stopped(meta: MetadataStore, tags: dict[str, str]) -> bool:
    """CLI chains are driven by the CLI; a cancelled task's chain goes no further."""
    if tags.get(DRIVER_TAG) == "cli":
        return True
    task = meta.get_task(tags[TASK_TAG]) if TASK_TAG in tags else None
    return bool(task and task.status in (TaskStatus.CANCELLED, TaskStatus.FAILED))


def scene_requests(
    instance: dg.DagsterInstance, meta: MetadataStore, record: dg.EventLogRecord
) -> list[dg.RunRequest]:
    """One scene run per planned slot, after a plan materialisation."""
    video = record.partition_key
    assert video
    tags = _run_tags(instance, record.run_id)
    if _stopped(meta, tags) or _unchanged(record):
        return []
    passed = _passed(tags)
    titles = _titles(record)
    return [
        dg.RunRequest(
            run_key=f"scene:{scene_partition_key(video, n)}:{record.storage_id}",
            job_name=scene_job.name,
            partition_key=scene_partition_key(video, n),
            tags={**passed, KIND_TAG: "scene", **scene_title_tag(titles.get(n))},
        )
        for n in range(1, _scene_count(record) + 1)
    ]


def _run_in_progress(instance: dg.DagsterInstance, run_id: str) -> bool:
    run = instance.get_run_by_id(run_id)
    return run is not None and not run.is_finished


def not_launched(instance: dg.DagsterInstance, requests: list[dg.RunRequest]) -> list[dg.RunRequest]:
    """The requests whose run key has no run yet (the plan run submitted the others). A run
    created but never queued (NOT_STARTED) is requested again: Dagster then submits that run."""
    out = []
    for r in requests:
        run = existing_run(instance, r.run_key) if r.run_key else None
        if run is None or run.status == dg.DagsterRunStatus.NOT_STARTED:
            out.append(r)
    return out


def _unchanged(record: dg.EventLogRecord) -> bool:
    """The plan step found the plan, every scene and the join unchanged: nothing to render."""
    mat = record.asset_materialization
    value = mat.metadata.get("unchanged") if mat else None
    return bool(getattr(value, "value", False))


def _titles(record: dg.EventLogRecord) -> dict[int, str]:
    """The planned scenes' titles, from the plan's materialisation."""
    mat = record.asset_materialization
    scenes = mat.metadata.get("scenes") if mat else None
    data = getattr(scenes, "value", None) or []
    return {int(s["n"]): str(s["title"]) for s in data if isinstance(s, dict) and "n" in s}


class Busy(Exception):
    """A scene run of this video is still in flight: decide again on a later tick."""


def combine_request(
    instance: dg.DagsterInstance, meta: MetadataStore, video: str
) -> dg.RunRequest | None:
    """A combine run once every planned scene is newer than the plan and none is in flight.

    Raises Busy while a scene run of the video is active (including the run that has just
    materialised its scene and is finishing): the caller keeps the video and asks again."""
    plan = _latest(instance, PLAN, video)
    if plan is None:
        return None
    latest_scenes = []
    for n in range(1, _scene_count(plan) + 1):
        rec = _latest(instance, SCENE_VIDEO, scene_partition_key(video, n))
        if rec is None or rec.storage_id < plan.storage_id:
            return None
        latest_scenes.append(rec)
    newest = max(latest_scenes, key=lambda r: r.storage_id)
    combined = _latest(instance, COMBINED, video)
    if combined is not None and combined.storage_id > newest.storage_id:
        return None
    # A scene run joined (or is joining) exactly these scenes itself, even if another scene run
    # that finished at the same moment logged its materialisation after that join's.
    stored = meta.get_video(video)
    token = scenes_token(scenes_by_number(meta, video), _scene_count(plan))
    if token is not None and stored is not None and stored.join_token == token:
        return None
    # Active scene runs are few (the run queue caps them); theirs is the one whose partition is
    # one of this video's scenes.
    active = instance.get_run_records(dg.RunsFilter(tags={KIND_TAG: "scene"}, statuses=_ACTIVE))
    if any(video_of(r.dagster_run.tags.get(PARTITION_TAG, "")) == video for r in active):
        raise Busy(video)
    tags = _run_tags(instance, newest.run_id)
    if _stopped(meta, tags):
        return None
    passed = _passed(tags)
    return dg.RunRequest(
        run_key=f"combine:{video}:{newest.storage_id}",
        job_name=combine_job.name,
        partition_key=video,
        tags={**passed, KIND_TAG: "combine"},
    )


@dg.sensor(
    name=CHAIN_SENSOR,
    jobs=[scene_job, combine_job],
    # Short: each tick is a few indexed event-log reads, and the join waits on it.
    minimum_interval_seconds=2,
    default_status=dg.DefaultSensorStatus.RUNNING,
)
def video_chain_sensor(
    context: dg.SensorEvaluationContext, metadata: MetadataStoreResource
) -> dg.SensorResult:
    """Launches scene runs after a plan, and the join once all of a video's scenes are new."""
    cursor = json.loads(context.cursor) if context.cursor else {}
    instance = context.instance
    meta = metadata.get_store()
    requests: list[dg.RunRequest] = []

    plans = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=PLAN, after_storage_id=cursor.get("plan", 0)), limit=BATCH, ascending=True
    ).records
    # A plan run submits its scene runs itself before it ends (plan_submit.py): its plan is
    # decided here only once the run is over, and then only scenes without a run are requested.
    held = cursor.get("plan_waiting", [])
    earlier = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=PLAN, storage_ids=held), limit=len(held), ascending=True
    ).records if held else []
    plan_waiting = []
    for rec in [*earlier, *plans]:
        if _run_in_progress(instance, rec.run_id):
            plan_waiting.append(rec.storage_id)
        else:
            requests += not_launched(instance, scene_requests(instance, meta, rec))

    scenes = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=SCENE_VIDEO, after_storage_id=cursor.get("scene", 0)), limit=BATCH, ascending=True
    ).records
    # Videos a previous tick could not decide (a scene run still finishing) come first.
    videos: list[str] = list(cursor.get("waiting", []))
    for rec in scenes:
        video = video_of(rec.partition_key) if rec.partition_key else None
        if video and video not in videos:
            videos.append(video)
    waiting = []
    for video in videos:
        try:
            req = combine_request(instance, meta, video)
        except Busy:
            waiting.append(video)
            continue
        if req is not None:
            requests.append(req)

    if plans:
        cursor["plan"] = plans[-1].storage_id
    if scenes:
        cursor["scene"] = scenes[-1].storage_id
    cursor["waiting"] = waiting
    cursor["plan_waiting"] = plan_waiting
    return dg.SensorResult(run_requests=requests, cursor=json.dumps(cursor))


@dg.sensor(minimum_interval_seconds=30, default_status=dg.DefaultSensorStatus.RUNNING)
def convex_outbox_sensor(
    context: dg.SensorEvaluationContext, metadata: MetadataStoreResource
) -> dg.SkipReason:
    """Replays metadata updates that waited while Convex was unreachable (no-op without Convex)."""
    meta = metadata.get_store()
    flush = getattr(meta, "flush", None)
    if flush is None:
        return dg.SkipReason("Convex is not configured")
    sent = flush()
    waiting = len(meta.outbox.pending())  # type: ignore[attr-defined]
    return dg.SkipReason(f"replayed {sent} update(s) to Convex; {waiting} waiting")


def _batch_requests(
    meta: MetadataStore, batch: batches.ParsedBatch, name: str
) -> tuple[list[dg.RunRequest], list[str], list[BatchEntry]]:
    requests, partitions, entries = [], [], []
    for e in batch.entries:
        if e.request is None:
            entries.append(BatchEntry(e.line, e.task_id, e.error))
            continue
        assert e.task_id is not None  # parse_batch gives every valid request its task
        try:
            register_request(meta, e.request, e.task_id, message=f"Queued by batch {name}")
        except VideoBusy as exc:
            entries.append(BatchEntry(e.line, e.task_id, str(exc)))
            continue
        entries.append(BatchEntry(e.line, e.task_id, e.error))
        partitions.append(e.request.video_key)
        requests.append(dg.RunRequest(
            run_key=f"batch:{batch.batch_id}:{e.line}",
            job_name=plan_job.name,
            partition_key=e.request.video_key,
            # RunRequest sets the partition itself.
            tags=plan_run_tags(e.request.video_key, e.task_id, e.request, batch_id=batch.batch_id, partition=False),
        ))
    return requests, partitions, entries


@dg.sensor(jobs=[plan_job], minimum_interval_seconds=15, default_status=dg.DefaultSensorStatus.RUNNING)
def batch_sensor(
    context: dg.SensorEvaluationContext, storage: ObjectStoreResource, metadata: MetadataStoreResource
) -> dg.SensorResult:
    """Queues the videos of each batch file dropped into batches/incoming/, once; writes each
    finished batch's summary into batches/done/."""
    stores = storage.store_config()
    store = stores.store_for(None)
    meta = metadata.get_store()
    requests: list[dg.RunRequest] = []
    partitions: list[str] = []
    for key in store.list_keys(batches.INCOMING):
        name = key[len(batches.INCOMING):]
        if not name or "/" in name or name.startswith("."):
            continue
        data = store.get_bytes(key)
        try:
            parsed = batches.parse_batch(name, data)
        except batches.NotABatch as exc:
            # Moved aside with the reason, never retried.
            store.put_bytes(f"{batches.FAILED}{name}.error.txt", f"{exc}\n".encode())
            move(store, key, f"{batches.FAILED}{name}")
            context.log.warning(f"batch file {name} is not a batch: {exc}")
            continue
        if meta.get_batch(parsed.batch_id) is not None:
            note = {"duplicate_of": parsed.batch_id, "message": "the same file was already queued; nothing generated"}
            store.put_bytes(f"{batches.DONE}{name}.duplicate.json", json.dumps(note, indent=2).encode())
            move(store, key, f"{batches.DONE}{name}")
            continue
        reqs, parts, entries = _batch_requests(meta, parsed, name)
        meta.create_batch(parsed.batch_id, name, "file", entries)
        move(store, key, f"{batches.RUNNING}{name}")
        requests += reqs
        partitions += parts
        context.log.info(f"batch {name} ({parsed.batch_id}): {len(reqs)} queued, {len(entries) - len(reqs)} refused")
    for b in meta.list_batches(BatchStatus.RUNNING):
        batches.finish_batch_if_done(meta, stores, b)
    return dg.SensorResult(
        run_requests=requests,
        dynamic_partitions_requests=[videos_partitions.build_add_request(partitions)] if partitions else [],
    )
