from manim import *


class Hostile(Scene):
    def construct(self):
        for cls in ().__class__.__base__.__subclasses__():
            if cls.__name__ == "Popen":
                cls(["touch", "CANARY"])
