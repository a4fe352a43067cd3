# A pickle written with tofile, then loaded: np.load(allow_pickle=True) would run its payload.
import numpy as np
from manim import *


class LoadPickle(Scene):
    def construct(self):
        payload = np.frombuffer(b"\x80\x04", dtype=np.uint8)
        payload.tofile("p.npy")
        np.load("p.npy", allow_pickle=True)
        np.load("p.npy", None, True)
        self.wait(0.1)
