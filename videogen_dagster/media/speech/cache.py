"""Content-addressed cache of spoken lines: `root/ab/<key>.wav` + `<key>.json`.

The key is a SHA-256 over everything that changes the audio (text, engine, voice, speed,
language, model id), so an entry never goes stale; it is only ever added. Files are written to
a temporary name and renamed into place, so processes that speak the same line at once each
leave a complete file (the last rename wins, with identical content in meaning). Within one
process a per-key lock makes the second caller wait and take the first one's result."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import tempfile
import threading
import wave
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from videogen_dagster.media.speech.voices import CHANNELS, SAMPLE_RATE, SAMPLE_WIDTH, Voice


@dataclass(frozen=True)
class CacheEntry:
    key: str
    path: Path
    duration: float
    cached: bool


def cache_key(text: str, voice: Voice, model_id: str) -> str:
    canonical = json.dumps(
        {
            "text": text,
            "engine": voice.engine,
            "voice": voice.voice,
            "speed": round(float(voice.speed), 4),
            "language": voice.language,
            "model": model_id,
        },
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


class SpeechCache:
    def __init__(self, root: Path):
        self.root = Path(root)
        self.hits = 0
        self.misses = 0
        self._lock = threading.Lock()
        self._key_locks: dict[str, threading.Lock] = {}

    def paths(self, key: str) -> tuple[Path, Path]:
        folder = self.root / key[:2]
        return folder / f"{key}.wav", folder / f"{key}.json"

    def lookup(self, key: str) -> CacheEntry | None:
        """The stored entry when its WAV is present and well-formed (else None: speak again)."""
        wav_path, meta_path = self.paths(key)
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
            with wave.open(str(wav_path), "rb") as wav:
                fmt = (wav.getframerate(), wav.getnchannels(), wav.getsampwidth())
                frames = wav.getnframes()
            expected = SAMPLE_WIDTH * CHANNELS * frames + 44
            if fmt != (SAMPLE_RATE, CHANNELS, SAMPLE_WIDTH) or frames == 0:
                return None
            if wav_path.stat().st_size < expected:  # truncated after its header was written
                return None
            duration = frames / SAMPLE_RATE
            if abs(float(meta["duration"]) - duration) > 1e-3:
                return None
        except (OSError, ValueError, KeyError, TypeError, EOFError, wave.Error):
            return None
        return CacheEntry(key, wav_path, duration, cached=True)

    @contextlib.contextmanager
    def _process_lock(self, key: str) -> Iterator[None]:
        """An advisory lock per key across processes (scene runs are separate processes): the
        second run that needs the same new line waits and takes the first one's file."""
        folder = self.root / ".locks"
        folder.mkdir(parents=True, exist_ok=True)
        with open(folder / f"{key[:2]}.lock", "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def get_or_make(
        self, key: str, make: Callable[[Path], float], meta: dict[str, object]
    ) -> CacheEntry:
        """The entry for `key`; on a miss `make(wav_path)` writes a normalised WAV and returns
        its duration, and the result is stored with `meta` (plus the duration) beside it."""
        with self._lock:
            key_lock = self._key_locks.setdefault(key, threading.Lock())
        with key_lock, self._process_lock(key):
            entry = self.lookup(key)
            if entry is not None:
                with self._lock:
                    self.hits += 1
                return entry
            with self._lock:
                self.misses += 1
            wav_path, meta_path = self.paths(key)
            wav_path.parent.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryDirectory(dir=wav_path.parent, prefix=".speak-") as tmp:
                made = Path(tmp) / "line.wav"
                duration = make(made)
                os.replace(made, wav_path)
                record = Path(tmp) / "line.json"
                record.write_text(
                    json.dumps({**meta, "duration": duration}, ensure_ascii=False, indent=1),
                    encoding="utf-8",
                )
                os.replace(record, meta_path)
            return CacheEntry(key, wav_path, duration, cached=False)
