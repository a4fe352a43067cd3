"""Scene planning. The offline planner needs no model: it builds a watchable outline from the prompt,
enriched by a bundled set of 240 theorem descriptions (TheoremExplainBench, MIT) when the prompt
names one of them. It is deterministic: the same prompt and scene count give the same plan.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from functools import lru_cache
from importlib import resources
from typing import Literal

from pydantic import BaseModel, Field

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


# --- the bundled theorem descriptions ------------------------------------------------------------

_STOP = set(
    """a an and are as at be by can create explain for from how in into is it its of on or our show
    that the their then there these this to using video what when where which why with about
    basics introduction intro understanding understand overview simple teach tell me please""".split()
)


def _tokens(text: str) -> list[str]:
    return [t for t in re.findall(r"[a-z0-9]+", text.lower()) if t not in _STOP and len(t) > 1]


@lru_cache(maxsize=1)
def theorem_library() -> list[dict]:
    """Every bundled theorem entry, with the file it came from."""
    out: list[dict] = []
    folder = resources.files("videogen_dagster.authoring") / "data" / "theoremexplainbench"
    for entry in sorted(folder.iterdir(), key=lambda p: p.name):
        if entry.name.endswith(".json"):
            for item in json.loads(entry.read_text(encoding="utf-8")):
                out.append({**item, "file": entry.name})
    return out


def match_theorem(prompt: str) -> dict | None:
    """The bundled theorem whose name the prompt covers best, if it covers most of the name."""
    words = set(_tokens(prompt))
    best, best_score = None, 0.0
    for item in theorem_library():
        name = set(_tokens(item["theorem"])) - {"theorem", "law", "principle", "rule"}
        if not name:
            continue
        score = len(name & words) / len(name)
        if score > best_score:
            best, best_score = item, score
    return best if best_score >= 0.6 else None


# --- text helpers -------------------------------------------------------------------------------

_SUPERSCRIPTS = str.maketrans({"²": "^2", "³": "^3", "⁴": "^4", "ⁿ": "^n", "·": " \\cdot ", "×": " \\times "})
_EQUATION_RE = re.compile(r"(?<![A-Za-z])([A-Za-z0-9²³ⁿ()^+\-*/ ]{1,30}=[A-Za-z0-9²³ⁿ()^+\-*/ ]{1,30})")


def find_equation(text: str) -> tuple[str, str] | None:
    """(plain text, LaTeX) of the first short formula such as `a² + b² = c²` in the text."""
    for m in _EQUATION_RE.finditer(text):
        lhs, _, rhs = m.group(1).partition("=")
        # Trim ordinary words captured around the formula ("then a² + b² = c² holds").
        left = lhs.split()
        while left and re.fullmatch(r"[A-Za-z]{2,}", left[0]):
            left.pop(0)
        right = rhs.split()
        while right and re.fullmatch(r"[A-Za-z]{2,}", right[-1]):
            right.pop()
        lhs, rhs = " ".join(left), " ".join(right)
        plain = f"{lhs} = {rhs}".strip(" .,;")
        # A formula has symbols on both sides and no runs of ordinary words.
        if not lhs.strip() or not rhs.strip() or re.search(r"[A-Za-z]{4,}", plain):
            continue
        if not re.search(r"[A-Za-z]", plain):
            continue
        if not _well_formed(plain):
            continue
        latex = plain.translate(_SUPERSCRIPTS).replace("*", " \\cdot ")
        latex = re.sub(r"\^\(([^()]*)\)", r"^{\1}", latex)
        latex = re.sub(r"\b(sin|cos|tan|log|ln|exp)\b", r"\\\1", latex)
        latex = re.sub(r"\s+", " ", latex).strip()
        return plain, latex
    return None


_FUNCTION_WORDS = {"sin", "cos", "tan", "log", "ln", "exp"}


def _well_formed(formula: str) -> bool:
    """Balanced brackets, no dangling operator, no words other than function names."""
    depth = 0
    for ch in formula:
        depth += {"(": 1, ")": -1}.get(ch, 0)
        if depth < 0:
            return False
    if depth != 0:
        return False
    lhs, _, rhs = formula.partition("=")
    for side in (lhs.strip(), rhs.strip()):
        if not side or side[0] in "+*/^=" or side[-1] in "+-*/^=":
            return False
    words = set(re.findall(r"[A-Za-z]{2,}", formula)) - _FUNCTION_WORDS
    return not words


def split_sentences(text: str) -> list[str]:
    text = re.sub(r"\s+", " ", text.replace("\n", " ")).strip()
    parts = re.split(r"(?<=[.!?])\s+(?=[A-Z0-9])", text)
    out = []
    for p in parts:
        p = re.sub(r"^\d+\.\s*", "", p).strip()
        if len(p) > 3:
            out.append(p)
    return out


def headline(sentence: str, limit: int = 48) -> str:
    """A short on-screen form of a sentence: the part before a colon, cut at a word boundary."""
    s = sentence.split(":")[0].strip().rstrip(".")
    if len(s) <= limit:
        return s
    cut = s[:limit].rsplit(" ", 1)[0]
    return cut.rstrip(",;") + "..."


def wrapped(sentence: str, width: int = 44, limit: int = 88) -> str:
    """The on-screen form of a key point: at most two lines of `width` characters."""
    text = headline(sentence, limit)
    lines: list[str] = []
    for word in text.split():
        if lines and len(lines[-1]) + 1 + len(word) <= width:
            lines[-1] += " " + word
        else:
            lines.append(word)
    return "\n".join(lines)


def key_terms(text: str, exclude: set[str], n: int = 4) -> list[str]:
    words = [w for w in re.findall(r"[A-Za-z][A-Za-z-]{3,}", text)]
    counts = Counter(w.lower() for w in words if w.lower() not in _STOP and w.lower() not in exclude)
    out: list[str] = []
    for word, _ in counts.most_common():
        stem = word.rstrip("s")
        if all(o.lower().rstrip("s") != stem for o in out):
            out.append(word.capitalize())
        if len(out) == n:
            break
    return out


_PLOTS = [
    (("exponential", "growth", "decay", "compound", "population"), "exp"),
    (("sine", "cosine", "wave", "oscillat", "periodic", "harmonic", "frequency", "pendulum"), "sin"),
    (("normal distribution", "gaussian", "bell", "probability", "distribution", "random"), "gauss"),
    (("logarithm", "log ", "entropy"), "log"),
    (("quadratic", "parabola", "projectile", "square", "derivative", "calculus", "slope"), "square"),
]


def choose_plot(text: str) -> str:
    low = text.lower()
    for words, fn in _PLOTS:
        if any(w in low for w in words):
            return fn
    return "sin"


def choose_diagram(text: str) -> str:
    low = text.lower()
    if "triangle" in low or "pythag" in low or "hypotenuse" in low:
        return "triangle"
    if "circle" in low or "radius" in low:
        return "circle"
    return "concept_map"


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
    terms = key_terms(context, exclude=set(_tokens(topic))) or ["Idea", "Example", "Result"]
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
