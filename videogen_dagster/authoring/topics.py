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


# --- formulas ------------------------------------------------------------------------------------

# What a formula is written with: letters and digits, super- and subscripts, Greek letters,
# brackets, operators, relations, primes and spaces. Anything else (a comma, a colon, a full stop,
# a line break) ends a formula.
_FORMULA_CHARS = "A-Za-z0-9²³⁴ⁿ¹⁻₀-₉α-ωΑ-Ω()\\[\\]|^+\\-*/·×_'→<>=!≤≥≠≈ "
_RUN_RE = re.compile(f"[{_FORMULA_CHARS}]+")
_RELATION_RE = re.compile(r"\s*(<=|>=|!=|≤|≥|≠|≈|=)\s*")
_RELATIONS = {"=", "<=", ">=", "!=", "≤", "≥", "≠", "≈"}
_FUNCTION_WORDS = {"sin", "cos", "tan", "log", "ln", "exp", "lim"}
# Short English words that end a formula when met next to it ("then a² + b² = c² holds").
_SHORT_WORDS = set(
    """is if to of at as an in on or by be it so we no do up the and for all any its are was
    not but has one two can may how why who per via our you see use let new set with then that
    this thus when where which while here such from each also holds gives""".split()
)
_GREEK = {
    "α": "alpha",
    "β": "beta",
    "γ": "gamma",
    "δ": "delta",
    "ε": "varepsilon",
    "ζ": "zeta",
    "η": "eta",
    "θ": "theta",
    "ι": "iota",
    "κ": "kappa",
    "λ": "lambda",
    "μ": "mu",
    "ν": "nu",
    "ξ": "xi",
    "π": "pi",
    "ρ": "rho",
    "σ": "sigma",
    "τ": "tau",
    "υ": "upsilon",
    "φ": "phi",
    "χ": "chi",
    "ψ": "psi",
    "ω": "omega",
    "Γ": "Gamma",
    "Δ": "Delta",
    "Θ": "Theta",
    "Λ": "Lambda",
    "Ξ": "Xi",
    "Π": "Pi",
    "Σ": "Sigma",
    "Φ": "Phi",
    "Ψ": "Psi",
    "Ω": "Omega",
}
_LATEX_SYMBOLS = [
    ("⁻¹", "^{-1}"),
    ("²", "^2"),
    ("³", "^3"),
    ("⁴", "^4"),
    ("ⁿ", "^n"),
    ("¹", "^1"),
    ("·", r" \cdot "),
    ("×", r" \times "),
    ("*", r" \cdot "),
    ("<=", r" \leq "),
    (">=", r" \geq "),
    ("!=", r" \neq "),
    ("≤", r" \leq "),
    ("≥", r" \geq "),
    ("≠", r" \neq "),
    ("≈", r" \approx "),
    ("→", r" \to "),
]
_SUBSCRIPT_DIGITS = str.maketrans("₀₁₂₃₄₅₆₇₈₉", "0123456789")


def _is_word(token: str) -> bool:
    """An ordinary word, not part of a formula: `then`, `where`, `is`; not `nRT`, `PV`, `ma`."""
    core = token.strip("()[]|'")
    if not core.isalpha() or not core.isascii():
        return False
    low = core.lower()
    if low in _FUNCTION_WORDS:
        return False
    if low in _SHORT_WORDS:
        # One letter is a variable ("a = 5"), never the article.
        return len(core) > 1
    # Lower-case words of four letters or more, and capitalised words ("Then", "Mathematically").
    return (core.islower() and len(core) >= 4) or bool(re.fullmatch(r"[A-Z][a-z]{2,}", core))


def _latex(plain: str) -> str:
    s = plain
    # Identifiers with an underscore (F_net, E_total_initial): the subscript as upright text.
    s = re.sub(
        r"_([A-Za-z][A-Za-z0-9_]*)",
        lambda m: "_{\\text{" + m.group(1).replace("_", " ") + "}}",
        s,
    )
    for symbol, latex in _LATEX_SYMBOLS:
        s = s.replace(symbol, latex)
    s = re.sub("[₀-₉]+", lambda m: "_{" + m.group(0).translate(_SUBSCRIPT_DIGITS) + "}", s)
    s = "".join(f"\\{_GREEK[ch]} " if ch in _GREEK else ch for ch in s)
    s = re.sub(r"\^\(([^()]*)\)", r"^{\1}", s)
    s = re.sub(r"(?<!\\)\b(sin|cos|tan|log|ln|exp|lim)\b", r"\\\1", s)
    return re.sub(r"\s+", " ", s).strip()


def find_equation(text: str) -> tuple[str, str] | None:
    """(plain text, LaTeX) of the first well-formed formula, such as `a² + b² = c²`, `PV = nRT`,
    `F = G(m₁m₂)/r²` or `|AB| + |BC| >= |AC|`, in the text: the symbols on either side of a
    relation, up to the first ordinary word or punctuation."""
    for run in _RUN_RE.findall(text):
        if not _RELATION_RE.search(run):
            continue
        toks = _RELATION_RE.sub(lambda m: f" {m.group(1)} ", run).split()
        for i, tok in enumerate(toks):
            if tok not in _RELATIONS:
                continue
            lo = i
            while lo > 0 and toks[lo - 1] not in _RELATIONS and not _is_word(toks[lo - 1]):
                lo -= 1
            hi = i + 1
            while hi < len(toks) and not _is_word(toks[hi]):
                hi += 1
            while hi > i + 1 and toks[hi - 1] in _RELATIONS:
                hi -= 1
            plain = " ".join(toks[lo:hi]).strip(" '")
            if _well_formed(plain, toks[lo:i], toks[i + 1 : hi]):
                return plain, _latex(plain)
    return None


def _well_formed(formula: str, lhs: list[str], rhs: list[str]) -> bool:
    """Balanced brackets, a symbol on each side, no dangling operator, no words but function
    names."""
    if not lhs or not rhs or not re.search(r"[A-Za-zα-ωΑ-Ω]", formula):
        return False
    for opening, closing in ("()", "[]"):
        depth = 0
        for ch in formula:
            depth += {opening: 1, closing: -1}.get(ch, 0)
            if depth < 0:
                return False
        if depth != 0:
            return False
    if formula.count("|") % 2:
        return False
    for side in (" ".join(lhs), " ".join(rhs)):
        if side[0] in "+*/^=·×" or side[-1] in "+-*/^=·×_" or side in ("(", ")"):
            return False
    # Letters other than function names and subscripts (F_net) come in runs of at most three.
    bare = re.sub(r"_[A-Za-z0-9_]+", "", formula)
    words = set(re.findall(r"[A-Za-z]{4,}", bare)) - _FUNCTION_WORDS
    return not words


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
