"""The metadata store on PostgreSQL (cluster mode), where it differs from one SQLite file: many
processes (here forked, as the run workers are) racing on the same rows, a server restart, an
older schema, the Convex outbox in the database, and the metrics' figures read from it. The
store's rules themselves run on both backends in test_metastore.py and test_task_events.py."""

from __future__ import annotations

import multiprocessing
import threading
import time

import psycopg2
import pytest

from videogen_dagster.observability.figures import read_figures
from videogen_dagster.settings import Settings, SettingsError
from videogen_dagster.stores.convex import (
    ConvexFunctionError,
    ConvexOutbox,
    ConvexUnavailable,
    MirroredMetadataStore,
    PostgresConvexOutbox,
    open_metadata_store,
)
from videogen_dagster.stores.metastore import (
    PostgresMetadataStore,
    SceneStatus,
    SqliteMetadataStore,
    VideoBusy,
)
from videogen_dagster.stores.metastore import schema as store_schema
from videogen_dagster.stores.metastore.pg_schema import pg_ddl

from .pg_server import restart_postgres, start_postgres, stop_postgres

FORK = multiprocessing.get_context("fork")


def _backend_pid(store: PostgresMetadataStore) -> int:
    return store._conn().execute("SELECT pg_backend_pid()").fetchone()[0]


def _create_exclusive(url: str, i: int, barrier, results) -> None:
    barrier.wait()
    store = PostgresMetadataStore(url)  # all open an empty database at once: the schema is made once
    try:
        store.create_task(f"t{i}", "generate", "p", "s", "p.s", 6, "preview", exclusive=True,
                          request={"content_prompt": f"prompt {i}"})
        results.put(("ok", i))
    except VideoBusy as exc:
        results.put(("busy", exc.task.task_id))


def test_one_generation_per_video_when_processes_race(pg_database):
    barrier, results = FORK.Barrier(6), FORK.Queue()
    procs = [FORK.Process(target=_create_exclusive, args=(pg_database, i, barrier, results)) for i in range(6)]
    for p in procs:
        p.start()
    outcomes = [results.get(timeout=60) for _ in procs]
    for p in procs:
        p.join(timeout=30)
        assert p.exitcode == 0
    winners = [i for kind, i in outcomes if kind == "ok"]
    assert len(winners) == 1
    assert {i for kind, i in outcomes if kind == "busy"} == {f"t{winners[0]}"}
    meta = PostgresMetadataStore(pg_database)
    assert meta.get_video("p.s").request["content_prompt"] == f"prompt {winners[0]}"
    assert [t.task_id for t in meta.active_tasks("p.s")] == [f"t{winners[0]}"]


def _claim(store: PostgresMetadataStore, barrier, results) -> None:
    barrier.wait()
    results.put(store.claim_join("p.s", "1:1,2:1"))


def test_a_join_is_claimed_once_by_threads_and_forked_processes(pg_database):
    meta = PostgresMetadataStore(pg_database)
    meta.register_video("p.s", "p", "s", {})
    pid = _backend_pid(meta)
    barrier, results = FORK.Barrier(10), FORK.Queue()
    # The children inherit the store with its open connection: each must make its own.
    procs = [FORK.Process(target=_claim, args=(meta, barrier, results)) for _ in range(4)]
    for p in procs:
        p.start()
    threads = [threading.Thread(target=_claim, args=(meta, barrier, results)) for _ in range(6)]
    for t in threads:
        t.start()
    claims = [results.get(timeout=60) for _ in range(10)]
    for t in threads:
        t.join()
    for p in procs:
        p.join(timeout=30)
        assert p.exitcode == 0
    assert sorted(claims) == [False] * 9 + [True]
    # The parent's session outlived its children's exits (they never said goodbye on it).
    assert _backend_pid(meta) == pid
    meta.release_join("p.s", "1:1,2:1")
    assert meta.claim_join("p.s", "1:1,2:1")


def test_a_restart_between_two_writes_is_survived(pg_database):
    meta = PostgresMetadataStore(pg_database)
    meta.create_task("t", "generate", "p", "s", "p.s", 6, "preview")
    restart_postgres()  # every connection is cut
    meta.update_task("t", progress=50, message="after the restart")  # a transaction: reopened first
    restart_postgres()
    assert meta.get_task("t").message == "after the restart"  # a read: retried on a new connection
    assert [e.type for e in meta.task_events("t")] == ["task.queued", "task.progress"]


def test_a_write_waits_for_a_server_that_is_coming_back(pg_database):
    meta = PostgresMetadataStore(pg_database)
    meta.create_task("t", "generate", "p", "s", "p.s", 6, "preview")
    stop_postgres()
    starter = threading.Timer(1.0, start_postgres)
    starter.start()
    began = time.monotonic()
    meta.update_task("t", progress=10, message="written once it was back")  # retried with backoff
    starter.join()
    assert time.monotonic() - began >= 0.9
    assert meta.get_task("t").message == "written once it was back"


