from manim import *


class Hostile(Scene):
    def construct(self):
        # Files of the checkout and of home folders, at their absolute paths (CHECKOUT is
        # filled in by the test), through numpy's file readers, as the error message.
        stolen = []
        for path in ("CHECKOUT/pyproject.toml", "CHECKOUT/README.md", "/root/.bashrc"):
            try:
                rows = np.genfromtxt(path, dtype=str, delimiter="\n", comments=None)
                stolen.append("genfromtxt: " + " ".join(rows[:5]))
            except Exception as exc:
                stolen.append("genfromtxt: " + repr(exc))
            try:
                rows = np.loadtxt(path, dtype=str, delimiter="\x01", comments=None, ndmin=1)
                stolen.append("loadtxt: " + " ".join(rows[:5]))
            except Exception as exc:
                stolen.append("loadtxt: " + repr(exc))
            try:
                raw = np.fromfile(path, dtype=np.uint8, count=400)
                stolen.append("fromfile: " + raw.tobytes().decode(errors="replace"))
            except Exception as exc:
                stolen.append("fromfile: " + repr(exc))
            try:
                stolen.append("load: " + str(np.load(path)))
            except Exception as exc:
                stolen.append("load: " + repr(exc))
        raise ValueError("stolen files: " + " | ".join(stolen))
