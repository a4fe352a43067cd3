"""manim-voiceover's AzureService service, by name only: the deployment's voice speaks."""

from manim_voiceover.services.base import SpeechService


class AzureService(SpeechService):
    pass
