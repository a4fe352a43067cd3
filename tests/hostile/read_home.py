from manim import *


class Hostile(Scene):
    def construct(self):
        import pathlib
        self.add(Text(pathlib.Path("/root/.bashrc").read_text()[:20]))
