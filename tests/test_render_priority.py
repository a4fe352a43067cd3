"""Renders run at a lower CPU priority than the services (sandbox.RENDER_NICE): their nice value,
and their session's group where the kernel schedules sessions as groups (autogroup)."""

from pathlib import Path

import pytest

from videogen_dagster.media.rendering import RenderError, render_scene
from videogen_dagster.media.sandbox import RENDER_NICE, Limits, bwrap_available
from videogen_dagster.models import RenderConfig

# The scene reports the priority it runs at, then stops (before anything is drawn).
REPORT = """import os
from pathlib import Path
group = Path("/proc/self/autogroup")
group = group.read_text().split()[-1] if group.exists() else "none"
raise SystemExit(f"PRIORITY nice={os.getpriority(os.PRIO_PROCESS, 0)} group={group}")
"""


def _priority(tmp_path: Path, confine: bool, limits: Limits | None = None) -> str:
    with pytest.raises(RenderError) as exc:
        render_scene(REPORT, "Report", tmp_path / "work", RenderConfig(quality="preview"), timeout=120,
                     confine=confine, limits=limits, static_check=False, inspect_layout=False)
    line = next(x for x in exc.value.log.splitlines() if x.startswith("PRIORITY"))
    return line.removeprefix("PRIORITY ")


def _expected(nice: int) -> set[str]:
    group = Path("/proc/self/autogroup")
    return {f"nice={nice} group={nice}"} if group.exists() else {f"nice={nice} group=none"}


@pytest.mark.parametrize("confine", [
    False, pytest.param(True, marks=pytest.mark.skipif(not bwrap_available(), reason="no bubblewrap"))])
def test_a_render_runs_at_the_lower_priority(tmp_path, confine):
    assert RENDER_NICE > 0
    assert _priority(tmp_path, confine) in _expected(RENDER_NICE)


def test_nice_zero_leaves_the_priority_alone(tmp_path):
    assert _priority(tmp_path, False, Limits(nice=0)) in _expected(0)
