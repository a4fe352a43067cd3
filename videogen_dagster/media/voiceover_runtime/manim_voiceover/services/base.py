"""The base of every speech service: accepts any settings, synthesizes nothing itself."""


class SpeechService:
    def __init__(self, *args: object, **kwargs: object) -> None:
        self.settings = kwargs
