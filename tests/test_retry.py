"""The one retry policy: waits, deadline, attempts, and which failures are retried (on a fake
clock), and the bridge's launches and the Convex client use it."""

import pytest

from api_bridge.dagster_client import DagsterClient, DagsterRejected, DagsterUnavailable
from videogen_dagster.retry import RetryPolicy
from videogen_dagster.stores.convex import ConvexClient


class Clock:
    def __init__(self):
        self.now, self.slept = 0.0, []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(round(seconds, 6))
        self.now += seconds


def failing(times: int, error: Exception, value: str = "ok"):
    calls = []

    def attempt():
        calls.append(1)
        if len(calls) <= times:
            raise error
        return value

    return attempt, calls


def test_waits_double_up_to_the_cap_and_the_call_succeeds():
    clock = Clock()
    attempt, calls = failing(6, ConnectionError("down"))
    policy = RetryPolicy(deadline_seconds=60, initial_backoff=0.2, max_backoff=2.0)
    assert policy.call(attempt, sleep=clock.sleep, clock=clock) == "ok"
    assert len(calls) == 7 and clock.slept == [0.2, 0.4, 0.8, 1.6, 2.0, 2.0]


def test_a_failure_that_is_not_transient_is_raised_at_once():
    clock = Clock()
    attempt, calls = failing(1, ValueError("refused"))
    policy = RetryPolicy(deadline_seconds=60, transient=(ConnectionError,))
    with pytest.raises(ValueError, match="refused"):
        policy.call(attempt, sleep=clock.sleep, clock=clock)
    assert len(calls) == 1 and clock.slept == []


def test_the_deadline_cuts_the_last_wait_and_raises_the_last_failure():
    clock = Clock()
    attempt, calls = failing(100, ConnectionError("still down"))
    policy = RetryPolicy(deadline_seconds=1.0, initial_backoff=0.2, max_backoff=2.0)
    with pytest.raises(ConnectionError, match="still down"):
        policy.call(attempt, sleep=clock.sleep, clock=clock)
    assert clock.slept == [0.2, 0.4, 0.4] and len(calls) == 4  # 0.2 + 0.4 + what was left
    no_retry = RetryPolicy(deadline_seconds=0)
    attempt, calls = failing(1, ConnectionError("down"))
    with pytest.raises(ConnectionError):
        no_retry.call(attempt, sleep=clock.sleep, clock=clock)
    assert len(calls) == 1


def test_attempts_count_the_first_try_and_jitter_stays_within_half_either_way():
    clock = Clock()
    attempt, calls = failing(100, ConnectionError("down"))
    policy = RetryPolicy(max_attempts=4, initial_backoff=1.0, max_backoff=100, jitter=True)
    with pytest.raises(ConnectionError):
        policy.call(attempt, sleep=clock.sleep, clock=clock)
    assert len(calls) == 4 and len(clock.slept) == 3
    for wait, base in zip(clock.slept, (1.0, 2.0, 4.0), strict=True):
        assert 0.5 * base <= wait < 1.5 * base


def test_a_policy_without_a_bound_is_refused():
    with pytest.raises(ValueError, match="deadline or a number of attempts"):
        RetryPolicy()
    with pytest.raises(ValueError, match="at least 1"):
        RetryPolicy(max_attempts=0)


def test_the_bridge_and_the_convex_client_retry_by_the_policy():
    launch = DagsterClient("127.0.0.1", 1, "videogen_dagster", launch_retry_seconds=30).launch_retry
    assert (launch.deadline_seconds, launch.initial_backoff, launch.max_backoff) == (30, 0.2, 2.0)
    assert launch.transient == (DagsterUnavailable,) and not issubclass(DagsterRejected, launch.transient)
    convex = ConvexClient("http://127.0.0.1:1", "key").retry
    assert (convex.max_attempts, convex.initial_backoff, convex.jitter) == (4, 0.25, True)
    assert list(zip(range(3), convex.backoffs(), strict=False)) == [(0, 0.25), (1, 0.5), (2, 1.0)]
