from manim import *


class Hostile(Scene):
    def construct(self):
        with open("CANARY", "w") as f:
            f.write("pwned")
