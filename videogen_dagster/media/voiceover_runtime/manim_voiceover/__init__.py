"""manim-voiceover's scene API, offline, for scene code rendered in the sandbox.

This package is copied next to each scene's code before a narrated render; it is not the PyPI
package. The speech was synthesized before the render, outside the sandbox (which has no
network): `voiceover_lines.json` beside this package maps each narration line to its spoken
length. `with self.voiceover(text=...) as tracker:` waits, at the end of the block, for the line
to finish (like manim-voiceover's tracker), and appends where the line starts to
`voiceover_timeline.jsonl`; after the render the pipeline places each line's audio there.
"""

from __future__ import annotations

import json
import re
from contextlib import contextmanager
from pathlib import Path

from manim import Scene

__all__ = ["VoiceoverScene", "VoiceoverTracker"]

_WORK = Path(__file__).resolve().parent.parent
_LINES = _WORK / "voiceover_lines.json"
_TIMELINE = _WORK / "voiceover_timeline.jsonl"
# A line that was not synthesized before the render (code that made up its own text) is
# timed at a speaking pace; the pipeline speaks it afterwards and reports the difference.
SECONDS_PER_WORD = 0.4
_BOOKMARK = re.compile(r"<bookmark\s+mark\s*=\s*['\"]([^'\"]+)['\"]\s*/>")


def _plain(text: str) -> str:
    return " ".join(_BOOKMARK.sub(" ", str(text)).split())


def _durations() -> dict[str, float]:
    try:
        data = json.loads(_LINES.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {_plain(k): float(v) for k, v in data.items()}


class VoiceoverTracker:
    """What manim-voiceover's tracker offers: the line's duration and the time left of it."""

    def __init__(self, scene: Scene, text: str, marked: str, duration: float):
        self.scene = scene
        self.text = text
        self.duration = duration
        self.start_t = scene.renderer.time
        self.end_t = self.start_t + duration
        self._marked = marked

    def get_remaining_duration(self, buff: float = 0.0) -> float:
        return max(0.0, self.end_t - self.scene.renderer.time + buff)

    def time_until_bookmark(
        self, mark: str, buff: float = 0.0, limit: float | None = None
    ) -> float:
        """Seconds until the bookmark is spoken (its place among the line's words)."""
        before, found, _ = self._marked.partition(f'<bookmark mark="{mark}"/>')
        words = len(_plain(self._marked).split()) or 1
        at = self.start_t + self.duration * (len(_plain(before).split()) / words if found else 1.0)
        remaining = max(0.0, at - self.scene.renderer.time + buff)
        return min(remaining, limit) if limit is not None else remaining


class VoiceoverScene(Scene):
    """A Scene whose `voiceover` blocks last at least as long as their spoken line."""

    _voice_durations: dict[str, float] | None = None

    def set_speech_service(self, service: object = None, **kwargs: object) -> None:
        """Accepted for compatibility: the deployment chooses the voice, not the scene."""

    @contextmanager
    def voiceover(self, text: str | None = None, ssml: str | None = None, **kwargs: object):
        marked = str(text if text is not None else ssml or "")
        line = _plain(marked)
        if self._voice_durations is None:
            self._voice_durations = _durations()
        duration = self._voice_durations.get(line)
        known = duration is not None
        if duration is None:
            duration = max(1.0, SECONDS_PER_WORD * len(line.split()))
        tracker = VoiceoverTracker(self, line, marked, duration)
        with _TIMELINE.open("a", encoding="utf-8") as out:
            out.write(json.dumps({"text": line, "start": tracker.start_t, "known": known}) + "\n")
        yield tracker
        remaining = tracker.get_remaining_duration()
        if remaining > 0:
            self.wait(remaining)

    def safe_wait(self, duration: float) -> None:
        if duration > 1 / 60:
            self.wait(duration)

    def wait_for_voiceover(self) -> None:
        """Nothing to wait for: each block already waits for its line."""
