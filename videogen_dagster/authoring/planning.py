"""Scene planning: the offline planner (the plan models are in plans.py, re-exported). The offline
planner needs no model: it builds a watchable outline from the prompt, enriched by a bundled set of
240 theorem descriptions (TheoremExplainBench, MIT; topics.py) when the prompt names one of them.
It is deterministic: the same prompt and scene count give the same plan.
"""

from __future__ import annotations

import re

from videogen_dagster.authoring.plans import OFFLINE_PLANNER, SceneKind, ScenePlan, VideoPlan

# The topic helpers live in topics.py; they are re-exported here for the callers that plan and
# draw from one import (codegen.py).
from videogen_dagster.authoring.topics import (
    choose_diagram,
    choose_plot,
    find_equation,
    gist,
    headline,
    key_points,
    key_terms,
    known_diagram,
    known_plot,
    match_theorem,
    split_sentences,
    theorem_library,
    tokens,
    wrap_text,
    wrapped,
)

__all__ = [
    "OFFLINE_PLANNER",
    "SceneKind",
    "ScenePlan",
    "VideoPlan",
    "choose_diagram",
    "choose_plot",
    "find_equation",
    "headline",
    "key_terms",
    "match_theorem",
    "plan_offline",
    "split_sentences",
    "theorem_library",
    "topic_warnings",
    "unknown_topic_warning",
    "wrap_text",
    "wrapped",
]

# --- the planner ---------------------------------------------------------------------------------

# On-screen widths (characters per line) of a key point, by where it is shown.
POINT_WIDTH, CARD_WIDTH, NOTE_WIDTH = 48, 54, 60
# Facts a scene narrates at most: each is a spoken line of the scene.
MAX_FACTS = 3
# Characters of a topic made from a prompt that names no bundled theorem.
MAX_TOPIC = 100


def unknown_topic_warning(topic: str) -> str:
    """What the result says when the offline planner knows nothing about the topic."""
    return (
        f"the offline planner has no notes on {topic!r} (none of its {len(theorem_library())} "
        "bundled theorems matches the prompt): the video is a generic outline of the prompt's "
        "words, not an explanation; configure an LLM provider (OPENAI_API_KEY) for real content"
    )


def topic_warnings(prompt: str) -> list[str]:
    """The offline planner's warning about a prompt whose topic it does not know (none when a
    bundled theorem matches). Cheap: the bridge runs it for each generate request."""
    theorem = match_theorem(prompt)
    return [] if theorem else [unknown_topic_warning(_topic(prompt, None))]


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
    t = headline(t, 60)
    if len(t) > MAX_TOPIC:
        # A topic is a name, not a sentence: a long prompt's is its first words.
        t = t[:MAX_TOPIC].rsplit(" ", 1)[0].rstrip(" ,;")
    return t or "Untitled topic"


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


