"""`videogen worker` and `videogen cluster-config`: cluster mode's commands (README, "Cluster mode").

A worker is a Celery worker of the cluster app (cluster/celery_app.py) that runs Dagster runs:
it needs the project installed, VIDEOGEN_DATABASE_URL, VIDEOGEN_CELERY_BROKER_URL, S3 settings
and its own DAGSTER_HOME (made here from dagster-cluster.yaml), and nothing shared on disk.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from videogen_dagster.cluster.names import QUEUES
from videogen_dagster.settings import get_settings


def add_parsers(sub: argparse._SubParsersAction) -> None:
    w = sub.add_parser("worker", help="cluster mode: run Dagster runs from the Celery queues on this machine")
    w.add_argument("--name", default="worker", help="the worker's name; Celery's node name is NAME@host")
    w.add_argument("--queues", default=",".join(QUEUES),
                   help=f"queues to take runs from (default {','.join(QUEUES)}: renders and light work)")
    w.add_argument("--concurrency", type=int, default=1,
                   help="runs at once (default 1: a Manim render uses about one core)")
    w.add_argument("--loglevel", default="INFO")
    c = sub.add_parser("cluster-config", help="cluster mode: write $DAGSTER_HOME/dagster.yaml from dagster-cluster.yaml")
    c.add_argument("--render-slots", type=int, default=None,
                   help="scenes rendering at once in the whole cluster (machines x worker concurrency)")


def _problem() -> str | None:
    settings = get_settings()
    missing = [name for name, value in (
        ("VIDEOGEN_CELERY_BROKER_URL", settings.cluster.broker_url),
        ("VIDEOGEN_DATABASE_URL", getattr(settings, "database_url", None)),
    ) if not value]
    if missing:
        return f"cluster mode needs {' and '.join(missing)} (README, \"Cluster mode\")"
    return None


def run_config(args: argparse.Namespace) -> int:
    from videogen_dagster.cluster.instance_config import write_cluster_instance
    from videogen_dagster.instance import REPO_ROOT

    if problem := _problem():
        print(f"videogen: {problem}", file=sys.stderr)
        return 2
    settings = get_settings()
    home = (settings.dagster.home or Path("var/dagster")).resolve()
    path = write_cluster_instance(home, REPO_ROOT / "dagster-cluster.yaml", settings, args.render_slots)
    print(path)
    return 0


def run_worker(args: argparse.Namespace) -> int:
    from videogen_dagster.instance import prepare_dagster_home

    if problem := _problem():
        print(f"videogen: {problem}", file=sys.stderr)
        return 2
    queues = [q for q in args.queues.split(",") if q]
    unknown = sorted(set(queues) - set(QUEUES))
    if unknown or not queues:
        print(f"videogen: unknown queue(s) {unknown or args.queues!r}; known: {', '.join(QUEUES)}", file=sys.stderr)
        return 2
    prepare_dagster_home()
    argv = [
        sys.executable, "-m", "celery", "-A", "videogen_dagster.cluster.worker_app:app", "worker",
        "--hostname", f"{args.name}@%h", "--queues", ",".join(queues), "--concurrency", str(args.concurrency),
        "--pool", "prefork", "--loglevel", args.loglevel, "--without-gossip", "--without-mingle",
    ]
    os.execv(sys.executable, argv)  # Celery handles signals itself: TERM finishes running runs first
    return 0  # not reached
