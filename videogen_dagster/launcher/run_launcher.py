"""A run launcher whose run workers start warm.

Dagster's DefaultRunLauncher asks the code server to start each run in a freshly spawned Python
(the code server hard-codes the `spawn` start method), which then imports Dagster and the code
location again: ~1.4 s on these machines before the first step, paid by every plan, scene and
join run. This launcher keeps one warm parent per code location
(`videogen_dagster.launcher.warm_worker`, started with the daemon, see `prestart`, or else by the
first launch) that has already imported them, and forks each run worker from it.

What it keeps from the default: a run executes exactly as `dagster api execute_run` runs it; the
worker lives in its own session, so restarting the daemon does not stop running runs. What it
adds: a run worker's pid is recorded on the run (`videogen/worker_pid`), so termination works from
any process (webserver, daemon) and run monitoring can check that the worker is alive; a worker
that dies before its run finished fails the run at once. Anything it cannot serve (no Python
origin, a warm parent that will not start) goes to the default launcher.

dagster.yaml:
    run_launcher:
      module: videogen_dagster.launcher
      class: WarmRunLauncher
      config:
        preload_modules: [videogen_dagster.definitions]
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping
from typing import Any

from dagster import DefaultRunLauncher
from dagster import _check as check
from dagster._core.launcher import CheckRunHealthResult, LaunchRunContext, WorkerStatus
from dagster._serdes import ConfigurableClassData, serialize_value

from videogen_dagster.launcher.warm_worker import process_start, recv_json, send_json

PID_TAG = "videogen/worker_pid"
STARTED_TAG = "videogen/worker_started"
READY_TIMEOUT = 60.0
log = logging.getLogger(__name__)


class WarmParent:
    """One warm parent process for one (Python executable, working directory)."""

    def __init__(self, executable: str, cwd: str | None, preload: list[str], instance_ref: str):
        self.executable, self.cwd, self.preload = executable, cwd, preload
        self.dir = tempfile.mkdtemp(prefix="videogen-warm-")
        self.path = os.path.join(self.dir, "sock")
        self.ref_file = os.path.join(self.dir, "instance_ref.json")
        with open(self.ref_file, "w") as f:
            f.write(instance_ref)
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        if os.path.exists(self.path):
            os.unlink(self.path)
        cmd = [self.executable, "-m", "videogen_dagster.launcher.warm_worker", "--socket", self.path, "--instance-ref", self.ref_file]
        for name in self.preload:
            cmd += ["--preload", name]
        self.proc = subprocess.Popen(cmd, cwd=self.cwd or None, stdin=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + READY_TIMEOUT
        while not os.path.exists(self.path):
            if self.proc.poll() is not None:
                raise RuntimeError(f"warm worker exited with code {self.proc.returncode} while starting")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"warm worker not ready after {READY_TIMEOUT:.0f}s")
            time.sleep(0.02)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None and os.path.exists(self.path)

    def request(self, body: dict) -> dict:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(30)
            s.connect(self.path)
            send_json(s, body)
            try:
                return recv_json(s)
            except json.JSONDecodeError:
                raise RuntimeError("warm worker closed the connection without an answer") from None

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        shutil.rmtree(self.dir, ignore_errors=True)


class WarmRunLauncher(DefaultRunLauncher):
    """Launches each run in a worker forked from a warm parent (see the module docstring)."""

    def __init__(self, inst_data: ConfigurableClassData | None = None, preload_modules: list[str] | None = None):
        super().__init__(inst_data=inst_data)
        self.preload_modules = list(preload_modules or [])
        self._parents: dict[tuple[str, str], WarmParent] = {}
        self._lock = threading.Lock()
        self._prestart: tuple[str, str] | None = None  # the key prestart() started
        self._used = False  # a run was launched

    @classmethod
    def config_type(cls):
        return {"preload_modules": [str]}

    @classmethod
    def from_config_value(cls, inst_data: ConfigurableClassData, config_value: Mapping[str, Any]):
        return cls(inst_data=inst_data, preload_modules=config_value.get("preload_modules"))

    def _start_parent(self, key: tuple[str, str], instance_ref: str) -> WarmParent:
        """A running warm parent for `key` (under self._lock)."""
        parent = self._parents.get(key)
        if parent is None or not parent.alive():
            if parent is not None:
                parent.stop()
            parent = WarmParent(key[0], key[1], ["dagster._cli.api", *self.preload_modules], instance_ref)
            parent.start()
            self._parents[key] = parent
        return parent

    def prestart(self) -> None:
        """Start, in the background, the warm parent the daemon's runs will use: for this
        process's Python and working directory, where `dagster-daemon run -w workspace.yaml`
        (`make up`, `dagster dev`) starts the code location's server. Called once by the daemon
        (WarmQueuedRunCoordinator). Runs of a code location elsewhere get their own on their
        first launch, and this one, never used, is stopped then."""
        if self._prestart is not None:
            return
        key = (sys.executable, os.path.abspath("."))
        ref = serialize_value(self._instance.get_ref())
        self._prestart = key

        def start() -> None:
            try:
                with self._lock:
                    self._start_parent(key, ref)
            except (OSError, RuntimeError) as exc:
                log.warning("warm run worker not prestarted (%s); the first launch starts it", exc)

        threading.Thread(target=start, name="videogen-warm-prestart", daemon=True).start()

    def _fork(self, executable: str, cwd: str | None, body: dict) -> dict:
        with self._lock:
            # Origins name the working directory as the workspace file does (often "."): relative
            # to this process's, where the parent is started.
            key = (executable, os.path.abspath(cwd or "."))
            if not self._used and self._prestart not in (None, key) and self._prestart in self._parents:
                self._parents.pop(self._prestart).stop()  # prestarted for another location
            self._used = True
            for _ in range(2):
                parent = self._start_parent(key, body["instance_ref"])
                answer = parent.request(body)
                if answer.get("error") == "stale":
                    # The code location changed on disk: a fresh parent imports the new code.
                    parent.stop()
                    del self._parents[key]
                    continue
                if "pid" not in answer:
                    raise RuntimeError(f"warm worker refused the run: {answer.get('error')}")
                return answer
            raise RuntimeError("warm worker kept reporting stale code")

    def launch_run(self, context: LaunchRunContext) -> None:
        run = context.dagster_run
        origin = run.job_code_origin
        if origin is None:
            return super().launch_run(context)
        pointer = origin.repository_origin.code_pointer
        cwd = getattr(pointer, "working_directory", None)
        body = {"run_id": run.run_id, "instance_ref": serialize_value(self._instance.get_ref()), "cwd": cwd}
        try:
            answer = self._fork(origin.repository_origin.executable_path, cwd, body)
        except (OSError, RuntimeError, ValueError) as exc:
            self._instance.report_engine_event(
                f"Warm run worker unavailable ({exc}); launching through the code server.", run, cls=self.__class__
            )
            return super().launch_run(context)
        self._instance.add_run_tags(run.run_id, {PID_TAG: str(answer["pid"]), STARTED_TAG: str(answer["started"])})

    @staticmethod
    def _worker(run) -> tuple[int, str] | None:
        """The (pid, start time) recorded on a run this launcher started."""
        if PID_TAG not in run.tags:
            return None
        return int(run.tags[PID_TAG]), run.tags.get(STARTED_TAG, "")

    @staticmethod
    def _alive(pid: int, started: str) -> bool:
        return process_start(pid) == started

    def terminate(self, run_id: str) -> bool:
        check.str_param(run_id, "run_id")
        run = self._instance.get_run_by_id(run_id)
        if run is None or run.is_finished:
            return False
        worker = self._worker(run)
        if worker is None:
            return super().terminate(run_id)
        self._instance.report_run_canceling(run)
        pid, started = worker
        if not self._alive(pid, started):
            self._instance.report_engine_event(
                f"Run worker (pid {pid}) is gone; nothing to terminate.", run, cls=self.__class__
            )
            return False
        os.kill(pid, signal.SIGTERM)  # the worker turns it into an interrupt and reports the cancel
        return True

    @property
    def supports_check_run_worker_health(self) -> bool:
        return True

    def check_run_worker_health(self, run) -> CheckRunHealthResult:
        worker = self._worker(run)
        if worker is None:
            # Launched through the code server, which cannot be asked: not a reason to fail it.
            return CheckRunHealthResult(WorkerStatus.RUNNING, "launched through the code server; not checked")
        pid, started = worker
        if self._alive(pid, started):
            return CheckRunHealthResult(WorkerStatus.RUNNING, run_worker_id=str(pid))
        return CheckRunHealthResult(WorkerStatus.FAILED, f"run worker (pid {pid}) is gone", run_worker_id=str(pid))

    def dispose(self) -> None:
        # Runs live on in their own sessions; only the warm parents stop.
        for parent in self._parents.values():
            parent.stop()
        self._parents.clear()
