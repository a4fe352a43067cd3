"""Template code generator: a scene plan becomes a Manim module from the files in `templates/`.

The scene's timeline (one beat per narration line, timeline.py) goes into the code, so the
subtitles written for a scene match what its animation shows.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

import jinja2

from videogen_dagster.authoring.planning import (
    ScenePlan,
    choose_diagram,
    choose_plot,
    find_equation,
    headline,
    key_terms,
    wrap_text,
    wrapped,
)
from videogen_dagster.authoring.timeline import (  # re-exported: the timeline's users import it here
    OUTRO_SECONDS,
    Cue,
    cues_for,
    fit_timeline,
    timeline,
)

TEMPLATE_CODER = "offline-template-coder"


_env = jinja2.Environment(
    loader=jinja2.PackageLoader("videogen_dagster.authoring", "templates"),
    undefined=jinja2.StrictUndefined,
    keep_trailing_newline=True,
    trim_blocks=True,
    lstrip_blocks=True,
    autoescape=False,  # noqa: S701 - the output is Python, every value goes through `py` (repr)
)
_env.filters["py"] = repr
# Titles are wrapped on lines (the templates scale them to fit), never cut.
_env.filters["wrap"] = wrap_text


@dataclass
class GeneratedScene:
    code: str
    class_name: str
    cues: list[Cue]
    expected_duration: float
    coder: str = TEMPLATE_CODER
    beats: list[tuple[float, float]] = field(default_factory=list)
    # Code not written from a template has no known beats: its narration is spread evenly over
    # the rendered duration (or, when it is spoken, timed by the render's voiceover calls).
    spread_cues: bool = False
    # The spoken length of each narration line, when the scene is narrated: each cue starts
    # where its line is spoken.
    speech: list[float] | None = None


def class_name_for(scene_number: int) -> str:
    # abs(): a negative number would make `Scene-1`, not a Python name.
    return f"Scene{abs(scene_number):02d}"


def generate_scene_code(
    plan: ScenePlan,
    max_scene_duration: float,
    target_duration: float | None = None,
    speech: list[float] | None = None,
) -> GeneratedScene:
    """Manim source for one planned scene, from the template named by the scene's kind.
    `target_duration` (an edit with preserve_timing) fixes the scene's total length; `speech`
    (the spoken length of each narration line) makes each beat wait for its line.

    Any schema-valid plan gets code: missing or unusable visual keys get defaults drawn from the
    scene's title and narration (`template_visual`), and an `llm` scene (a free-form visual plan
    that only a model can implement) falls back to the key-points template of its narration."""
    template_name, visual = template_visual(plan)
    speed = _speed(plan.visual)
    if target_duration is not None:
        # The scene's length is fixed by the edit: speech is fitted to it, not to the limit.
        limit = max_scene_duration if speech is None else float("inf")
        beats = timeline(plan.narration, limit, speed, speech)
        beats = fit_timeline(beats, max(0.5, target_duration - OUTRO_SECONDS), speech)
    else:
        beats = timeline(plan.narration, max_scene_duration, speed, speech)
    name = class_name_for(plan.scene_number)
    template = _env.get_template(f"{template_name}.py.j2")
    code = template.render(
        template=template_name if template_name == plan.kind else f"{template_name}, for a {plan.kind!r} scene",
        class_name=name,
        scene_number=plan.scene_number,
        title=_title(plan),
        visual=visual,
        beats=[list(b) for b in beats],
        outro=OUTRO_SECONDS,
    )
    duration = sum(r + w for r, w in beats) + OUTRO_SECONDS
    return GeneratedScene(
        code=code,
        class_name=name,
        cues=cues_for(plan.narration, beats, speech),
        expected_duration=round(duration, 3),
        beats=beats,
        speech=list(speech) if speech is not None else None,
    )


# --- visual keys: what each template reads, with defaults ----------------------------------------

TEMPLATES = ("title", "points", "equation", "diagram", "plot", "summary")
PLOT_FUNCTIONS = ("exp", "sin", "gauss", "log", "square")  # FUNCTIONS in plot.py.j2
DIAGRAMS = ("triangle", "any_triangle", "circle", "concept_map")
MAX_TERMS = 4  # the concept map has four places around its centre
MAX_DEFAULT_POINTS = 6
DEFAULT_ACCENT = "#38bdf8"
DEFAULT_SUBTITLE = "An explanation in pictures"
DEFAULT_BACKGROUND = "#0f172a"
SPEED_RANGE = (0.25, 4.0)
TEXT_SCALE_RANGE = (0.6, 1.6)
MAX_PALETTE = 8
# Text and the warm colour (bullets, labels, highlight) on a dark and on a light background.
DARK_TEXT, LIGHT_TEXT = "#0f172a", "#ffffff"
WARM_ON_DARK, WARM_ON_LIGHT = "#fbbf24", "#b45309"
ACCENT_ON_LIGHT = "#0369a1"
# The figures the equation template can draw beside its formula.
FORMULA_FIGURES = ("triangle", "any_triangle", "circle")
_COLOUR_RE = re.compile(r"#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6}|[0-9a-fA-F]{8})")
# Characters per line of a key point made from a narration line, by template.
_WIDTHS = {"points": 48, "summary": 54, "title": 60, "equation": 60}


def _text(value: Any) -> str | None:
    """A value that can be shown as text (a non-blank string or a number), else None."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return None
    text = str(value).strip()
    return text or None


def _texts(value: Any) -> list[str]:
    """The showable items of a list (anything else: no items)."""
    if not isinstance(value, list | tuple):
        return []
    return [t for t in map(_text, value) if t is not None]


