"""Batches: the sensor on new, repeated and malformed files; the nightly schedule; a real batch."""

import datetime
import json

import dagster as dg
import pytest

from videogen_dagster.batches import DONE, FAILED, INCOMING, RUNNING, parse_batch, topics_batch
from videogen_dagster.definitions import build_definitions, default_resources
from videogen_dagster.schedules import nightly_batch_schedule
from videogen_dagster.sensors import batch_sensor, video_chain_sensor

GOOD = {"project_id": "bp", "content_prompt": "Explain the Pythagorean theorem", "scene_count": 1,
        "render_config": {"quality": "preview", "max_scene_duration": 3}}


@pytest.fixture
def env(var_dir):
    resources = default_resources(var_dir)
    return build_definitions(resources), resources, resources["storage"].store_config().store_for(None), resources["metadata"].get_store()


def _tick(sensor, instance, defs, resources, cursor=None):
    ctx = dg.build_sensor_context(instance=instance, definitions=defs, cursor=cursor,
                                  resources={"storage": resources["storage"], "metadata": resources["metadata"]})
    return sensor(ctx)


def test_parse_reports_bad_entries_with_line_numbers():
    body = "\n".join([json.dumps(GOOD), "{not json", json.dumps({**GOOD, "scene_count": 99}), "", "[1, 2]"])
    b = parse_batch("x.jsonl", body.encode())
    assert [e.line for e in b.valid] == [1]
    errors = [e.error for e in b.entries if e.error]
    assert errors[0].startswith("line 2: not JSON")
    assert errors[1].startswith("line 3: scene_count: scene_count must be between 1 and 12")
    assert errors[2] == "line 5: a request is an object, got list"
    yaml_batch = parse_batch("x.yaml", b"requests:\n  - {project_id: bp, content_prompt: Explain x}\n")
    assert len(yaml_batch.valid) == 1 and yaml_batch.valid[0].request.session_id == f"{yaml_batch.batch_id}_1"


def test_sensor_new_file_same_file_and_not_a_batch(env):
    defs, resources, store, meta = env
    body = (json.dumps(GOOD) + "\n" + json.dumps({**GOOD, "fps": 1}) + "\n").encode()
    store.put_bytes(f"{INCOMING}first.jsonl", body)
    store.put_bytes(f"{INCOMING}junk.jsonl", b"this is not a batch\nat all\n")
    with dg.instance_for_test() as instance:
        result = _tick(batch_sensor, instance, defs, resources)
        assert len(result.run_requests) == 1
        req = result.run_requests[0]
        assert req.job_name == "plan_job" and req.tags["videogen/batch"].startswith("b")
        assert req.tags["dagster/priority"] == "-1"
        assert result.dynamic_partitions_requests[0].partition_keys == [req.partition_key]
        assert store.exists(f"{RUNNING}first.jsonl") and not store.exists(f"{INCOMING}first.jsonl")
        assert store.exists(f"{FAILED}junk.jsonl")
        assert "no line is JSON" in store.get_bytes(f"{FAILED}junk.jsonl.error.txt").decode()
        batch = meta.get_batch(req.tags["videogen/batch"])
        assert batch.entries[1].error.startswith("line 2: fps: Extra inputs are not permitted")

        # The same file dropped again: recognised, nothing new generated.
        store.put_bytes(f"{INCOMING}again.jsonl", body)
        again = _tick(batch_sensor, instance, defs, resources)
        assert again.run_requests == []
        assert json.loads(store.get_bytes(f"{DONE}again.jsonl.duplicate.json"))["duplicate_of"] == batch.batch_id
        # Nothing left to pick up: the next tick does nothing.
        assert _tick(batch_sensor, instance, defs, resources).run_requests == []


