"""`videogen evaluate`: the measured part on a real narrated video (checked against ffprobe and
the manifest), the model part against tests/fake_openai.py (images in the request, a scripted
structured answer), and the errors (unknown id: exit 2)."""

import base64
import json
import math
from pathlib import Path
from urllib.parse import urlparse

import pytest

from videogen_dagster.authoring.structured import strict_schema
from videogen_dagster.evaluation import measures
from videogen_dagster.evaluation.collect import layout_of
from videogen_dagster.evaluation.judge import JudgeAnswer
from videogen_dagster.evaluation.records import DIMENSIONS
from videogen_dagster.media.ffmpeg import parse_srt
from videogen_dagster.media.layout import Finding, LayoutKind
from videogen_dagster.stores.metastore import SqliteMetadataStore

from .conftest import ffprobe, run_cli
from .fake_openai import FakeOpenAI, strict_problem

VIDEO = "evalp.s1"


def _path(url: str) -> Path:
    return Path(urlparse(url).path)


def _end(info: dict, kind: str) -> float:
    s = next(s for s in info["streams"] if s["codec_type"] == kind)
    return float(s.get("start_time", 0)) + float(s["duration"])


def _answer(**scores: int) -> str:
    return json.dumps(
        {key: {"score": scores.get(key, 4), "reason": f"{key} seen"} for key in DIMENSIONS}
    )


# --- the arithmetic ------------------------------------------------------------------------------


def test_intervals_coverage_and_onsets():
    assert measures.union([(2, 3), (0, 1), (0.5, 1.5), (3, 4)]) == [(0, 1.5), (2, 4)]
    assert measures.covered([(0, 1), (0.5, 2), (5, 6)], 1, 5.5) == pytest.approx(1.5)
    assert measures.share(3, 4) == 0.75 and measures.share(5, 4) == 1.0
    assert measures.share(1, 0) is None
    speech = [(0.3, 1.0), (1.2, 2.0), (4.0, 5.0)]
    assert measures.onset(speech, 0.25, 2.15) == pytest.approx(0.05)
    assert measures.onset(speech, 0.5, 1.0) == pytest.approx(-0.2)  # already speaking
    assert measures.onset(speech, 2.1, 3.9) is None  # silence throughout the cue


def test_scores():
    assert measures.layout_score(4, 1) == 0.75
    assert measures.layout_score(3, 0) == 1.0
    assert measures.layout_score(0, 0) is None
    assert measures.overall([5, 5, 5, 5, 5]) == 1.0
    assert measures.overall([4, 4, 4, 4, 4]) == 0.8
    # One weak dimension weighs more than in an average.
    assert measures.overall([5, 5, 5, 5, 1]) == pytest.approx(round(5 ** (4 / 5) / 5, 4))
    assert measures.overall([5, 5, 5, 5, 1]) < (5 * 4 + 1) / 5 / 5


def test_layout_findings_become_kinds_messages_and_readability():
    small = Finding(LayoutKind.TOO_SMALL, "Text", "tiny words", 1.0, 2.0, 2, 9.3,
                    pixel_height=480, limit=14.0)  # fmt: skip
    smaller = Finding(LayoutKind.TOO_SMALL, "Text", "tinier", 3.0, 3.0, 1, 7.5,
                      pixel_height=480, limit=14.0)  # fmt: skip
    off = Finding(LayoutKind.OUT_OF_FRAME, "MathTex", "a^2", 4.0, 4.0, 1, 0.6, edge="right",
                  past_edge=0.4, limit=0.2)  # fmt: skip
    dim = Finding(LayoutKind.LOW_CONTRAST, "Text", "grey", 5.0, 5.0, 1, 1.8, color="#444444",
                  background="#000000", limit=3.0)  # fmt: skip
    raw = {"checks": 7, "findings": [f.to_dict() for f in (small, smaller, off, dim)]}
    layout, readability = layout_of(raw)
    assert layout.checks == 7 and layout.inspected
    assert layout.by_kind == {"too_small": 2, "out_of_frame": 1, "low_contrast": 1}
    assert layout.findings[2].message == off.message and "leaves the frame by 0.40" in off.message
    assert (readability.too_small, readability.smallest_glyph_px) == (2, 7.5)
    assert (readability.low_contrast, readability.lowest_contrast) == (1, 1.8)
    assert not readability.readable
    layout, readability = layout_of(None)  # a render made before the inspector
    assert not layout.inspected and readability.readable


