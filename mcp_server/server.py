"""The MCP server: the product's tools and resources, each one a call to the REST bridge.

Tools: generate_video, get_task_status, get_task_result, edit_scene, list_scenes,
get_scene_source. Resources (templates): a scene's current source and a video's plan. The
bridge decides everything (validation, project permissions, 404s); its refusals come back as
tool errors (`is_error`, the bridge's status, code and detail in the text) or resource errors.
"""

from __future__ import annotations

import json
import logging
import re
from typing import Annotated, Any, Literal

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ResourceError, ResourceNotFoundError, ToolError
from mcp_types import ToolAnnotations
from pydantic import Field

from mcp_server.bridge import BridgeApi, BridgeError, Connector

NAME = "videogen"
INSTRUCTIONS = (
    "Explanatory Manim videos from a prompt, edited scene by scene. generate_video answers at once "
    "with a task_id and session_id; poll get_task_status (every few seconds) until it is completed "
    "or failed, then get_task_result. list_scenes shows a video's scenes (titles, versions, status, "
    "URLs, plans); edit_scene re-renders one scene following an edit prompt (poll its task the same "
    "way); get_scene_source (or the source resource) shows the Manim code a scene is rendered from."
)
SOURCE_URI = "videogen://projects/{project_id}/sessions/{session_id}/scenes/{scene_number}/source"
PLAN_URI = "videogen://projects/{project_id}/sessions/{session_id}/plan"
_SCENE_ID = re.compile(r"^(?P<session>.+)_scene_(?P<n>[0-9]{1,3})$")

Quality = Literal["preview", "low", "medium", "high", "production"]
ProjectId = Annotated[str, Field(description="the project the video belongs to (your token must cover it)")]
SceneId = Annotated[str, Field(description="a scene id as list_scenes gives it: '<session_id>_scene_<n>'")]
TaskId = Annotated[str, Field(description="the task_id that generate_video or edit_scene answered")]

READ = ToolAnnotations(read_only_hint=True, open_world_hint=False)
WRITE = ToolAnnotations(read_only_hint=False, destructive_hint=False, idempotent_hint=False, open_world_hint=False)


def source_uri(project_id: str, session_id: str, scene_number: int) -> str:
    return SOURCE_URI.format(project_id=project_id, session_id=session_id, scene_number=scene_number)


def plan_uri(project_id: str, session_id: str) -> str:
    return PLAN_URI.format(project_id=project_id, session_id=session_id)


def split_scene_id(scene_id: str) -> tuple[str, int]:
    m = _SCENE_ID.fullmatch(scene_id or "")
    if not m:
        raise ToolError(f"scene_id must look like '<session_id>_scene_<n>' (got {scene_id!r})")
    return m.group("session"), int(m.group("n"))


def _authorization(ctx: Context) -> str | None:
    """The Authorization header of the HTTP request carrying this message (None on stdio)."""
    headers = ctx.headers
    return headers.get("authorization") if headers else None


