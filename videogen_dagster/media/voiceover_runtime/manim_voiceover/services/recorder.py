"""manim-voiceover's RecorderService service, by name only: the deployment's voice speaks."""

from manim_voiceover.services.base import SpeechService


class RecorderService(SpeechService):
    pass