def test_the_judges_answer_is_the_five_dimensions_in_strict_form():
    assert list(JudgeAnswer.model_fields) == list(DIMENSIONS) == [
        "accuracy_and_depth", "visual_relevance", "logical_flow", "element_layout",
        "visual_consistency",
    ]  # fmt: skip
    assert strict_problem(strict_schema(JudgeAnswer)) is None


# --- a real narrated video -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def video(tmp_path_factory):
    """A 2-scene narrated preview video, made once: (state folder, task result)."""
    var = tmp_path_factory.mktemp("evaluate") / "var"
    var.mkdir()
    proc = run_cli(
        ["generate", "Explain the Pythagorean theorem", "--scenes", "2", "--quality", "preview",
         "--project", "evalp", "--session", "s1", "--max-scene-duration", "30", "--narration",
         "--json"],
        var,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    return var, json.loads(proc.stdout)


@pytest.mark.slow
def test_measured_report_matches_ffprobe_and_the_manifest(video, monkeypatch):
    var, result = video
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("VIDEOGEN_MODELS_FILE", raising=False)
    proc = run_cli(["evaluate", result["task_id"], "--json"], var)
    assert proc.returncode == 0, proc.stderr[-3000:]
    ev = json.loads(proc.stdout)
    manifest = json.loads(_path(result["s3_manifest_url"]).read_text())
    assert (ev["video_key"], ev["task_id"]) == (VIDEO, result["task_id"])
    assert ev["topic"] == manifest["topic"] and ev["render"]["height"] == 480
    assert len(ev["scenes"]) == len(manifest["scenes"]) == 2
    for scene, stored, public in zip(
        ev["scenes"], manifest["scenes"], result["scenes"], strict=True
    ):
        info = ffprobe(_path(public["s3_video_url"]))
        # Durations: ffprobe's, the manifest's, and the request's limit. Debian's ffprobe gives
        # the mp4 header's duration (whole milliseconds); the pipeline's probe (PyAV's newer
        # libavformat) the streams' own: they differ by under 2 ms.
        assert scene["duration"] == pytest.approx(float(info["format"]["duration"]), abs=2e-3)
        assert scene["stored_duration"] == stored["duration"]
        assert scene["max_duration"] == 30 and scene["within_limit"]
        # Layout: the render's own inspection, as the manifest has it.
        assert scene["layout"]["checks"] == stored["layout"]["checks"] > 0
        assert len(scene["layout"]["findings"]) == len(stored["layout"]["findings"])
        assert scene["readability"]["readable"] == (scene["layout"]["findings"] == [])
        # Subtitles: the share of the scene under a cue, from the stored SRT.
        cues = parse_srt(_path(public["s3_subtitles_url"]).read_text())
        under = sum(c.end - c.start for c in cues)  # the cues do not overlap
        assert scene["subtitles_coverage"] == pytest.approx(under / scene["duration"], abs=1e-3)
        assert [c["text"] for c in scene["cues"]] == [c.text for c in cues]
        # Speech: as long as the spoken lines (less the pauses inside them), inside the cues,
        # and starting where each cue starts.
        spoken = sum(line["duration"] for line in stored["narration"]["lines"])
        assert scene["narrated"] and scene["voice"] == "piper/en_US-joe-medium"
        assert 0.7 * spoken <= scene["speech_seconds"] <= spoken + 0.1
        assert scene["speech_in_cues"] >= 0.95
        assert 0.6 <= scene["speech_coverage"] <= 1.0
        for cue in scene["cues"]:
            assert cue["onset"] is not None and abs(cue["onset"]) <= 0.3, cue
            assert cue["speech_share"] >= 0.6, cue
        # Audio and video end together (ffprobe's stream ends).
        assert scene["audio"]["video_end"] == pytest.approx(_end(info, "video"), abs=1e-3)
        assert scene["audio"]["audio_end"] == pytest.approx(_end(info, "audio"), abs=1e-3)
        assert scene["audio"]["agrees"]
    totals = ev["totals"]
    combined = ffprobe(_path(result["s3_combined_video_url"]))
    assert totals["duration"] == pytest.approx(float(combined["format"]["duration"]), abs=2e-3)  # as above
    assert totals["scenes_duration"] == pytest.approx(
        sum(s["duration"] for s in ev["scenes"]), abs=1e-3
    )
    flagged = sum(bool(s["layout"]["findings"]) for s in ev["scenes"])
    assert totals["scenes_inspected"] == 2 and totals["scenes_with_findings"] == flagged
    assert totals["layout_score"] == 1 - flagged / 2
    assert totals["cues"] == sum(len(s["cues"]) for s in ev["scenes"])
    assert totals["cues_without_speech"] == 0 and totals["worst_onset"] <= 0.3
    assert totals["audio"]["agrees"]
    # No model configured: said so, and nothing was asked.
    assert ev["judgement"] is None and "OPENAI_API_KEY" in ev["judgement_skipped"]

    text = run_cli(["evaluate", VIDEO], var)  # by video key, as text
    assert text.returncode == 0, text.stderr[-2000:]
    assert "Measured (no model):" in text.stdout and "layout score: 1.00" in text.stdout
    assert "Model judgement: skipped" in text.stdout


@pytest.mark.slow
def test_vision_model_scores_five_dimensions_from_frames_and_narration(video):
    var, result = video
    fake = FakeOpenAI(response_format="honour")
    try:
        fake.script["visual"] = [_answer(accuracy_and_depth=5, visual_relevance=3)]
        env = {"OPENAI_API_KEY": fake.api_key, "OPENAI_BASE_URL": fake.url}
        proc = run_cli(["evaluate", result["task_id"], "--json", "--vision-model", "gpt-4o"],
                       var, env=env)  # fmt: skip
        assert proc.returncode == 0, proc.stderr[-3000:]
        ev = json.loads(proc.stdout)
        judged = ev["judgement"]
        assert judged["model"] == "gpt-4o" and judged["frames"] == 6
        scores = {k: d["score"] for k, d in judged["dimensions"].items()}
        assert scores == {"accuracy_and_depth": 5, "visual_relevance": 3, "logical_flow": 4,
                          "element_layout": 4, "visual_consistency": 4}  # fmt: skip
        assert judged["overall"] == pytest.approx(math.prod(scores.values()) ** 0.2 / 5, abs=1e-4)
        assert judged["dimensions"]["logical_flow"]["reason"] == "logical_flow seen"
        # The measured part is there as without a model.
        assert ev["totals"]["scenes"] == 2 and ev["judgement_skipped"] is None

        # One request, as a strict structured output, carrying the frames and the narration.
        (request,) = fake.requests
        assert request["model"] == "gpt-4o" and request["temperature"] == 0
        assert request["response_format"]["type"] == "json_schema"
        parts = request["messages"][1]["content"]
        images = [p["image_url"]["url"] for p in parts if p["type"] == "image_url"]
        assert len(images) == 6
        for url in images:
            head, _, data = url.partition(",")
            assert head == "data:image/jpeg;base64"
            assert base64.b64decode(data)[:3] == b"\xff\xd8\xff"  # a JPEG
        text = " ".join(p["text"] for p in parts if p["type"] == "text")
        manifest = json.loads(_path(result["s3_manifest_url"]).read_text())
        for line in manifest["scenes"][1]["narration"]["lines"]:
            assert line["text"] in text
        assert "<user_prompt>\nExplain the Pythagorean theorem\n</user_prompt>" in text

        # An answer that never validates: the judgement failed (exit 1), the measures stand.
        fake.script["visual"] = ['{"accuracy_and_depth": 9}', "not json"]
        proc = run_cli(["evaluate", VIDEO], var, env=env)
        assert proc.returncode == 1
        assert "Model judgement failed: gpt-4o-mini:" in proc.stdout
        assert "layout score: 1.00" in proc.stdout
    finally:
        fake.close()


@pytest.mark.slow
def test_unknown_and_unfinished_are_refused_with_exit_2(video, var_dir):
    var, _ = video
    proc = run_cli(["evaluate", "0" * 32], var)
    assert proc.returncode == 2
    assert "no task or video '00000000000000000000000000000000'" in proc.stderr
    assert proc.stdout == ""
    SqliteMetadataStore(var / "metadata.sqlite").create_task(
        "queued1", "generate", "evalp", "s1", VIDEO, 4, "preview"
    )
    proc = run_cli(["evaluate", "queued1"], var)
    assert proc.returncode == 2 and "task queued1 is queued" in proc.stderr
    proc = run_cli(["evaluate", VIDEO, "--vision-model", "gpt-5-turbo-max"], var)
    assert proc.returncode == 2 and "unknown vision model 'gpt-5-turbo-max'" in proc.stderr
    # A state folder where nothing was generated: said so, and nothing is created there.
    proc = run_cli(["evaluate", "abc"], var_dir)
    assert proc.returncode == 2 and "no metadata store" in proc.stderr
    assert not (var_dir / "metadata.sqlite").exists()