class _Outline:
    """What the planner knows about the topic, and the scenes it can make from it."""

    def __init__(self, prompt: str, latex_available: bool):
        self.theorem = match_theorem(prompt)
        self.topic = _topic(prompt, self.theorem)
        description = self.theorem["description"] if self.theorem else ""
        facts = key_points(split_sentences(description)) if description else []
        if not facts:
            facts = [
                f"{self.topic} is the subject of this video",
                f"We break {self.topic} into a few key ideas",
                "Each idea builds on the one before",
                "A picture makes the relationships clear",
            ]
        self.facts = facts
        self.context = f"{prompt}\n{description}"
        # Only a known topic's formula, figure and graph: a prompt's words alone are no topic.
        self.equation = find_equation(description or prompt)
        self.diagram = known_diagram(self.context) if self.theorem else None
        self.plot = known_plot(self.context) if self.theorem else None
        self.latex = latex_available
        self.terms = key_terms(self.context, exclude=set(tokens(self.topic))) or [
            "Idea",
            "Example",
            "Result",
        ]
        self.subfield = self.theorem.get("subfield") if self.theorem else None

    @property
    def visuals(self) -> list[SceneKind]:
        """The visual scenes that fit the topic, best first: its formula, figure, graph."""
        known = (("equation", self.equation), ("diagram", self.diagram), ("plot", self.plot))
        return [kind for kind, what in known if what]

    def formula_facts(self) -> list[str]:
        """The facts that state the formula, else the last one (what the formula sums up)."""
        assert self.equation
        stating = [f for f in self.facts if self.equation[0] in f]
        return stating or self.facts[-1:]

    # --- scenes ---

    def title(self, intro: list[str] | None = None) -> ScenePlan:
        """The title scene; with `intro`, it also states the first facts (a short video)."""
        terms = self.terms
        narration = [f"Welcome! In this video we explore {self.topic}."]
        visual: dict = {"subtitle": self.subfield or "An explanation in pictures"}
        if intro:
            narration += intro
            visual["points"] = [wrapped(f, NOTE_WIDTH) for f in intro]
        else:
            narration.append(
                f"We will look at {', '.join(terms[:3]).lower()}."
                if len(terms) >= 3
                else "We will look at the key ideas one at a time."
            )
        return ScenePlan(
            scene_number=0, title=self.topic, kind="title", narration=narration, visual=visual
        )

    def points(self, facts: list[str], title: str, opening: str | None = None) -> ScenePlan:
        # Each fact once (a short description is shared out over many scenes by repeating it).
        facts = list(dict.fromkeys(facts))[:MAX_FACTS] or [f"Another look at {self.topic}."]
        return ScenePlan(
            scene_number=0,
            title=title,
            kind="points",
            narration=([opening] if opening else []) + facts,
            visual={"points": [wrapped(f, POINT_WIDTH) for f in facts]},
        )

    def equation_scene(
        self, facts: list[str], title: str = "The formula", with_diagram: bool = False
    ) -> ScenePlan:
        """The formula, boxed, with the facts it sums up under it (and, when the figure has no
        scene of its own, the figure beside it)."""
        assert self.equation
        plain, latex = self.equation
        facts = facts[: MAX_FACTS - 1]
        visual: dict = {"latex": latex, "plain": plain, "use_latex": self.latex}
        if facts:
            visual["points"] = [wrapped(f, NOTE_WIDTH) for f in facts]
        if with_diagram and self.diagram:
            visual["diagram"] = self.diagram
        return ScenePlan(
            scene_number=0,
            title=title,
            kind="equation",
            narration=[f"In symbols, {plain}."] + facts,
            visual=visual,
        )

    def diagram_scene(self, facts: list[str], title: str = "The picture") -> ScenePlan:
        facts = list(dict.fromkeys(facts))
        return ScenePlan(
            scene_number=0,
            title=title,
            kind="diagram",
            narration=[f"Here is a picture of {self.topic}."] + facts[: MAX_FACTS - 1],
            visual={
                "diagram": self.diagram or "concept_map",
                "center": headline(self.topic, 24),
                "terms": self.terms[:4],
                "use_latex": self.latex,
            },
        )

    def plot_scene(self, facts: list[str]) -> ScenePlan:
        facts = list(dict.fromkeys(facts))
        return ScenePlan(
            scene_number=0,
            title="A graph",
            kind="plot",
            narration=["A graph shows how the quantities change together."] + facts[:2],
            visual={"function": self.plot or choose_plot(self.context)},
        )

    def visual_scene(
        self,
        kind: SceneKind,
        facts: list[str],
        title: str | None = None,
        with_diagram: bool = False,
    ) -> ScenePlan:
        if kind == "equation":
            return self.equation_scene(facts, title or "The formula", with_diagram)
        if kind == "diagram":
            return self.diagram_scene(facts, title or "The picture")
        return self.plot_scene(facts)

    def summary(self) -> ScenePlan:
        """The facts' gist (the spoken summary stays short), and the formula to remember."""
        said, budget = [], 240
        for fact in self.facts[:MAX_FACTS]:
            line = gist(fact)
            if said and len(line) > budget:
                break
            said.append(line)
            budget -= len(line)
        formula = [self.equation[0]] if self.equation else []
        return ScenePlan(
            scene_number=0,
            title="Summary",
            kind="summary",
            narration=[f"To sum up {self.topic}:"]
            + [f"{line}." for line in said]
            + ([f"And the formula to remember: {formula[0]}."] if formula else []),
            visual={"points": [wrapped(line, CARD_WIDTH) for line in said] + formula},
        )


