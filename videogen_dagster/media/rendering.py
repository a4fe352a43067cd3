"""Manim rendering in a subprocess: quality/resolution/fps mapping, timeout, probing the output,
and the layout findings of the text on screen (media/layout.py)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from videogen_dagster.media import encoder as video_encoder
from videogen_dagster.media import layout, sandbox
from videogen_dagster.media.encoder import EncoderOptions
from videogen_dagster.media.ffmpeg import MediaError, VideoInfo, probe
from videogen_dagster.media.layout import Finding
from videogen_dagster.models import PRESETS, RenderConfig


class RenderError(RuntimeError):
    """A render that failed; `log` holds the tail of Manim's output for the fix loop."""

    def __init__(self, message: str, log: str = ""):
        super().__init__(message)
        self.log = log


@dataclass(frozen=True)
class RenderResult:
    video: Path
    info: VideoInfo
    seconds: float
    command: list[str]
    # Text off the frame, overlapping, too small or low in contrast, after each animation.
    layout: list[Finding] = field(default_factory=list)
    # Animations the inspector looked at (0: not inspected, or its report was refused).
    layout_checks: int = 0


def latex_available() -> bool:
    """MathTex/Tex need `latex` and `dvisvgm`: installed (on PATH), and where a render looks for
    them (sandbox.SAFE_PATH, the only PATH a render gets)."""
    return all(
        shutil.which(tool) and shutil.which(tool, path=sandbox.SAFE_PATH)
        for tool in ("latex", "dvisvgm")
    )


def uses_latex(code: str) -> bool:
    return any(tok in code for tok in ("MathTex(", "Tex(", "BulletedList(", "Title("))


def manim_command(
    source: Path, class_name: str, media_dir: Path, render: RenderConfig, module: str = "manim"
) -> list[str]:
    """Manim's command line; `module` is `layout.RUNNER_MODULE` to render with the inspector, or
    `encoder.RUNNER_MODULE` (the same arguments: each installs its wrappers and hands them to
    Manim)."""
    width, height, fps = render.output_format()
    return [
        sys.executable,
        "-m",
        module,
        "render",
        "-q",
        PRESETS[render.quality].manim_flag,
        "-r",
        f"{width},{height}",
        "--fps",
        str(fps),
        "--format",
        "mp4",
        "--media_dir",
        str(media_dir),
        "-o",
        "scene",
        "--disable_caching",
        "--progress_bar",
        "none",
        "-v",
        "WARNING",
        str(source),
        class_name,
    ]


def render_scene(
    code: str,
    class_name: str,
    workdir: Path,
    render: RenderConfig,
    timeout: float = 300.0,
    confine: bool | None = None,
    limits: sandbox.Limits | None = None,
    static_check: bool = True,
    inspect_layout: bool = True,
    layout_thresholds: layout.Thresholds | None = None,
    encoder: EncoderOptions | None = None,
) -> RenderResult:
    """Check `code`, write it to workdir/scene.py, render `class_name` (confined), probe the mp4.

    `confine`: None confines when bubblewrap is installed; True requires it; False runs bare
    (for benchmarks of the renderer itself). `inspect_layout`: render through the layout
    inspector (same sandbox, trusted code beside the scene's) and return its findings in
    `RenderResult.layout`. `encoder`: x264's options (None: the settings'); every render goes
    through the encoder runtime (media/encoder.py), which makes the same frames with less work."""
    violations = sandbox.check_code(code) if static_check else []
    if violations:
        raise RenderError(
            "the scene code was refused by the static check", "\n".join(str(v) for v in violations)
        )
    if confine is None:
        confine = sandbox.bwrap_available()
    elif confine and not sandbox.bwrap_available():
        raise RenderError(
            "confined rendering needs bubblewrap: run `make deps` (apt-get install bubblewrap)"
        )
    limits = limits or sandbox.Limits()
    if uses_latex(code) and not latex_available():
        raise RenderError(
            "this scene uses LaTeX (MathTex/Tex) but `latex`/`dvisvgm` are not installed: "
            "run `make deps` (apt-get install texlive-latex-base dvisvgm ...)"
        )
    workdir.mkdir(parents=True, exist_ok=True)
    source = workdir / "scene.py"
    source.write_text(code, encoding="utf-8")
    media_dir = workdir / "media"
    shutil.rmtree(media_dir, ignore_errors=True)
    video_encoder.install(workdir, encoder or EncoderOptions.from_settings())
    if inspect_layout:
        layout.install(workdir, layout_thresholds)
    else:
        layout.uninstall(workdir)
    inner = Path(sandbox.INNER_WORKDIR) if confine else workdir
    module = layout.RUNNER_MODULE if inspect_layout else video_encoder.RUNNER_MODULE
    cmd = manim_command(inner / "scene.py", class_name, inner / "media", render, module)
    # Nothing of this process's environment (API keys, tokens) reaches the render; bubblewrap
    # itself starts from the same environment and clears it for the render (`--clearenv`).
    env = sandbox.render_env(str(inner))
    cmd = sandbox.niced_command(cmd, limits.nice)  # renders yield the cores to the services
    preexec = None
    if confine:
        user = sandbox.sandbox_user()
        sandbox.prepare_workdir(workdir, user)
        if user is not None:
            setpriv = shutil.which("setpriv", path=sandbox.SAFE_PATH) or "setpriv"
            cmd = [
                setpriv,
                f"--reuid={user[0]}",
                f"--regid={user[1]}",
                "--clear-groups",
                "--",
                *cmd,
            ]
        cmd = sandbox.confined_command(cmd, workdir)
        preexec = sandbox.limits_preexec(limits)
    started = time.perf_counter()
    # Own process group, so a timeout kills Manim and the ffmpeg/latex children it started.
    proc = subprocess.Popen(
        cmd,
        cwd=workdir,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        start_new_session=True,
        preexec_fn=preexec,
    )
    try:
        output, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        output, _ = proc.communicate()
        raise RenderError(
            f"render of {class_name} exceeded the {timeout:.0f}s wall-clock limit", output[-3000:]
        ) from None
    except BaseException:
        # Interrupted (a cancelled run): the render must not outlive the run that started it.
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        raise
    seconds = time.perf_counter() - started
    if proc.returncode != 0:
        limit = sandbox.explain_exit(proc.returncode, output, limits, workdir) if confine else None
        reason = f": {limit}" if limit else ""
        raise RenderError(
            f"manim exited with code {proc.returncode} rendering {class_name}{reason}",
            _trim(output),
        )
    videos = [p for p in media_dir.rglob("scene.mp4") if "partial_movie_files" not in p.parts]
    if not videos:
        raise RenderError(f"manim produced no video for {class_name}", _trim(output))
    try:
        info = probe(videos[0])
    except MediaError as exc:
        raise RenderError(str(exc), _trim(output)) from exc
    if info.duration <= 0:
        raise RenderError(f"the video of {class_name} is empty (duration 0)", _trim(output))
    width, height, _ = render.output_format()
    if (info.width, info.height) != (width, height):
        raise RenderError(
            f"expected {width}x{height}, manim produced {info.width}x{info.height}", _trim(output)
        )
    report = layout.read_report(workdir, info.duration) if inspect_layout else layout.LayoutReport()
    return RenderResult(
        video=videos[0],
        info=info,
        seconds=seconds,
        command=cmd,
        layout=report.findings,
        layout_checks=report.checks,
    )


def _trim(output: str, limit: int = 3000) -> str:
    """The end of Manim's output, where the traceback is."""
    return output[-limit:]
