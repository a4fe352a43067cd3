"""The MCP server (mcp_server/), driven by the official SDK's own client over both transports:
streamable HTTP at the bridge's /mcp (uvicorn), and stdio (the server as a subprocess calling the
bridge over HTTP). First against a bridge with Dagster replaced (fast); then, marked slow, the
real stack: generate, poll, edit, read the edited scene's source."""

import json
import sys
import threading
import time
from contextlib import asynccontextmanager
from pathlib import Path

import anyio
import httpx
import httpx2
import jwt
import pytest
import uvicorn
from mcp import Client
from mcp.client.stdio import StdioServerParameters
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError

from api_bridge.deps import provide_dagster, provide_meta, provide_store
from api_bridge.main import create_app
from videogen_dagster.authoring.planning import plan_offline
from videogen_dagster.settings import get_settings
from videogen_dagster.stores.metastore import SqliteMetadataStore
from videogen_dagster.stores.objectstore import StoreConfig

from .api_bridge.test_routes import RecordingDagster
from .conftest import REPO, free_port, wait_http

SECRET = "mcp-test-secret-with-enough-length-0123456789"
SOURCE = "from manim import *\n\nclass Scene1(Scene):\n    def construct(self):\n        self.wait(1)\n"
TOOLS = {"generate_video", "get_task_status", "get_task_result", "edit_scene", "list_scenes", "get_scene_source"}


def bearer(projects: list[str], secret: str = SECRET) -> str:
    return jwt.encode({"sub": "mcp", "projects": projects, "exp": time.time() + 3600}, secret, algorithm="HS256")


@asynccontextmanager
async def over_http(url: str, token: str | None, mode: str = "auto"):
    """The SDK's client over streamable HTTP, sending `token` as the bearer (`mode="legacy"`:
    the initialize handshake of protocol versions before 2026, as older clients speak)."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with httpx2.AsyncClient(headers=headers, timeout=httpx2.Timeout(60, read=120)) as http:
        async with Client(streamable_http_client(f"{url}/mcp", http_client=http), mode=mode) as client:
            yield client


@asynccontextmanager
async def over_stdio(api_url: str, token: str | None, console_script: bool = False):
    """The SDK's client with the server as a stdio subprocess (`videogen-mcp`, or `python -m`)."""
    env = {"VIDEOGEN_MCP_API_URL": api_url, "VIDEOGEN_MCP_TOKEN": token or "", "PYTHONPATH": str(REPO)}
    command, args = ((str(Path(sys.executable).parent / "videogen-mcp"), []) if console_script
                     else (sys.executable, ["-m", "mcp_server"]))
    async with Client(StdioServerParameters(command=command, args=args, env=env, cwd=str(REPO))) as client:
        yield client


async def call(client, tool: str, **arguments) -> dict:
    result = await client.call_tool(tool, arguments)
    assert not result.is_error, result.content
    return result.structured_content


async def refused(client, tool: str, **arguments) -> str:
    result = await client.call_tool(tool, arguments)
    assert result.is_error, result.structured_content
    return result.content[0].text


class Uvicorn:
    """The bridge app under uvicorn in a thread (lifespan on: the MCP transport runs)."""

    def __init__(self, app):
        self.port = free_port()
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        url = f"http://127.0.0.1:{self.port}"
        wait_http(f"{url}/docs", timeout=30)
        return url

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@pytest.fixture(scope="module")
def bridge(tmp_path_factory):
    """A bridge with JWT auth, Dagster recorded, and video p1.s1 planned with scene 1 rendered."""
    tmp = tmp_path_factory.mktemp("mcp")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("JWT_SECRET", SECRET)
        get_settings.cache_clear()
        app = create_app()
        meta = SqliteMetadataStore(tmp / "metadata.sqlite")
        store = StoreConfig(local_root=str(tmp / "objects"))
        dagster = RecordingDagster()
        app.dependency_overrides.update({provide_meta: lambda: meta, provide_store: lambda: store,
                                         provide_dagster: lambda: dagster})
        plan = plan_offline("p1", "s1", "Explain the Pythagorean theorem", 2, latex_available=False)
        meta.register_video("p1.s1", "p1", "s1", {"project_id": "p1", "content_prompt": plan.prompt, "scene_count": 2})
        meta.save_plan("p1.s1", plan.model_dump(mode="json"), 1, {})
        stored = store.store_for(None).put_bytes("projects/p1/s1/scenes/01/v1/scene.py", SOURCE.encode())
        meta.record_scene_version("p1.s1", 1, "s1_scene_1", plan.scene(1).title, 1, {"source": stored.as_dict()},
                                  3.0, 1.0, "preview", None, None)
        with Uvicorn(app) as url:
            yield url, dagster, plan
    get_settings.cache_clear()


