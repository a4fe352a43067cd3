"""Hostile scene code: each file is refused by the static check, and the ones that can run are
also stopped by the confinement with the right reason, changing nothing outside the work folder
and getting none of the server's secrets or files out (error, log, work folder, video)."""

import re
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from urllib.parse import unquote, urlparse

import numpy as np
import pytest

from videogen_dagster.media.rendering import RenderError, render_scene
from videogen_dagster.media.sandbox import (
    Limits,
    bwrap_available,
    check_code,
    confined_command,
    render_env,
)
from videogen_dagster.models import RenderConfig

HOSTILE = Path(__file__).parent / "hostile"
REPO = Path(__file__).resolve().parent.parent
REFUSED = {
    "read_passwd.py": "'open'",
    "read_home.py": "import of 'pathlib'",
    "write_outside.py": "'open'",
    "network.py": "import of 'socket'",
    "spawn.py": "import of 'subprocess'",
    "fork_bomb.py": "import of 'os'",
    "huge_output.py": None,  # passes the static check: only the file-size limit stops it
    "getattr_import.py": "'getattr'",
    "subclasses_escape.py": "dunder attribute '__class__'",
    "module_attribute.py": "attribute 'os'",
    "endless_loop.py": None,
    "memory_bomb.py": None,
    # numpy's file readers: no name check sees them, only the confinement stops them
    "read_environ.py": None,
    "read_checkout.py": None,
    "draw_secret.py": None,
    # a pickle loaded by numpy runs code: refused before it runs
    "load_pickle.py": "loading pickles",
}


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_static_check(name):
    violations = check_code((HOSTILE / name).read_text())
    expected = REFUSED[name]
    if expected is None:
        assert violations == []
    else:
        assert any(expected in v.message for v in violations), violations
        assert all(v.line > 0 for v in violations)


def test_every_template_passes_the_static_check():
    from videogen_dagster.authoring.codegen import generate_scene_code
    from videogen_dagster.authoring.planning import plan_offline

    for scene in plan_offline("p", "s", "Explain the Pythagorean theorem", 6, True).scenes:
        assert check_code(generate_scene_code(scene, 10).code) == []


