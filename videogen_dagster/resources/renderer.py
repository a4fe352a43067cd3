"""Manim renderer resource: where scenes are rendered and how long one may take."""

from pathlib import Path

import dagster as dg


class ManimRendererResource(dg.ConfigurableResource):
    """Renders scenes with `python -m manim` in a subprocess, in a scratch folder per attempt."""

    workdir: str
    timeout_seconds: float = 300.0

    def work_path(self) -> Path:
        path = Path(self.workdir)
        path.mkdir(parents=True, exist_ok=True)
        return path