async def _read_a_video(client, plan) -> None:
    tools = await client.list_tools()
    assert {t.name for t in tools.tools} == TOOLS
    video = await call(client, "list_scenes", project_id="p1", session_id="s1")
    assert video["scene_count"] == 2 and video["plan"]["topic"] == plan.topic
    first, second = video["scenes"]
    assert (first["scene_id"], first["version"], first["status"]) == ("s1_scene_1", 1, "completed")
    assert first["title"] == plan.scene(1).title and first["plan"]["title"] == plan.scene(1).title
    assert first["s3_source_url"] and second["version"] == 0 and second["s3_source_url"] is None
    assert first["source_resource"] == "videogen://projects/p1/sessions/s1/scenes/1/source"
    source = await call(client, "get_scene_source", project_id="p1", scene_id="s1_scene_1")
    assert source["code"] == SOURCE and source["version"] == 1
    read = await client.read_resource(first["source_resource"])
    assert read.contents[0].text == SOURCE and read.contents[0].mime_type == "text/x-python"
    read = await client.read_resource(video["plan_resource"])
    assert json.loads(read.contents[0].text)["scenes"][1]["title"] == plan.scene(2).title


async def _refusals(client) -> None:
    """A token for project p2 only: p1's video, source and plan are the bridge's 404."""
    assert "404 NOT_FOUND" in await refused(client, "list_scenes", project_id="p1", session_id="s1")
    assert "404 NOT_FOUND" in await refused(client, "get_scene_source", project_id="p1", scene_id="s1_scene_1")
    text = await refused(client, "generate_video", prompt="Explain gravity", project_id="p1")
    assert "404 NOT_FOUND" in text and "project 'p1' not found" in text
    with pytest.raises(MCPError):
        await client.read_resource("videogen://projects/p1/sessions/s1/plan")


def test_streamable_http_reads_a_video_and_keeps_to_the_token(bridge):
    url, _, plan = bridge

    async def main():
        async with over_http(url, bearer(["p1"])) as client:
            await _read_a_video(client, plan)
            assert "404 NOT_FOUND" in await refused(client, "list_scenes", project_id="p1", session_id="nope")
            # The bridge's validation, as a tool error naming the field.
            text = await refused(client, "edit_scene", project_id="p1", scene_id="s1_scene_1", edit_prompt="  ")
            assert "400 VALIDATION_ERROR" in text and "edit_prompt" in text
        async with over_http(url, bearer(["p2"])) as client:
            await _refusals(client)
        async with over_http(url, bearer(["p1"]), mode="legacy") as client:
            assert client.protocol_version < "2026"
            await _read_a_video(client, plan)
        async with over_http(url, bearer(["p2"]), mode="legacy") as client:
            await _refusals(client)

    anyio.run(main)


def test_streamable_http_refuses_a_missing_or_bad_token_at_the_door(bridge):
    url, *_ = bridge
    message = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}
    for headers in ({}, {"Authorization": f"Bearer {bearer(['p1'], secret='another-secret-of-enough-length-012345')}"}):
        r = httpx.post(f"{url}/mcp", json=message, headers=headers)
        assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer", r.text
        assert r.json()["error_code"] == "UNAUTHORIZED"

    async def main():
        async with over_http(url, None) as client:
            await client.list_tools()

    with pytest.raises(Exception):  # noqa: B017 (the SDK reports the 401 in its own way)
        anyio.run(main)


def test_generate_and_edit_go_through_the_bridge(bridge):
    url, dagster, _ = bridge

    async def main():
        async with over_http(url, bearer(["p1"])) as client:
            accepted = await call(client, "generate_video", prompt="Explain gravity", project_id="p1",
                                  scene_count=1, quality="preview", narration=False, max_scene_duration=3)
            assert accepted["status"] == "queued" and accepted["session_id"]
            status = await call(client, "get_task_status", task_id=accepted["task_id"])
            assert status["status"] == "queued" and status["project_id"] == "p1"
            result = await call(client, "get_task_result", task_id=accepted["task_id"])
            assert result["result"] is None
            edit = await refused(client, "edit_scene", project_id="p1", scene_id="s1_scene_2", edit_prompt="make it blue")
            assert "404 NOT_FOUND" in edit  # scene 2 was never rendered

    anyio.run(main)
    job, tags, _ = dagster.launches[-1]
    assert job == "plan_job" and tags["videogen/quality"] == "preview"