def test_a_connection_lost_inside_a_transaction_is_not_replayed(pg_database):
    meta = PostgresMetadataStore(pg_database)
    meta.register_video("p.s", "p", "s", {})
    killer = psycopg2.connect(pg_database)
    killer.autocommit = True
    with pytest.raises(psycopg2.OperationalError), meta._tx() as db:
        db.execute("UPDATE videos SET join_token = 'half-done'")
        killer.cursor().execute("SELECT pg_terminate_backend(%s)", (_backend_pid(meta),))
        db.execute("SELECT 1")
    killer.close()
    assert meta.get_video("p.s").join_token is None  # the server rolled it back; nobody replayed it
    assert meta.claim_join("p.s", "1:1")


def test_an_older_postgres_store_is_migrated(pg_database):
    old = (store_schema.SCHEMA.replace("    llm_usage TEXT,\n", "").replace("    extra TEXT,\n", "")
           + store_schema.EDITS_SCHEMA + store_schema.BATCHES_SCHEMA + store_schema.AGENT_RENDERS_SCHEMA)
    db = psycopg2.connect(pg_database)
    db.autocommit = True
    cur = db.cursor()
    cur.execute("CREATE SCHEMA videogen; SET search_path TO videogen;" + pg_ddl(old))  # before events and webhooks
    cur.execute("""INSERT INTO tasks (task_id, kind, project_id, session_id, video_key, status, created_at,
                   updated_at) VALUES ('old', 'generate', 'demo', 's1', 'demo.s1', 'progress', 'x', 'x')""")
    cur.execute("""INSERT INTO scene_edits (video_key, scene_number, from_version, to_version, edit_prompt, model,
                   created_at) VALUES ('demo.s1', 1, 1, 2, 'bluer', 'm', '2026-01-01T00:00:00Z')""")
    meta = PostgresMetadataStore(pg_database)
    cur.execute("SELECT table_name || '.' || column_name FROM information_schema.columns WHERE table_schema = 'videogen'")
    columns = {r[0] for r in cur.fetchall()}
    assert {"videos.llm_usage", "scene_versions.extra", "videos.join_token", "tasks.webhook_url",
            "scene_edits.rowid", "task_events.id", "webhook_deliveries.next_attempt_at"} <= columns
    assert meta.get_task("old").webhook_url is None and meta.task_events("old") == []
    meta.update_task("old", status="completed", progress=100)
    assert [e.type for e in meta.task_events("old")] == ["task.completed"]
    meta.record_edit("demo.s1", 1, 2, 3, "redder", "m", [], None)
    assert [e.edit_prompt for e in meta.edit_history("demo.s1", 1)] == ["bluer", "redder"]
    meta.register_video("demo.s1", "demo", "s1", {})
    meta.add_llm_usage("demo.s1", {"calls": 1, "cost_usd": 0.5})
    assert meta.get_video("demo.s1").llm_usage["calls"] == 1
    PostgresMetadataStore(pg_database)  # opening it again changes nothing
    assert len(meta.events_after(0)) == 1
    db.close()


class FakeConvex:
    """Records the mutations it is sent; `down`: unreachable; a path in `reject`: refused."""

    def __init__(self, reject: tuple[str, ...] = ()):
        self.sent: list[tuple[str, dict]] = []
        self.down, self.reject = False, reject
        self.gate = threading.Event()
        self.gate.set()

    def mutation(self, path: str, args: dict) -> None:
        self.gate.wait(10)
        if self.down:
            raise ConvexUnavailable("Convex is down")
        if path in self.reject:
            raise ConvexFunctionError(path, "ArgumentValidationError")
        self.sent.append((path, args))


def test_the_outbox_in_the_database_keeps_order_and_dead_entries(pg_database):
    outbox, other = PostgresConvexOutbox(pg_database), PostgresConvexOutbox(pg_database)  # two processes' views
    convex = FakeConvex(reject=("bad:path",))
    convex.down = True
    for progress in (10, 50, 90):
        (outbox if progress != 50 else other).enqueue("tasks:upsert", {"taskId": "t1", "progress": progress})
        assert outbox.flush(convex) == 0
    assert [a["progress"] for _, _, a in other.pending()] == [10, 50, 90]
    convex.down = False
    assert other.flush(convex) == 3 and outbox.pending() == []
    assert [a["progress"] for _, a in convex.sent] == [10, 50, 90]
    outbox.enqueue("bad:path", {"x": 1})
    with pytest.raises(ConvexFunctionError):
        outbox.flush(convex)
    assert outbox.pending() == [] and other.dead()[0]["path"] == "bad:path"


def test_one_drainer_at_a_time(pg_database):
    outbox = PostgresConvexOutbox(pg_database)
    for i in range(5):
        outbox.enqueue("tasks:upsert", {"n": i})
    convex = FakeConvex()
    convex.gate.clear()  # the first drainer stalls on its first entry
    drainers = [threading.Thread(target=outbox.flush, args=(convex,)) for _ in range(3)]
    for t in drainers:
        t.start()
    convex.gate.set()
    for t in drainers:
        t.join(timeout=30)
    assert [a["n"] for _, a in convex.sent] == [0, 1, 2, 3, 4]  # each once, in order


