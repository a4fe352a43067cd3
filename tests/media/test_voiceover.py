"""Narrated renders: template beats wait for their spoken lines; model-written code speaks through
manim-voiceover's idiom inside the sandbox; the speech lands where the subtitles say."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from videogen_dagster.authoring.codegen import cues_for, fit_timeline, generate_scene_code, timeline
from videogen_dagster.authoring.planning import plan_offline
from videogen_dagster.authoring.timeline import CUE_TAIL, NarrationTooLong
from videogen_dagster.media import narration_audio, sandbox, voiceover
from videogen_dagster.media.rendering import render_scene
from videogen_dagster.media.speech import SpeechCache
from videogen_dagster.models import NarrationConfig, RenderConfig
from videogen_dagster.pipeline import narration

PREVIEW = RenderConfig(quality="preview")


def test_beats_last_as_long_as_their_speech():
    speech = [1.2, 3.4, 0.5]
    beats = timeline(["a", "b c d", "e"], 30, speech=speech)
    for (run, wait), said in zip(beats, speech, strict=True):
        assert run + wait >= said + 0.39
    cues = cues_for(["a", "b", "c"], beats, speech)
    # Each cue starts with its beat and ends shortly after its line: the gaps are silent.
    assert [round(c.end - c.start, 2) for c in cues] == [round(s + CUE_TAIL, 2) for s in speech[:2]] + [
        round(min(sum(beats[2]), speech[2] + CUE_TAIL), 2)
    ]
    assert cues[1].start == pytest.approx(sum(beats[0]))


def test_narration_that_cannot_fit_is_refused_not_cut():
    with pytest.raises(NarrationTooLong, match="max_scene_duration"):
        timeline(["a", "b"], 5, speech=[3.0, 3.0])
    with pytest.raises(NarrationTooLong, match="preserve_timing"):
        fit_timeline([(1.0, 1.0), (1.0, 1.0)], 3.0, speech=[2.0, 2.0])
    fitted = fit_timeline([(1.0, 1.0), (1.0, 3.0)], 8.0, speech=[1.5, 2.0])
    assert sum(r + w for r, w in fitted) == pytest.approx(8.0, abs=0.02)
    assert all(r + w >= s for (r, w), s in zip(fitted, [1.5, 2.0], strict=True))


def test_spoken_texts_are_read_from_the_source_without_running_it():
    code = (
        "from manim_voiceover import VoiceoverScene\n"
        "class S(VoiceoverScene):\n"
        "    def construct(self):\n"
        "        with self.voiceover(text='One  line.') as t:\n"
        "            pass\n"
        "        with self.voiceover(\"Two <bookmark mark='A'/>lines.\"):\n"
        "            pass\n"
        "        with self.voiceover(text=f'{x}'):\n"
        "            pass\n"
    )
    assert voiceover.spoken_texts(code) == ["One line.", "Two lines."]
    assert voiceover.spoken_texts("def (") == []
    assert sandbox.check_code(code) == []


def test_the_timeline_a_render_writes_is_checked(tmp_path: Path):
    (tmp_path / voiceover.TIMELINE_FILE).write_text(
        '{"text": "b", "start": 2.0, "known": true}\n'
        '{"text": "a", "start": 0.5}\n'
        "not json\n"
        '{"text": "late", "start": 99}\n'
        '{"text": "nan", "start": NaN}\n'
        '{"text": "neg", "start": -1}\n'
    )
    spoken = voiceover.read_timeline(tmp_path, 10.0)
    assert [(s.text, s.start) for s in spoken] == [("a", 0.5), ("b", 2.0)]
    # A link planted in place of the file, or a huge file, is not read.
    (tmp_path / voiceover.TIMELINE_FILE).unlink()
    (tmp_path / voiceover.TIMELINE_FILE).symlink_to(tmp_path / "elsewhere.jsonl")
    (tmp_path / "elsewhere.jsonl").write_text('{"text": "a", "start": 0.5}\n')
    assert voiceover.read_timeline(tmp_path, 10.0) == []
    (tmp_path / voiceover.TIMELINE_FILE).unlink()
    (tmp_path / voiceover.TIMELINE_FILE).write_text('{"text": "a", "start": 0.5}\n' * 20000)
    assert voiceover.read_timeline(tmp_path, 10.0) == []


@pytest.fixture(scope="module")
def narrator(tmp_path_factory) -> narration.Narrator:
    return narration.Narrator(cache=SpeechCache(tmp_path_factory.mktemp("speech")))


@pytest.mark.slow
def test_model_code_waits_for_each_line_in_the_sandbox(tmp_path: Path, narrator):
    """The idiom models know (manim-voiceover), rendered confined: each block lasts as long as
    its line, the speech starts where the block starts, and nothing is synthesized inside."""
    code = (
        "from manim import *\n"
        "from manim_voiceover import VoiceoverScene\n"
        "from manim_voiceover.services.gtts import GTTSService\n\n"
        "class Scene01(VoiceoverScene):\n"
        "    def construct(self):\n"
        "        self.set_speech_service(GTTSService(lang='en'))\n"
        "        c = Circle()\n"
        "        with self.voiceover(text='A circle appears on the screen.') as tracker:\n"
        "            self.play(Create(c), run_time=tracker.duration / 2)\n"
        "        with self.voiceover(text='Now the circle turns blue.') as tracker:\n"
        "            self.play(c.animate.set_color(BLUE), run_time=0.5)\n"
    )
    scene = narration.for_scene(narrator, NarrationConfig(), [])
    assert scene is not None
    work = tmp_path / "attempt1"
    scene.prepare_render(code, work)
    said = [u.duration for u in scene.lines.values()]
    assert len(said) == 2 and scene.misses == 2
    result = render_scene(code, "Scene01", work, PREVIEW)
    assert result.info.duration == pytest.approx(sum(said), abs=0.15)
    from videogen_dagster.authoring.codegen import GeneratedScene

    generated = GeneratedScene(code, "Scene01", [], result.info.duration, spread_cues=True)
    placed = narration.place(scene, generated, work, result.info.duration)
    assert [p.start for p in placed] == pytest.approx([0.0, said[0]], abs=0.08)
    video, _ = narration.voice_video(result.video, placed, result.info.duration, tmp_path)
    spans = narration_audio.speech_spans(video)
    # The two lines follow each other without a pause: speech from the start to the end.
    assert spans and spans[0][0] < 0.3
    assert spans[-1][1] == pytest.approx(sum(said), abs=0.35)


@pytest.mark.slow
def test_template_scene_speaks_each_line_inside_its_cue(tmp_path: Path, narrator):
    plan = plan_offline("p", "s", "Explain the Pythagorean theorem", 3, False)
    scene_plan = plan.scenes[1]
    scene = narration.for_scene(narrator, NarrationConfig(), scene_plan.narration)
    generated = generate_scene_code(scene_plan, 30, speech=scene.durations(scene_plan.narration))
    result = render_scene(generated.code, generated.class_name, tmp_path / "a1", PREVIEW)
    placed = narration.place(scene, generated, tmp_path / "a1", result.info.duration)
    video, duration = narration.voice_video(result.video, placed, result.info.duration, tmp_path)
    cues = narration.cues(placed)
    spans = narration_audio.speech_spans(video)
    info = narration_audio.audio_info(video)
    assert info and (info.codec, info.sample_rate, info.channels) == ("aac", 48000, 1)
    assert abs(info.duration - narration_audio.video_duration(video)) <= 1 / 15
    for cue in cues:
        onset = min((s for s, e in spans if e > cue.start - 0.05), default=None)
        assert onset is not None and abs(onset - cue.start) <= 0.3, (cue, spans)
    # Silence between the cues: no span starts inside a gap.
    for a, b in zip(cues, cues[1:], strict=False):
        assert not [s for s, e in spans if a.end + 0.05 < s < b.start - 0.05]
    # A second scene with the same lines synthesizes nothing.
    again = narration.for_scene(narrator, NarrationConfig(), scene_plan.narration)
    assert again.misses == 0 and again.hits == len(scene_plan.narration)
    shutil.rmtree(tmp_path / "a1")
