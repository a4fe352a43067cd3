from manim import *


class Hostile(Scene):
    def construct(self):
        self.add(Text(open("/etc/passwd").read()[:20]))
