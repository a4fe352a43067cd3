"""What an evaluation reports: one record per scene (model-free, always), the video's totals,
and the model's judgement when a vision model was asked. All JSON-ready with `as_dict`."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

# TheoremExplainAgent's five evaluation dimensions (Ku et al., 2025), in its order, with what
# the judge is asked to look at for each.
DIMENSIONS: dict[str, str] = {
    "accuracy_and_depth": (
        "Accuracy and depth: is what is said and shown correct, and does it go beyond stating "
        "the topic (why it holds, its conditions, an example)?"
    ),
    "visual_relevance": (
        "Visual relevance: do the frames show what the narration is talking about at that point "
        "(the formula, the figure, the quantity), rather than decoration or bare text?"
    ),
    "logical_flow": (
        "Logical flow: do the scenes come in a clear order, each building on the one before, "
        "from introduction to conclusion?"
    ),
    "element_layout": (
        "Element layout: is every element placed cleanly: nothing overlapping, cut off or "
        "outside the frame, text large enough to read, space used well?"
    ),
    "visual_consistency": (
        "Visual consistency: do colours, fonts, sizes and positions stay consistent across "
        "frames and scenes, without jarring changes?"
    ),
}


@dataclass(frozen=True)
class FindingNote:
    """One layout finding as the render's inspector recorded it."""

    kind: str
    time: float
    mobject: str
    text: str
    message: str


@dataclass(frozen=True)
class Layout:
    """The render's layout inspection: `checks` animations looked at (0: not inspected)."""

    checks: int
    by_kind: dict[str, int]
    findings: list[FindingNote]

    @property
    def inspected(self) -> bool:
        return self.checks > 0


@dataclass(frozen=True)
class Readability:
    """Text size and contrast, from the inspector's too_small and low_contrast findings."""

    too_small: int
    low_contrast: int
    # The smallest capital letter (px at the output height) and the lowest contrast the
    # inspector reported; None when nothing fell under its threshold.
    smallest_glyph_px: float | None
    lowest_contrast: float | None
    min_glyph_px: float  # the thresholds applied
    min_contrast: float

    @property
    def readable(self) -> bool:
        return self.too_small == 0 and self.low_contrast == 0


@dataclass(frozen=True)
class CueCheck:
    """One subtitle cue and the speech heard during it (None: the scene is silent)."""

    start: float
    end: float
    text: str
    speech_share: float | None  # share of the cue's window with speech
    onset: float | None  # speech start - cue start, seconds (None: no speech in the cue)


@dataclass(frozen=True)
class AudioSync:
    """The audio stream's end against the video stream's (a frame apart at most)."""

    video_end: float
    audio_end: float | None  # None: no audio stream
    tolerance: float

    @property
    def difference(self) -> float | None:
        return None if self.audio_end is None else round(self.audio_end - self.video_end, 3)

    @property
    def agrees(self) -> bool:
        return self.difference is not None and abs(self.difference) <= self.tolerance


@dataclass(frozen=True)
class SceneEvaluation:
    scene_number: int
    scene_id: str
    title: str
    version: int
    duration: float  # ffprobe's, of the stored scene video
    stored_duration: float | None  # the manifest's
    max_duration: float  # the request's max_scene_duration
    within_limit: bool
    layout: Layout
    readability: Readability
    subtitles_coverage: float | None  # share of the scene's time with a cue on screen
    cues: list[CueCheck]
    narrated: bool
    voice: str | None  # "engine/voice" when narrated
    speech_seconds: float | None  # detected speech (silencedetect), None when silent
    speech_coverage: float | None  # speech inside cues / time of the cues
    speech_in_cues: float | None  # share of the detected speech that falls inside a cue
    audio: AudioSync


@dataclass(frozen=True)
class Totals:
    """The whole video. Formulas in the README's "Evaluating a video"."""

    scenes: int
    duration: float  # ffprobe's, of the joined video
    scenes_duration: float  # the scenes' durations added up
    within_limit: int  # scenes no longer than max_scene_duration
    findings: int
    findings_by_kind: dict[str, int]
    scenes_inspected: int
    scenes_with_findings: int
    layout_score: float | None
    readable_scenes: int
    subtitles_coverage: float | None
    speech_coverage: float | None
    cues: int
    cues_without_speech: int
    worst_onset: float | None  # the largest |onset| of any cue, seconds
    audio: AudioSync


@dataclass(frozen=True)
class DimensionJudgement:
    score: int  # 1-5
    reason: str


@dataclass(frozen=True)
class Judgement:
    """A vision model's 1-5 scores on TheoremExplainAgent's dimensions: an opinion, not a
    measurement."""

    model: str
    frames: int
    dimensions: dict[str, DimensionJudgement]
    overall: float  # geometric mean of the five scores / 5
    usage: dict[str, Any]


@dataclass(frozen=True)
class VideoEvaluation:
    video_key: str
    task_id: str | None
    prompt: str
    topic: str
    planner: str
    warnings: list[str]
    render: dict[str, Any]  # quality, width, height, fps
    scenes: list[SceneEvaluation]
    totals: Totals
    judgement: Judgement | None = None
    # Why there is no judgement: skipped (no model configured) or failed (the call's error).
    judgement_skipped: str | None = None
    judgement_error: str | None = None
    seconds: float = 0.0  # the evaluation's own time
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        for scene, raw in zip(self.scenes, data["scenes"], strict=True):
            raw["audio"].update(difference=scene.audio.difference, agrees=scene.audio.agrees)
            raw["readability"]["readable"] = scene.readability.readable
        audio = self.totals.audio
        data["totals"]["audio"].update(difference=audio.difference, agrees=audio.agrees)
        return data
