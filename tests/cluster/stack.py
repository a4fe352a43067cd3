"""Cluster mode on one machine, for the tests and bench/bench_cluster.py: PostgreSQL and Redis
(the project's scripts/cluster/*.sh), moto_server as S3, a head node (daemon, webserver, bridge)
and N Celery workers, each worker in its own folder with its own HOME, DAGSTER_HOME and scratch.
Nothing is shared on disk between the head and the workers."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.api_bridge.conftest import SECRET, Stack
from tests.conftest import REPO, free_port, start_moto, wait_http

SCRIPTS = REPO / "scripts" / "cluster"
BUCKET = "videogen-cluster"


class Services:
    """PostgreSQL, Redis and moto, each restartable by a test."""

    def __init__(self) -> None:
        # Not under pytest's 0700 tmp folder: PostgreSQL runs as the postgres user when root.
        self.dir = Path(tempfile.mkdtemp(prefix="videogen-cluster-", dir="/tmp"))
        os.chmod(self.dir, 0o755)
        self.pg_port, self.redis_port = free_port(), free_port()
        self.moto: subprocess.Popen | None = None
        self.s3_url = ""

    def _script(self, name: str, *args: str) -> str:
        out = subprocess.run([str(SCRIPTS / name), *args], check=True, capture_output=True, text=True, timeout=120)
        return out.stdout.strip()

    def start(self) -> None:
        self.pg("start")
        self.redis("start")
        self.moto, self.s3_url = start_moto()

    def pg(self, action: str) -> None:
        self._script("postgres.sh", action, str(self.dir / "postgres"), str(self.pg_port))

    def redis(self, action: str) -> None:
        self._script("redis.sh", action, str(self.dir / "redis"), str(self.redis_port))

    def redis_queue_length(self, queue: str) -> int:
        """Messages waiting in a Celery queue (kombu's Redis transport: a list per queue, plus
        one per priority step, named `<queue>\x06\x16<n>`)."""
        import redis

        r = redis.Redis(host="127.0.0.1", port=self.redis_port)
        try:
            return sum(r.llen(k) for k in r.keys(f"{queue}*") if r.type(k) == b"list")
        finally:
            r.close()

    @property
    def env(self) -> dict[str, str]:
        return {
            "VIDEOGEN_DATABASE_URL": f"postgresql+psycopg2://videogen@127.0.0.1:{self.pg_port}/videogen",
            "VIDEOGEN_CELERY_BROKER_URL": f"redis://127.0.0.1:{self.redis_port}/0",
            "S3_BUCKET": BUCKET, "S3_ENDPOINT_URL": self.s3_url, "S3_CREATE_BUCKET": "1",
            "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_REGION": "us-east-1",
        }

    def stop(self) -> None:
        for action in (lambda: self.pg("stop"), lambda: self.redis("stop")):
            try:
                action()
            except Exception:  # noqa: BLE001 - best effort at teardown
                pass
        if self.moto:
            self.moto.terminate()
            self.moto.wait(timeout=20)
        shutil.rmtree(self.dir, ignore_errors=True)


class Worker:
    def __init__(self, name: str, folder: Path, env: dict[str, str], concurrency: int, queues: str):
        self.name, self.folder = name, folder
        for sub in ("home", "dagster", "var"):
            (folder / sub).mkdir(parents=True, exist_ok=True)
        self.env = {**env, "HOME": str(folder / "home"), "DAGSTER_HOME": str(folder / "dagster"),
                    "VIDEOGEN_VAR_DIR": str(folder / "var")}
        self.concurrency, self.queues = concurrency, queues
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        self.log = open(self.folder / "worker.log", "a")  # noqa: SIM115
        # Its own process group: killing the group is a machine dying (parent, pool, renders).
        self.proc = subprocess.Popen(
            [str(Path(sys.executable).parent / "videogen"), "worker", "--name", self.name,
             "--concurrency", str(self.concurrency), "--queues", self.queues],
            cwd=self.folder, env=self.env, stdout=self.log, stderr=self.log, start_new_session=True,
        )

    def kill(self) -> None:
        """SIGKILL to the whole worker: no warm shutdown, nothing acknowledged."""
        assert self.proc is not None
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=30)
        if getattr(self, "log", None):
            self.log.close()


class Cluster:
    """The whole thing: `services`, the head `stack` (tests.api_bridge.conftest.Stack) and `workers`."""

    def __init__(self, var: Path, workers: int = 2, concurrency: int = 1, extra_env: dict | None = None,
                 queues: str = "render,light", render_slots: int | None = None):
        self.var = var
        self.services = Services()
        self.services.start()
        try:
            self._prepare(var, workers, concurrency, extra_env, queues, render_slots)
        except BaseException:
            self.services.stop()  # nothing left running when the set-up fails
            raise

    def _prepare(self, var: Path, workers: int, concurrency: int, extra_env: dict | None, queues: str,
                 render_slots: int | None) -> None:
        base = {**os.environ, **self.services.env, "JWT_SECRET": SECRET, **(extra_env or {})}
        base.pop("VIDEOGEN_VAR_DIR", None)
        base.pop("DAGSTER_HOME", None)
        self.base_env = base
        head = var / "head"
        head.mkdir(parents=True)
        self.stack = Stack(head, {**self.services.env, **(extra_env or {})}, public_url=False)
        self.stack.env["HOME"] = str(head / "home")
        (head / "home").mkdir()
        # The head's instance: PostgreSQL storage, the Celery launcher, the cluster's render slots.
        subprocess.run([str(self.stack.bin / "videogen"), "cluster-config", "--render-slots",
                        str(render_slots or workers * concurrency)], cwd=REPO, env=self.stack.env, check=True,
                       capture_output=True, timeout=120)
        subprocess.run([str(self.stack.bin / "dagster"), "instance", "migrate"], cwd=REPO, env=self.stack.env,
                       check=True, capture_output=True, timeout=180)
        self.workers = [Worker(f"worker-{i + 1}", var / f"worker-{i + 1}", base, concurrency, queues)
                        for i in range(workers)]

    def start(self) -> Cluster:
        try:
            for w in self.workers:
                w.start()
            self.stack.start_daemon()
            self.stack.start_webserver()
            self.stack.start_bridge()
            wait_http(f"http://127.0.0.1:{self.stack.api}/docs")
        except BaseException:
            self.stop()
            raise
        return self

    def wait_workers(self, names: list[str] | None = None, timeout: float = 60) -> None:
        """Until every named worker answers a Celery ping."""
        from videogen_dagster.cluster.celery_app import make_celery

        app = make_celery(self.services.env["VIDEOGEN_CELERY_BROKER_URL"])
        want = {f"{n}@" for n in (names or [w.name for w in self.workers])}
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            seen = {next(iter(r)) for r in app.control.ping(timeout=1.0) or []}
            if all(any(s.startswith(w) for s in seen) for w in want):
                return
        raise TimeoutError(f"workers {sorted(want)} did not answer; see {self.var}/worker-*/worker.log")

    def stop(self) -> None:
        for w in self.workers:
            w.stop()
        self.stack.stop()
        self.services.stop()
