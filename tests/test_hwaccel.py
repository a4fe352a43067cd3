"""render_config.use_hardware_acceleration is never silently ignored: the answer, the result and
the manifest say whether a hardware encoder exists here and that Manim does not use one yet."""

from pathlib import Path

import pytest

from videogen_dagster.media import hwaccel
from videogen_dagster.models import RenderConfig


def test_no_warning_unless_asked():
    assert hwaccel.hardware_acceleration_warning(RenderConfig()) is None
    assert hwaccel.hardware_acceleration_warning(None) is None
    assert hwaccel.hardware_acceleration_warning({"use_hardware_acceleration": False}) is None


def test_the_warning_says_which_case(monkeypatch):
    monkeypatch.setattr(hwaccel, "hardware_encoder", lambda: None)
    none = hwaccel.hardware_acceleration_warning({"use_hardware_acceleration": True})
    assert "no working hardware H.264 encoder" in none and "libx264" in none
    monkeypatch.setattr(hwaccel, "hardware_encoder", lambda: "h264_nvenc")
    some = hwaccel.hardware_acceleration_warning(RenderConfig(use_hardware_acceleration=True))
    assert "h264_nvenc works on this machine" in some and "not used yet" in some


@pytest.mark.skipif(Path("/dev/nvidia0").exists(), reason="an NVIDIA device is present")
def test_without_a_device_no_encoder_is_found():
    """ffmpeg lists h264_nvenc wherever it was built with it; the probe encode fails without a GPU."""
    hwaccel.hardware_encoder.cache_clear()
    assert hwaccel.hardware_encoder() is None


def test_the_result_carries_it(tmp_path, monkeypatch):
    from videogen_dagster.pipeline.results import build_result
    from videogen_dagster.stores.metastore import SqliteMetadataStore
    from videogen_dagster.stores.objectstore import StoreConfig

    monkeypatch.setattr(hwaccel, "hardware_encoder", lambda: None)
    meta = SqliteMetadataStore(tmp_path / "m.sqlite")
    meta.register_video("p.s1", "p", "s1", {"project_id": "p", "session_id": "s1", "content_prompt": "x",
                                             "render_config": {"use_hardware_acceleration": True}})
    result = build_result(meta, StoreConfig(local_root=str(tmp_path / "o")), "p.s1")
    assert any("use_hardware_acceleration" in w for w in result["warnings"])