def _on_screen(line: str, width: int) -> str:
    """A narration line as a key point: the whole line (not only what precedes a colon), wrapped
    on lines of `width` characters. Never shortened: the templates scale text to fit."""
    return wrapped(line, width)


def _colour(value: Any) -> str | None:
    return value if isinstance(value, str) and _COLOUR_RE.fullmatch(value) else None


def _light(colour: str) -> bool:
    """Whether a background colour is light (dark text reads on it)."""
    digits = colour[1:]
    if len(digits) in (3, 4):
        digits = "".join(c * 2 for c in digits[:3])
    r, g, b = (int(digits[i : i + 2], 16) / 255 for i in (0, 2, 4))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b > 0.5


def _scale(value: Any) -> float:
    """The text scale of an edit: a finite number, bounded; anything else is 1."""
    if isinstance(value, bool):
        return 1.0
    try:
        scale = float(value)
    except (TypeError, ValueError):
        return 1.0
    if not math.isfinite(scale) or scale <= 0:
        return 1.0
    return round(min(max(scale, TEXT_SCALE_RANGE[0]), TEXT_SCALE_RANGE[1]), 3)


def _look(given: dict) -> dict[str, Any]:
    """The keys every template reads: colours, palette, emphasis, text scale."""
    background = _colour(given.get("background")) or DEFAULT_BACKGROUND
    light = _light(background)
    warm = WARM_ON_LIGHT if light else WARM_ON_DARK
    accent = _colour(given.get("accent")) or (ACCENT_ON_LIGHT if light else DEFAULT_ACCENT)
    palette = [c for c in given.get("palette", []) if _colour(c)] if isinstance(
        given.get("palette"), list
    ) else []
    return {
        "accent": accent,
        "background": background,
        "foreground": DARK_TEXT if light else LIGHT_TEXT,
        "warm": warm,
        "palette": palette[:MAX_PALETTE],
        "emphasis": _flag(given.get("emphasis")),
        "highlight": _colour(given.get("highlight")) or warm,
        "text_scale": _scale(given.get("text_scale", 1.0)),
    }


def _flag(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.lower() == "true")


def _speed(visual: dict) -> float:
    """The animation speed of an edit: a finite number, bounded; anything else is 1."""
    value = visual.get("speed", 1.0)
    try:
        speed = float(value)
    except (TypeError, ValueError):
        return 1.0
    if isinstance(value, bool) or not math.isfinite(speed) or speed <= 0:
        return 1.0
    return min(max(speed, SPEED_RANGE[0]), SPEED_RANGE[1])


def _title(plan: ScenePlan) -> str:
    return plan.title.strip() or f"Scene {plan.scene_number}"


def template_visual(plan: ScenePlan) -> tuple[str, dict[str, Any]]:
    """(template name, the complete visual dict that template reads) for a plan.

    Keys present with a usable value are kept as they are (so a planner's plan makes the same
    code); missing or unusable ones get defaults from the title and narration."""
    given = plan.visual
    title = _title(plan)
    lines = [line for line in (s.strip() for s in plan.narration) if line]
    text = " ".join([title, *lines])
    # The look (colours, palette, emphasis, text size) applies to every kind, an `llm` one too.
    visual: dict[str, Any] = _look(given)
    kind = plan.kind if plan.kind in TEMPLATES else "points"
    if plan.kind == "llm":
        # Only a model can implement a free-form visual plan: without one, the scene shows its
        # narration as key points, one per beat (the subtitles say the same lines).
        given = {}
    if kind == "title":
        visual["subtitle"] = _text(given.get("subtitle")) or DEFAULT_SUBTITLE
        visual["points"] = _texts(given.get("points"))
    elif kind in ("points", "summary"):
        visual["points"] = _texts(given.get("points")) or [
            _on_screen(line, _WIDTHS[kind]) for line in lines[:MAX_DEFAULT_POINTS]
        ] or [title]
    elif kind == "equation":
        latex, plain = _text(given.get("latex")), _text(given.get("plain"))
        found = find_equation(text) if not (latex or plain) else None
        if found:
            plain, latex = found
        visual["plain"] = plain or latex or wrap_text(headline(title), 40)
        visual["latex"] = latex or visual["plain"]
        visual["use_latex"] = _flag(given.get("use_latex")) and latex is not None
        visual["points"] = _texts(given.get("points"))
        figure = given.get("diagram")
        visual["diagram"] = figure if figure in FORMULA_FIGURES else None
    elif kind == "diagram":
        diagram = given.get("diagram")
        visual["diagram"] = diagram if diagram in DIAGRAMS else choose_diagram(text)
        visual["center"] = _text(given.get("center")) or headline(title, 24)
        terms = _texts(given.get("terms"))
        if not terms:
            exclude = {w.lower() for w in re.findall(r"[A-Za-z]+", title)}
            terms = key_terms(" ".join(lines), exclude) or ["Idea", "Example", "Result"]
        visual["terms"] = terms[:MAX_TERMS]
        visual["use_latex"] = _flag(given.get("use_latex"))
    elif kind == "plot":
        function = given.get("function")
        visual["function"] = function if function in PLOT_FUNCTIONS else choose_plot(text)
    return kind, visual


_CLASS_RE = re.compile(r"^class\s+([A-Za-z_][A-Za-z0-9_]*)\s*\(([^)]*)\)\s*:", re.M)


def scene_class_in(code: str) -> str:
    """The name of the (first) Scene subclass in a Manim module, for code not written here."""
    for name, bases in _CLASS_RE.findall(code):
        if "Scene" in bases:
            return name
    raise ValueError("the code defines no Scene subclass (expected `class Name(Scene):`)")
