"""The edit language of one scene: the edit request, the offline editor of a scene's storyboard,
and the check that the scene may be edited at all."""

from __future__ import annotations

import re
from dataclasses import dataclass

from videogen_dagster.authoring.planning import ScenePlan
from videogen_dagster.authoring.topics import wrapped
from videogen_dagster.pipeline.services import PipelineError
from videogen_dagster.stores.metastore import MetadataStore, Scene

EDIT_COLOURS = {
    "blue": "#3b82f6",
    "red": "#ef4444",
    "green": "#22c55e",
    "yellow": "#facc15",
    "orange": "#f97316",
    "purple": "#a855f7",
    "pink": "#ec4899",
    "teal": "#14b8a6",
    "white": "#f8fafc",
    "cyan": "#06b6d4",
    "gold": "#eab308",
    "gray": "#9ca3af",
    "grey": "#9ca3af",
    "black": "#000000",
    "navy": "#1e3a8a",
}
# "More colorful": bright colours that read on the default dark background.
VIVID_PALETTE = ["#38bdf8", "#f472b6", "#facc15", "#4ade80", "#a78bfa", "#fb923c"]
PASTEL_PALETTE = ["#93c5fd", "#f9a8d4", "#fde68a", "#86efac", "#c4b5fd", "#fdba74"]
BACKGROUNDS = {"dark": "#0f172a", "light": "#f1f5f9"}
BIGGER_TEXT, SMALLER_TEXT = 1.25, 0.8
# Scenes whose storyboard holds key points (a title or formula scene can carry some too).
POINT_KINDS = ("points", "summary", "title", "equation")

UNDERSTOOD = (
    "colours ('make it blue'; "
    + ", ".join(c for c in EDIT_COLOURS if c != "grey")
    + " or #rrggbb), "
    "a palette ('more colorful', 'pastel colours', 'use red, green and blue'), "
    "emphasis ('emphasize the key points', 'highlight them in red', 'no emphasis'), "
    "speed ('slower', 'faster'), text size ('bigger text', 'smaller text'), "
    "background ('white background', 'dark background'), 'title: ...', "
    "'add a point: ...' and 'remove point N' / 'remove the last point'"
)


@dataclass(frozen=True)
class EditSpec:
    """An edit of one scene (the spec's edit-scene request, as run config)."""

    prompt: str
    preserve_timing: bool = True
    version_increment: bool = True
    expected_version: int | None = None  # the version the editor saw; another edit in between wins


class EditNotUnderstood(PipelineError):
    """The offline editor cannot apply an edit prompt (an LLM is needed for it)."""


_QUOTED = r"[\"'“”‘’]?(?P<text>[^\"'“”‘’]{1,80})[\"'“”‘’]?"
_COLOUR_WORD = r"(?P<c>" + "|".join(EDIT_COLOURS) + r"|#[0-9a-fA-F]{6}\b|#[0-9a-fA-F]{3}\b)"


def _hex(word: str) -> str:
    return EDIT_COLOURS.get(word.lower(), word.lower())


