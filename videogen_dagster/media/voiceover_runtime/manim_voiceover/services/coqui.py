"""manim-voiceover's CoquiService service, by name only: the deployment's voice speaks."""

from manim_voiceover.services.base import SpeechService


class CoquiService(SpeechService):
    pass