def test_the_settings_choose_the_backend(pg_database, tmp_path):
    url = pg_database.replace("postgresql://", "postgresql+psycopg2://")
    settings = Settings.from_env({"VIDEOGEN_DATABASE_URL": url})
    assert settings.database_url == pg_database and pg_database not in repr(settings)
    assert Settings.from_env({"VIDEOGEN_DATABASE_URL": "postgres://u@h/d"}).database_url == "postgresql://u@h/d"
    with pytest.raises(SettingsError, match="VIDEOGEN_DATABASE_URL: must be a PostgreSQL URL"):
        Settings.from_env({"VIDEOGEN_DATABASE_URL": "mysql://u@h/d"})
    store = open_metadata_store(tmp_path / "m.sqlite", database_url=settings.database_url)
    assert isinstance(store, PostgresMetadataStore) and not (tmp_path / "m.sqlite").exists()
    assert open_metadata_store(tmp_path / "m.sqlite", database_url=settings.database_url) is store
    mirrored = open_metadata_store(tmp_path / "m.sqlite", "http://127.0.0.1:9", "key", settings.database_url)
    assert isinstance(mirrored, MirroredMetadataStore) and isinstance(mirrored.outbox, PostgresConvexOutbox)
    assert isinstance(open_metadata_store(tmp_path / "m.sqlite"), SqliteMetadataStore)


def _obj(key: str, size: int) -> dict:
    return {"key": key, "sha256": "0" * 64, "bytes": size, "content_type": "x"}


def _write(meta) -> None:
    """The same writes as test_metrics' store: generations, an edit, failures, narration, usage."""
    for key in ("p.a", "p.b"):
        meta.create_task(f"gen-{key}", "generate", "p", key[2:], key, 4, "preview", request={"project_id": "p"})
    meta.save_plan("p.a", {"scene_count": 2}, 1, _obj("projects/p/a/plan.json", 50))
    narration = {"narration": {"duration": 2.5, "synthesized": 2, "cached": 1}}
    for n, seconds, extra in ((1, 4.0, narration), (2, 12.0, None)):
        assets = {k: _obj(f"p/a/{n}/{k}", 100 + n) for k in ("source", "video", "thumbnail")}
        meta.record_scene_version("p.a", n, f"s{n}", f"Scene {n}", 1, assets, 3.0, seconds, "preview",
                                  "gen-p.a", "run1", extra=extra)
    meta.save_combined("p.a", 1, {"version": 1, "video": _obj("p/a/combined.mp4", 1000)}, 6.0)
    meta.add_llm_usage("p.a", {"calls": 3, "prompt_tokens": 1000, "total_tokens": 1200, "cost_usd": 0.0125})
    meta.update_task("gen-p.a", status="completed", progress=100,
                     result={"generation_time_seconds": 20.0, "scene_count": 2})
    meta.create_task("edit-1", "edit", "p", "a", "p.a", 3, "preview", scene_id="s1")
    meta.record_scene_version("p.a", 1, "s1", "Scene 1", 2, {"video": _obj("p/a/1/v2", 7)}, 3.0, 61.0,
                              "medium", "edit-1", "run2", edit_prompt="make it blue")
    meta.update_task("edit-1", status="completed", progress=100, result={"generation_time_seconds": 5.0})
    meta.set_scene_status("p.b", 2, "s2", "Scene 2", SceneStatus.FAILED, error="manim exited with code 1")
    meta.update_task("gen-p.b", status="failed", error="plan: token budget of 50 would be exceeded")
    meta.create_task("c-1", "edit", "p", "a", "p.a", 3, "preview", scene_id="s2")
    meta.update_task("c-1", status="cancelled", message="Task cancelled")


def test_the_metrics_figures_are_the_same_on_both_backends(pg_database, tmp_path):
    sqlite_path = tmp_path / "metadata.sqlite"
    _write(SqliteMetadataStore(sqlite_path))
    _write(PostgresMetadataStore(pg_database))
    figures = read_figures(pg_database)
    assert figures == read_figures(sqlite_path) and figures.convex_outbox is None
    assert figures.objects["scene_video"] == (3, 101 + 102 + 7) and figures.narration_lines["synthesized"] == 2
    assert figures.render_seconds["preview"].count == 2 and figures.generation["edit"] == (1, 5.0, 1)
    ConvexOutbox(tmp_path / "convex_outbox.sqlite").enqueue("tasks:upsert", {})
    PostgresConvexOutbox(pg_database).enqueue("tasks:upsert", {})
    figures = read_figures(pg_database)
    assert figures == read_figures(sqlite_path) and figures.convex_outbox == {"pending": 1, "dead": 0}


def test_figures_of_a_database_without_the_store_fail_like_a_missing_file(pg_database):
    with pytest.raises(psycopg2.Error):
        read_figures(pg_database)
