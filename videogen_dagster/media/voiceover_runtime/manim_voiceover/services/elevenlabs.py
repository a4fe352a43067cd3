"""manim-voiceover's ElevenLabsService service, by name only: the deployment's voice speaks."""

from manim_voiceover.services.base import SpeechService


class ElevenLabsService(SpeechService):
    pass
