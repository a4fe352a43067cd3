"""One retry policy: how long to keep trying, how long to wait between tries, and which failures
are worth another try.

The REST bridge's Dagster launches (`DAGSTER_LAUNCH_RETRY_SECONDS`, 0.2 s doubling to 2 s) and
the Convex client that the pipeline, the CLI and the bridge write through (4 attempts, 0.25 s
doubling, jittered) are both a `RetryPolicy`; so is the bridge's wait for the code location to
load. A failure that is not `transient` is raised at once; a transient one is raised (as it is)
once the deadline or the attempts are spent, so the caller decides what the last error says.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")

log = logging.getLogger("videogen.retry")


@dataclass(frozen=True)
class RetryPolicy:
    deadline_seconds: float | None = (
        None  # stop retrying this long after the first try (None: no limit)
    )
    max_attempts: int | None = None  # tries in all, the first included (None: no limit)
    initial_backoff: float = 0.2  # the first wait, seconds
    max_backoff: float = 2.0  # waits double up to this
    jitter: bool = False  # each wait times a random factor in [0.5, 1.5), so callers spread out
    transient: tuple[type[BaseException], ...] = (Exception,)  # what is worth another try

    def __post_init__(self) -> None:
        if self.deadline_seconds is None and self.max_attempts is None:
            raise ValueError("a retry policy needs a deadline or a number of attempts")
        if self.max_attempts is not None and self.max_attempts < 1:
            raise ValueError("max_attempts counts the first try: at least 1")

    def backoffs(self) -> Iterator[float]:
        """The waits before the second, third, ... try (before jitter and the deadline)."""
        delay = self.initial_backoff
        while True:
            yield delay
            delay = min(self.max_backoff, delay * 2)

    def call(
        self,
        attempt: Callable[[], T],
        what: str = "",
        *,
        logger: logging.Logger = log,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> T:
        """`attempt()` until it returns, raises a failure that is not transient, or the deadline
        or the attempts run out (then its last transient failure is raised). Each retry is
        logged (info) when `what` names the operation."""
        deadline = None if self.deadline_seconds is None else clock() + self.deadline_seconds
        waits = self.backoffs()
        tries = 0
        while True:
            tries += 1
            try:
                return attempt()
            except self.transient as exc:
                if self.max_attempts is not None and tries >= self.max_attempts:
                    raise
                wait = next(waits) * ((0.5 + random.random()) if self.jitter else 1.0)
                if deadline is not None:
                    left = deadline - clock()
                    if left <= 0:
                        raise
                    wait = min(wait, left)
                if what:
                    logger.info("%s: %s; retrying in %.1f s", what, exc, wait)
                sleep(wait)
