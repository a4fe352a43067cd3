"""Layout findings of a render: text off the frame, overlapping, too small, or hard to read.

The trusted side of the layout inspector (`voiceover_runtime/videogen_layout.py`, which runs
Manim inside the sandbox and looks at the text on screen after every animation): `install` puts
the inspector and its thresholds beside the scene's code before the render, `read_report` reads
what it found afterwards. The render is untrusted, and its scene code runs in the same process
as the inspector: the findings file is read only when it is a regular file (not a link) under
MAX_BYTES, at most MAX_FINDINGS entries with the right types and times inside the video are
kept, and every message is written here from those checked fields, never taken from the file.
"""

from __future__ import annotations

import errno
import json
import math
import os
import shutil
import stat
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

RUNNER = Path(__file__).resolve().parent / "voiceover_runtime" / "videogen_layout.py"
RUNNER_MODULE = RUNNER.stem  # `python -m videogen_layout render ...` instead of `-m manim`
FINDINGS_FILE = "layout_findings.json"
CONFIG_FILE = "layout_config.json"
MAX_BYTES = 512 * 1024
MAX_FINDINGS = 100
MAX_TEXT = 40


class LayoutKind(StrEnum):
    OUT_OF_FRAME = "out_of_frame"
    OVERLAP = "overlap"
    TOO_SMALL = "too_small"
    LOW_CONTRAST = "low_contrast"


@dataclass(frozen=True)
class Thresholds:
    """What counts as a finding. `min_glyph_px` is the height of a capital letter in pixels of
    the output (so the same scene can pass at 1080p and fail at 480p)."""

    margin: float = 0.2
    min_glyph_px: float = 14.0
    min_contrast: float = 3.0
    overlap_tolerance: float = 0.05


