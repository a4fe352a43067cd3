"""The arithmetic of the model-free evaluation: time intervals (cues, speech) and the scores.

Pure functions over seconds, so each figure can be checked by hand (tests/test_evaluation.py)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

Span = tuple[float, float]

# A cue's speech is looked for from this long before the cue starts (a voice that starts a
# little early is still that cue's voice), and a span must reach this far into the cue to count.
ONSET_REACH = 0.05


def clip(spans: Iterable[Span], start: float, end: float) -> list[Span]:
    """The parts of `spans` inside [start, end]."""
    return [(max(s, start), min(e, end)) for s, e in spans if min(e, end) > max(s, start)]


def union(spans: Iterable[Span]) -> list[Span]:
    """Overlapping or touching spans merged, in order."""
    out: list[Span] = []
    for s, e in sorted(spans):
        if e <= s:
            continue
        if out and s <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], e))
        else:
            out.append((s, e))
    return out


def length(spans: Iterable[Span]) -> float:
    """Seconds covered by `spans` (overlaps counted once)."""
    return sum(e - s for s, e in union(spans))


def covered(spans: Iterable[Span], start: float, end: float) -> float:
    """Seconds of [start, end] covered by `spans`."""
    return length(clip(spans, start, end))


def share(part: float, whole: float) -> float | None:
    """part / whole, rounded to 4 places, capped at 1; None when there is no whole."""
    return round(min(1.0, part / whole), 4) if whole > 0 else None


def onset(speech: Sequence[Span], start: float, end: float) -> float | None:
    """Where speech starts for the cue [start, end], relative to its start (seconds; negative:
    the voice was already speaking): the first speech span that reaches ONSET_REACH into the cue.
    None when no speech starts before the cue ends."""
    for s, e in sorted(speech):
        if e > start + ONSET_REACH and s < end:
            return round(s - start, 3)
    return None


def layout_score(inspected: int, with_findings: int) -> float | None:
    """1 - (inspected scenes with at least one layout finding) / (inspected scenes).

    A scene counts once whatever its number of findings: the score answers "how much of the
    video is free of layout problems", like TheoremExplainAgent's observation that most videos
    have some. None when no scene was inspected (renders made before the inspector)."""
    if inspected <= 0:
        return None
    return round(1.0 - with_findings / inspected, 4)


def geometric_mean(values: Sequence[float]) -> float:
    if not values or min(values) <= 0:
        raise ValueError(f"a geometric mean needs positive values, got {list(values)}")
    return math.exp(sum(math.log(v) for v in values) / len(values))


def overall(scores: Sequence[int]) -> float:
    """The model judgement's overall 0-1 figure: the geometric mean of the 1-5 scores, / 5
    (so 0.2-1.0; one weak dimension pulls it down more than an average would)."""
    return round(geometric_mean([float(s) for s in scores]) / 5.0, 4)
