from manim import *


class Hostile(Scene):
    def construct(self):
        utils.file_ops.os.system("touch CANARY")
