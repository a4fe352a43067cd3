"""manim-voiceover's OpenAIService service, by name only: the deployment's voice speaks."""

from manim_voiceover.services.base import SpeechService


class OpenAIService(SpeechService):
    pass
