"""The run queue wakes when a run is queued (queue_wake.py, WarmQueuedRunCoordinator), instead of
waiting for its tick; without a wake it still looks at every tick."""

import threading
import time

import dagster as dg
from dagster._core.remote_origin import (
    InProcessCodeLocationOrigin,
    RemoteJobOrigin,
    RemoteRepositoryOrigin,
)
from dagster._core.run_coordinator import SubmitRunContext
from dagster._core.test_utils import create_run_for_test
from dagster._core.types.loadable_target_origin import LoadableTargetOrigin

from videogen_dagster.launcher import WarmQueuedRunCoordinator
from videogen_dagster.launcher.coordinator import QUEUE_THREAD
from videogen_dagster.launcher.queue_wake import QueueWake, ring


def test_a_ring_wakes_the_queue_and_the_tick_still_comes(tmp_path):
    wake = QueueWake(str(tmp_path))
    try:
        assert wake.listening
        assert wake.wait(30.0) is False  # the first look is at once
        started = time.monotonic()
        assert wake.wait(0.3) is False  # no ring: the tick
        assert time.monotonic() - started >= 0.29
        threading.Timer(0.2, ring, [str(tmp_path)]).start()
        started = time.monotonic()
        assert wake.wait(30.0) is True
        assert time.monotonic() - started < 10.0  # the ring, not the 30 s tick
        for _ in range(50):  # many rings before a look: one look, then the tick again
            ring(str(tmp_path))
        assert wake.wait(30.0) is True
        started = time.monotonic()
        assert wake.wait(0.2) is False
        assert time.monotonic() - started >= 0.19
    finally:
        wake.close()


def test_rings_reach_only_their_own_instance_and_never_fail(tmp_path):
    ring(str(tmp_path / "nobody-listens"))  # no daemon here: nothing happens
    ring(None)
    ours, other = QueueWake(str(tmp_path / "a")), QueueWake(str(tmp_path / "b"))
    second = QueueWake(str(tmp_path / "a"))  # another daemon of the same home: it ticks only
    try:
        assert not second.listening
        for w in (ours, other, second):
            w.wait(0.0)
        ring(str(tmp_path / "a"))
        assert ours.wait(0.2) is True
        assert other.wait(0.2) is False
        second.wait(0.0)
        started = time.monotonic()
        assert second.wait(0.2) is False and time.monotonic() - started >= 0.19
    finally:
        for w in (ours, other, second):
            w.close()


def test_submitting_a_run_wakes_the_daemons_queue():
    config = {"module": "videogen_dagster.launcher", "class": "WarmQueuedRunCoordinator",
              "config": {"dequeue_interval_seconds": 1, "dequeue_seconds": 60.0}}
    with dg.instance_for_test(overrides={"run_coordinator": config}) as instance:
        coordinator = instance.run_coordinator
        assert isinstance(coordinator, WarmQueuedRunCoordinator)
        # The daemon's loop gets no interval: its queue thread waits in get_run_queue_config.
        assert coordinator.dequeue_interval_seconds == 0
        looks: list[float] = []

        def run_iteration():  # as the daemon's queue asks, first thing in each iteration
            instance.get_concurrency_config()
            looks.append(time.monotonic())
            # Asked again inside the iteration (op-concurrency pools): no second wait.
            instance.event_log_storage.get_pool_config()

        def queue():
            for _ in range(2):
                run_iteration()

        thread = threading.Thread(target=queue, name=QUEUE_THREAD)
        thread.start()
        time.sleep(0.5)
        assert len(looks) == 1  # the first look at once, the next one waits (a 60 s tick)
        origin = RemoteJobOrigin(RemoteRepositoryOrigin(
            InProcessCodeLocationOrigin(LoadableTargetOrigin(python_file=__file__)), "__repository__"), "some_job")
        run = create_run_for_test(instance, job_name="some_job", remote_job_origin=origin)
        coordinator.submit_run(SubmitRunContext(run, workspace=None))  # type: ignore[arg-type]
        submitted = time.monotonic()
        thread.join(timeout=20)
        assert not thread.is_alive() and len(looks) == 2 and looks[1] - submitted < 10.0
        assert instance.get_run_by_id(run.run_id).status == dg.DagsterRunStatus.QUEUED
        # Other threads (the webserver's, the bridge's) ask without waiting.
        started = time.monotonic()
        coordinator.get_run_queue_config()
        assert time.monotonic() - started < 5.0


def test_without_wakes_the_daemons_loop_keeps_the_tick():
    coordinator = WarmQueuedRunCoordinator(max_concurrent_runs=6, dequeue_interval_seconds=1)
    coordinator.dequeue_seconds = 0.5
    coordinator.wake_on_submit = False
    assert coordinator.dequeue_interval_seconds == 0.5


def test_questions_from_an_unknown_caller_each_wait_for_the_tick():
    """Should Dagster ask for the queue config from somewhere other than `run_iteration`, each
    question waits: the daemon's loop, which has no interval of its own, never spins."""
    config = {"module": "videogen_dagster.launcher", "class": "WarmQueuedRunCoordinator",
              "config": {"dequeue_interval_seconds": 1, "dequeue_seconds": 0.3}}
    with dg.instance_for_test(overrides={"run_coordinator": config}) as instance:
        looks: list[float] = []

        def some_other_loop():
            for _ in range(3):
                instance.get_concurrency_config()
                looks.append(time.monotonic())

        thread = threading.Thread(target=some_other_loop, name=QUEUE_THREAD)
        thread.start()
        thread.join(timeout=20)
        assert len(looks) == 3
        assert looks[1] - looks[0] >= 0.25 and looks[2] - looks[1] >= 0.25
