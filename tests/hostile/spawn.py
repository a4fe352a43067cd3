from manim import *
import subprocess


class Hostile(Scene):
    def construct(self):
        subprocess.run(["touch", "CANARY"])