def plan_offline(
    project_id: str, session_id: str, prompt: str, scene_count: int, latex_available: bool
) -> VideoPlan:
    """A deterministic plan: title, key points, the topic's formula, figure and graph, summary.
    The visual that fits the topic is in every video, whatever its scene count: short videos
    fold the introduction into the title and the key facts into the formula's scene."""
    o = _Outline(prompt, latex_available)
    main = o.visuals[0] if o.visuals else None
    facts = o.facts
    if scene_count == 1:
        if main:
            rest = o.formula_facts() if main == "equation" else facts
            scenes = [o.visual_scene(main, rest, o.topic, with_diagram=True)]
            scenes[0].narration.insert(0, f"This is {o.topic}.")
        else:
            scenes = [o.points(facts, o.topic, opening=f"This is {o.topic}.")]
    elif scene_count == 2:
        if main:
            scenes = _intro_and_visual(o, main)
        else:
            opening = f"Welcome! This video explains {o.topic}."
            scenes = [o.points(facts[:2], o.topic, opening=opening), o.summary()]
    else:
        scenes = [*_middle(o, scene_count - 2), o.summary()]
    return VideoPlan(
        project_id=project_id,
        session_id=session_id,
        prompt=prompt,
        topic=o.topic,
        scene_count=scene_count,
        source=f"TheoremExplainBench/{o.theorem['file']}: {o.theorem['theorem']}"
        if o.theorem
        else None,
        warnings=[] if o.theorem else [unknown_topic_warning(o.topic)],
        scenes=[s.model_copy(update={"scene_number": i}) for i, s in enumerate(scenes, 1)],
    )


def _intro_and_visual(o: _Outline, main: SceneKind) -> list[ScenePlan]:
    """A short video: the title scene states the first fact, then the topic's visual with the
    facts it sums up."""
    rest = o.formula_facts() if main == "equation" else o.facts[1:] or o.facts
    return [o.title(intro=o.facts[:1]), o.visual_scene(main, rest, with_diagram=True)]


def _middle(o: _Outline, n: int) -> list[ScenePlan]:
    """The title scene and the `n` scenes between it and the summary."""
    visuals = o.visuals
    if n == 1 and visuals:
        return _intro_and_visual(o, visuals[0])
    # The key points first, then the topic's visuals (a concept map of its terms when it has no
    # figure), then more key points when there are scenes left.
    kinds: list[SceneKind] = ["points", *visuals]
    if "diagram" not in kinds:
        kinds.append("diagram")
    kinds = kinds[:n]
    kinds += ["points"] * (n - len(kinds))
    # The formula's scene says the facts that state it; the other scenes share the rest.
    stating = o.formula_facts() if "equation" in kinds else []
    pool = [f for f in o.facts if f not in stating] or o.facts
    others = [k for k in kinds if k != "equation"]
    groups = iter(_chunks(pool, len(others)))
    scenes, part = [o.title()], 0
    for kind in kinds:
        if kind == "points":
            title = "Key ideas" if part == 0 else f"Key ideas, part {part + 1}"
            scenes.append(o.points([f for f in next(groups) if f], title))
            part += 1
        elif kind == "equation":
            # The figure beside the formula when it has no scene of its own.
            scenes.append(o.equation_scene(stating, with_diagram="diagram" not in kinds))
        else:
            scenes.append(o.visual_scene(kind, [f for f in next(groups) if f]))
    return scenes
