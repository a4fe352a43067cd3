"""manim-voiceover's PyTTSX3Service service, by name only: the deployment's voice speaks."""

from manim_voiceover.services.base import SpeechService


class PyTTSX3Service(SpeechService):
    pass
