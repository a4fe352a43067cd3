"""Signed object URLs against a real HTTP server (the bridge under uvicorn, in a thread): a
player (ffmpeg) and a browser (Debian's headless Chromium) seek in a video by range requests, and
the URLs of a real `videogen generate` result open in another process."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
import time
from pathlib import Path
from urllib.parse import parse_qs

import httpx
import pytest
import uvicorn

from api_bridge.main import create_app
from api_bridge.settings import get_settings
from tests.api_bridge.signed_objects import SECRET, bearer, clear_caches, make_mp4, signed_env
from tests.conftest import free_port, run_cli
from videogen_dagster.stores.objectstore import StoreConfig, scene_object_key

# A page that loads the video, seeks to 4 s, plays, and reports what it saw to /__report.
PAGE = """<!doctype html><html><body><video id="v" src="{src}" preload="auto" muted></video><script>
const v = document.getElementById('v'); let seekedAt = null;
const report = (what) => {{ new Image().src = '/__report?' + new URLSearchParams(what); }};
v.addEventListener('loadedmetadata', () => {{ v.currentTime = 4; }});
v.addEventListener('seeked', () => {{ seekedAt = v.currentTime; v.play(); }});
v.addEventListener('timeupdate', () => {{
  if (seekedAt !== null && v.currentTime > seekedAt + 0.3)
    report({{seeked: seekedAt, playing: v.currentTime, duration: v.duration}});
}});
v.addEventListener('error', () => report({{error: v.error.code + ' ' + v.error.message}}));
</script></body></html>"""


class Recorder:
    """The app, recording each request's method, Range header and status; it also serves the
    test page (/__page) and takes its reports (/__report)."""

    def __init__(self, app):
        self.app, self.seen, self.reports, self.page = app, [], [], ""

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        if scope["path"] in ("/__page", "/__report"):
            if scope["path"] == "/__report":
                self.reports.append({k: v[0] for k, v in parse_qs(scope["query_string"].decode()).items()})
            body = self.page.encode() if scope["path"] == "/__page" else b""
            await send({"type": "http.response.start", "status": 200,
                        "headers": [(b"content-type", b"text/html"), (b"content-length", str(len(body)).encode())]})
            return await send({"type": "http.response.body", "body": body})
        rng = dict(scope["headers"]).get(b"range", b"").decode()

        async def recording_send(message):
            if message["type"] == "http.response.start":
                self.seen.append((scope["method"], rng, message["status"]))
            await send(message)

        await self.app(scope, receive, recording_send)


@pytest.fixture(scope="module")
def mp4(tmp_path_factory) -> Path:
    return make_mp4(tmp_path_factory.mktemp("media") / "clip.mp4")


@pytest.fixture
def live(tmp_path, monkeypatch):
    """The bridge on a real port: (base URL, recorder, local store)."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    signed_env(monkeypatch, tmp_path / "var", public=base)
    recorder = Recorder(create_app())
    server = uvicorn.Server(uvicorn.Config(recorder, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    yield base, recorder, StoreConfig.from_settings(get_settings()).store_for(None)
    server.should_exit = True
    thread.join(10)
    clear_caches()


def _video_url(store, mp4: Path) -> str:
    return store.url(store.put_file(scene_object_key("projects/", "p1", "s1", 1, 1, "scene.mp4"), mp4).key)


def test_a_player_seeks_over_http(live, mp4, tmp_path):
    """ffmpeg as the player: it reads the index at the end of the file, then jumps to 4 s; every
    read is a range request answered 206 from the signed URL."""
    _, recorder, store = live
    url = _video_url(store, mp4)
    frame = tmp_path / "frame.jpg"
    subprocess.run(["ffmpeg", "-v", "error", "-ss", "4", "-i", url, "-frames:v", "1", "-y", str(frame)],
                   check=True, timeout=60)
    assert frame.stat().st_size > 0
    ranged = [(m, r, s) for m, r, s in recorder.seen if r]
    assert len(ranged) >= 2 and all(s == 206 for _, _, s in ranged), recorder.seen
    assert any(not r.startswith("bytes=0-") for _, r, _ in ranged), recorder.seen  # a seek, not a re-read
    info = json.loads(subprocess.run(["ffprobe", "-v", "error", "-show_format", "-of", "json", url],
                                     capture_output=True, text=True, check=True, timeout=60).stdout)
    assert abs(float(info["format"]["duration"]) - 6.0) < 0.2


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("chromium") is None, reason="needs Debian's chromium")
def test_a_browser_plays_and_seeks(live, mp4, tmp_path):
    """Headless Chromium plays the video from its signed URL in a <video> tag (no token), seeks to
    4 s and plays on from there; it fetched the video by range requests, all answered 206."""
    base, recorder, store = live
    recorder.page = PAGE.format(src=_video_url(store, mp4).replace("&", "&amp;"))
    browser = subprocess.Popen(
        ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--mute-audio",
         "--autoplay-policy=no-user-gesture-required", f"--user-data-dir={tmp_path / 'profile'}",
         f"{base}/__page"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while not recorder.reports and time.monotonic() < deadline and browser.poll() is None:
            time.sleep(0.1)
    finally:
        browser.kill()
        browser.wait(10)
    assert recorder.reports, recorder.seen
    report = recorder.reports[0]
    assert "error" not in report, report
    assert float(report["seeked"]) == pytest.approx(4.0, abs=0.1)
    assert float(report["playing"]) > 4.2 and float(report["duration"]) == pytest.approx(6.0, abs=0.1)
    video = [(r, s) for m, r, s in recorder.seen if m == "GET" and r]
    assert video and all(s == 206 for _, s in video), recorder.seen


@pytest.mark.slow
def test_a_generated_video_is_served_from_its_result(live):
    """`videogen generate` (another process) signs its result's URLs with the key file it shares
    with the bridge; every URL of the result opens, typed, with the manifest's checksums."""
    base, _, _ = live
    var = get_settings().var_dir
    proc = run_cli(["generate", "Explain the Pythagorean theorem", "--scenes", "1", "--quality", "preview",
                    "--project", "web", "--session", "s1", "--max-scene-duration", "4", "--json"], var,
                   env={"VIDEOGEN_PUBLIC_URL": base, "JWT_SECRET": SECRET})
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout)
    scene = result["scenes"][0]
    with httpx.Client(timeout=30) as http:
        manifest = http.get(result["s3_manifest_url"])
        assert manifest.status_code == 200 and manifest.headers["content-type"] == "application/json"
        combined = manifest.json()["combined"]["video"]
        video = http.get(result["s3_combined_video_url"], headers={"Range": "bytes=0-1023"})
        assert video.status_code == 206 and len(video.content) == 1024
        assert video.headers["content-range"] == f"bytes 0-1023/{combined['bytes']}"
        assert video.headers["etag"] == f'"{combined["sha256"]}"'
        for field, kind in (("s3_video_url", "video/mp4"), ("s3_thumbnail_url", "image/jpeg"),
                            ("s3_source_url", "text/plain; charset=utf-8"),
                            ("s3_subtitles_url", "text/plain; charset=utf-8")):
            assert scene[field].startswith(f"{base}/api/v1/objects/projects/web/s1/"), field
            r = http.get(scene[field], headers=bearer(["web"]))
            assert r.status_code == 200 and r.headers["content-type"] == kind, field
        assert http.get(scene["s3_video_url"], headers=bearer(["other"])).status_code == 403
    assert oct(os.stat(var / "url-signing.key").st_mode & 0o777) == "0o600"
