"""Scene planning: the plan models (`VideoPlan`, `ScenePlan`) and the offline planner. The offline
planner needs no model: it builds a watchable outline from the prompt, enriched by a bundled set of
240 theorem descriptions (TheoremExplainBench, MIT; topics.py) when the prompt names one of them.
It is deterministic: the same prompt and scene count give the same plan.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, Field

# The topic helpers live in topics.py; they are re-exported here for the callers that plan and
# draw from one import (codegen.py).
from videogen_dagster.authoring.topics import (
    choose_diagram,
    choose_plot,
    find_equation,
    headline,
    key_terms,
    match_theorem,
    split_sentences,
    theorem_library,
    tokens,
    wrapped,
)

__all__ = [
    "OFFLINE_PLANNER", "SceneKind", "ScenePlan", "VideoPlan", "choose_diagram", "choose_plot",
    "find_equation", "headline", "key_terms", "match_theorem", "plan_offline", "split_sentences",
    "theorem_library", "wrapped",
]

SceneKind = Literal["title", "points", "equation", "diagram", "plot", "summary", "llm"]

OFFLINE_PLANNER = "offline-template-planner"


class ScenePlan(BaseModel):
    """One scene's implementation plan: what is shown (`kind` + `visual`) and what is said."""

    scene_number: int
    title: str
    kind: SceneKind
    narration: list[str] = Field(min_length=1)
    visual: dict = Field(default_factory=dict)


class VideoPlan(BaseModel):
    project_id: str
    session_id: str
    prompt: str
    topic: str
    scene_count: int
    planner: str = OFFLINE_PLANNER
    source: str | None = None  # where the facts came from, when not only the prompt
    scenes: list[ScenePlan]

    def scene(self, scene_number: int) -> ScenePlan:
        for s in self.scenes:
            if s.scene_number == scene_number:
                return s
        raise KeyError(f"the plan has no scene {scene_number} (it has {self.scene_count})")


# --- the planner ---------------------------------------------------------------------------------


def _topic(prompt: str, theorem: dict | None) -> str:
    if theorem:
        return theorem["theorem"]
    t = re.sub(
        r"^(please\s+)?(explain|create a video about|make a video about|teach me|describe|show)\s+",
        "",
        prompt.strip(),
        flags=re.I,
    )
    t = t.split("\n")[0].strip().rstrip(".!?")
    t = t[:1].upper() + t[1:]
    return headline(t, 60) or "Untitled topic"


def _chunks(items: list[str], n: int) -> list[list[str]]:
    """Split items into n non-empty, nearly equal chunks (repeating when there are too few)."""
    if not items:
        items = [""]
    while len(items) < n:
        items = items + items
    size, extra = divmod(len(items), n)
    out, i = [], 0
    for k in range(n):
        step = size + (1 if k < extra else 0)
        out.append(items[i : i + step])
        i += step
    return out


def plan_offline(
    project_id: str, session_id: str, prompt: str, scene_count: int, latex_available: bool
) -> VideoPlan:
    """A deterministic plan: title, key points, a diagram/plot/equation, summary."""
    theorem = match_theorem(prompt)
    topic = _topic(prompt, theorem)
    description = theorem["description"] if theorem else ""
    facts = split_sentences(description) if description else []
    if not facts:
        facts = [
            f"{topic} is the subject of this video",
            f"We break {topic} into a few key ideas",
            "Each idea builds on the one before",
            "A picture makes the relationships clear",
        ]
    # Long enumerations are trimmed to what fits on screen across the middle scenes.
    facts = facts[: max(4, 3 * scene_count)]
    context = f"{prompt}\n{description}"
    equation = find_equation(description or prompt)
    terms = key_terms(context, exclude=set(tokens(topic))) or ["Idea", "Example", "Result"]
    subfield = theorem.get("subfield") if theorem else None

    title_scene = ScenePlan(
        scene_number=1,
        title=topic,
        kind="title",
        narration=[
            f"Welcome! In this video we explore {topic}.",
            f"We will look at {', '.join(terms[:3]).lower()}."
            if len(terms) >= 3
            else "We will look at the key ideas one at a time.",
        ],
        visual={"subtitle": subfield or "An explanation in pictures"},
    )
    summary_scene = ScenePlan(
        scene_number=scene_count,
        title="Summary",
        kind="summary",
        narration=[f"To sum up {topic}:"]
        + [headline(f, 90) + "." for f in facts[:3]]
        + ([f"And the formula to remember: {equation[0]}."] if equation else []),
        visual={
            "points": [wrapped(f, 50, 96) for f in facts[:3]] + ([equation[0]] if equation else [])
        },
    )
    if scene_count == 1:
        only = ScenePlan(
            scene_number=1,
            title=topic,
            kind="points",
            narration=[f"This is {topic}."] + facts[:3],
            visual={"points": [wrapped(f) for f in facts[:3]]},
        )
        scenes = [only]
    elif scene_count == 2:
        first = ScenePlan(
            scene_number=1,
            title=topic,
            kind="points",
            narration=[f"Welcome! This video explains {topic}."] + facts[:2],
            visual={"points": [wrapped(f) for f in facts[:2]]},
        )
        scenes = [first, summary_scene]
    else:
        # Middle scenes rotate through the visual kinds, starting with the points.
        middle_kinds: list[SceneKind] = ["points"]
        if equation:
            middle_kinds.append("equation")
        middle_kinds += ["diagram", "plot"]
        n_middle = scene_count - 2
        fact_groups = _chunks(facts, n_middle)
        scenes = [title_scene]
        for i in range(n_middle):
            kind = middle_kinds[i % len(middle_kinds)]
            group = [f for f in fact_groups[i] if f] or [f"Another look at {topic}."]
            number = i + 2
            if kind == "points":
                plan = ScenePlan(
                    scene_number=number,
                    title="Key ideas" if i == 0 else f"Key ideas, part {i // len(middle_kinds) + 1}",
                    kind="points",
                    narration=group,
                    visual={"points": [wrapped(f) for f in group]},
                )
            elif kind == "equation":
                assert equation is not None
                plain, latex = equation
                plan = ScenePlan(
                    scene_number=number,
                    title="The formula",
                    kind="equation",
                    narration=[f"In symbols, {plain}."] + group[:2],
                    visual={"latex": latex, "plain": plain, "use_latex": latex_available},
                )
            elif kind == "diagram":
                diagram = choose_diagram(context)
                plan = ScenePlan(
                    scene_number=number,
                    title="The picture",
                    kind="diagram",
                    narration=[f"Here is a picture of {topic}."] + group[:2],
                    visual={
                        "diagram": diagram,
                        "center": headline(topic, 24),
                        "terms": terms[:4],
                        "use_latex": latex_available,
                    },
                )
            else:
                fn = choose_plot(context)
                plan = ScenePlan(
                    scene_number=number,
                    title="A graph",
                    kind="plot",
                    narration=["A graph shows how the quantities change together."] + group[:2],
                    visual={"function": fn},
                )
            scenes.append(plan)
        scenes.append(summary_scene)

    return VideoPlan(
        project_id=project_id,
        session_id=session_id,
        prompt=prompt,
        topic=topic,
        scene_count=scene_count,
        source=f"TheoremExplainBench/{theorem['file']}: {theorem['theorem']}" if theorem else None,
        scenes=scenes,
    )