class _Edit:
    """One prompt read against one scene: each intent found changes the storyboard and says so
    in `applied`; the words it used are blanked, so a colour named for the background is not
    also taken for the accent."""

    def __init__(self, plan: ScenePlan, prompt: str):
        self.plan, self.text = plan, prompt
        self.low = prompt.lower()
        self.visual = dict(plan.visual)
        self.title, self.narration = plan.title, list(plan.narration)
        # (where in the prompt, what was applied): the result lists them in the prompt's order.
        self.applied: list[tuple[int, str]] = []

    def note(self, m: re.Match | None, what: str) -> None:
        self.applied.append((m.start() if m else len(self.text), what))

    def take(self, pattern: str) -> re.Match | None:
        """The first match of a pattern in what is left of the prompt, blanked."""
        m = re.search(pattern, self.low, re.I)
        if m:
            self.low = self.low[: m.start()] + " " * (m.end() - m.start()) + self.low[m.end() :]
        return m

    def background(self) -> None:
        m = self.take(
            rf"\b(?:background|backdrop)\b(?:\s+colou?r)?\s*(?:to|:|=|in|of)?\s*{_COLOUR_WORD}"
        ) or self.take(rf"{_COLOUR_WORD}\s+(?:background|backdrop)\b")
        if m:
            self.visual["background"] = _hex(m.group("c"))
            self.note(m, f"background {m.group('c')}")
            return
        m = self.take(r"\b(?P<tone>dark|light)(?:er)?\s+(?:background|backdrop|mode|theme)\b")
        if m:
            self.visual["background"] = BACKGROUNDS[m.group("tone")]
            self.note(m, f"{m.group('tone')} background")

    def emphasis(self) -> None:
        m = self.take(r"\b(?:no|less|without|remove (?:the )?)\s*(?:emphasis|highlight\w*)\b")
        if m:
            self.visual["emphasis"] = False
            self.note(m, "no emphasis")
            return
        m = self.take(
            rf"\bhighlight\w*\b[^.,;]*?\b(?:in|with|using)\s+{_COLOUR_WORD}"
        ) or self.take(rf"{_COLOUR_WORD}\s+highlights?\b")
        if m:
            self.visual["highlight"] = _hex(m.group("c"))
        said = self.take(
            r"\b(?:emphasi[sz]\w*|highlight\w*|stress\w*|accentuat\w*|spotlight\w*|"
            r"draw attention|make [^.,;]*?stand out|focus on)\b"
        )
        if said or m:
            self.visual["emphasis"] = True
            colour = f" in {m.group('c')}" if m else ""
            self.note(said or m, f"emphasis on each key point{colour}")

    def colours(self) -> None:
        palette = None
        said = self.take(r"\bpastel\w*\b")
        if said:
            palette, name = PASTEL_PALETTE, "pastel"
        else:
            said = self.take(
                r"\b(?:more\s+)?(?:colou?rful|vibrant|vivid|rainbow|brighter colou?rs|more colou?rs?)\b"
            )
            if said:
                palette, name = VIVID_PALETTE, "vivid"
        found = list(re.finditer(_COLOUR_WORD, self.low))
        named = list(dict.fromkeys(m.group("c") for m in found))
        if palette is None and len(named) >= 2:
            palette, name, said = [_hex(c) for c in named], " and ".join(named), found[0]
        if palette is not None:
            self.visual["palette"] = list(palette)
            self.note(said, f"colour palette ({name})")
        if named:
            self.visual["accent"] = _hex(named[0])
            self.note(found[0], f"accent colour {named[0]}")

    def speed(self) -> None:
        m = self.take(r"\b(?:slow(?:er|ly)?|slow down|more slowly)\b")
        if m:
            self.visual["speed"] = 0.6
            self.note(m, "slower animations")
        elif m := self.take(r"\b(?:fast(?:er)?|quick(?:er|ly)?|speed (?:it )?up|snappier)\b"):
            self.visual["speed"] = 1.6
            self.note(m, "faster animations")

    def text_size(self) -> None:
        text = r"(?:text|font|letters|words|writing|points)"
        bigger = r"(?:bigger|larger|enlarge|increase|huge|big|large)"
        smaller = r"(?:smaller|shrink|reduce|decrease|tiny|small)"
        current = float(self.visual.get("text_scale", 1.0) or 1.0)
        m = self.take(rf"\b{bigger}\b[^.,;]*?\b{text}\b|\b{text}\b[^.,;]*?\b{bigger}\b")
        if m:
            self.visual["text_scale"] = round(min(1.6, current * BIGGER_TEXT), 3)
            self.note(m, "bigger text")
        elif m := self.take(rf"\b{smaller}\b[^.,;]*?\b{text}\b|\b{text}\b[^.,;]*?\b{smaller}\b"):
            self.visual["text_scale"] = round(max(0.6, current * SMALLER_TEXT), 3)
            self.note(m, "smaller text")

    def new_title(self) -> None:
        m = re.search(
            r"(?:title\s*:\s*|(?:change|set|rename) the title to\s+|rename (?:the )?scene to\s+)"
            + _QUOTED,
            self.text,
            re.I,
        )
        if m:
            self.title = m.group("text").strip()
            self.take(re.escape(m.group(0).lower()))
            self.note(m, f"title {self.title!r}")

    def points(self) -> None:
        plan = self.plan
        add = re.search(
            r"add (?:a |another |one more )?(?:key )?point\s*:?\s*" + _QUOTED, self.text, re.I
        )
        remove = re.search(
            r"remove (?:the )?(?:point (?P<n>\d+)|(?P<last>last) point)", self.text, re.I
        )
        if not (add or remove):
            return
        if plan.kind not in POINT_KINDS:
            raise EditNotUnderstood(
                f"scene {plan.scene_number} ({plan.kind}) has no points to add or remove"
            )
        points = list(self.visual.get("points", []))
        # The narration lines before the first point (an opening line, "To sum up ...:").
        offset = max(0, len(self.narration) - len(points))
        if add:
            text = add.group("text").strip().rstrip(".")
            points.append(wrapped(text, 54 if plan.kind == "summary" else 48))
            self.narration.append(text + ".")
            self.note(add, f"added point {text!r}")
            self.take(re.escape(add.group(0).lower()))
        if remove and points:
            i = len(points) - 1 if remove.group("last") else int(remove.group("n")) - 1
            if not 0 <= i < len(points) or len(points) == 1:
                raise EditNotUnderstood(
                    f"the scene has {len(points)} point(s); cannot remove point {i + 1}"
                )
            points.pop(i)
            if len(self.narration) > 1 and i + offset < len(self.narration):
                self.narration.pop(i + offset)
            self.note(remove, f"removed point {i + 1}")
            self.take(re.escape(remove.group(0).lower()))
        self.visual["points"] = points


