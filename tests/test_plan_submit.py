"""The plan run submits its own scene runs (videogen_dagster/plan_submit.py), through the run
queue, with the chain sensor's run keys, and the sensor neither duplicates nor loses them.

The plan run here is executed as a run worker executes it (`execute_run` of a run that has a
code location's origins, which `execute_in_process` runs lack); the scene runs it submits stay
QUEUED (no daemon). A bridge launched generation with the sensor stopped is in
tests/api_bridge/test_plan_submit_e2e.py."""

import json
import os
import signal
import sys
from contextlib import contextmanager

import dagster as dg
import pytest
from dagster._core.definitions.reconstruct import ReconstructableRepository
from dagster._core.execution.api import execute_run
from dagster._core.remote_origin import (
    InProcessCodeLocationOrigin,
    RemoteJobOrigin,
    RemoteRepositoryOrigin,
)
from dagster._core.storage.tags import RUN_KEY_TAG, SENSOR_NAME_TAG
from dagster._core.types.loadable_target_origin import LoadableTargetOrigin

from videogen_dagster.tags import KIND_TAG, PARTITION_TAG, PLAN_RUN_TAG, SCENE_TITLE_TAG, TASK_TAG

from .dagster_fixtures import tick as _tick
from .dagster_fixtures import video_instance

pytestmark = pytest.mark.slow

VIDEO = "submit.s1"
QUEUED = {"run_coordinator": {"module": "dagster._core.run_coordinator", "class": "QueuedRunCoordinator"}}


@pytest.fixture
def chain(var_dir, tmp_path):
    with _chain(var_dir, tmp_path, QUEUED) as c:
        yield c


@contextmanager
def _chain(var_dir, tmp_path, overrides):
    """(instance, defs, meta, launch) where launch(task) executes a plan run with origins."""
    code = tmp_path / "loc"
    code.mkdir()
    (code / "loc_defs.py").write_text(
        "from pathlib import Path\nfrom videogen_dagster.definitions import build_definitions, default_resources\n"
        f"defs = build_definitions(default_resources(Path({str(var_dir)!r})))\n"
    )
    recon = ReconstructableRepository.for_file(str(code / "loc_defs.py"), "defs", str(code)).get_reconstructable_job("plan_job")
    location = InProcessCodeLocationOrigin(LoadableTargetOrigin(
        executable_path=sys.executable, python_file=str(code / "loc_defs.py"), attribute="defs",
        working_directory=str(code)), location_name="videogen_dagster")
    remote = RemoteJobOrigin(RemoteRepositoryOrigin(location, "__repository__"), "plan_job")

    with video_instance(var_dir, VIDEO, {
        "project_id": "submit", "session_id": "s1", "content_prompt": "Explain the Pythagorean theorem",
        "scene_count": 3, "render_config": {"quality": "preview", "max_scene_duration": 4},
    }, overrides) as (instance, defs, meta, _):

        def launch(task: str) -> dg.DagsterRun:
            meta.create_task(task, "generate", "submit", "s1", VIDEO, 4, "preview")
            run = instance.create_run_for_job(
                recon.get_definition(), tags={TASK_TAG: task, PARTITION_TAG: VIDEO},
                remote_job_origin=remote, job_code_origin=recon.get_python_origin(),
            )
            execute_run(recon, run, instance)
            return instance.get_run_by_id(run.run_id)

        yield instance, defs, meta, launch


def _set_status(instance, run_id, event_type):
    instance.run_storage.handle_run_event(run_id, dg.DagsterEvent(event_type.value, job_name="plan_job"))


def _scene_runs(instance, task):
    return instance.get_runs(dg.RunsFilter(tags={TASK_TAG: task, KIND_TAG: "scene"}))


def test_plan_run_queues_its_scene_runs_and_the_sensor_adds_none(chain):
    instance, defs, _, launch = chain
    plan = launch("t1")
    assert plan.status == dg.DagsterRunStatus.SUCCESS
    runs = sorted(_scene_runs(instance, "t1"), key=lambda r: r.tags[PARTITION_TAG])
    # Through the run queue (the daemon's tag limits apply), one per planned scene, exactly as
    # the sensor would have asked: job, partition, tags, run key.
    assert [r.tags[PARTITION_TAG] for r in runs] == [f"{VIDEO}/01", f"{VIDEO}/02", f"{VIDEO}/03"]
    assert all(r.status == dg.DagsterRunStatus.QUEUED and r.job_name == "scene_job" for r in runs)
    assert all(r.remote_job_origin.job_name == "scene_job" and r.job_code_origin.job_name == "scene_job" for r in runs)
    assert all(r.tags[PLAN_RUN_TAG] == plan.run_id and r.tags[SENSOR_NAME_TAG] == "video_chain_sensor" for r in runs)
    assert all(r.tags[SCENE_TITLE_TAG] and r.tags["dagster/max_runtime"] == "1800" for r in runs)
    plan_rec = instance.fetch_materializations(dg.AssetKey("scene_plan"), limit=1).records[0]
    assert {r.tags[RUN_KEY_TAG] for r in runs} == {
        f"scene:{VIDEO}/{n:02d}:{plan_rec.storage_id}" for n in (1, 2, 3)}

    # The sensor sees the same plan materialisation and requests nothing more.
    requests, cursor = _tick(instance, defs, None)
    assert requests == []
    assert json.loads(cursor)["plan_waiting"] == []


