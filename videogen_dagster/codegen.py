"""Template code generator: a scene plan becomes a Manim module from the files in `templates/`.

The generator also owns the scene's timeline (one beat per narration line), so the subtitles
written for a scene match what its animation shows.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import jinja2

from videogen_dagster.planning import ScenePlan

OUTRO_SECONDS = 0.5
MIN_BEAT, MAX_BEAT = 1.5, 5.0
SECONDS_PER_WORD = 0.32
TEMPLATE_CODER = "offline-template-coder"

_env = jinja2.Environment(
    loader=jinja2.PackageLoader("videogen_dagster", "templates"),
    undefined=jinja2.StrictUndefined,
    keep_trailing_newline=True,
    trim_blocks=True,
    lstrip_blocks=True,
    autoescape=False,  # noqa: S701 - the output is Python, every value goes through `py` (repr)
)
_env.filters["py"] = repr


@dataclass(frozen=True)
class Cue:
    start: float
    end: float
    text: str


@dataclass
class GeneratedScene:
    code: str
    class_name: str
    cues: list[Cue]
    expected_duration: float
    coder: str = TEMPLATE_CODER
    beats: list[tuple[float, float]] = field(default_factory=list)
    # Code not written from a template has no known beats: its narration is spread evenly over
    # the rendered duration.
    spread_cues: bool = False


def class_name_for(scene_number: int) -> str:
    return f"Scene{scene_number:02d}"


def timeline(narration: list[str], max_duration: float, speed: float = 1.0) -> list[tuple[float, float]]:
    """(run_time, wait) per narration line: reading time, scaled down to fit max_duration.

    `speed` changes how long the animation of a beat takes, never the beat itself, so an edit
    to the speed keeps the scene's duration and its subtitles' timing."""
    lengths = [
        min(MAX_BEAT, max(MIN_BEAT, SECONDS_PER_WORD * len(re.findall(r"\S+", line))))
        for line in narration
    ]
    budget = max(max_duration - OUTRO_SECONDS, 0.5 * len(lengths))
    scale = min(1.0, budget / sum(lengths))
    beats = []
    for total in lengths:
        total = round(total * scale, 2)
        run_time = round(min(total * 0.9, min(1.2, total * 0.6) / speed), 2)
        beats.append((run_time, round(total - run_time, 2)))
    return beats


def cues_for(narration: list[str], beats: list[tuple[float, float]]) -> list[Cue]:
    cues, t = [], 0.0
    for text, (run_time, wait) in zip(narration, beats, strict=True):
        cues.append(Cue(round(t, 3), round(t + run_time + wait, 3), text))
        t += run_time + wait
    return cues


def fit_timeline(beats: list[tuple[float, float]], total: float) -> list[tuple[float, float]]:
    """Stretch or shrink the waits (then run times) so the beats last `total` seconds."""
    current = sum(r + w for r, w in beats)
    scale = total / current if current else 1.0
    out = [(round(r * min(scale, 1.0), 2), round(w * scale + r * (scale - min(scale, 1.0)), 2)) for r, w in beats]
    drift = round(total - sum(r + w for r, w in out), 2)
    r, w = out[-1]
    out[-1] = (r, round(max(0.0, w + drift), 2))
    return out


def generate_scene_code(
    plan: ScenePlan, max_scene_duration: float, target_duration: float | None = None
) -> GeneratedScene:
    """Manim source for one planned scene, from the template named by the scene's kind.
    `target_duration` (an edit with preserve_timing) fixes the scene's total length."""
    beats = timeline(plan.narration, max_scene_duration, float(plan.visual.get("speed", 1.0)))
    if target_duration is not None:
        beats = fit_timeline(beats, max(0.5, target_duration - OUTRO_SECONDS))
    name = class_name_for(plan.scene_number)
    template = _env.get_template(f"{plan.kind}.py.j2")
    code = template.render(
        template=plan.kind,
        class_name=name,
        scene_number=plan.scene_number,
        title=plan.title,
        visual=plan.visual,
        beats=[list(b) for b in beats],
        outro=OUTRO_SECONDS,
    )
    duration = sum(r + w for r, w in beats) + OUTRO_SECONDS
    return GeneratedScene(
        code=code,
        class_name=name,
        cues=cues_for(plan.narration, beats),
        expected_duration=round(duration, 3),
        beats=beats,
    )


_CLASS_RE = re.compile(r"^class\s+([A-Za-z_][A-Za-z0-9_]*)\s*\(([^)]*)\)\s*:", re.M)


def scene_class_in(code: str) -> str:
    """The name of the (first) Scene subclass in a Manim module, for code not written here."""
    for name, bases in _CLASS_RE.findall(code):
        if "Scene" in bases:
            return name
    raise ValueError("the code defines no Scene subclass (expected `class Name(Scene):`)")
