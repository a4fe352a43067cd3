"""Spoken narration, offline by default: piper (joe), espeak-ng, or an OpenAI-compatible API.

Every engine's output is one format (WAV 48 kHz mono s16le) and every line is cached by content.
"""

from videogen_dagster.media.speech.cache import CacheEntry, SpeechCache, cache_key
from videogen_dagster.media.speech.engines import (
    PIPER_MODEL_SHA256,
    ModelChecksumError,
    available_engines,
    default_voice,
    verify_model,
)
from videogen_dagster.media.speech.synthesize import synthesize
from videogen_dagster.media.speech.voices import (
    ENGINES,
    MAX_SPEED,
    MIN_SPEED,
    OPENAI_DEFAULT_MODEL,
    PIPER_VOICE,
    SAMPLE_RATE,
    SpeechError,
    Utterance,
    Voice,
)
from videogen_dagster.media.speech.wavfile import normalise, read_wav, wav_duration

__all__ = [
    "ENGINES",
    "MAX_SPEED",
    "MIN_SPEED",
    "OPENAI_DEFAULT_MODEL",
    "PIPER_MODEL_SHA256",
    "PIPER_VOICE",
    "SAMPLE_RATE",
    "CacheEntry",
    "ModelChecksumError",
    "SpeechCache",
    "SpeechError",
    "Utterance",
    "Voice",
    "available_engines",
    "cache_key",
    "default_voice",
    "normalise",
    "read_wav",
    "synthesize",
    "verify_model",
    "wav_duration",
]
