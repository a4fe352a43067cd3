"""Where a benchmark phase's CPU went: this process's descendants, by role, and the rest of the
machine (other users of the same cores), sampled from /proc while the phase runs (Linux only).

A process that starts and ends between two samples (every `period` seconds) is missed, so the
figures are lower bounds for short-lived processes; renders last seconds and are counted.
"""

from __future__ import annotations

import os
import threading
from collections import defaultdict
from pathlib import Path

TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
# First match wins: (role, substrings of the command line).
ROLES = (
    ("renders", ("manim", "videogen_layout", "ffmpeg", "bwrap", "latex", "dvisvgm")),
    ("bridge (uvicorn)", ("uvicorn",)),
    ("dagster webserver", ("dagster-webserver", "dagster_webserver")),
    ("dagster runs", ("warm_worker", "watch_orphans", "tail -F")),
    ("dagster daemon", ("dagster",)),
)


def _stat(pid: str) -> tuple[int, float] | None:
    """(parent pid, CPU seconds) of a process."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = raw[raw.rindex(")") + 2 :].split()
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / TICK


def _cmdline(pid: str) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _machine_busy() -> float:
    """CPU seconds the whole machine has spent busy (all cores, every process)."""
    parts = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = parts[3] + (parts[4] if len(parts) > 4 else 0)
    return (sum(parts[:8]) - idle) / TICK


class CpuSampler:
    """`with CpuSampler() as cpu: ...`, then `cpu.report(seconds)`: CPU seconds by role."""

    def __init__(self, period: float = 0.25) -> None:
        self.period = period
        self.root = os.getpid()
        self.seen: dict[str, tuple[str, float, float]] = {}  # pid -> (role, first, last)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self) -> None:
        stats = {p: s for p in os.listdir("/proc") if p.isdigit() and (s := _stat(p))}
        children: dict[int, list[str]] = defaultdict(list)
        for pid, (ppid, _) in stats.items():
            children[ppid].append(pid)
        todo, mine = [str(self.root)], []
        while todo:
            pid = todo.pop()
            mine.append(pid)
            todo += children.get(int(pid), [])
        for pid in mine:
            cpu = stats[pid][1]
            if pid in self.seen:
                role, first, _ = self.seen[pid]
                self.seen[pid] = (role, first, cpu)
            else:
                line = _cmdline(pid)
                role = "this client" if pid == str(self.root) else next(
                    (r for r, keys in ROLES if any(k in line for k in keys)), "other children"
                )
                # A process born during the phase counts from zero.
                self.seen[pid] = (role, cpu if self._baseline else 0.0, cpu)

    def _run(self) -> None:
        while not self._stop.wait(self.period):
            self._sample()

    def __enter__(self) -> CpuSampler:
        self._baseline = True
        self._sample()
        self._baseline = False
        self.busy0 = _machine_busy()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()
        self.busy = _machine_busy() - self.busy0

    def by_role(self) -> dict[str, float]:
        out: dict[str, float] = defaultdict(float)
        for role, first, last in self.seen.values():
            out[role] += last - first
        out["rest of the machine (not this bench)"] = max(0.0, self.busy - sum(out.values()))
        return dict(out)

    def report(self, seconds: float) -> str:
        """One line: each role's share of the machine's cores over the phase."""
        cores = os.cpu_count() or 1
        parts = [f"{role} {cpu / seconds:.2f}" for role, cpu in sorted(self.by_role().items(), key=lambda x: -x[1])]
        return f"cores busy (of {cores}): " + ", ".join(parts)
