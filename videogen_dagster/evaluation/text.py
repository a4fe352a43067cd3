"""The evaluation as `videogen evaluate` prints it: the measured part first, then the model's."""

from __future__ import annotations

from videogen_dagster.evaluation.records import (
    DIMENSIONS,
    AudioSync,
    Readability,
    SceneEvaluation,
    VideoEvaluation,
)
from videogen_dagster.media.layout import LayoutKind

KINDS = [k.value for k in LayoutKind]


def pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def _readability(r: Readability, inspected: bool) -> str:
    if not inspected:
        return "not inspected"
    if r.readable:
        return "ok"
    parts = []
    if r.too_small:
        parts.append(f"{r.too_small} small ({r.smallest_glyph_px:.1f}<{r.min_glyph_px:g} px)")
    if r.low_contrast:
        parts.append(f"{r.low_contrast} dim ({r.lowest_contrast:.1f}<{r.min_contrast:g}:1)")
    return ", ".join(parts)


def _onsets(s: SceneEvaluation) -> str:
    values = [c.onset for c in s.cues if c.onset is not None]
    if not s.narrated or not values:
        return "-"
    lo, hi = min(values), max(values)
    return f"{lo:+.2f}" if lo == hi else f"{lo:+.2f}..{hi:+.2f}"


def _audio(a: AudioSync) -> str:
    if a.difference is None:
        return "no audio"
    return f"{a.difference:+.3f} {'ok' if a.agrees else 'OFF'}"


def _layout(s: SceneEvaluation) -> str:
    if not s.layout.inspected:
        return "not inspected"
    n = len(s.layout.findings)
    return f"{n} in {s.layout.checks} checks"


def format_report(ev: VideoEvaluation) -> str:
    t = ev.totals
    r = ev.render
    lines = [
        f"Evaluation of video {ev.video_key}"
        + (f" (task {ev.task_id})" if ev.task_id else "")
        + f": {ev.prompt!r}",
        f"topic: {ev.topic} · planner: {ev.planner} · {r.get('quality')} "
        f"{r.get('width')}x{r.get('height')} @ {r.get('fps')} fps",
    ]
    lines += [f"warning: {w}" for w in ev.warnings]
    lines += [
        "",
        "Measured (no model):",
        f"{'scene':<5} {'duration s':<15} {'layout':<17} {'readability':<22} {'subtitles':>9} "
        f"{'speech':>7}  {'onsets s':<13} audio-video s",
    ]
    for s in ev.scenes:
        limit = "ok" if s.within_limit else "OVER"
        duration = f"{s.duration:.2f}/{s.max_duration:g} {limit}"
        lines.append(
            f"{s.scene_number:<5} {duration:<15} {_layout(s):<17} "
            f"{_readability(s.readability, s.layout.inspected):<22} "
            f"{pct(s.subtitles_coverage):>9} {pct(s.speech_coverage):>7}  {_onsets(s):<13} "
            f"{_audio(s.audio)}"
        )
        lines += [f"       {f.kind}: {f.message}" for f in s.layout.findings]
        lines += [
            f"       cue {c.start:.2f}-{c.end:.2f} s has no speech: {c.text[:60]!r}"
            for c in s.cues
            if s.narrated and c.onset is None
        ]
    kinds = ", ".join(f"{k} {t.findings_by_kind.get(k, 0)}" for k in KINDS)
    score = "-" if t.layout_score is None else f"{t.layout_score:.2f}"
    onset = "-" if t.worst_onset is None else f"{t.worst_onset:.2f} s"
    lines += [
        f"video: {t.duration:.2f} s joined (scenes add up to {t.scenes_duration:.2f} s), "
        f"{t.within_limit} of {t.scenes} scenes within the limit",
        f"  layout findings: {t.findings} ({kinds})",
        f"  layout score: {score} = 1 - {t.scenes_with_findings} scenes with findings / "
        f"{t.scenes_inspected} inspected; readable scenes: {t.readable_scenes} of "
        f"{t.scenes_inspected}",
        f"  subtitles cover {pct(t.subtitles_coverage)} of the time; speech fills "
        f"{pct(t.speech_coverage)} of the cues' time; {t.cues_without_speech} of {t.cues} cues "
        f"without speech; worst onset {onset}",
        f"  audio-video: {_audio(t.audio)} (tolerance one frame, {t.audio.tolerance:.3f} s)",
        "",
    ]
    j = ev.judgement
    if j is not None:
        lines.append(
            f"Model judgement ({j.model}, {j.frames} frames + narration; a model's opinion, "
            "not a measurement):"
        )
        for key, d in j.dimensions.items():
            name = DIMENSIONS[key].split(":", 1)[0]
            lines.append(f"  {name:<20} {d.score}/5  {d.reason}")
        lines.append(f"  overall {j.overall:.2f} (geometric mean of the five scores / 5)")
    elif ev.judgement_error:
        lines.append(f"Model judgement failed: {ev.judgement_error}")
    else:
        lines.append(f"Model judgement: skipped: {ev.judgement_skipped}")
    lines.append(f"(evaluated in {ev.seconds:.1f} s)")
    return "\n".join(lines)
