"""Cluster mode's health (videogen_dagster/cluster/health.py and GET /health): real Redis and
PostgreSQL (scripts/cluster/*.sh), a real Celery worker of the cluster app, moto as S3."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api_bridge.deps import provide_dagster, provide_meta, provide_settings, provide_store
from api_bridge.main import create_app
from tests.conftest import free_port, start_moto
from videogen_dagster.cluster import health as cluster_health_module
from videogen_dagster.cluster.health import Check, ClusterHealth, ClusterReport
from videogen_dagster.settings import S3Settings, Settings
from videogen_dagster.stores.metastore import SqliteMetadataStore
from videogen_dagster.stores.objectstore import StoreConfig
from videogen_dagster.stores.objectstore.s3 import S3ObjectStore

REPO = Path(__file__).resolve().parent.parent
BASE = "/api/v1/video-generation"
SCRIPTS = REPO / "scripts" / "cluster"


def _script(name: str, *args: str) -> str:
    out = subprocess.run(
        ["bash", str(SCRIPTS / name), *args], capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


class HealthyDagster:
    def health(self, max_age=0.0):
        return {"dagster_webserver": None, "dagster_daemon": None}


def _bridge(tmp: Path, settings: Settings) -> TestClient:
    app = create_app()
    meta = SqliteMetadataStore(tmp / "metadata.sqlite")
    store = StoreConfig(local_root=str(tmp / "objects"))
    app.dependency_overrides.update(
        {
            provide_meta: lambda: meta,
            provide_store: lambda: store,
            provide_dagster: lambda: HealthyDagster(),
            provide_settings: lambda: settings,
        }
    )
    return TestClient(app)


def _start_worker(broker: str, home: Path) -> subprocess.Popen:
    home.mkdir(parents=True, exist_ok=True)
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("VIDEOGEN_", "S3_", "DAGSTER_"))
    }
    env.update(
        VIDEOGEN_CELERY_BROKER_URL=broker,
        DAGSTER_HOME=str(home / "dagster"),
        VIDEOGEN_VAR_DIR=str(home),
        HOME=str(home),
    )
    return subprocess.Popen(
        [
            str(Path(sys.executable).parent / "celery"),
            "-A",
            "videogen_dagster.cluster.worker_app:app",
            "worker",
            "--hostname",
            "w1@%h",
            "--queues",
            "render,light",
            "--concurrency",
            "1",
            "--without-gossip",
            "--without-mingle",
            "--loglevel",
            "WARNING",
        ],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def _until(health: ClusterHealth, ok, timeout: float = 60.0) -> ClusterReport:
    deadline = time.monotonic() + timeout
    while True:
        report = health.report()
        if ok(report) or time.monotonic() > deadline:
            return report
        time.sleep(0.3)


@pytest.fixture
def services():
    """Redis and PostgreSQL of our own on free ports, moto as S3, and a Celery worker of the
    cluster app (started first: it takes the longest); all stopped afterwards."""
    tmp = Path(tempfile.mkdtemp(dir="/tmp", prefix="vg-health-"))
    tmp.chmod(0o755)  # postgres.sh runs the server as the postgres user when we are root
    rport, pport = str(free_port()), str(free_port())
    moto = worker = None
    try:
        _script("redis.sh", "start", str(tmp / "redis"), rport)
        broker = _script("redis.sh", "url", str(tmp / "redis"), rport)
        worker = _start_worker(broker, tmp / "w1")
        _script("postgres.sh", "start", str(tmp / "pg"), pport)
        moto, s3_url = start_moto()
        yield {
            "tmp": tmp,
            "redis": (str(tmp / "redis"), rport),
            "pg": (str(tmp / "pg"), pport),
            "broker": broker,
            "worker": worker,
            "db": "postgresql+psycopg2://"
            + _script("postgres.sh", "url", str(tmp / "pg"), pport).split("://", 1)[1],
            "s3": S3Settings(
                bucket="vg-health",
                endpoint_url=s3_url,
                access_key_id="testing",
                secret_access_key="testing",
                create_bucket=True,
            ),
        }
    finally:
        if worker is not None and worker.poll() is None:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait(10)
        if moto is not None:
            moto.kill()
        subprocess.run(
            ["bash", str(SCRIPTS / "redis.sh"), "stop", str(tmp / "redis"), rport], timeout=60
        )
        subprocess.run(["bash", str(SCRIPTS / "postgres.sh"), "stop", str(tmp / "pg")], timeout=60)
        shutil.rmtree(tmp, ignore_errors=True)


def test_health_sees_the_worker_and_queues_then_names_a_dead_worker_postgres_and_redis(
    services, monkeypatch
):
    tmp, broker, worker = services["tmp"], services["broker"], services["worker"]
    store = S3ObjectStore(services["s3"])
    health = ClusterHealth(services["db"], broker, object_store=lambda: store, max_age=0)
    report = _until(health, lambda r: r.checks["celery_workers"].ok)
    assert report.ok, report.problems()
    (name,) = report.workers
    assert name.startswith("w1@") and report.workers[name] == ["light", "render"]
    assert report.queues == {"render": 0, "light": 0}
    assert "SELECT 1 answered" in report.checks["postgresql"].detail
    assert "'vg-health'" in report.checks["object_store"].detail

    # The bridge, in cluster mode, shows the same (its answer is the module's cached one).
    monkeypatch.setattr(cluster_health_module, "cluster_health", lambda: health)
    settings = Settings.from_env({"VIDEOGEN_CELERY_BROKER_URL": broker})
    client = _bridge(tmp, settings)
    r = client.get(f"{BASE}/health")
    body = r.json()
    assert r.status_code == 200, body
    assert body["status"] == "healthy" and body["checks"]["celery_workers"] == "ok"
    assert set(body["checks"]) == {
        "dagster_webserver",
        "dagster_daemon",
        "metadata_store",
        "postgresql",
        "redis",
        "celery_workers",
        "object_store",
    }
    assert list(body["cluster"]["workers"]) == [name] and body["cluster"]["queues"] == {
        "render": 0,
        "light": 0,
    }
    assert body["cluster"]["checked_at"].endswith("Z")

    # The worker dies; runs wait: the queue lengths count every priority's list.
    os.killpg(worker.pid, signal.SIGKILL)
    worker.wait(10)
    from celery import Celery

    sender = Celery("sender", broker=broker, set_as_current=False)
    sender.send_task("videogen.none", queue="render")
    sender.send_task("videogen.none", queue="render", priority=5)  # kombu's list "render\x06\x163"
    sender.send_task("videogen.none", queue="light")
    report = health.report()
    assert not report.ok and report.queues == {"render": 2, "light": 1}
    detail = report.checks["celery_workers"].detail
    assert "no Celery worker answers" in detail and f"stopped answering: {name}" in detail
    assert "render 2, light 1" in detail
    r = client.get(f"{BASE}/health")
    assert (
        r.status_code == 503 and "celery_workers: no Celery worker answers" in r.json()["message"]
    )
    assert r.json()["cluster"]["workers"] == {}

    # PostgreSQL stops: named, with its address and without a password.
    _script("postgres.sh", "stop", services["pg"][0])
    report = health.report()
    pg = report.checks["postgresql"]
    assert (
        not pg.ok
        and f"PostgreSQL at 127.0.0.1:{services['pg'][1]}/videogen is unreachable" in pg.detail
    )

    # Redis stops: named; the workers' state is unknown, the queues too.
    _script("redis.sh", "stop", *services["redis"])
    started = time.monotonic()
    report = health.report()
    assert time.monotonic() - started < 5
    rc = report.checks["redis"]
    assert (
        not rc.ok
        and f"Redis (broker) at 127.0.0.1:{services['redis'][1]}/0 is unreachable" in rc.detail
    )
    assert report.checks["celery_workers"].detail == "unknown while Redis is unreachable"
    assert report.queues is None and report.checks["object_store"].ok
    body = client.get(f"{BASE}/health").json()
    assert body["status"] == "unhealthy" and "redis: Redis (broker)" in body["message"]
    assert "postgresql: PostgreSQL at" in body["message"] and body["cluster"]["queues"] is None


def test_single_machine_health_has_no_cluster_part(tmp_path):
    client = _bridge(tmp_path, Settings.from_env({}))
    r = client.get(f"{BASE}/health")
    assert r.status_code == 200 and "cluster" not in r.json()
    assert set(r.json()["checks"]) == {
        "dagster_webserver",
        "dagster_daemon",
        "metadata_store",
        "object_store",
    }


def test_answer_is_cached_and_refreshed_by_one_caller():
    calls = []

    def slow_check():
        calls.append(time.monotonic())
        time.sleep(0.3)
        return ClusterReport(checks={"redis": Check(True, f"check {len(calls)}")})

    health = ClusterHealth(None, None, max_age=1.0)
    health._check = slow_check
    answers = []
    threads = [threading.Thread(target=lambda: answers.append(health.report())) for _ in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1 and len({id(a) for a in answers}) == 1  # the first callers waited for it
    assert health.report() is answers[0]  # fresh: no new check

    time.sleep(1.1)  # stale: one caller refreshes, the others get the last answer meanwhile
    refresher = threading.Thread(target=health.report)
    refresher.start()
    time.sleep(0.1)
    assert health.report() is answers[0]
    refresher.join()
    assert len(calls) == 2 and health.report().checks["redis"].detail == "check 2"
