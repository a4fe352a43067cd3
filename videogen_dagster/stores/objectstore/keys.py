"""The versioned key layout (all under a base prefix, default `projects/`):

    {project}/{session}/plan/v{n}/plan.json
    {project}/{session}/scenes/{scene:02d}/v{n}/scene.py | scene.mp4 | thumbnail.jpg | subtitles.srt
    {project}/{session}/video/v{n}/combined.mp4 | subtitles.srt | subtitles.vtt | manifest.json

Versions only go up, and old versions are never overwritten.
"""

from __future__ import annotations

import re

from videogen_dagster.models import validate_id

# {project}/{session}/(scenes/NN|video|plan)/vN/[rK/]file, whatever the base prefix (rK: an edit
# made in place, with version_increment false).
_LAYOUT_RE = re.compile(r"(?:^|/)(?P<project>[^/]+)/[^/]+/(?:scenes/\d+|video|plan)/v\d+/(?:r\d+/)?[^/]+$")


def _base(prefix: str, project_id: str, session_id: str) -> str:
    validate_id(project_id, "project_id")
    validate_id(session_id, "session_id")
    return f"{prefix}{project_id}/{session_id}"


def video_prefix(prefix: str, project_id: str, session_id: str) -> str:
    """The prefix every object of one video is under (plan, scenes, joined video), with its `/`."""
    return f"{_base(prefix, project_id, session_id)}/"


def plan_key(prefix: str, project_id: str, session_id: str, version: int) -> str:
    return f"{_base(prefix, project_id, session_id)}/plan/v{version}/plan.json"


def scene_object_key(
    prefix: str, project_id: str, session_id: str, scene_number: int, version: int, name: str
) -> str:
    return f"{_base(prefix, project_id, session_id)}/scenes/{scene_number:02d}/v{version}/{name}"


def video_object_key(prefix: str, project_id: str, session_id: str, version: int, name: str) -> str:
    return f"{_base(prefix, project_id, session_id)}/video/v{version}/{name}"



def project_of(key: str) -> str | None:
    """The project id of a key of the layout (None for other keys, e.g. batch files)."""
    m = _LAYOUT_RE.search(key)
    return m.group("project") if m else None
