import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

REPO = Path(__file__).resolve().parent.parent
# Most tests drive the orchestration with scenes of 3-5 s, too short for any spoken line: they
# run silent (a silent audio track). The narration tests ask for it in their requests.
os.environ.setdefault("NARRATION_ENABLED", "false")


@pytest.fixture
def var_dir(tmp_path: Path) -> Path:
    d = tmp_path / "var"
    d.mkdir()
    return d


def run_cli(
    args: list[str], var_dir: Path, timeout: float = 300, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    """`videogen` in a subprocess with its own state folder and Dagster instance (and `env`
    added to this process's environment)."""
    env = {
        **os.environ,
        **(env or {}),
        "VIDEOGEN_VAR_DIR": str(var_dir),
        "DAGSTER_HOME": str(var_dir / "dagster"),
    }
    return subprocess.run(
        [sys.executable, "-m", "videogen_dagster.cli", *args],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout,
    )


def start_moto(auth_free_calls: str | None = None) -> tuple[subprocess.Popen, str]:
    """moto_server in its own process (a real HTTP S3 endpoint): (process, URL). With
    `auth_free_calls`, IAM auth is enforced after that many unauthenticated calls."""
    port = free_port()
    env = {**os.environ}
    if auth_free_calls is not None:
        env["INITIAL_NO_AUTH_ACTION_COUNT"] = auth_free_calls
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_http(url + "/moto-api/")
    except BaseException:
        proc.kill()
        raise
    return proc, url


def ffprobe(path: Path) -> dict:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-show_format", "-show_streams", "-of", "json", str(path)],
        capture_output=True, text=True, check=True,
    )
    return json.loads(out.stdout)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, timeout: float = 90) -> None:
    """Until `url` answers anything below 500 (a server is up)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=2).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise TimeoutError(url)


# The warm run launcher's test code location (`warm_code`) and the launcher on a test instance
# (`warm_launcher`), shared by tests/test_launcher*.py.
from .dagster_fixtures import warm_code, warm_launcher  # noqa: E402, F401

# A private PostgreSQL server (session-scoped `pg_url`; `pg_database`: a database per test).
from .pg_server import pg_database, pg_url  # noqa: E402, F401
