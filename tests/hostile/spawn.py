import subprocess

from manim import *


class Hostile(Scene):
    def construct(self):
        subprocess.run(["touch", "CANARY"])
