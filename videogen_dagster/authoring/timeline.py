"""A scene's timeline: one beat (animation run_time + wait) per narration line, the subtitle
cues on it, and fitting it to a fixed length. A spoken line's beat lasts as long as the line."""

from __future__ import annotations

import re
from dataclasses import dataclass

OUTRO_SECONDS = 0.5
MIN_BEAT, MAX_BEAT = 1.5, 5.0
SECONDS_PER_WORD = 0.32
# A spoken line's beat: its speech, then this pause before the next line.
SPEECH_PAUSE = 0.4
# A subtitle cue stays up this long after its line is spoken (never into the next beat).
CUE_TAIL = 0.15
# A rendered length differs from its timeline by frame rounding, up to this much.
FIT_TOLERANCE = 0.2


class NarrationTooLong(ValueError):
    """The spoken narration does not fit the time the scene may last."""


@dataclass(frozen=True)
class Cue:
    start: float
    end: float
    text: str


def timeline(
    narration: list[str],
    max_duration: float,
    speed: float = 1.0,
    speech: list[float] | None = None,
) -> list[tuple[float, float]]:
    """(run_time, wait) per narration line: reading time, scaled down to fit max_duration.

    With `speech` (the spoken length of each line) a beat lasts as long as its line is spoken
    plus a short pause, and is never shortened: a narration that cannot fit raises
    NarrationTooLong. `speed` changes how long the animation of a beat takes, never the beat
    itself, so an edit to the speed keeps the scene's duration and its subtitles' timing."""
    if speech is not None:
        lengths = [max(MIN_BEAT, s + SPEECH_PAUSE) for s in _spoken(narration, speech)]
        total = sum(lengths) + OUTRO_SECONDS
        if total > max_duration + 1e-6:
            raise NarrationTooLong(
                f"the narration takes {total:.1f}s to speak (with pauses) and the scene may last "
                f"{max_duration:g}s (max_scene_duration): shorten the narration or raise the limit"
            )
        return [_split(length, speed) for length in lengths]
    lengths = [
        min(MAX_BEAT, max(MIN_BEAT, SECONDS_PER_WORD * len(re.findall(r"\S+", line))))
        for line in narration
    ]
    budget = max(max_duration - OUTRO_SECONDS, 0.5 * len(lengths))
    scale = min(1.0, budget / sum(lengths))
    return [_split(round(total * scale, 2), speed) for total in lengths]


def _spoken(narration: list[str], speech: list[float]) -> list[float]:
    if len(speech) != len(narration):
        raise ValueError(f"{len(speech)} spoken lengths for {len(narration)} narration lines")
    return speech


def _split(total: float, speed: float) -> tuple[float, float]:
    """A beat of `total` seconds as (animation run_time, wait)."""
    total = round(total, 2)
    run_time = round(min(total * 0.9, min(1.2, total * 0.6) / speed), 2)
    return run_time, round(total - run_time, 2)


def cues_for(
    narration: list[str], beats: list[tuple[float, float]], speech: list[float] | None = None
) -> list[Cue]:
    """A cue per line from the start of its beat: to the beat's end, or, when the line is
    spoken, to the end of its speech (so the gaps between cues are silent)."""
    cues, t = [], 0.0
    spoken = _spoken(narration, speech) if speech is not None else [None] * len(narration)
    for text, (run_time, wait), said in zip(narration, beats, spoken, strict=True):
        beat = run_time + wait
        end = t + beat if said is None else t + min(beat, said + CUE_TAIL)
        cues.append(Cue(round(t, 3), round(end, 3), text))
        t += beat
    return cues


def fit_timeline(
    beats: list[tuple[float, float]], total: float, speech: list[float] | None = None
) -> list[tuple[float, float]]:
    """Stretch or shrink the waits (then run times) so the beats last `total` seconds. A spoken
    line's beat never gets shorter than its speech: when they cannot fit, NarrationTooLong."""
    if speech is not None:
        if abs(sum(r + w for r, w in beats) - total) <= FIT_TOLERANCE:
            # The same spoken lines as the scene's last render: the same beats (a refit would
            # only move frame rounding around).
            return beats
        floor = sum(s + CUE_TAIL for s in speech)
        if floor > total + 1e-6:
            raise NarrationTooLong(
                f"the new narration takes {floor:.1f}s to speak and the scene must keep its "
                f"{total + OUTRO_SECONDS:.2f}s (preserve_timing): the current version is kept"
            )
        # The slack beyond the speech is shared out in proportion to each beat's own slack.
        lengths = [r + w for r, w in beats]
        minimum = [max(s + CUE_TAIL, 0.0) for s in speech]
        slack = [max(0.0, length - low) for length, low in zip(lengths, minimum, strict=True)]
        spare = total - sum(minimum)
        share = sum(slack) or float(len(slack))
        fitted = [
            low + spare * ((sl if sum(slack) else 1.0) / share)
            for low, sl in zip(minimum, slack, strict=True)
        ]
        out = [_split(length, 1.0) for length in fitted]
        drift = round(total - sum(r + w for r, w in out), 2)
        r, w = out[-1]
        out[-1] = (r, round(max(0.0, w + drift), 2))
        return out
    current = sum(r + w for r, w in beats)
    scale = total / current if current else 1.0
    out = [
        (round(r * min(scale, 1.0), 2), round(w * scale + r * (scale - min(scale, 1.0)), 2))
        for r, w in beats
    ]
    drift = round(total - sum(r + w for r, w in out), 2)
    r, w = out[-1]
    out[-1] = (r, round(max(0.0, w + drift), 2))
    return out
