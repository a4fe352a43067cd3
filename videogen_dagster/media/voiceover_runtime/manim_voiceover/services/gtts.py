"""manim-voiceover's GTTSService service, by name only: the deployment's voice speaks."""

from manim_voiceover.services.base import SpeechService


class GTTSService(SpeechService):
    pass
