"""The trusted side of narrated renders: what goes into the sandbox before a render (the
`manim_voiceover` runtime and the spoken length of each line) and what comes out of it (where
each line started).

Untrusted scene code never synthesizes speech: the lines it will speak are read from its source
(string literals passed to `self.voiceover`) and synthesized before the render; a line made up
at render time is timed at a speaking pace and spoken afterwards.
"""

from __future__ import annotations

import ast
import json
import math
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

RUNTIME = Path(__file__).resolve().parent / "voiceover_runtime" / "manim_voiceover"
LINES_FILE = "voiceover_lines.json"
TIMELINE_FILE = "voiceover_timeline.jsonl"
MAX_LINES = 200
MAX_TIMELINE_BYTES = 256 * 1024
_BOOKMARK = re.compile(r"<bookmark\s+mark\s*=\s*['\"]([^'\"]+)['\"]\s*/>")


@dataclass(frozen=True)
class SpokenAt:
    """A line as the render spoke it: its text and the scene time (seconds) it started at."""

    text: str
    start: float
    known: bool


def plain(text: str) -> str:
    """A line as it is spoken: bookmarks dropped, whitespace collapsed."""
    return " ".join(_BOOKMARK.sub(" ", str(text)).split())


def uses_voiceover(code: str) -> bool:
    return ".voiceover(" in code


def spoken_texts(code: str) -> list[str]:
    """The literal lines the code passes to `self.voiceover(text=...)` (or as its first
    argument), in source order, without duplicates. Code that does not parse has none."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return []
    found: list[str] = []
    for node in ast.walk(tree):
        if not (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "voiceover"
        ):
            continue
        args = [kw.value for kw in node.keywords if kw.arg in ("text", "ssml")] + node.args[:1]
        for arg in args[:1]:
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                line = plain(arg.value)
                if line and line not in found:
                    found.append(line)
    return found[:MAX_LINES]


def install(workdir: Path, durations: dict[str, float]) -> None:
    """The runtime package and the lines' spoken lengths, beside the scene's code."""
    workdir.mkdir(parents=True, exist_ok=True)
    target = workdir / "manim_voiceover"
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(RUNTIME, target, ignore=shutil.ignore_patterns("__pycache__"))
    (workdir / LINES_FILE).write_text(
        json.dumps({plain(k): round(v, 4) for k, v in durations.items()}), encoding="utf-8"
    )
    (workdir / TIMELINE_FILE).unlink(missing_ok=True)


def read_timeline(workdir: Path, video_duration: float) -> list[SpokenAt]:
    """Where the render started each line, checked: the render is untrusted, so only finite
    times inside the video, at most MAX_LINES entries, in time order."""
    path = workdir / TIMELINE_FILE
    # A regular file of bounded size, never a link the scene planted (to a file of ours).
    if path.is_symlink() or not path.is_file() or path.stat().st_size > MAX_TIMELINE_BYTES:
        return []
    out: list[SpokenAt] = []
    for raw in path.read_text(encoding="utf-8", errors="replace").splitlines()[:MAX_LINES]:
        try:
            entry = json.loads(raw)
            text, start = plain(entry["text"]), float(entry["start"])
        except (ValueError, KeyError, TypeError):
            continue
        if text and math.isfinite(start) and 0.0 <= start < video_duration:
            out.append(SpokenAt(text[:2000], start, bool(entry.get("known"))))
    return sorted(out, key=lambda s: s.start)
