"""Hostile scene code: each file is refused by the static check, and the ones that can run are
also stopped by the confinement with the right reason, changing nothing outside the work folder."""

import socket
import threading
from pathlib import Path

import pytest

from videogen_dagster.models import RenderConfig
from videogen_dagster.rendering import RenderError, render_scene
from videogen_dagster.sandbox import Limits, bwrap_available, check_code

HOSTILE = Path(__file__).parent / "hostile"
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
    from videogen_dagster.codegen import generate_scene_code
    from videogen_dagster.planning import plan_offline

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
        render_scene(code, "Hostile", work, RenderConfig(quality="preview"), timeout=timeout,
                     confine=True, limits=limits, static_check=False)
    return str(exc.value), exc.value.log


needs_bwrap = pytest.mark.skipif(not bwrap_available(), reason="bubblewrap is not installed")


@needs_bwrap
@pytest.mark.slow
class TestConfinement:
    def test_home_is_hidden(self, tmp_path):
        _, log = _run_confined(tmp_path, "read_home.py")
        assert "No such file or directory: '/root/.bashrc'" in log

    def test_writes_outside_are_blocked(self, tmp_path):
        # A path on the host's read-only root (not below /tmp, /root or /home, which are private).
        canary = Path("/var/tmp") / f"videogen-CANARY-{tmp_path.name}"
        msg, _ = _run_confined(tmp_path, "write_outside.py", replace={'"CANARY"': repr(str(canary))})
        assert "writing outside the work folder is blocked" in msg
        assert not canary.exists()
        # The host's /tmp is not the sandbox's /tmp either.
        _, log = _run_confined(tmp_path, "write_outside.py", replace={'"CANARY"': repr(str(tmp_path / "CANARY"))})
        assert "No such file or directory" in log and not (tmp_path / "CANARY").exists()

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
        msg, _ = _run_confined(tmp_path, "endless_loop.py", limits=Limits(cpu_seconds=3), timeout=60)
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
        _run_confined(tmp_path, "getattr_import.py", replace={"touch CANARY": f"touch {work_parent / 'CANARY'}"})
        assert not (work_parent / "CANARY").exists()


def test_static_check_refusal_reaches_the_fix_loop(tmp_path):
    with pytest.raises(RenderError) as exc:
        render_scene((HOSTILE / "spawn.py").read_text(), "Hostile", tmp_path / "w", RenderConfig(quality="preview"))
    assert "refused by the static check" in str(exc.value)
    assert "line 2: import of 'subprocess' is not allowed" in exc.value.log
