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

REPO = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


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
    procs = [subprocess.Popen([bin_dir / "dagster-webserver", "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(web)], **quiet)]
    if daemon:
        procs.append(subprocess.Popen([bin_dir / "dagster-daemon", "run", "-w", "workspace.yaml"], **quiet))
    procs.append(subprocess.Popen([sys.executable, "-m", "uvicorn", "api_bridge.main:app", "--host", "127.0.0.1",
                                   "--port", str(api), "--log-level", "warning"], **quiet))
    try:
        wait_for(f"http://127.0.0.1:{web}/server_info")
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
