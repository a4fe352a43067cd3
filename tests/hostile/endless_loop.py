from manim import *


class Hostile(Scene):
    def construct(self):
        n = 0
        while True:
            n += 1