def test_stdio_calls_the_bridge_with_its_configured_token(bridge):
    url, _, plan = bridge

    async def main():
        async with over_stdio(url, bearer(["p1"]), console_script=True) as client:
            await _read_a_video(client, plan)
        async with over_stdio(url, bearer(["p2"])) as client:
            await _refusals(client)
        async with over_stdio("http://127.0.0.1:9", None) as client:
            assert "unreachable" in await refused(client, "get_task_status", task_id="t1")

    anyio.run(main)


# --- the real stack: Dagster webserver + daemon + the bridge (tests/api_bridge/conftest.py) ------

BLUE = "#3b82f6"  # the offline editor's "blue"


def stack_bearer(projects: list[str]) -> str:
    from .api_bridge.conftest import SECRET as STACK_SECRET

    return bearer(projects, secret=STACK_SECRET)


@pytest.fixture(scope="module")
def real_stack(tmp_path_factory):
    from .api_bridge.conftest import start_stack

    s = start_stack(tmp_path_factory.mktemp("var"))
    try:
        yield s
    finally:
        s.stop()


async def _until_done(client, task_id: str, timeout: float = 300) -> dict:
    seen = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = await call(client, "get_task_status", task_id=task_id)
        seen.append((status["status"], status["progress"]))
        if status["status"] in ("completed", "failed", "cancelled"):
            assert status["status"] == "completed", status
            assert [p for _, p in seen] == sorted(p for _, p in seen)
            return status
        await anyio.sleep(1)
    raise AssertionError(f"task {task_id} stuck: {seen[-5:]}")


async def _generate_poll_edit_read(client, project: str, prompt: str) -> tuple[str, str]:
    accepted = await call(client, "generate_video", prompt=prompt, project_id=project, scene_count=1,
                          quality="preview", max_scene_duration=3)
    session = accepted["session_id"]
    await _until_done(client, accepted["task_id"])
    result = (await call(client, "get_task_result", task_id=accepted["task_id"]))["result"]
    assert result["status"] == "completed" and result["s3_combined_video_url"]
    scene_id = result["scenes"][0]["scene_id"]
    video = await call(client, "list_scenes", project_id=project, session_id=session)
    (scene,) = video["scenes"]
    assert (scene["scene_id"], scene["version"], scene["status"]) == (scene_id, 1, "completed")
    assert scene["plan"]["title"] == scene["title"] and scene["s3_source_url"]
    before = await call(client, "get_scene_source", project_id=project, scene_id=scene_id)
    assert before["version"] == 1 and "class " in before["code"] and BLUE not in before["code"]

    edit = await call(client, "edit_scene", project_id=project, scene_id=scene_id,
                      edit_prompt="make it blue and slower")
    await _until_done(client, edit["task_id"])
    after = await call(client, "get_scene_source", project_id=project, scene_id=scene_id)
    assert after["version"] == 2 and BLUE in after["code"]
    read = await client.read_resource(scene["source_resource"])
    assert read.contents[0].text == after["code"]
    video = await call(client, "list_scenes", project_id=project, session_id=session)
    assert video["scenes"][0]["version"] == 2 and video["scenes"][0]["status"] == "completed"
    assert json.loads((await client.read_resource(video["plan_resource"])).contents[0].text)["scene_count"] == 1
    return session, accepted["task_id"]


async def _another_project_is_refused(client, project: str, session: str, task_id: str) -> None:
    assert "404 NOT_FOUND" in await refused(client, "get_task_status", task_id=task_id)
    assert "404 NOT_FOUND" in await refused(client, "list_scenes", project_id=project, session_id=session)
    text = await refused(client, "edit_scene", project_id=project, scene_id=f"{session}_scene_1",
                         edit_prompt="make it red")
    assert "404 NOT_FOUND" in text


@pytest.mark.slow
def test_generate_poll_edit_and_read_over_both_transports(real_stack):
    url = f"http://127.0.0.1:{real_stack.api}"

    async def http_flow():
        async with over_http(url, stack_bearer(["mcp_http"])) as client:
            session, task = await _generate_poll_edit_read(client, "mcp_http", "Explain the Pythagorean theorem")
        async with over_http(url, stack_bearer(["other"])) as client:
            await _another_project_is_refused(client, "mcp_http", session, task)

    async def stdio_flow():
        async with over_stdio(url, stack_bearer(["mcp_stdio"]), console_script=True) as client:
            session, task = await _generate_poll_edit_read(client, "mcp_stdio", "Explain Newton's second law")
        async with over_stdio(url, stack_bearer(["other"])) as client:
            await _another_project_is_refused(client, "mcp_stdio", session, task)

    async def main():
        async with anyio.create_task_group() as tg:
            tg.start_soon(http_flow)
            tg.start_soon(stdio_flow)

    started = time.monotonic()
    anyio.run(main)
    print(f"both transports: generate + edit in {time.monotonic() - started:.0f} s")
