"""`videogen generate` end to end: a real 2-scene preview video, checked with ffprobe."""

import json
from pathlib import Path
from urllib.parse import urlparse

import pytest

from videogen_dagster.media.ffmpeg import parse_srt

from .conftest import ffprobe, run_cli

pytestmark = pytest.mark.slow


def _path(url: str) -> Path:
    return Path(urlparse(url).path)


def test_generate_two_scene_video(var_dir):
    proc = run_cli(
        ["generate", "Explain the Pythagorean theorem", "--scenes", "2", "--quality", "preview",
         "--project", "e2e", "--session", "s1", "--max-scene-duration", "5", "--json"],
        var_dir,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout)
    assert result["project_id"] == "e2e" and result["session_id"] == "s1"
    assert result["status"] == "completed" and result["scene_count"] == 2
    assert [s["scene_id"] for s in result["scenes"]] == ["s1_scene_1", "s1_scene_2"]
    for s in result["scenes"]:
        assert s["status"] == "completed" and s["version"] == 1
        for k in ("s3_video_url", "s3_source_url", "s3_thumbnail_url", "s3_subtitles_url"):
            assert _path(s[k]).is_file(), k
        assert "/scenes/0" in s["s3_video_url"] and "/v1/" in s["s3_video_url"]
    assert result["generation_time_seconds"] > 0 and result["completed_at"]

    combined = _path(result["s3_combined_video_url"])
    info = ffprobe(combined)
    scene_durations = [float(ffprobe(_path(s["s3_video_url"]))["format"]["duration"]) for s in result["scenes"]]
    total = float(info["format"]["duration"])
    assert abs(total - sum(scene_durations)) <= 0.1
    assert abs(result["total_duration"] - total) <= 0.01
    assert all(d <= 5.1 for d in scene_durations)

    # The joined subtitles are the scenes' subtitles, shifted by the scenes before them.
    first = parse_srt(_path(result["scenes"][0]["s3_subtitles_url"]).read_text())
    second = parse_srt(_path(result["scenes"][1]["s3_subtitles_url"]).read_text())
    joined = parse_srt(_path(result["s3_subtitles_url"]).read_text())
    assert len(joined) == len(first) + len(second)
    offset = joined[len(first)].start - second[0].start
    assert abs(offset - scene_durations[0]) <= 0.05
    assert _path(result["s3_subtitles_url"]).with_suffix(".vtt").read_text().startswith("WEBVTT")

    manifest = json.loads(_path(result["s3_manifest_url"]).read_text())
    assert manifest["planner"] == "offline-template-planner"
    assert [s["version"] for s in manifest["scenes"]] == [1, 1]
    assert manifest["combined"]["join_method"] == "stream-copy"
    assert manifest["combined"]["video"]["sha256"]

    # The runs are on the Dagster instance the UI reads.
    import dagster as dg
    from dagster._core.instance.ref import InstanceRef

    with dg.DagsterInstance.from_ref(InstanceRef.from_dir(str(var_dir / "dagster"))) as instance:
        runs = instance.get_runs()
        assert sorted(r.job_name for r in runs) == ["combine_job", "plan_job", "scene_job", "scene_job"]
        assert all(r.tags.get("videogen/task_id") for r in runs)
        assert instance.get_dynamic_partitions("videos") == ["e2e.s1"]
