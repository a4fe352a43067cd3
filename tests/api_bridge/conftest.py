"""A real stack for the bridge's end-to-end tests: Dagster webserver + daemon + the REST bridge
(uvicorn) on free ports, with a temporary DAGSTER_HOME and state folder."""

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx
import jwt
import pytest

from api_bridge.dagster_client import DagsterClient
from tests.conftest import REPO, free_port, wait_http

BASE = "/api/v1/video-generation"
SECRET = "e2e-secret-key-with-enough-length-0123456789"


def token(projects: list[str]) -> dict:
    tok = jwt.encode({"sub": "e2e", "projects": projects, "exp": time.time() + 3600}, SECRET, algorithm="HS256")
    return {"Authorization": f"Bearer {tok}"}


class Stack:
    """The three servers; each can be stopped (killed) and started again by a test."""

    def __init__(self, var: Path, extra_env: dict | None = None, public_url: bool = False):
        self.var = var
        home = var / "dagster"
        home.mkdir()
        shutil.copy(REPO / "dagster.yaml", home / "dagster.yaml")
        self.web, self.api = free_port(), free_port()
        self.env = {**os.environ, "DAGSTER_HOME": str(home), "VIDEOGEN_VAR_DIR": str(var),
                    "DAGSTER_PORT": str(self.web), "JWT_SECRET": SECRET, **(extra_env or {})}
        if public_url:  # objects served by the bridge at signed URLs, as `make up` does
            self.env["VIDEOGEN_PUBLIC_URL"] = f"http://127.0.0.1:{self.api}"
        self.bin = Path(sys.executable).parent
        self.logs = open(var / "servers.log", "w")  # noqa: SIM115
        self.graphql = f"http://127.0.0.1:{self.web}/graphql"
        self.procs: dict[str, subprocess.Popen] = {}

    def _spawn(self, name: str, cmd: list) -> subprocess.Popen:
        self.procs[name] = subprocess.Popen(cmd, cwd=REPO, env=self.env, stdout=self.logs, stderr=self.logs)
        return self.procs[name]

    def start_daemon(self) -> subprocess.Popen:
        return self._spawn("daemon", [self.bin / "dagster-daemon", "run", "-w", "workspace.yaml"])

    def start_webserver(self, wait: bool = True) -> subprocess.Popen:
        proc = self._spawn("webserver", [self.bin / "dagster-webserver", "-w", "workspace.yaml", "-h", "127.0.0.1",
                                         "-p", str(self.web)])
        if wait:
            wait_http(f"http://127.0.0.1:{self.web}/server_info")
            DagsterClient("127.0.0.1", self.web, "videogen_dagster").wait_until_loaded()
        return proc

    def start_bridge(self) -> subprocess.Popen:
        proc = self._spawn("bridge", [sys.executable, "-m", "uvicorn", "api_bridge.main:app", "--host", "127.0.0.1",
                                      "--port", str(self.api)])
        wait_http(f"http://127.0.0.1:{self.api}/docs")
        return proc

    def kill(self, name: str, sig: int = 9) -> None:
        proc = self.procs[name]
        proc.send_signal(sig)
        proc.wait(timeout=60)

    def stop(self) -> None:
        for p in self.procs.values():
            p.terminate()
        for p in self.procs.values():
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
        self.logs.close()

    def client(self, timeout: float = 60) -> httpx.Client:
        return httpx.Client(base_url=f"http://127.0.0.1:{self.api}", timeout=timeout)


def start_stack(var: Path, extra_env: dict | None = None, public_url: bool = False) -> Stack:
    s = Stack(var, extra_env, public_url)
    # One process creates the instance's storage before two race to (as `make up` does).
    subprocess.run([s.bin / "dagster", "instance", "migrate"], cwd=REPO, env=s.env, check=True,
                   capture_output=True, timeout=120)
    try:
        s.start_daemon()
        s.start_webserver()
        s.start_bridge()
    except BaseException:
        s.stop()
        raise
    return s


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    """(client, var folder, controls) of a real stack shared by a test module."""
    s = start_stack(tmp_path_factory.mktemp("var"))
    try:
        yield s.client(30), s.var, {
            "graphql": s.graphql, "procs": [s.procs["daemon"], s.procs["webserver"], s.procs["bridge"]],
            "start_daemon": s.start_daemon,
        }
    finally:
        s.stop()
