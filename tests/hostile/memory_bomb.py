from manim import *


class Hostile(Scene):
    def construct(self):
        hog = []
        while True:
            hog.append(np.ones(50_000_000))
