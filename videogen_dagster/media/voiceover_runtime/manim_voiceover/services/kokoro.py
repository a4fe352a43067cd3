"""manim-voiceover's KokoroService service, by name only: the deployment's voice speaks."""

from manim_voiceover.services.base import SpeechService


class KokoroService(SpeechService):
    pass