@pytest.fixture
def listener():
    """A TCP server on the host's loopback, to see whether the sandbox can reach it."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen()
    received = []

    def serve():
        srv.settimeout(20)
        try:
            conn, _ = srv.accept()
            received.append(conn.recv(100))
        except OSError:
            pass

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    yield srv.getsockname()[1], received
    srv.close()


def _run_confined(tmp_path, name, limits=None, timeout=60, replace=None):
    code = (HOSTILE / name).read_text()
    for old, new in (replace or {}).items():
        code = code.replace(old, new)
    work = tmp_path / "work"
    with pytest.raises(RenderError) as exc:
        render_scene(
            code,
            "Hostile",
            work,
            RenderConfig(quality="preview"),
            timeout=timeout,
            confine=True,
            limits=limits,
            static_check=False,
        )
    return str(exc.value), exc.value.log


needs_bwrap = pytest.mark.skipif(not bwrap_available(), reason="bubblewrap is not installed")


@needs_bwrap
@pytest.mark.slow
class TestConfinement:
    def test_home_is_hidden(self, tmp_path):
        _, log = _run_confined(tmp_path, "read_home.py")
        assert "No such file or directory: '/root/.bashrc'" in log

    def test_writes_outside_are_blocked(self, tmp_path):
        # A folder the sandbox sees (read-only): the virtualenv.
        canary = Path(sys.prefix) / f"videogen-CANARY-{tmp_path.name}"
        msg, _ = _run_confined(
            tmp_path, "write_outside.py", replace={'"CANARY"': repr(str(canary))}
        )
        assert "writing outside the work folder is blocked" in msg
        assert not canary.exists()
        # Folders it does not see at all: the rest of /var, and the host's /tmp (not the
        # sandbox's /tmp).
        for target in (Path("/var/tmp") / f"videogen-CANARY-{tmp_path.name}", tmp_path / "CANARY"):
            _, log = _run_confined(
                tmp_path, "write_outside.py", replace={'"CANARY"': repr(str(target))}
            )
            assert "No such file or directory" in log and not target.exists()

    def test_no_network(self, tmp_path, listener):
        port, received = listener
        _, log = _run_confined(tmp_path, "network.py", replace={"PORT": str(port)})
        assert "Connection refused" in log or "Network is unreachable" in log
        assert received == []

    def test_fork_bomb_hits_the_process_limit(self, tmp_path):
        msg, log = _run_confined(tmp_path, "fork_bomb.py", limits=Limits(processes=32), timeout=60)
        assert "process limit (32) reached" in msg or "wall-clock" in msg, log[-500:]

    def test_endless_loop_is_killed(self, tmp_path):
        msg, _ = _run_confined(tmp_path, "endless_loop.py", timeout=8)
        assert "8s wall-clock limit" in msg
        msg, _ = _run_confined(
            tmp_path, "endless_loop.py", limits=Limits(cpu_seconds=3), timeout=60
        )
        assert "CPU time limit (3 s) exceeded" in msg

    def test_memory_bomb_hits_the_memory_limit(self, tmp_path):
        msg, _ = _run_confined(tmp_path, "memory_bomb.py", limits=Limits(memory_bytes=3 * 1024**3))
        assert "memory limit (3072 MiB) exceeded" in msg

    def test_huge_output_hits_the_file_size_limit(self, tmp_path):
        msg, _ = _run_confined(tmp_path, "huge_output.py", limits=Limits(file_bytes=50 * 1024**2))
        assert "file size limit (50 MiB) exceeded" in msg
        big = list((tmp_path / "work").rglob("huge.bin"))
        assert all(p.stat().st_size <= 50 * 1024**2 for p in big)

    def test_getattr_import_cannot_escape(self, tmp_path):
        work_parent = tmp_path
        _run_confined(
            tmp_path,
            "getattr_import.py",
            replace={"touch CANARY": f"touch {work_parent / 'CANARY'}"},
        )
        assert not (work_parent / "CANARY").exists()


def test_static_check_refusal_reaches_the_fix_loop(tmp_path):
    with pytest.raises(RenderError) as exc:
        render_scene(
            (HOSTILE / "spawn.py").read_text(),
            "Hostile",
            tmp_path / "w",
            RenderConfig(quality="preview"),
        )
    assert "refused by the static check" in str(exc.value)
    assert "line 2: import of 'subprocess' is not allowed" in exc.value.log


def test_confined_command_starts_empty_and_binds_only_what_rendering_needs(tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-canary-command")
    cmd = confined_command(["true"], tmp_path)
    assert cmd[1] == "--clearenv"
    setenv = {cmd[i + 1]: cmd[i + 2] for i, a in enumerate(cmd) if a == "--setenv"}
    assert setenv == render_env("/tmp/scene")
    assert "sk-canary-command" not in " ".join(cmd)
    sources = [cmd[i + 1] for i, a in enumerate(cmd) if a in ("--ro-bind", "--bind")]
    assert "/" not in sources and "/etc" not in sources and "/home" not in sources
    venv = str(Path(sys.prefix).absolute())
    for src in sources:
        # Nothing of the checkout (nor a folder above it) but the virtualenv inside it.
        assert not (str(REPO) + "/").startswith(src.rstrip("/") + "/"), src
        if src.startswith(str(REPO) + "/"):
            assert src == venv or src == str(tmp_path.resolve()), src


# --- secrets: what the render can read never gets out -------------------------------------------


@pytest.fixture
def canaries(monkeypatch):
    """Distinctive secrets in this process's environment, as the bridge or a run worker has."""
    tag = uuid.uuid4().hex[:10]
    values = {
        "OPENAI_API_KEY": f"sk-canary{tag}openai",
        "AWS_SECRET_ACCESS_KEY": f"canary{tag}awssecret",
        "JWT_SECRET": f"canary{tag}jwtsecret{tag}{tag}",
        "CONVEX_DEPLOY_KEY": f"canary{tag}convex",
        "S3_BUCKET": f"canary{tag}bucket",
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return values


def _found(needle: str, text: str) -> bool:
    """Also across the line breaks Rich's traceback puts into long messages."""
    return needle in text or re.sub(r"[\s\x00]", "", needle) in re.sub(r"[\s\x00]", "", text)


def _leaked(canaries: dict[str, str], *texts: str) -> list[str]:
    return [name for name, value in canaries.items() if any(_found(value, t) for t in texts)]


def _checkout_lines() -> list[str]:
    """Distinctive lines of a file of the checkout."""
    lines = (REPO / "pyproject.toml").read_text().splitlines()
    return [line for line in lines if line.startswith(("[build-system]", "build-backend"))]


def _hostile(name: str, wanted: str = '("KEY", "SECRET", "TOKEN", "PASSWORD")') -> str:
    return (HOSTILE / name).read_text().replace("CHECKOUT", str(REPO)).replace("WANTED", wanted)


def _bright_pixels(video: Path) -> int:
    """The most pixels brighter than mid-grey in any frame (0: every frame is black)."""
    out = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(video), "-f", "rawvideo", "-pix_fmt", "gray", "-"],
        capture_output=True,
        check=True,
    ).stdout
    frames = np.frombuffer(out, dtype=np.uint8).reshape(-1, 480 * 854)
    return int((frames > 128).sum(axis=1).max())