def test_schedule_ticks_on_concrete_dates(tmp_path):
    topics = tmp_path / "topics.json"
    topics.write_text(json.dumps([{"theorem": f"T{i}", "description": "d"} for i in range(7)]))
    sched = nightly_batch_schedule(str(topics), cron="30 1 * * *", timezone="Europe/Paris", size=3)
    assert sched.cron_schedule == "30 1 * * *" and sched.execution_timezone == "Europe/Paris"
    assert sched.default_status == dg.DefaultScheduleStatus.RUNNING
    start = datetime.datetime(2026, 3, 28, 12, tzinfo=datetime.UTC)
    ticks = []
    from dagster._utils.schedules import schedule_execution_time_iterator

    for t in schedule_execution_time_iterator(start.timestamp(), sched.cron_schedule, sched.execution_timezone):
        ticks.append(t.isoformat())
        if len(ticks) == 3:
            break
    # 01:30 Paris time, across the switch to summer time on 29 March.
    assert ticks == ["2026-03-29T01:30:00+01:00", "2026-03-30T01:30:00+02:00", "2026-03-31T01:30:00+02:00"]
    ctx = dg.build_schedule_context(scheduled_execution_time=datetime.datetime(2026, 3, 30, 1, 30))
    req = sched.evaluate_tick(ctx).run_requests[0]
    assert req.run_key == "nightly:2026-03-30"
    assert req.run_config["ops"]["write_topics_batch"]["config"]["date"] == "2026-03-30"
    off = nightly_batch_schedule("")
    assert off.default_status == dg.DefaultScheduleStatus.STOPPED


def test_topics_rotate_by_day():
    topics = [{"theorem": f"T{i}", "description": ""} for i in range(5)]
    day = datetime.date(2026, 1, 1)
    a = [json.loads(x)["content_prompt"] for x in topics_batch(topics, day, 2, 3, "preview", "n").splitlines()]
    b = [json.loads(x)["content_prompt"] for x in topics_batch(topics, day + datetime.timedelta(days=1), 2, 3, "preview", "n").splitlines()]
    assert len(a) == 2 and a != b


@pytest.mark.slow
def test_batch_of_two_prompts_reaches_its_summary(env, tmp_path):
    defs, resources, store, meta = env
    topics = tmp_path / "t.json"
    topics.write_text(json.dumps([{"theorem": "The Pythagorean Theorem", "description": "a² + b² = c²."},
                                  {"prompt": "Explain Euler's formula"}]))
    with dg.instance_for_test() as instance:
        # The nightly job writes the batch file; the sensor picks it up; the chain renders it.
        defs.resolve_job_def("batch_from_topics_job").execute_in_process(
            instance=instance, run_config={"ops": {"write_topics_batch": {"config": {
                "topics_path": str(topics), "date": "2026-11-26", "size": 2, "scene_count": 1}}}})
        assert store.list_keys(INCOMING) == [f"{INCOMING}nightly-2026-11-26.jsonl"]
        result = _tick(batch_sensor, instance, defs, resources)
        assert len(result.run_requests) == 2
        for p in result.dynamic_partitions_requests:
            instance.add_dynamic_partitions("videos", list(p.partition_keys))
        cursor = None
        pending = list(result.run_requests)
        for _ in range(4):
            for req in pending:
                key = req.partition_key
                defs.resolve_job_def(req.job_name).execute_in_process(instance=instance, partition_key=key, tags=req.tags)
            chain = video_chain_sensor(dg.build_sensor_context(
                instance=instance, definitions=defs, cursor=cursor, resources={"metadata": resources["metadata"]}))
            cursor, pending = chain.cursor, list(chain.run_requests or [])
            if not pending:
                break
        _tick(batch_sensor, instance, defs, resources)
    summary = json.loads(store.get_bytes(f"{DONE}nightly-2026-11-26.jsonl.summary.json"))
    assert summary["counts"] == {"completed": 2}
    assert all(e["video_url"].endswith("combined.mp4") for e in summary["entries"])
    assert store.exists(f"{DONE}nightly-2026-11-26.jsonl") and not store.list_keys(RUNNING)
