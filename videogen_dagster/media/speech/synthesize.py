"""Lines of narration -> normalised WAV files, each from the cache when it was spoken before."""

from __future__ import annotations

from pathlib import Path

from videogen_dagster.media.speech.cache import SpeechCache, cache_key
from videogen_dagster.media.speech.engines import model_id, speak
from videogen_dagster.media.speech.voices import SpeechError, Utterance, Voice
from videogen_dagster.media.speech.wavfile import normalise


def synthesize(
    lines: list[str],
    voice: Voice,
    cache: SpeechCache,
    *,
    openai_base_url: str | None = None,
    openai_api_key: str | None = None,
    openai_model: str | None = None,
) -> list[Utterance]:
    """One Utterance per line, in order. Every line is checked before anything is spoken."""
    voice.validate()
    for i, line in enumerate(lines):
        if not isinstance(line, str) or not line.strip():
            raise SpeechError(f"narration line {i + 1} is empty: every line needs words to speak")
    model = model_id(voice, openai_model)
    out = []
    for line in lines:
        text = line.strip()

        def make(wav: Path, text: str = text) -> float:
            raw = wav.with_name("raw.wav")
            speak(
                text,
                voice,
                raw,
                openai_base_url=openai_base_url,
                openai_api_key=openai_api_key,
                openai_model=openai_model,
            )
            return normalise(raw, wav)

        meta = {
            "text": text,
            "engine": voice.engine,
            "voice": voice.voice,
            "speed": float(voice.speed),
            "language": voice.language,
            "model": model,
        }
        entry = cache.get_or_make(cache_key(text, voice, model), make, meta)
        out.append(
            Utterance(
                text=text,
                path=entry.path,
                duration=entry.duration,
                engine=voice.engine,
                voice=voice.voice,
                speed=float(voice.speed),
                cached=entry.cached,
            )
        )
    return out
