from manim import *


class Hostile(Scene):
    def construct(self):
        imp = getattr(__builtins__, "__imp" + "ort__")
        imp("os").system("touch CANARY")
