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
}


@dataclass(frozen=True)
class EditSpec:
    """An edit of one scene (the spec's edit-scene request, as run config)."""

    prompt: str
    preserve_timing: bool = True
    version_increment: bool = True
    expected_version: int | None = None  # the version the editor saw; another edit in between wins


_QUOTED = r"[\"'“”‘’]?(?P<text>[^\"'“”‘’]{1,80})[\"'“”‘’]?"


def offline_edit(plan: ScenePlan, prompt: str) -> tuple[ScenePlan, list[str]]:
    """The offline editor, applied to the scene's storyboard (its plan):
    - colour: "make it blue" (blue, red, green, yellow, orange, purple, pink, teal, white);
    - speed: "slower" / "faster" (animations, inside each beat: the duration is kept);
    - title: `title: New title` or `change the title to "New title"`;
    - points (key points and summary scenes): `add a point: text`, `remove point 2`,
      `remove the last point`.
    Anything else is refused, saying what it understands."""
    low = prompt.lower()
    visual, applied = dict(plan.visual), []
    title, narration = plan.title, list(plan.narration)
    for name, hexcode in EDIT_COLOURS.items():
        if re.search(rf"\b{name}\b", low):
            visual["accent"] = hexcode
            applied.append(f"accent colour {name}")
            break
    if re.search(r"\bslow(er)?\b", low):
        visual["speed"] = 0.6
        applied.append("slower animations")
    elif re.search(r"\b(fast(er)?|quick(er)?)\b", low):
        visual["speed"] = 1.6
        applied.append("faster animations")
    m = re.search(r"(?:title\s*:\s*|(?:change|set|rename) the title to\s+)" + _QUOTED, prompt, re.I)
    if m:
        title = m.group("text").strip()
        applied.append(f"title {title!r}")
    points = list(visual.get("points", []))
    has_points = plan.kind in ("points", "summary")
    m = re.search(r"add (?:a |another )?point\s*:?\s*" + _QUOTED, prompt, re.I)
    if m and has_points:
        text = m.group("text").strip().rstrip(".")
        points.append(wrapped(text) if plan.kind == "points" else wrapped(text, 50, 96))
        narration.append(text + ".")
        applied.append(f"added point {text!r}")
    m = re.search(r"remove (?:the )?(?:point (?P<n>\d+)|(?P<last>last) point)", prompt, re.I)
    if m and has_points and points:
        i = len(points) - 1 if m.group("last") else int(m.group("n")) - 1
        if not 0 <= i < len(points) or len(points) == 1:
            raise PipelineError(
                f"the scene has {len(points)} point(s); cannot remove point {i + 1}"
            )
        points.pop(i)
        # Narration line k+offset belongs to point k (summary scenes open with one extra line).
        offset = 1 if plan.kind == "summary" else 0
        if len(narration) > 1 and i + offset < len(narration):
            narration.pop(i + offset)
        applied.append(f"removed point {i + 1}")
    if ("point" in low) and not has_points:
        raise PipelineError(
            f"scene {plan.scene_number} ({plan.kind}) has no points to add or remove"
        )
    if not applied:
        raise PipelineError(
            f"the offline editor cannot apply {prompt!r}: it understands colours "
            f"({', '.join(EDIT_COLOURS)}), 'slower'/'faster', 'title: ...', 'add a point: ...' and "
            "'remove point N'; configure an LLM for free-form edits"
        )
    if has_points:
        visual["points"] = points
    return plan.model_copy(
        update={"visual": visual, "title": title, "narration": narration}
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
