"""What the offline planner knows about a topic: the bundled theorem descriptions
(TheoremExplainBench, MIT: 240 entries in data/theoremexplainbench/) and reading facts out of
text (sentences, a formula, key terms, on-screen headlines, which plot or diagram fits).
Deterministic and model-free; planning.py builds the scenes from these, codegen.py the visuals.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from functools import lru_cache
from importlib import resources

# --- the bundled theorem descriptions ------------------------------------------------------------

_STOP = set(
    """a an and are as at be by can create explain for from how in into is it its of on or our show
    that the their then there these this to using video what when where which why with about
    basics introduction intro understanding understand overview simple teach tell me please""".split()
)


def tokens(text: str) -> list[str]:
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
    words = set(tokens(prompt))
    best, best_score = None, 0.0
    for item in theorem_library():
        name = set(tokens(item["theorem"])) - {"theorem", "law", "principle", "rule"}
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
