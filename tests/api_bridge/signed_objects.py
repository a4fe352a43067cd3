"""What the signed-object tests share: the bridge's environment for signed URLs, a token, and a
real mp4 whose index is at its end."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import jwt
import pytest

from api_bridge import deps
from api_bridge.settings import get_settings

SECRET = "objects-test-secret-long-enough-0123456789"
PUBLIC = "http://testserver"


def bearer(projects: list[str]) -> dict:
    tok = jwt.encode({"sub": "t", "projects": projects, "exp": time.time() + 600}, SECRET, algorithm="HS256")
    return {"Authorization": f"Bearer {tok}"}


def clear_caches() -> None:
    for cached in (get_settings, deps.get_meta, deps.get_store_config, deps.get_dagster):
        cached.cache_clear()


def signed_env(monkeypatch: pytest.MonkeyPatch, var: Path, public: str = PUBLIC) -> None:
    """The bridge's settings: state in `var`, signed URLs at `public`, JWT auth on."""
    for name in ("S3_BUCKET", "JWT_PUBLIC_KEY", "VIDEOGEN_URL_SIGNING_KEY", "VIDEOGEN_URL_SECONDS"):
        monkeypatch.delenv(name, raising=False)
    for name, value in {"VIDEOGEN_VAR_DIR": str(var), "VIDEOGEN_PUBLIC_URL": public, "JWT_SECRET": SECRET}.items():
        monkeypatch.setenv(name, value)
    clear_caches()


def make_mp4(out: Path) -> Path:
    """Six seconds of a test pattern (2.5 MB), its index (moov) at the end: a reader that wants
    the index must seek."""
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=30:duration=6",
                    "-c:v", "libx264", "-preset", "ultrafast", "-crf", "12", "-pix_fmt", "yuv420p", "-y",
                    str(out)], check=True, capture_output=True, timeout=60)
    return out
