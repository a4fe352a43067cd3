"""Start a Dagster webserver (+ daemon) and the bridge on free ports with a temporary instance."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import httpx

from api_bridge.dagster_client import DagsterClient

REPO = Path(__file__).resolve().parent.parent
BASE = "/api/v1/video-generation"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def child_env(**extra: str) -> dict[str, str]:
    """This process's environment plus `extra`, for a server started by a bench."""
    return {**os.environ, **extra}


def wait_for(url: str, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            httpx.get(url, timeout=2)
            return
        except httpx.HTTPError:
            time.sleep(0.5)
    raise TimeoutError(url)


@contextmanager
def stack(var: Path, daemon: bool = True):
    """Yields the bridge's base URL; everything is stopped on exit."""
    (var / "dagster").mkdir(parents=True, exist_ok=True)
    shutil.copy(REPO / "dagster.yaml", var / "dagster" / "dagster.yaml")
    web, api = free_port(), free_port()
    env = {**os.environ, "DAGSTER_HOME": str(var / "dagster"), "VIDEOGEN_VAR_DIR": str(var), "DAGSTER_PORT": str(web)}
    bin_dir = Path(sys.executable).parent
    quiet = {"cwd": REPO, "env": env, "stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    # One process creates the instance's storage before webserver and daemon race to.
    subprocess.run([bin_dir / "dagster", "instance", "migrate"], check=True, **quiet)
    procs = [subprocess.Popen([bin_dir / "dagster-webserver", "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(web)], **quiet)]
    if daemon:
        procs.append(subprocess.Popen([bin_dir / "dagster-daemon", "run", "-w", "workspace.yaml"], **quiet))
    procs.append(subprocess.Popen([sys.executable, "-m", "uvicorn", "api_bridge.main:app", "--host", "127.0.0.1",
                                   "--port", str(api), "--log-level", "warning"], **quiet))
    try:
        wait_for(f"http://127.0.0.1:{web}/server_info")
        DagsterClient("127.0.0.1", web, "videogen_dagster").wait_until_loaded()
        wait_for(f"http://127.0.0.1:{api}/docs")
        yield f"http://127.0.0.1:{api}"
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()


def poll(client: httpx.Client, task_id: str, timeout: float = 300) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        s = client.get(f"{BASE}/tasks/{task_id}/status").json()
        if s["status"] in ("completed", "failed", "cancelled"):
            return s
        time.sleep(0.1)
    raise TimeoutError(task_id)


def post_and_poll(client: httpx.Client, body: dict, path: str = "/generate",
                  timeout: float = 300) -> tuple[float, dict]:
    """POST `body` to the bridge's `path`, then poll the task until it ends:
    (seconds from the request to its end, the final status)."""
    t0 = time.perf_counter()
    r = client.post(f"{BASE}{path}", json=body)
    status = poll(client, r.json()["task_id"], timeout=timeout)
    return time.perf_counter() - t0, status


def task_result(client: httpx.Client, task_id: str) -> dict:
    return client.get(f"{BASE}/tasks/{task_id}/result").json()["result"]


def generate(client: httpx.Client, body: dict, timeout: float = 300) -> tuple[float, dict, dict]:
    """A generation through the bridge, request to `completed` (SystemExit otherwise):
    (seconds, final status, result)."""
    wall, status = post_and_poll(client, body, timeout=timeout)
    if status["status"] != "completed":
        raise SystemExit(f"generation did not complete: {status}")
    return wall, status, task_result(client, status["task_id"])


def timeline(dagster_home: Path, task_id: str, t0: float) -> list[str]:
    """Where the edit's time went: each run's queue, start-up, step and end, from Dagster's event log."""
    import dagster as dg

    from videogen_dagster.tags import TASK_TAG

    wanted = {
        dg.DagsterEventType.RUN_ENQUEUED: "queued", dg.DagsterEventType.RUN_STARTING: "launched",
        dg.DagsterEventType.RUN_START: "worker started", dg.DagsterEventType.STEP_START: "step start",
        dg.DagsterEventType.STEP_SUCCESS: "step done", dg.DagsterEventType.RUN_SUCCESS: "run done",
    }
    lines = []
    with dg.DagsterInstance.from_config(str(dagster_home)) as instance:
        runs = instance.get_runs(dg.RunsFilter(tags={TASK_TAG: task_id}))
        for run in sorted(runs, key=lambda r: instance.get_run_record_by_id(r.run_id).create_timestamp.timestamp()):
            created = instance.get_run_record_by_id(run.run_id).create_timestamp.timestamp()
            parts = [f"created {created - t0:5.2f}"]
            for rec in instance.all_logs(run.run_id):
                if rec.dagster_event and rec.dagster_event.event_type in wanted:
                    parts.append(f"{wanted[rec.dagster_event.event_type]} {rec.timestamp - t0:5.2f}")
                mat = rec.asset_materialization
                if mat and "render_seconds" in mat.metadata:
                    parts.append(f"(confined render {mat.metadata['render_seconds'].value:.2f} s)")
            lines.append(f"  {run.job_name:12s} " + ", ".join(parts))
    return lines
