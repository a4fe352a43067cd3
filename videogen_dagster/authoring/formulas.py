"""Formulas read out of text: the longest well-formed relation in a description ("a² + b² = c²",
"PV = nRT"), as plain text and as LaTeX for MathTex. Model-free and deterministic."""

from __future__ import annotations

import re

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