def offline_edit(plan: ScenePlan, prompt: str) -> tuple[ScenePlan, list[str]]:
    """The offline editor, applied to the scene's storyboard (its plan). It understands:
    - colour: "make it blue" (the accent; blue, red, green, ... or #rrggbb), a palette
      ("more colorful", "pastel colours", "use red, green and blue");
    - emphasis: "emphasize the key points" (each point is circled as it appears), "highlight
      them in red", "no emphasis";
    - speed: "slower" / "faster" (animations, inside each beat: the duration is kept);
    - text size: "bigger text" / "smaller text" (the templates still fit the frame);
    - background: "white background", "dark background";
    - title: `title: New title` or `change the title to "New title"`;
    - points (key points, summary, and title or formula scenes): `add a point: text`,
      `remove point 2`, `remove the last point`.
    Anything else is refused (EditNotUnderstood), saying what it understands. The spec's
    example, "Add more colorful animations and emphasize key points", is a palette and
    emphasis."""
    edit = _Edit(plan, prompt)
    edit.new_title()
    edit.points()
    edit.background()
    edit.emphasis()
    edit.text_size()
    edit.colours()
    edit.speed()
    if not edit.applied:
        raise EditNotUnderstood(
            f"the offline editor cannot apply {prompt!r}: it understands {UNDERSTOOD}; "
            "configure an LLM (OPENAI_API_KEY) for free-form edits"
        )
    applied = [what for _, what in sorted(edit.applied, key=lambda a: a[0])]
    return plan.model_copy(
        update={"visual": edit.visual, "title": edit.title, "narration": edit.narration}
    ), applied


def scene_to_edit(meta: MetadataStore, video_key: str, scene_number: int, edit: EditSpec) -> Scene:
    """The scene's current record, from the metadata store (Convex when configured), checked
    against the version the editor saw."""
    current = meta.current_scene(video_key, scene_number)
    if current is None or not current.rendered:
        raise PipelineError(f"scene {scene_number} of {video_key} has no rendered version to edit")
    if edit.expected_version is not None and current.version != edit.expected_version:
        raise PipelineError(
            f"conflict: scene {scene_number} is at version {current.version}, the edit was made "
            f"against version {edit.expected_version}; nothing was changed"
        )
    return current
