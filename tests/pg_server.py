"""A private PostgreSQL server for the tests (scripts/cluster/postgres.sh, the project's own
script): `pg_url`, session-scoped, the URL of its `videogen` database; `fresh_database(pg_url)`
a new empty database on it (`pg_database`: one per test, dropped after it), so tests never see
each other's rows; `restart_postgres()` (and stop/start) for the reconnect tests. Skipped without PostgreSQL's
server binaries (`apt-get install postgresql`)."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg2
import pytest

from .conftest import REPO, free_port

SCRIPT = REPO / "scripts" / "cluster" / "postgres.sh"
_SERVER: dict[str, str] = {}  # dir, port of the session's server


def _script(*args: str) -> None:
    # fsync off: the data is thrown away, and CREATE DATABASE is ten times faster without it.
    env = {**os.environ, "PG_FSYNC": "off"}
    subprocess.run(["bash", str(SCRIPT), *args], env=env, check=True, capture_output=True, timeout=120)


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    if not glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"):
        pytest.skip("needs PostgreSQL's server binaries (apt-get install postgresql)")
    # Not pytest's tmp_path (mode 0700 folders): initdb runs as the postgres user when root.
    data = tempfile.mkdtemp(prefix="videogen-pg-", dir="/tmp")
    port = str(free_port())
    _script("start", data, port)
    _SERVER.update(dir=data, port=port)
    try:
        yield f"postgresql://videogen@127.0.0.1:{port}/videogen"
    finally:
        _script("stop", data)
        _SERVER.clear()
        shutil.rmtree(data, ignore_errors=True)


def _admin(url: str, statement: str) -> None:
    conn = psycopg2.connect(url.rsplit("/", 1)[0] + "/postgres")
    try:
        conn.autocommit = True
        conn.cursor().execute(statement)
    finally:
        conn.close()


def fresh_database(url: str) -> str:
    """A new, empty database on `url`'s server: its URL."""
    name = f"test_{uuid.uuid4().hex[:12]}"
    _admin(url, f"CREATE DATABASE {name}")
    return url.rsplit("/", 1)[0] + "/" + name


def drop_database(url: str) -> None:
    """Drop a database made by fresh_database (its open connections are ended)."""
    _admin(url, f"DROP DATABASE IF EXISTS {url.rsplit('/', 1)[1]} WITH (FORCE)")


@pytest.fixture
def pg_database(pg_url: str) -> Iterator[str]:
    """A database of this test's own, dropped after it."""
    url = fresh_database(pg_url)
    yield url
    drop_database(url)


def restart_postgres() -> None:
    """Stop the session's server (fast shutdown: every connection is cut) and start it again."""
    _script("restart", _SERVER["dir"], _SERVER["port"])


def stop_postgres() -> None:
    _script("stop", _SERVER["dir"])


def start_postgres() -> None:
    _script("start", _SERVER["dir"], _SERVER["port"])


def make_store(kind: str, request: pytest.FixtureRequest, path: Path):
    """A metadata store of `kind` ("sqlite": the file `path`; "postgres": the test's own database
    on the session's server), for fixtures parametrized over both backends."""
    from videogen_dagster.stores.metastore import PostgresMetadataStore, SqliteMetadataStore

    if kind == "sqlite":
        return SqliteMetadataStore(path)
    return PostgresMetadataStore(request.getfixturevalue("pg_database"))


BACKENDS = ["sqlite", "postgres"]
