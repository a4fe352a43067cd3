"""The warm run launcher: its fork server, stale-code restarts, worker health and termination.

Runs launched through it end to end (pid tags, cancel, a killed worker, a daemon restart) are
exercised by tests/api_bridge/test_e2e.py against a real webserver and daemon."""

import os
import signal
import subprocess
import sys
import textwrap
import time

import dagster as dg
import pytest
from dagster._core.instance.ref import InstanceRef
from dagster._core.launcher import WorkerStatus
from dagster._serdes import serialize_value

from videogen_dagster.launcher.run_launcher import PID_TAG, STARTED_TAG, WarmParent, WarmRunLauncher
from videogen_dagster.launcher.warm_worker import process_start

from .conftest import REPO


def _gone(pid: int, timeout: float = 10) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process_start(pid) is None:
            return True
        time.sleep(0.05)
    return False


@pytest.fixture
def ref(tmp_path) -> str:
    home = tmp_path / "dagster"
    home.mkdir()
    return serialize_value(InstanceRef.from_dir(str(home)))


def test_forks_a_worker_per_request_and_restarts_on_changed_code(warm_code, ref):
    parent = WarmParent(sys.executable, str(warm_code), ["warm_probe_mod"], ref)
    parent.start()
    try:
        # An unknown run: the child starts, finds no run, and exits; the parent stays.
        answer = parent.request({"run_id": "no-such-run", "instance_ref": ref, "cwd": str(warm_code)})
        assert answer["pid"] != parent.proc.pid and answer["started"]
        assert _gone(answer["pid"])
        assert parent.alive()

        # The code location changed on disk: the parent refuses to fork stale code and exits.
        time.sleep(0.01)
        (warm_code / "warm_probe_mod.py").write_text("VALUE = 2\n")
        answer = parent.request({"run_id": "no-such-run", "instance_ref": ref, "cwd": str(warm_code)})
        assert answer["error"] == "stale" and answer["changed"].endswith("warm_probe_mod.py")
        parent.proc.wait(timeout=10)
    finally:
        parent.stop()


def test_launcher_replaces_a_stale_parent(warm_code, ref):
    launcher = WarmRunLauncher(preload_modules=["warm_probe_mod"])
    body = {"run_id": "no-such-run", "instance_ref": ref, "cwd": str(warm_code)}
    try:
        first = launcher._fork(sys.executable, str(warm_code), body)
        old = launcher._parents[(sys.executable, str(warm_code))].proc.pid
        (warm_code / "warm_probe_mod.py").write_text("VALUE = 3\n")
        second = launcher._fork(sys.executable, str(warm_code), body)
        assert launcher._parents[(sys.executable, str(warm_code))].proc.pid != old
        assert _gone(first["pid"]) and _gone(second["pid"]) and _gone(old)
    finally:
        launcher.dispose()


def test_parent_exits_when_its_launcher_process_dies(warm_code, ref, tmp_path):
    """A daemon that goes away takes its warm parent with it (runs live on in their sessions)."""
    script = tmp_path / "owner.py"
    script.write_text(textwrap.dedent(f"""
        import sys, time
        from videogen_dagster.launcher.run_launcher import WarmParent
        p = WarmParent(sys.executable, {str(warm_code)!r}, [], {ref!r})
        p.start()
        print(p.proc.pid, flush=True)
        time.sleep(60)
    """))
    owner = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True,
                             env={**os.environ, "PYTHONPATH": str(REPO)})
    try:
        warm = int(owner.stdout.readline())
        assert process_start(warm) is not None
        owner.kill()
        owner.wait()
        assert _gone(warm, timeout=5)
    finally:
        owner.kill()


def test_worker_health_and_termination_follow_the_recorded_pid(warm_launcher):
    instance, launcher = warm_launcher
    worker = subprocess.Popen(["sleep", "60"])
    run = dg.DagsterRun(
        job_name="scene_job", run_id="r1", status=dg.DagsterRunStatus.STARTED,
        tags={PID_TAG: str(worker.pid), STARTED_TAG: process_start(worker.pid)},
    )
    instance.add_run(run)
    assert launcher.check_run_worker_health(run).status == WorkerStatus.RUNNING

    assert launcher.terminate("r1") is True
    assert worker.wait(timeout=10) == -signal.SIGTERM
    assert instance.get_run_by_id("r1").status == dg.DagsterRunStatus.CANCELING
    health = launcher.check_run_worker_health(run)
    assert health.status == WorkerStatus.FAILED and f"pid {worker.pid}" in health.msg
    # The pid alone is not enough: another process that got the same pid is not the worker.
    other = dg.DagsterRun(job_name="scene_job", run_id="r2", status=dg.DagsterRunStatus.STARTED,
                          tags={PID_TAG: str(os.getpid()), STARTED_TAG: "1"})
    assert launcher.check_run_worker_health(other).status == WorkerStatus.FAILED
