from manim import *


class Hostile(Scene):
    def construct(self):
        np.zeros(50_000_000).tofile("huge.bin")
