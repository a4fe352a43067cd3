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

# Re-exported: the planners read formulas through this module.
from videogen_dagster.authoring.formulas import find_equation  # noqa: F401

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


@lru_cache(maxsize=1)
def _theorem_names() -> list[tuple[frozenset[str], dict]]:
    """Each bundled theorem with the words of its name (generic words like 'theorem' left out),
    made once: matching a prompt is then a few set operations per theorem (the bridge runs it
    for every generate request)."""
    out = []
    for item in theorem_library():
        name = frozenset(tokens(item["theorem"])) - {"theorem", "law", "principle", "rule"}
        if name:
            out.append((name, item))
    return out


def match_theorem(prompt: str) -> dict | None:
    """The bundled theorem whose name the prompt covers best, if it covers most of the name."""
    words = set(tokens(prompt))
    best, best_score = None, 0.0
    for name, item in _theorem_names():
        score = len(name & words) / len(name)
        if score > best_score:
            best, best_score = item, score
    return best if best_score >= 0.6 else None


# --- sentences and their on-screen forms ---------------------------------------------------------


def split_sentences(text: str) -> list[str]:
    text = re.sub(r"\s+", " ", text.replace("\n", " ")).strip()
    parts = re.split(r"(?<=[.!?])\s+(?=[A-Z0-9])", text)
    out = []
    for p in parts:
        p = re.sub(r"^\d+\.\s*", "", p).strip()
        if len(p) > 3:
            out.append(p)
    return out


LONG_SENTENCE = 150  # characters: a longer sentence becomes two key points when it splits well


def key_points(sentences: list[str], limit: int = LONG_SENTENCE) -> list[str]:
    """The sentences as key points: a long one is split in two at a semicolon, or at a colon
    that introduces a clause, when each half is a readable statement; nothing is cut."""
    out: list[str] = []
    for sentence in sentences:
        out += _halves(sentence, limit)
    return out


def _halves(sentence: str, limit: int) -> list[str]:
    if len(sentence) <= limit:
        return [sentence]
    best: tuple[float, int, int] | None = None
    for m in re.finditer(r"[;:] ", sentence):
        head, tail = sentence[: m.start()], sentence[m.end() :]
        # Each half a statement of its own: not a short label, not a formula alone.
        if len(head) < 40 or len(tail) < 40 or (find_equation(tail) and len(tail) < 60):
            continue
        balance = abs(len(head) - len(tail))
        if best is None or balance < best[0]:
            best = (balance, m.start(), m.end())
    if best is None:
        return [sentence]
    _, stop, start = best
    head = sentence[:stop].rstrip(" ,") + "."
    tail = sentence[start:]
    first = tail.split(" ", 1)[0]
    if first.isalpha() and first.islower() and not re.match(r"\S+\s*[=<>≤≥]", tail):
        tail = tail[:1].upper() + tail[1:]  # a word, not a variable ("pH", "x")
    return [head, tail]


def headline(sentence: str, limit: int = 48) -> str:
    """A short form of a sentence or prompt for a title: the part before a colon, else its first
    clause that fits `limit`, else the whole text. Never cut mid-thought, never an ellipsis."""
    s = strip_ellipsis(sentence.split(":")[0].strip().rstrip("."))
    if len(s) <= limit:
        return s
    for m in re.finditer(r"[,;(]| - | – ", s):
        if 15 <= m.start() <= limit:
            clause = s[: m.start()].rstrip(" ,;")
            if len(clause) >= 15:
                return clause
    return s


def gist(sentence: str) -> str:
    """What a summary keeps of a fact: the statement before a colon when it stands on its own,
    else the whole sentence (without its full stop)."""
    whole = strip_ellipsis(sentence.strip().rstrip("."))
    head = whole.split(":")[0].strip()
    return head if len(head) >= 30 else whole


def strip_ellipsis(text: str) -> str:
    """The text without a trailing ellipsis (a source that was itself cut)."""
    return re.sub(r"(\.{2,}|…)+$", "", text.rstrip()).rstrip(" ,;")


def wrap_text(text: str, width: int) -> str:
    """Whole words on lines of at most `width` characters (a longer word gets its own line)."""
    lines: list[str] = []
    for word in text.split():
        if lines and len(lines[-1]) + 1 + len(word) <= width:
            lines[-1] += " " + word
        else:
            lines.append(word)
    return "\n".join(lines)


def wrapped(sentence: str, width: int = 48) -> str:
    """The on-screen form of a key point: the whole sentence (no full stop), wrapped on lines of
    `width` characters; the templates scale it to fit the frame, they never cut it."""
    return wrap_text(strip_ellipsis(sentence.strip().rstrip(".")), width)


def key_terms(text: str, exclude: set[str], n: int = 4) -> list[str]:
    words = [w for w in re.findall(r"[A-Za-z][A-Za-z-]{3,}", text)]
    counts = Counter(
        w.lower() for w in words if w.lower() not in _STOP and w.lower() not in exclude
    )
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
    (
        ("sine", "cosine", "wave", "oscillat", "periodic", "harmonic", "frequency", "pendulum"),
        "sin",
    ),
    (("normal distribution", "gaussian", "bell", "probability", "distribution", "random"), "gauss"),
    (("logarithm", "log ", "entropy"), "log"),
    (
        ("quadratic", "parabola", "projectile", "square", "derivative", "calculus", "slope"),
        "square",
    ),
]


def known_plot(text: str) -> str | None:
    """The plot that the text's words call for (exp, sin, gauss, log, square), or None."""
    low = text.lower()
    for words, fn in _PLOTS:
        if any(w in low for w in words):
            return fn
    return None


def choose_plot(text: str) -> str:
    return known_plot(text) or "sin"


def known_diagram(text: str) -> str | None:
    """The figure the text is about (a right triangle, any triangle, a circle), or None."""
    low = text.lower()
    if any(w in low for w in ("pythag", "hypotenuse", "right-angled", "right triangle")):
        return "triangle"
    if "triangle" in low:
        return "any_triangle"
    if "circle" in low or "radius" in low:
        return "circle"
    return None


def choose_diagram(text: str) -> str:
    return known_diagram(text) or "concept_map"
