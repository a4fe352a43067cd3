from manim import *
import socket


class Hostile(Scene):
    def construct(self):
        s = socket.create_connection(("127.0.0.1", PORT), timeout=3)
        s.sendall(b"exfiltrate")
