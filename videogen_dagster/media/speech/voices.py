"""What to speak with (`Voice`), what came out (`Utterance`), and the one error type."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

# Every engine's output is normalised to this: WAV, 48 kHz, mono, signed 16-bit little endian,
# so scene tracks can be mixed sample-accurately and every scene's audio stream is identical.
SAMPLE_RATE = 48000
CHANNELS = 1
SAMPLE_WIDTH = 2

MIN_SPEED = 0.5
MAX_SPEED = 2.0

PIPER_VOICE = "en_US-joe-medium"
OPENAI_DEFAULT_MODEL = "gpt-4o-mini-tts"

# engine -> the voices it offers (request validation). espeak-ng's voice is also its language.
ENGINES: dict[str, tuple[str, ...]] = {
    "piper": (PIPER_VOICE,),
    # English first, then the most spoken languages espeak-ng 1.51 (Debian 12) has voices for.
    "espeak": (
        "en-us", "en", "en-gb", "en-gb-scotland", "en-gb-x-rp", "en-029",
        "de", "fr-fr", "es", "es-419", "it", "pt", "pt-br", "nl", "pl", "ru", "cmn", "ja", "hi",
        "ar", "tr", "sv", "da", "fi", "cs", "el", "ko", "id", "vi", "uk",
    ),
    "openai": ("alloy", "ash", "coral", "echo", "fable", "nova", "onyx", "sage", "shimmer"),
}


class SpeechError(RuntimeError):
    """Speech could not be made; the message says why and what to do."""


@dataclass(frozen=True)
class Voice:
    engine: str
    voice: str
    speed: float = 1.0
    language: str | None = None

    def validate(self) -> Voice:
        """This voice, or SpeechError naming the allowed engines, voices or speed range."""
        if self.engine not in ENGINES:
            raise SpeechError(
                f"unknown speech engine {self.engine!r}: allowed engines are {', '.join(ENGINES)}"
            )
        allowed = ENGINES[self.engine]
        if self.voice not in allowed:
            raise SpeechError(
                f"unknown {self.engine} voice {self.voice!r}: allowed voices are {', '.join(allowed)}"
            )
        if not MIN_SPEED <= float(self.speed) <= MAX_SPEED:
            raise SpeechError(
                f"speech speed {self.speed} is out of range: allowed is {MIN_SPEED} to {MAX_SPEED}"
            )
        return self


@dataclass(frozen=True)
class Utterance:
    """One spoken line: a normalised WAV (48 kHz mono s16le) and its duration in seconds."""

    text: str
    path: Path
    duration: float
    engine: str
    voice: str
    speed: float
    cached: bool