@needs_bwrap
@pytest.mark.slow
class TestSecretsStayInside:
    def test_environment_is_not_readable(self, tmp_path, canaries):
        msg, log = _run_confined(tmp_path, "read_environ.py")
        assert _leaked(canaries, msg, log) == []
        # The reads worked (this is what they found): only the allow-listed environment.
        assert _found("self: PATH=/usr/local/bin:/usr/bin:/bin", log), log[-1500:]
        assert _found("HOME=/tmp/scene", log) and _found("loadtxt: PATH=", log)

    def test_checkout_and_home_are_not_visible(self, tmp_path, canaries):
        assert _checkout_lines()
        # Control: unconfined, the same code gets the file's lines out in its error.
        with pytest.raises(RenderError) as bare:
            render_scene(
                _hostile("read_checkout.py"),
                "Hostile",
                tmp_path / "bare",
                RenderConfig(quality="preview"),
                confine=False,
            )
        assert all(_found(line, bare.value.log) for line in _checkout_lines())
        code = _hostile("read_checkout.py")
        with pytest.raises(RenderError) as exc:
            render_scene(
                code, "Hostile", tmp_path / "work", RenderConfig(quality="preview"), confine=True
            )
        msg, log = str(exc.value), exc.value.log
        assert not any(_found(line, msg + log) for line in _checkout_lines())
        assert _found(f"FileNotFoundError('{REPO}/pyproject.toml not found.')", log)
        assert _found("FileNotFoundError('/root/.bashrc not found.')", log)
        assert _leaked(canaries, msg, log) == []

    def test_nothing_is_drawn_into_the_video_or_kept(self, tmp_path, canaries):
        result = render_scene(
            _hostile("draw_secret.py"),
            "Hostile",
            tmp_path / "work",
            RenderConfig(quality="preview"),
            confine=True,
        )
        kept = (tmp_path / "work" / "stolen.txt").read_text()
        assert kept == ""  # found no secret and no line of the checkout
        assert _bright_pixels(result.video) == 0
        # Control: what it does find (here HOME) is kept and drawn, and the frame check sees it.
        control = render_scene(
            _hostile("draw_secret.py", wanted='("HOME=",)'),
            "Hostile",
            tmp_path / "control",
            RenderConfig(quality="preview"),
            confine=True,
        )
        assert "HOME=/tmp/scene\n" in (tmp_path / "control" / "stolen.txt").read_text()
        assert _bright_pixels(control.video) > 200

    def test_bridge_never_returns_a_secret(self, tmp_path, canaries, caplog):
        """Through the bridge's render endpoint, authenticated with the canary JWT secret; the
        render runs as in the run worker (this process: the canaries are in its environment)."""
        import jwt
        from fastapi.testclient import TestClient

        from api_bridge.deps import provide_dagster, provide_meta, provide_settings, provide_store
        from api_bridge.main import create_app
        from api_bridge.settings import Settings
        from videogen_dagster.media.agent_render import render_posted_code
        from videogen_dagster.stores.metastore import SqliteMetadataStore
        from videogen_dagster.stores.objectstore import StoreConfig

        settings = Settings()
        assert settings.jwt_secret == canaries["JWT_SECRET"]
        meta = SqliteMetadataStore(tmp_path / "metadata.sqlite")
        store = StoreConfig(local_root=str(tmp_path / "objects"))

        class RunsRendersInline:
            def count_active_runs(self, tag, value):
                return 0

            def launch(self, job, tags, run_config=None):
                c = run_config["ops"]["render_posted_code_op"]["config"]
                render_posted_code(
                    meta,
                    store,
                    tmp_path / "worker",
                    c["request_id"],
                    c["code"],
                    c["class_name"],
                    RenderConfig.model_validate(c["render_config"]),
                )
                return "run1"

            def run_status(self, run_id):
                return "SUCCESS"

        app = create_app()
        app.dependency_overrides.update({
            provide_store: lambda: store, provide_settings: lambda: settings,
            provide_meta: lambda: meta, provide_dagster: RunsRendersInline,
        })  # fmt: skip
        claims = {"sub": "t", "projects": ["*"], "exp": int(time.time()) + 600}
        token = jwt.encode(claims, canaries["JWT_SECRET"], algorithm="HS256")
        client = TestClient(app, headers={"Authorization": f"Bearer {token}"})
        url = "/api/v1/video/agents/render"
        for name, what_it_read in (
            ("read_environ.py", "HOME=/tmp/scene"),
            ("read_checkout.py", f"{REPO}/pyproject.toml not found"),
        ):
            resp = client.post(url, json={"code": _hostile(name)})
            assert resp.status_code == 400 and resp.json()["error_code"] == "RENDER_ERROR"
            assert _found(what_it_read, resp.text), resp.text
            assert _leaked(canaries, resp.text) == []
            assert not any(_found(line, resp.text) for line in _checkout_lines())
        resp = client.post(url, json={"code": _hostile("draw_secret.py")})
        assert resp.status_code == 200, resp.text
        assert _leaked(canaries, resp.text) == []
        video = Path(unquote(urlparse(resp.json()["video_url"]).path))
        assert _bright_pixels(video) == 0
        assert _leaked(canaries, caplog.text) == []
