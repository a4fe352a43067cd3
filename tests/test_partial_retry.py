"""A scene that fails does not lose the others; a retry re-runs only what failed."""

import json

import pytest

from videogen_dagster.media.rendering import RenderError, render_scene
from videogen_dagster.models import GenerateRequest
from videogen_dagster.pipeline import (
    PipelineError,
    Services,
    build_result,
    run_plan,
    run_scene,
    scenes_to_retry,
)
from videogen_dagster.stores.metastore import SqliteMetadataStore
from videogen_dagster.stores.objectstore import StoreConfig

from .conftest import run_cli

pytestmark = pytest.mark.slow
VIDEO = "part.s1"


def test_partial_success_then_cli_retry(var_dir):
    meta = SqliteMetadataStore(var_dir / "metadata.sqlite")
    stores = StoreConfig(local_root=str(var_dir / "objects"))

    def broken_for_scene_2(code, class_name, *args, **kwargs):
        if class_name == "Scene02":
            raise RenderError("manim exited with code 1 rendering Scene02", "Traceback: boom")
        return render_scene(code, class_name, *args, **kwargs)

    svc = Services(stores=stores, meta=meta, workdir=var_dir / "work", renderer=broken_for_scene_2)
    req = GenerateRequest.model_validate({
        "project_id": "part", "session_id": "s1", "content_prompt": "Explain the Pythagorean theorem",
        "scene_count": 2, "render_config": {"quality": "preview", "max_scene_duration": 3, "max_retries": 1},
    })
    meta.register_video(VIDEO, "part", "s1", req.to_stored())
    meta.create_task("t1", "generate", "part", "s1", VIDEO, 5, "preview")
    run_plan(svc, VIDEO, "t1")
    run_scene(svc, VIDEO, 1, "t1", None)
    with pytest.raises(PipelineError, match=r"scene 2 failed after \d attempt"):
        run_scene(svc, VIDEO, 2, "t1", None)

    task = meta.get_task("t1")
    assert task.status == "failed" and "scene 2" in task.error
    result = build_result(meta, stores, VIDEO, "t1")
    first, second = result["scenes"]
    assert first["status"] == "completed" and first["s3_video_url"].startswith("file://")
    assert second["status"] == "failed" and "boom" in second["error"] and second["s3_video_url"] is None
    assert scenes_to_retry(meta, VIDEO) == [2]
    scene1 = meta.get_scene(VIDEO, 1)

    proc = run_cli(["retry", "t1", "--json"], var_dir)
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = json.loads(proc.stdout)
    assert out["status"] == "completed" and out["s3_combined_video_url"]
    # Scene 1 was not rendered again.
    assert meta.get_scene(VIDEO, 1).version == scene1.version == 1
    assert meta.get_scene(VIDEO, 1).assets == scene1.assets
    assert [s["version"] for s in out["scenes"]] == [1, 1]
    assert meta.get_task("t1").status == "completed"

    again = run_cli(["retry", "t1"], var_dir, timeout=60)
    assert again.returncode == 2 and "only a failed task can be retried" in again.stderr


def test_latex_missing_is_a_clear_error(tmp_path, monkeypatch):
    from videogen_dagster.models import RenderConfig

    monkeypatch.setenv("PATH", "/nonexistent")
    code = "from manim import *\n\n\nclass S(Scene):\n    def construct(self):\n        self.add(MathTex('x^2'))\n"
    with pytest.raises(RenderError, match="uses LaTeX .* not installed: run `make deps`"):
        render_scene(code, "S", tmp_path / "w", RenderConfig(quality="preview"))


def test_failed_edit_leaves_the_scene_as_it_was(var_dir):
    """Even a failure after rendering started (here: the renderer) keeps status and version."""
    from videogen_dagster.pipeline import EditSpec

    meta = SqliteMetadataStore(var_dir / "metadata.sqlite")
    stores = StoreConfig(local_root=str(var_dir / "objects"))
    svc = Services(stores=stores, meta=meta, workdir=var_dir / "work")
    req = GenerateRequest.model_validate({
        "project_id": "part", "session_id": "s1", "content_prompt": "Explain the Pythagorean theorem",
        "scene_count": 1, "render_config": {"quality": "preview", "max_scene_duration": 3, "max_retries": 0},
    })
    meta.register_video(VIDEO, "part", "s1", req.to_stored())
    run_plan(svc, VIDEO, None)
    run_scene(svc, VIDEO, 1, None, None)
    before = meta.get_scene(VIDEO, 1)

    def broken(*args, **kwargs):
        raise RenderError("manim exited with code 1 rendering Scene01", "Traceback: boom")

    svc.renderer = broken
    meta.create_task("e1", "edit", "part", "s1", VIDEO, 4, "preview", scene_id="s1_scene_1")
    with pytest.raises(PipelineError):
        run_scene(svc, VIDEO, 1, "e1", None, edit=EditSpec("make it blue"))
    after = meta.get_scene(VIDEO, 1)
    assert (after.status, after.version, after.assets) == ("completed", before.version, before.assets)
    assert meta.get_task("e1").status == "failed"
    assert meta.edit_history(VIDEO, 1) == []


def test_in_place_edit_keeps_the_version_and_every_earlier_file(var_dir):
    """version_increment=false: same version number, new files beside the old ones; a finished
    task's result (a fixed record) still names the old files, unchanged."""
    import hashlib

    from videogen_dagster.pipeline import EditSpec, join_when_complete, run_combine, task_result

    meta = SqliteMetadataStore(var_dir / "metadata.sqlite")
    stores = StoreConfig(local_root=str(var_dir / "objects"))
    svc = Services(stores=stores, meta=meta, workdir=var_dir / "work")
    req = GenerateRequest.model_validate({
        "project_id": "part", "session_id": "s1", "content_prompt": "Explain the Pythagorean theorem",
        "scene_count": 1, "render_config": {"quality": "preview", "max_scene_duration": 3},
    })
    meta.create_task("g1", "generate", "part", "s1", VIDEO, 4, "preview", exclusive=True, request=req.to_stored())
    run_plan(svc, VIDEO, "g1")
    run_scene(svc, VIDEO, 1, "g1", None)
    assert join_when_complete(svc, VIDEO, "g1") is not None
    first = task_result(meta, stores, meta.get_task("g1"))
    scene_file = first["scenes"][0]["s3_video_url"].removeprefix("file://")
    digest = hashlib.sha256(open(scene_file, "rb").read()).hexdigest()

    meta.create_task("e1", "edit", "part", "s1", VIDEO, 4, "preview", scene_id="s1_scene_1", exclusive=True)
    run_scene(svc, VIDEO, 1, "e1", None, edit=EditSpec("make it blue", version_increment=False))
    run_combine(svc, VIDEO, "e1")
    edited = task_result(meta, stores, meta.get_task("e1"))
    assert edited["scenes"][0]["version"] == 1 and "/v1/r1/scene.mp4" in edited["scenes"][0]["s3_video_url"]
    assert edited["combined_version"] == 2
    assert meta.get_task("e1").message.startswith("Edit completed: scene 1 is at version 1")
    assert task_result(meta, stores, meta.get_task("g1")) == first
    assert hashlib.sha256(open(scene_file, "rb").read()).hexdigest() == digest
