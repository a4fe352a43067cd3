"""Waking the daemon's run queue when there is something to start, instead of waiting for its tick.

Dagster's run queue (the daemon's QueuedRunCoordinatorDaemon) looks for queued runs on a timer;
a run queued just after a look waits for the next one (0.25 s on average at our 0.5 s tick, and
the daemon's loop sleeps in 0.5 s steps, so up to 0.7 s was measured). Every hop of a chain paid
it: request -> plan run, plan -> scene runs, an edit's run.

Here, whoever queues a run (`WarmQueuedRunCoordinator.submit_run`: the webserver for the bridge's
launches, a plan run for its scene runs, the daemon's sensors and retries) or frees a slot (a run
worker whose run ended) sends a one-byte datagram to a Unix socket the queue's daemon thread
listens on; the queue waits for such a datagram or for its tick, whichever comes first. The
queue itself still decides what starts (limits, priorities): a wake only makes it look now.

The socket is in Linux's abstract namespace (no file, no path-length limit, gone with the
process), named after the instance's home: the processes of one instance on one machine share it.
A process of the instance on another machine (a cluster worker) finds nobody listening, and its
runs wait for the tick as before. Nothing is lost if a datagram is: the tick still comes.
"""

from __future__ import annotations

import hashlib
import os
import select
import socket
import time

PREFIX = "videogen-run-queue-"


def address_for(home: str) -> str:
    digest = hashlib.sha256(os.path.realpath(home).encode()).hexdigest()[:24]
    return "\0" + PREFIX + digest


def instance_home(instance) -> str | None:
    """The instance's home folder (DAGSTER_HOME), or None for an instance without one."""
    try:
        return str(instance.root_directory)
    except Exception:  # noqa: BLE001 - ephemeral instances have no root directory
        return None


def ring(home: str | None) -> None:
    """Tell the queue of the instance at `home` to look now; never raises, never blocks."""
    if not home:
        return
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
            s.setblocking(False)
            s.sendto(b"!", address_for(home))
    except OSError:  # nobody listening (no daemon here), or its buffer is full (it will look anyway)
        pass


class QueueWake:
    """The queue's side: `wait(tick)` returns when rung or when `tick` seconds have passed since
    the previous wait returned (at once the first time)."""

    def __init__(self, home: str | None):
        self.sock: socket.socket | None = None
        self.last = 0.0
        if home:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            try:
                sock.bind(address_for(home))
            except OSError:  # another daemon of this instance listens already: tick only
                sock.close()
            else:
                sock.setblocking(False)
                self.sock = sock

    @property
    def listening(self) -> bool:
        return self.sock is not None

    def wait(self, tick: float) -> bool:
        """Whether it was rung (False: the tick came)."""
        left = self.last + tick - time.monotonic()
        rung = False
        if self.sock is None:
            if left > 0:
                time.sleep(left)
        else:
            ready, _, _ = select.select([self.sock], [], [], max(0.0, left))
            rung = bool(ready)
            self._drain()
        self.last = time.monotonic()
        return rung

    def _drain(self) -> None:
        assert self.sock is not None
        while True:
            try:
                self.sock.recv(64)
            except OSError:  # BlockingIOError: nothing left
                return

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None