@dataclass(frozen=True)
class Finding:
    """One layout problem, seen after `count` consecutive animations from `time` to `until`
    (scene seconds, at the end of the animation that showed it).

    `amount` depends on the kind: units past the safe margin (out_of_frame), units the two boxes
    intersect by (overlap), pixels of a capital letter (too_small), the contrast ratio
    (low_contrast)."""

    kind: LayoutKind
    mobject: str
    text: str
    time: float
    until: float
    count: int
    amount: float
    edge: str | None = None  # out_of_frame: left/right/top/bottom
    past_edge: float = 0.0  # out_of_frame: units past the frame itself (0: only in the margin)
    other_mobject: str | None = None  # overlap
    other_text: str | None = None
    color: str | None = None  # low_contrast: the text's colour as shown, and what is behind it
    background: str | None = None
    pixel_height: int | None = None  # too_small
    # The threshold applied: the margin, the overlap tolerance, the minimum pixels or contrast.
    limit: float | None = None

    @property
    def subject(self) -> str:
        return _name(self.mobject, self.text)

    @property
    def message(self) -> str:
        """One sentence: what, where, when, and the fix."""
        at = f"at {self.time:.1f} s" + (
            f" (until {self.until:.1f} s)" if self.until - self.time >= 0.05 else ""
        )
        if self.kind is LayoutKind.OUT_OF_FRAME:
            if self.past_edge > 0:
                what = f"leaves the frame by {self.past_edge:.2f} units at the {self.edge} edge"
            else:
                what = f"is within the {self.edge} edge's safe margin by {self.amount:.2f} units"
            keep = f" (keep {self.limit:g} units from the edges)" if self.limit else ""
            return f"{self.subject} {what} {at}: scale it down or move it inside{keep}."
        if self.kind is LayoutKind.OVERLAP:
            other = _name(self.other_mobject or "Mobject", self.other_text or "")
            return (
                f"{self.subject} overlaps {other} by {self.amount:.2f} units {at}: move one of "
                "them (next_to/arrange with a buff) or fade out the first before showing the second."
            )
        if self.kind is LayoutKind.TOO_SMALL:
            return (
                f"{self.subject} is {self.amount:.1f} px high (a capital letter) at "
                f"{self.pixel_height}p {at}, under the readable {self.limit or 14:g} px: use a "
                "larger font_size and fewer words per line instead of scaling it down."
            )
        return (
            f"{self.subject} has contrast {self.amount:.1f}:1 ({self.color} on {self.background})"
            f" {at}, under {self.limit or 3:g}:1: use a lighter colour on a dark background "
            "(or darker on light), at full opacity."
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, with the message (for asset-check metadata and the fix loop)."""
        return {**asdict(self), "kind": self.kind.value, "message": self.message}


@dataclass(frozen=True)
class LayoutReport:
    """What the inspector saw: `checks` is the number of animations looked at (0: the render
    was not inspected, or its report was missing or refused); `dropped` counts findings left
    out over the limits."""

    findings: list[Finding] = field(default_factory=list)
    checks: int = 0
    dropped: int = 0
    seconds: float = 0.0  # the inspector's own time, as it reported it
    refused: str | None = None  # why the findings file was ignored, when it was


def _name(mobject: str, text: str) -> str:
    return f"{mobject} {shorten(text)!r}" if text else mobject


def shorten(text: str, limit: int = MAX_TEXT) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def install(workdir: Path, thresholds: Thresholds | None = None) -> None:
    """The inspector and its thresholds beside the scene's code; no findings from before."""
    workdir.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(RUNNER, workdir / RUNNER.name)
    (workdir / CONFIG_FILE).write_text(
        json.dumps(asdict(thresholds or Thresholds())), encoding="utf-8"
    )
    (workdir / FINDINGS_FILE).unlink(missing_ok=True)


def uninstall(workdir: Path) -> None:
    for name in (RUNNER.name, CONFIG_FILE, FINDINGS_FILE):
        (workdir / name).unlink(missing_ok=True)


def _read_bounded(path: Path) -> bytes | str:
    """The file's bytes, or why it is refused: only a regular file (a link could point at a
    file of the host), opened without blocking (a FIFO), at most MAX_BYTES."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except FileNotFoundError:
        return "no findings file (the inspector did not finish)"
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "the findings file is a symbolic link"
        return f"the findings file cannot be read ({exc.strerror})"
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            return "the findings file is not a regular file"
        if info.st_size > MAX_BYTES:
            return f"the findings file is {info.st_size} bytes (limit {MAX_BYTES})"
        data = os.read(fd, MAX_BYTES + 1)
        return data if len(data) <= MAX_BYTES else "the findings file grew past its limit"
    finally:
        os.close(fd)


def read_report(workdir: Path, video_duration: float) -> LayoutReport:
    """The inspector's findings, checked; a refused file gives an empty report saying why."""
    data = _read_bounded(workdir / FINDINGS_FILE)
    if isinstance(data, str):
        return LayoutReport(refused=data)
    try:
        raw = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return LayoutReport(refused="the findings file is not JSON")
    if not isinstance(raw, dict) or not isinstance(raw.get("findings"), list):
        return LayoutReport(refused="the findings file has no findings list")
    checks = _int(raw.get("checks"), 0, 10**7)
    if checks is None:
        return LayoutReport(refused="the findings file has no count of checks")
    findings: list[Finding] = []
    dropped = _int(raw.get("dropped"), 0, 10**7) or 0
    for entry in raw["findings"]:
        finding = _finding(entry, video_duration) if len(findings) < MAX_FINDINGS else None
        if finding is None:
            dropped += 1
        else:
            findings.append(finding)
    findings.sort(key=lambda f: (f.time, f.kind.value))
    seconds = _float(raw.get("seconds"), 0.0, 1e6) or 0.0
    # Animations whose look failed inside the inspector were not inspected.
    failed = min(_int(raw.get("errors"), 0, 10**7) or 0, checks)
    return LayoutReport(findings, checks - failed, dropped, seconds)


def _int(value: Any, low: int, high: int) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        return None
    return value


def _float(value: Any, low: float, high: float) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    value = float(value)
    return value if math.isfinite(value) and low <= value <= high else None


def _str(value: Any, limit: int = 200) -> str | None:
    return value[:limit] if isinstance(value, str) else None


def _identifier(value: Any) -> str | None:
    """A class name: letters, digits and `_` only, bounded."""
    if isinstance(value, str) and value.isidentifier() and len(value) <= 60:
        return value
    return None


def _color(value: Any) -> str | None:
    if (
        isinstance(value, str)
        and len(value) == 7
        and value[0] == "#"
        and all(c in "0123456789abcdef" for c in value[1:])
    ):
        return value
    return None


def _finding(entry: Any, video_duration: float) -> Finding | None:
    """One entry of the file as a Finding, or None when any field is off."""
    if not isinstance(entry, dict):
        return None
    try:
        kind = LayoutKind(str(entry.get("kind")))
    except ValueError:
        return None
    end = video_duration + 0.5  # the last animation ends at the video's end (frame rounding)
    mobject = _identifier(entry.get("mobject"))
    text = _str(entry.get("text"), 1000)
    time = _float(entry.get("time"), 0.0, end)
    until = _float(entry.get("until"), 0.0, end)
    count = _int(entry.get("count"), 1, 10**6)
    amount = _float(entry.get("amount"), 0.0, 1e6)
    limit = _float(entry.get("limit"), 0.0, 1e3) if "limit" in entry else None
    if (
        mobject is None
        or text is None
        or time is None
        or until is None
        or count is None
        or amount is None
        or until < time
    ):
        return None
    extra: dict[str, Any] = {"limit": limit}
    if kind is LayoutKind.OUT_OF_FRAME:
        edge, past = entry.get("edge"), _float(entry.get("past_edge"), 0.0, 1e6)
        if edge not in ("left", "right", "top", "bottom") or past is None:
            return None
        extra |= {"edge": edge, "past_edge": past}
    elif kind is LayoutKind.OVERLAP:
        other, other_text = _identifier(entry.get("other_mobject")), _str(entry.get("other_text"))
        if other is None or other_text is None:
            return None
        extra |= {"other_mobject": other, "other_text": shorten(other_text)}
    elif kind is LayoutKind.TOO_SMALL:
        pixel_height = _int(entry.get("pixel_height"), 1, 10_000)
        if pixel_height is None:
            return None
        extra |= {"pixel_height": pixel_height}
    else:
        color, background = _color(entry.get("color")), _color(entry.get("background"))
        if color is None or background is None or amount < 1.0 or amount > 21.0:
            return None
        extra |= {"color": color, "background": background}
    return Finding(
        kind=kind,
        mobject=mobject,
        text=shorten(text),
        time=round(time, 2),
        until=round(until, 2),
        count=count,
        amount=amount,
        **extra,
    )


def feedback(findings: list[Finding], limit: int = 12) -> str:
    """The findings as lines for a model's fix prompt (the first `limit`, then how many more)."""
    lines = [f"- {f.message}" for f in findings[:limit]]
    if len(findings) > limit:
        lines.append(f"- … and {len(findings) - limit} more layout findings of the same kinds.")
    return "\n".join(lines)
