"""The one audio format every engine's output is normalised to: WAV, 48 kHz, mono, s16le, with
leading and trailing silence trimmed (so a line placed at t is heard at t)."""

from __future__ import annotations

import os
import shutil
import subprocess
import wave
from pathlib import Path

import numpy as np

from videogen_dagster.media.speech.voices import CHANNELS, SAMPLE_RATE, SAMPLE_WIDTH, SpeechError

FFMPEG_INSTALL = "run `make deps` (apt-get install ffmpeg)"
LEAD_KEEP = 0.04  # seconds of silence kept before the first sound (at most 50 ms)
TAIL_KEEP = 0.08  # ...and after the last, so a decaying consonant is not clipped
SILENCE_LEVEL = 10 ** (-50 / 20) * 32768  # -50 dBFS: quieter than this counts as silence


def read_wav(path: Path) -> np.ndarray:
    """The samples of a 48 kHz mono s16 WAV; ValueError naming the file when it is not one."""
    with wave.open(str(path), "rb") as wav:
        fmt = (wav.getframerate(), wav.getnchannels(), wav.getsampwidth())
        if fmt != (SAMPLE_RATE, CHANNELS, SAMPLE_WIDTH):
            raise ValueError(
                f"{path} is {fmt[0]} Hz, {fmt[1]} channel(s), {8 * fmt[2]}-bit: "
                f"expected {SAMPLE_RATE} Hz mono 16-bit"
            )
        return np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2")


def write_wav(path: Path, samples: np.ndarray) -> None:
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(CHANNELS)
        wav.setsampwidth(SAMPLE_WIDTH)
        wav.setframerate(SAMPLE_RATE)
        wav.writeframes(samples.astype("<i2").tobytes())


def wav_duration(path: Path) -> float:
    """Seconds, from the WAV header."""
    with wave.open(str(path), "rb") as wav:
        return wav.getnframes() / wav.getframerate()


def normalise(raw: Path, out: Path) -> float:
    """`raw` (any audio ffmpeg reads) as WAV 48 kHz mono s16le in `out`, with leading silence cut
    to LEAD_KEEP and trailing to TAIL_KEEP. Returns the duration in seconds."""
    if shutil.which("ffmpeg") is None:
        raise SpeechError(f"ffmpeg is not installed: {FFMPEG_INSTALL}")
    resampled = out.with_name(out.name + ".48k.wav")
    done = subprocess.run(
        [
            "ffmpeg",
            "-nostdin",
            "-y",
            "-v",
            "error",
            "-i",
            str(raw),
            "-ar",
            str(SAMPLE_RATE),
            "-ac",
            str(CHANNELS),
            "-c:a",
            "pcm_s16le",
            "-f",
            "wav",
            str(resampled),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    if done.returncode != 0:
        raise SpeechError(
            f"ffmpeg could not convert the engine's audio: {done.stderr.strip()[-300:]}"
        )
    try:
        samples = read_wav(resampled)
    finally:
        resampled.unlink(missing_ok=True)
    loud = np.flatnonzero(np.abs(samples.astype(np.int32)) > SILENCE_LEVEL)
    if loud.size == 0:
        raise SpeechError("the speech engine produced only silence for this line")
    start = max(0, int(loud[0]) - round(LEAD_KEEP * SAMPLE_RATE))
    end = min(samples.size, int(loud[-1]) + 1 + round(TAIL_KEEP * SAMPLE_RATE))
    trimmed = samples[start:end]
    tmp = out.with_name(out.name + f".{os.getpid()}.tmp")
    write_wav(tmp, trimmed)
    os.replace(tmp, out)
    return trimmed.size / SAMPLE_RATE
