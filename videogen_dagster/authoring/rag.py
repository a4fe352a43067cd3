"""Retrieval over the documentation of the installed Manim package, built locally from the package
itself (its classes' and functions' docstrings, read with `ast`, nothing imported or downloaded).

A small BM25 index: good enough to hand the model the right class documentation ("Axes",
"MathTex", "Transform") for a query, deterministic, and built in well under a second.
"""

from __future__ import annotations

import ast
import json
import math
import re
from collections import Counter
from dataclasses import asdict, dataclass
from functools import lru_cache
from importlib import util
from pathlib import Path

_WORD = re.compile(r"[a-z][a-z0-9]+")


@dataclass(frozen=True)
class Passage:
    name: str  # e.g. manim.mobject.graphing.coordinate_systems.Axes
    kind: str  # class | function
    text: str  # signature + docstring (trimmed)

    def as_dict(self) -> dict:
        return asdict(self)


def _words(text: str) -> list[str]:
    # Split CamelCase so "MathTex" matches "math tex" and "mathtex".
    spaced = re.sub(r"([a-z])([A-Z])", r"\1 \2", text)
    words = _WORD.findall(spaced.lower())
    return words + [w for w in _WORD.findall(text.lower()) if w not in words]


def manim_passages(limit_chars: int = 1200) -> list[Passage]:
    spec = util.find_spec("manim")
    if spec is None or not spec.submodule_search_locations:
        return []
    root = Path(next(iter(spec.submodule_search_locations)))
    out: list[Passage] = []
    for path in sorted(root.rglob("*.py")):
        if any(part.startswith("_") and part != "__init__.py" for part in path.relative_to(root).parts):
            continue
        module = "manim." + ".".join(path.relative_to(root).with_suffix("").parts)
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"))
        except (SyntaxError, UnicodeDecodeError):
            continue
        for node in tree.body:
            if isinstance(node, ast.ClassDef | ast.FunctionDef) and not node.name.startswith("_"):
                doc = ast.get_docstring(node)
                if not doc:
                    continue
                kind = "class" if isinstance(node, ast.ClassDef) else "function"
                signature = node.name
                if isinstance(node, ast.ClassDef):
                    init = next((n for n in node.body if isinstance(n, ast.FunctionDef) and n.name == "__init__"), None)
                    if init is not None:
                        signature += "(" + ", ".join(a.arg for a in init.args.args[1:]) + ")"
                    bases = ", ".join(ast.unparse(b) for b in node.bases)
                    signature = f"class {signature}" + (f"  # bases: {bases}" if bases else "")
                out.append(Passage(f"{module}.{node.name}", kind, f"{signature}\n{doc[:limit_chars]}"))
    return out


class ManimDocsIndex:
    def __init__(self, passages: list[Passage], k1: float = 1.4, b: float = 0.75):
        self.passages = passages
        self.k1, self.b = k1, b
        self.docs = [Counter(_words(p.name.rsplit(".", 1)[-1] * 3 + " " + p.text)) for p in passages]
        self.lengths = [sum(d.values()) for d in self.docs]
        self.avg = sum(self.lengths) / max(1, len(self.lengths))
        df: Counter = Counter()
        for d in self.docs:
            df.update(d.keys())
        n = len(self.docs)
        self.idf = {w: math.log(1 + (n - f + 0.5) / (f + 0.5)) for w, f in df.items()}

    def search(self, query: str, k: int = 3) -> list[Passage]:
        terms = _words(query)
        scores = []
        for i, doc in enumerate(self.docs):
            s = 0.0
            for t in terms:
                f = doc.get(t)
                if f:
                    s += self.idf[t] * f * (self.k1 + 1) / (f + self.k1 * (1 - self.b + self.b * self.lengths[i] / self.avg))
            # The class whose own name is asked for comes first.
            short = self.passages[i].name.rsplit(".", 1)[-1].lower()
            if short in {t.lower() for t in query.replace(",", " ").split()}:
                s += 10.0
            if s > 0:
                scores.append((s, i))
        scores.sort(reverse=True)
        return [self.passages[i] for _, i in scores[:k]]

    def save(self, path: Path) -> None:
        path.write_text(json.dumps([p.as_dict() for p in self.passages]), encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> ManimDocsIndex:
        return cls([Passage(**d) for d in json.loads(path.read_text(encoding="utf-8"))])


@lru_cache(maxsize=1)
def default_index() -> ManimDocsIndex:
    return ManimDocsIndex(manim_passages())