def build_server(connect: Connector) -> MCPServer:
    """The server, reaching the bridge through `connect` (stdio: a configured URL and token;
    streamable HTTP in the bridge: the bridge app itself, with each caller's own header)."""
    root = logging.getLogger()
    # MCPServer() calls logging.basicConfig (a Rich handler at INFO on the root logger) when the
    # root has no handler yet: the process's own logging setup decides instead.
    placeholder = logging.NullHandler()
    root.addHandler(placeholder)
    try:
        mcp = MCPServer(NAME, title="Video generation (Manim)", instructions=INSTRUCTIONS, version="1.0.0")
    finally:
        root.removeHandler(placeholder)

    async def call(ctx: Context, action) -> dict[str, Any]:
        try:
            async with connect(_authorization(ctx)) as api:
                return await action(api)
        except BridgeError as exc:
            raise ToolError(str(exc)) from exc

    @mcp.tool(annotations=WRITE)
    async def generate_video(
        ctx: Context,
        prompt: Annotated[str, Field(description="what the video should explain")],
        project_id: ProjectId,
        scene_count: Annotated[int, Field(ge=1, le=12, description="number of scenes")] = 3,
        quality: Annotated[Quality, Field(description="render quality; preview is fastest")] = "medium",
        session_id: Annotated[str | None, Field(description="the video's session id (made from the prompt "
                                                            "when left out); an existing one makes new versions")] = None,
        narration: Annotated[bool | None, Field(description="spoken narration on or off (left out: the "
                                                            "deployment's default)")] = None,
        max_scene_duration: Annotated[float | None, Field(gt=0, le=600, description="seconds per scene at "
                                                                                    "most (default 30)")] = None,
    ) -> dict[str, Any]:
        """Plan, render and join an explanatory video. Answers at once with a task_id to poll
        (get_task_status) and the video's session_id (list_scenes, edit_scene)."""
        render: dict[str, Any] = {"quality": quality}
        if max_scene_duration is not None:
            render["max_scene_duration"] = max_scene_duration
        body: dict[str, Any] = {"project_id": project_id, "content_prompt": prompt, "scene_count": scene_count,
                                "render_config": render}
        if session_id:
            body["session_id"] = session_id
        if narration is not None:
            body["narration_config"] = {"enabled": narration}
        return await call(ctx, lambda api: api.generate(body))

    @mcp.tool(annotations=READ)
    async def get_task_status(ctx: Context, task_id: TaskId) -> dict[str, Any]:
        """A task's status (queued, progress, completed, failed, cancelled), progress 0-100, message
        and current step; once completed, its result too."""
        return await call(ctx, lambda api: api.task_status(task_id))

    @mcp.tool(annotations=READ)
    async def get_task_result(ctx: Context, task_id: TaskId) -> dict[str, Any]:
        """A finished task's result: the video's scenes with their versions and URLs, and the joined
        video's URL (before completion: the status and no result)."""
        return await call(ctx, lambda api: api.task_result(task_id))

    @mcp.tool(annotations=WRITE)
    async def edit_scene(
        ctx: Context,
        project_id: ProjectId,
        scene_id: SceneId,
        edit_prompt: Annotated[str, Field(description="the change, e.g. 'make it blue and slower'")],
        preserve_timing: Annotated[bool, Field(description="keep the scene's duration (so the rest stays "
                                                           "in sync)")] = True,
    ) -> dict[str, Any]:
        """Re-render one scene following an edit prompt, then re-join its video. Answers at once
        with a task_id to poll; the scene's version goes up by one."""
        body = {"project_id": project_id, "scene_id": scene_id, "edit_prompt": edit_prompt,
                "preserve_timing": preserve_timing}
        return await call(ctx, lambda api: api.edit_scene(body))

    @mcp.tool(annotations=READ)
    async def list_scenes(
        ctx: Context, project_id: ProjectId,
        session_id: Annotated[str, Field(description="the video's session id (generate_video answered it)")],
    ) -> dict[str, Any]:
        """A video's scenes as they are now: id, title, status, version, duration, video and source
        URLs, the scene's plan, and the URI of its source resource; with the video's status,
        joined video URL and plan resource URI."""
        video = await call(ctx, lambda api: api.video(project_id, session_id))
        plan = video.get("plan") or {}
        for scene in video["scenes"]:
            scene["source_resource"] = source_uri(project_id, session_id, scene["scene_number"])
        video["plan"] = {k: v for k, v in plan.items() if k != "scenes"} or None
        video["plan_resource"] = plan_uri(project_id, session_id)
        return video

    @mcp.tool(annotations=READ)
    async def get_scene_source(ctx: Context, project_id: ProjectId, scene_id: SceneId) -> dict[str, Any]:
        """The Manim source a scene's current version was rendered from (code, version, title)."""
        session_id, number = split_scene_id(scene_id)
        return await call(ctx, lambda api: api.scene_source(project_id, session_id, number))

    async def read(ctx: Context, action) -> dict[str, Any]:
        try:
            async with connect(_authorization(ctx)) as api:
                return await action(api)
        except BridgeError as exc:
            if exc.status == 404:
                raise ResourceNotFoundError(str(exc)) from exc
            raise ResourceError(str(exc)) from exc

    @mcp.resource(SOURCE_URI, name="scene_source", mime_type="text/x-python",
                  description="A scene's current Manim source")
    async def scene_source(project_id: str, session_id: str, scene_number: str, ctx: Context) -> str:
        if not scene_number.isdigit():
            raise ResourceNotFoundError(f"scene number must be a positive integer (got {scene_number!r})")
        source = await read(ctx, lambda api: api.scene_source(project_id, session_id, int(scene_number)))
        return source["code"]

    @mcp.resource(PLAN_URI, name="video_plan", mime_type="application/json",
                  description="A video's current plan (its scenes' storyboards), as JSON")
    async def video_plan(project_id: str, session_id: str, ctx: Context) -> str:
        video = await read(ctx, lambda api: api.video(project_id, session_id))
        if not video.get("plan"):
            raise ResourceNotFoundError(f"video {project_id}.{session_id} is not planned yet")
        return json.dumps(video["plan"], indent=2)

    return mcp


__all__ = ["BridgeApi", "PLAN_URI", "SOURCE_URI", "build_server", "plan_uri", "source_uri"]
