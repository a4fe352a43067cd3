"""Fast pipeline tests: the real metadata store and local object store in tmp_path, and a
renderer double that hands back a real tiny mp4 (made once per session with ffmpeg) instead of
running Manim."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from videogen_dagster.media import ffmpeg
from videogen_dagster.media.rendering import RenderError, RenderResult
from videogen_dagster.models import GenerateRequest, RenderConfig
from videogen_dagster.pipeline import Services
from videogen_dagster.stores.metastore import SqliteMetadataStore
from videogen_dagster.stores.objectstore import StoreConfig

PROJECT, SESSION = "unit", "s1"
VIDEO = f"{PROJECT}.{SESSION}"


@pytest.fixture(scope="session")
def tiny_mp4(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two seconds of black at the preview preset (854x480, 15 fps)."""
    out = tmp_path_factory.mktemp("media") / "tiny.mp4"
    subprocess.run(
        [
            "ffmpeg",
            "-v",
            "error",
            "-f",
            "lavfi",
            "-i",
            "color=c=black:s=854x480:r=15:d=2",
            "-c:v",
            "libx264",
            "-pix_fmt",
            "yuv420p",
            "-y",
            str(out),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return out


@dataclass
class FakeRenderer:
    """Stands in for `rendering.render_scene`: records each call and copies the tiny mp4 into the
    render's folder. `fail(class_name, attempt)` returns a RenderError to raise, or None."""

    video: Path
    fail: Callable[[str, int], RenderError | None] = lambda class_name, attempt: None
    calls: list[tuple[str, str]] = field(default_factory=list)  # (class_name, code)

    def attempts(self, class_name: str) -> int:
        return sum(1 for name, _ in self.calls if name == class_name)

    def __call__(
        self,
        code: str,
        class_name: str,
        workdir: Path,
        render: RenderConfig,
        timeout: float = 300.0,
    ) -> RenderResult:
        self.calls.append((class_name, code))
        error = self.fail(class_name, self.attempts(class_name))
        if error is not None:
            raise error
        workdir.mkdir(parents=True, exist_ok=True)
        out = shutil.copy(self.video, workdir / "scene.mp4")
        return RenderResult(Path(out), ffmpeg.probe(Path(out)), 0.01, ["fake-render", class_name])


@pytest.fixture
def renderer(tiny_mp4: Path) -> FakeRenderer:
    return FakeRenderer(tiny_mp4)


@pytest.fixture
def svc(tmp_path: Path, renderer: FakeRenderer) -> Services:
    return Services(
        stores=StoreConfig(local_root=str(tmp_path / "objects")),
        meta=SqliteMetadataStore(tmp_path / "metadata.sqlite"),
        workdir=tmp_path / "work",
        renderer=renderer,
    )


def request(scene_count: int = 2, max_retries: int = 0, **render) -> GenerateRequest:
    return GenerateRequest.model_validate(
        {
            "project_id": PROJECT,
            "session_id": SESSION,
            "content_prompt": "Explain the Pythagorean theorem",
            "scene_count": scene_count,
            "render_config": {
                "quality": "preview",
                "max_scene_duration": 3,
                "max_retries": max_retries,
                **render,
            },
        }
    )


def register(svc: Services, **kw) -> GenerateRequest:
    """Register the video's request with no task (as a run started from the UI)."""
    req = request(**kw)
    svc.meta.register_video(VIDEO, PROJECT, SESSION, req.to_stored())
    return req


def start_task(svc: Services, task_id: str = "t1", **kw) -> GenerateRequest:
    """Register the video's request with a generate task, as the CLI and the bridge do."""
    from videogen_dagster.pipeline import register_request

    req = request(**kw)
    register_request(svc.meta, req, task_id)
    return req


def edit_task(svc: Services, task_id: str = "e1", scene_number: int = 1) -> None:
    from videogen_dagster.pipeline import EDIT_STEPS

    svc.meta.create_task(
        task_id,
        "edit",
        PROJECT,
        SESSION,
        VIDEO,
        EDIT_STEPS,
        "preview",
        scene_id=f"{SESSION}_scene_{scene_number}",
        exclusive=True,
    )


def render_error(class_name: str) -> RenderError:
    return RenderError(f"manim exited with code 1 rendering {class_name}", "Traceback: boom")