def test_on_postgres_as_in_cluster_mode(var_dir, tmp_path, pg_database):
    """Cluster mode: the plan run's instance is the shared PostgreSQL one (dagster-cluster.yaml)."""
    with _chain(var_dir, tmp_path, {**QUEUED, "storage": {"postgres": {"postgres_url": pg_database.replace("postgresql://", "postgresql+psycopg2://", 1)}}}) as c:
        instance, defs, _, launch = c
        launch("t1")
        runs = _scene_runs(instance, "t1")
        assert len(runs) == 3 and all(r.status == dg.DagsterRunStatus.QUEUED for r in runs)
        assert _tick(instance, defs, None)[0] == []


def test_the_sensor_waits_for_the_plan_run_then_fills_in_what_it_did_not_submit(chain, monkeypatch):
    instance, defs, _, launch = chain

    def refuse(self, run_id, workspace):
        raise RuntimeError("queue unavailable")

    monkeypatch.setattr(dg.DagsterInstance, "submit_run", refuse)
    plan = launch("t2")
    monkeypatch.undo()
    # The plan step succeeded anyway, and left nothing behind that hides a scene from the sensor.
    assert plan.status == dg.DagsterRunStatus.SUCCESS
    assert _scene_runs(instance, "t2") == []

    # While the plan run is in progress its plan waits (the run may still be submitting).
    _set_status(instance, plan.run_id, dg.DagsterEventType.RUN_START)
    requests, cursor = _tick(instance, defs, None)
    assert requests == [] and len(json.loads(cursor)["plan_waiting"]) == 1

    # Once it has ended, the sensor requests the scenes itself.
    _set_status(instance, plan.run_id, dg.DagsterEventType.RUN_SUCCESS)
    requests, cursor = _tick(instance, defs, cursor)
    assert sorted(r.partition_key for r in requests) == [f"{VIDEO}/01", f"{VIDEO}/02", f"{VIDEO}/03"]
    assert json.loads(cursor)["plan_waiting"] == []
    assert _tick(instance, defs, cursor)[0] == []


def test_partly_submitted_plans_get_only_the_missing_scenes(chain, monkeypatch):
    instance, defs, _, launch = chain
    real = dg.DagsterInstance.submit_run
    calls = []

    def second_fails(self, run_id, workspace):
        calls.append(run_id)
        if len(calls) == 2:
            raise RuntimeError("queue unavailable")
        return real(self, run_id, workspace)

    monkeypatch.setattr(dg.DagsterInstance, "submit_run", second_fails)
    launch("t3")
    monkeypatch.undo()
    (submitted,) = _scene_runs(instance, "t3")
    assert submitted.tags[PARTITION_TAG] == f"{VIDEO}/01"
    requests, _ = _tick(instance, defs, None)
    assert [r.partition_key for r in requests] == [f"{VIDEO}/02", f"{VIDEO}/03"]


def test_a_cancel_while_scene_runs_are_created_leaves_none_behind(chain, monkeypatch):
    """The bridge's cancel terminates the plan run (SIGTERM, which Dagster maps to SIGINT) while
    its step creates the scene runs. Seen in the e2e cancel test once the queue woke at once: the
    signal landed between a run's creation and its queueing, and the run stayed NOT_STARTED."""
    instance, _, _, launch = chain
    real = dg.DagsterInstance.create_run_for_job
    created = []

    def signal_after_the_second(self, *args, **kwargs):
        run = real(self, *args, **kwargs)
        created.append(run.run_id)
        if len(created) == 3:  # the plan run itself, then the first and second scene runs
            os.kill(os.getpid(), signal.SIGINT)  # lands right after the run's row is written
        return run

    monkeypatch.setattr(dg.DagsterInstance, "create_run_for_job", signal_after_the_second)
    plan = launch("t4")
    monkeypatch.undo()
    assert plan.status in (dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED)  # interrupted
    runs = {r.tags[PARTITION_TAG]: r.status for r in _scene_runs(instance, "t4")}
    # The first was queued before the signal; the second, queued as it came, is cancelled; no
    # third is created, and nothing is left NOT_STARTED.
    assert runs == {f"{VIDEO}/01": dg.DagsterRunStatus.QUEUED, f"{VIDEO}/02": dg.DagsterRunStatus.CANCELED}
