"""What a plan, a scene and a render are made from, as hashes (Dagster code and data versions).

A step whose inputs hash equals the one stored with the current result reuses that result: no
LLM call, no render, no new version. The same hashes are the data versions the Dagster UI shows
(`scene_brief` per scene partition, the scene assets), so it marks exactly the changed scenes
stale.

- plan inputs: the request's fields that shape the plan (prompt, scene count, durations, models,
  RAG) and the planner (offline templates or the planner model);
- scene inputs ("brief"): the scene's storyboard, the render settings, the resolved voice and the
  coder (offline templates or the scene model), with the code version below;
- code version: Manim's version and a digest of the scene templates and their runtime, so an
  upgrade marks every scene stale in the UI (and re-renders on the next materialisation);
- data version of a render: the source's sha256, the render settings, the voice and the code
  version, as the issue that asked for it lists them.
"""

from __future__ import annotations

import hashlib
import json
from functools import lru_cache
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any

from videogen_dagster.authoring.plans import ScenePlan
from videogen_dagster.models import GenerateRequest
from videogen_dagster.pipeline.narration import NarrationError

_PACKAGE = Path(__file__).resolve().parent.parent
# What scene code is made and run with, besides Manim: the templates and the sandbox runtime.
_CODE_DIRS = ("authoring/templates", "media/voiceover_runtime")
# Request fields that do not change what the planner writes (they shape the renders instead).
_NOT_PLANNING = ("project_id", "session_id", "render_config", "narration_config", "s3_config")


def digest(value: Any) -> str:
    """A short, stable hash of JSON-able data (sorted keys)."""
    data = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(data.encode()).hexdigest()[:16]


@lru_cache(maxsize=1)
def code_version() -> str:
    """`manim-<version>+<digest of the templates and sandbox runtime>`."""
    h = hashlib.sha256()
    for rel in _CODE_DIRS:
        for path in sorted((_PACKAGE / rel).rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                h.update(str(path.relative_to(_PACKAGE)).encode())
                h.update(path.read_bytes())
    return f"manim-{_manim_version()}+{h.hexdigest()[:10]}"


def _manim_version() -> str:
    try:
        return importlib_metadata.version("manim")
    except importlib_metadata.PackageNotFoundError:
        return "absent"


def plan_inputs(stored_request: dict, planner: str) -> str:
    """Everything the plan is made from: the request (less what only shapes renders) and who plans."""
    fields = {k: v for k, v in stored_request.items() if k not in _NOT_PLANNING}
    return digest({"request": fields, "planner": planner})


def voice_identity(voice: Any) -> dict | None:
    """The resolved voice (engine, voice, speed, language), None when the scene is silent."""
    if voice is None:
        return None
    return {k: getattr(voice, k, None) for k in ("engine", "voice", "speed", "language")}


def render_settings(request: GenerateRequest) -> dict:
    """The render settings that shape a scene's final render: `progressive` only adds a preview
    beside it (and leaves every hash what it was before the option existed)."""
    return request.render_config.model_dump(mode="json", exclude={"progressive"})


def scene_inputs(
    request: GenerateRequest, scene: ScenePlan, voice: Any, coder: str
) -> str:
    """The brief of one scene: what its code and render are made from."""
    return digest(
        {
            "scene": scene.model_dump(mode="json"),
            "render": render_settings(request),
            "max_scene_duration": request.render_config.max_scene_duration,
            "voice": voice_identity(voice),
            "coder": coder,
            "code": code_version(),
        }
    )


def scene_brief(request: GenerateRequest, scene: ScenePlan, narrator: Any, coder: Any, agents: Any) -> str:
    """scene_inputs with the voice the narrator resolves for the request and the coder's
    identity: the plan step and the scene step compute the same brief from the same inputs."""
    try:
        voice = narrator.voice_for(request.narration_config) if narrator else None
    except NarrationError:
        voice = "unavailable"  # the render fails on it with the full message
    return scene_inputs(request, scene, voice, coder_identity(coder, agents))


def render_version(source_sha256: str, request: GenerateRequest, voice: Any) -> str:
    """The data version of a rendered scene: its source, render settings, voice and Manim."""
    return digest(
        {
            "source": source_sha256,
            "render": render_settings(request),
            "voice": voice_identity(voice),
            "code": code_version(),
        }
    )


def _name(fn: Any) -> str:
    return f"{getattr(fn, '__module__', '')}.{getattr(fn, '__qualname__', type(fn).__name__)}"


def planner_identity(planner: Any, agents: Any) -> str:
    """Who plans: the planner model, or the offline planner function."""
    return f"llm:{agents.config.planner_model}" if agents is not None else f"offline:{_name(planner)}"


def coder_identity(coder: Any, agents: Any) -> str:
    """Who writes scene code: the scene model, or the offline coder function."""
    return f"llm:{agents.scene_model}" if agents is not None else f"offline:{_name(coder)}"
