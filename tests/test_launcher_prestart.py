"""The warm parent starts with the daemon (WarmQueuedRunCoordinator -> WarmRunLauncher.prestart),
not on the first launch, and never in other processes that load the coordinator."""

import sys
import threading
import time
from pathlib import Path

import dagster as dg
import pytest
from dagster._core.instance.ref import InstanceRef
from dagster._serdes import serialize_value

from videogen_dagster.launcher import WarmQueuedRunCoordinator
from videogen_dagster.launcher.warm_worker import process_start


class _Launcher:
    def __init__(self):
        self.calls = 0

    def prestart(self):
        self.calls += 1


def _in_thread(name, fn):
    t = threading.Thread(target=fn, name=name)
    t.start()
    t.join()


def test_only_the_daemons_queue_prestarts_once(monkeypatch):
    with dg.instance_for_test() as instance:
        coordinator = WarmQueuedRunCoordinator(max_concurrent_runs=6, dequeue_interval_seconds=1)
        coordinator.register_instance(instance)
        launcher = _Launcher()
        monkeypatch.setattr(type(instance), "run_launcher", property(lambda self: launcher))
        # The webserver, the bridge, the CLI and run workers ask from their own threads.
        coordinator.get_run_queue_config()
        _in_thread("AnyIO worker thread", coordinator.get_run_queue_config)
        assert launcher.calls == 0
        # The daemon's run queue asks at its first iteration, and on every later one.
        for _ in range(3):
            _in_thread("dagster-daemon-QUEUED_RUN_COORDINATOR", coordinator.get_run_queue_config)
        assert launcher.calls == 1
        assert coordinator.get_run_queue_config().max_concurrent_runs == 6


@pytest.fixture
def code(warm_code, monkeypatch) -> Path:
    """The shared code location, as the working directory (where prestart() starts a parent)."""
    monkeypatch.chdir(warm_code)
    return warm_code


def _wait_for(cond, timeout=60.0):
    deadline = time.monotonic() + timeout
    while not cond() and time.monotonic() < deadline:
        time.sleep(0.05)
    return cond()


def test_prestarted_parent_serves_the_first_run(code, warm_launcher):
    instance, launcher = warm_launcher
    launcher.prestart()
    launcher.prestart()  # once
    key = (sys.executable, str(code))
    assert _wait_for(lambda: key in launcher._parents and launcher._parents[key].alive())
    warm = launcher._parents[key].proc.pid
    ref = serialize_value(instance.get_ref())
    # Origins name the working directory as workspace.yaml does: ".".
    answer = launcher._fork(sys.executable, ".", {"run_id": "no-such-run", "instance_ref": ref, "cwd": "."})
    assert answer["pid"] != warm and launcher._parents[key].proc.pid == warm
    assert list(launcher._parents) == [key]


def test_a_prestarted_parent_for_another_location_is_stopped(code, tmp_path, warm_launcher):
    other = tmp_path / "other"
    other.mkdir()
    (other / "warm_probe_mod.py").write_text("VALUE = 1\n")
    _, launcher = warm_launcher
    launcher.prestart()
    key = (sys.executable, str(code))
    assert _wait_for(lambda: key in launcher._parents)
    unused = launcher._parents[key].proc.pid
    ref = serialize_value(InstanceRef.from_dir(str(tmp_path)))
    launcher._fork(sys.executable, str(other), {"run_id": "no-such-run", "instance_ref": ref, "cwd": str(other)})
    assert list(launcher._parents) == [(sys.executable, str(other))]
    assert _wait_for(lambda: process_start(unused) is None, 10)


def test_dagster_yaml_dequeues_every_half_second(tmp_path):
    """dagster.yaml's coordinator takes a float interval (`dequeue_seconds`), the tick it waits
    for in the daemon's run queue when no run wakes it (queue_wake.py)."""
    import yaml

    from videogen_dagster.launcher.coordinator import WarmQueuedRunCoordinator

    config = yaml.safe_load((Path(__file__).resolve().parent.parent / "dagster.yaml").read_text())
    with dg.instance_for_test(overrides={"run_coordinator": config["run_coordinator"]}, temp_dir=str(tmp_path)) as instance:
        coordinator = instance.run_coordinator
        assert isinstance(coordinator, WarmQueuedRunCoordinator)
        assert coordinator.tick_seconds == 0.5 and coordinator.wake_on_submit
        # The daemon's loop gets no interval: the coordinator waits for a wake or the tick.
        assert coordinator.dequeue_interval_seconds == 0
        assert coordinator.get_run_queue_config().max_concurrent_runs == 10  # limits: `concurrency:`
    plain = WarmQueuedRunCoordinator(dequeue_interval_seconds=2)
    assert plain.tick_seconds == 2
