"""Stored objects over HTTP on the embedded default (issue 18): signed, expiring URLs served by
the bridge with ranges, content types and ETags; refused when expired, tampered, outside the
store, or asked for with another project's token."""

from __future__ import annotations

import hashlib
import hmac
import time
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from fastapi.testclient import TestClient

from api_bridge.main import create_app
from api_bridge.settings import get_settings
from tests.api_bridge.signed_objects import (
    PUBLIC,
    SECRET,
    bearer,
    clear_caches,
    make_mp4,
    signed_env,
)
from videogen_dagster.settings import Settings
from videogen_dagster.stores.objectstore import (
    LocalObjectStore,
    ObjectStoreError,
    S3ObjectStore,
    StoreConfig,
    UrlSigner,
    scene_object_key,
    video_object_key,
)
from videogen_dagster.stores.objectstore.signing import read_or_create_key


@pytest.fixture(scope="module")
def mp4(tmp_path_factory) -> Path:
    return make_mp4(tmp_path_factory.mktemp("media") / "clip.mp4")


@pytest.fixture
def served(tmp_path, monkeypatch, mp4):
    """(client, store, keys): the real app on a local store under VIDEOGEN_VAR_DIR with signed URLs."""
    var = tmp_path / "var"
    signed_env(monkeypatch, var)
    store = StoreConfig.from_settings(get_settings()).store_for(None)
    keys = {
        "video": store.put_file(scene_object_key("projects/", "p1", "s1", 1, 1, "scene.mp4"), mp4).key,
        "source": store.put_bytes(scene_object_key("projects/", "p1", "s1", 1, 1, "scene.py"), b"print('hi')\n").key,
        "other": store.put_bytes(video_object_key("projects/", "p2", "s9", 1, "manifest.json"), b"{}").key,
    }
    yield TestClient(create_app()), store, keys
    clear_caches()


def _with(url: str, **query: str) -> str:
    parts = urlsplit(url)
    q = {k: v[0] for k, v in parse_qs(parts.query, keep_blank_values=True).items()} | query
    return f"{parts.scheme}://{parts.netloc}{parts.path}?{urlencode(q)}"


def test_url_form_and_a_full_get(served, mp4):
    client, store, keys = served
    url = store.url(keys["video"])
    parts = urlsplit(url)
    assert url.startswith(f"{PUBLIC}/api/v1/objects/projects/p1/s1/scenes/01/v1/scene.mp4?")
    q = parse_qs(parts.query)
    assert set(q) == {"expires", "version", "signature"}
    assert 3590 <= int(q["expires"][0]) - time.time() <= 3600
    r = client.get(url)
    assert r.status_code == 200 and r.content == mp4.read_bytes()
    assert r.headers["content-type"] == "video/mp4" and r.headers["accept-ranges"] == "bytes"
    assert r.headers["etag"] == f'"{hashlib.sha256(mp4.read_bytes()).hexdigest()}"'
    # Anyone can check a URL with the key: HMAC-SHA256 over key, version and expiry.
    key = (get_settings().var_dir.resolve() / "url-signing.key").read_bytes()
    message = f"{keys['video']}\n{q['version'][0]}\n{q['expires'][0]}".encode()
    assert hmac.new(key, message, hashlib.sha256).hexdigest() == q["signature"][0]
    # Text the browser shows, not a download; a conditional GET is answered 304.
    src = client.get(store.url(keys["source"]))
    assert src.headers["content-type"] == "text/plain; charset=utf-8" and src.text == "print('hi')\n"
    assert src.headers["x-content-type-options"] == "nosniff"
    assert client.get(url, headers={"If-None-Match": r.headers["etag"]}).status_code == 304
    head = client.head(url)
    assert head.status_code == 200 and head.content == b"" and head.headers["content-length"] == str(mp4.stat().st_size)


def test_range_requests_are_answered_206(served, mp4):
    client, store, keys = served
    data, url = mp4.read_bytes(), store.url(keys["video"])
    r = client.get(url, headers={"Range": "bytes=100-1099"})
    assert r.status_code == 206 and r.content == data[100:1100]
    assert r.headers["content-range"] == f"bytes 100-1099/{len(data)}"
    assert r.headers["content-type"] == "video/mp4"
    # The way a browser seeks: an open-ended first range, then one from where it jumps to.
    first = client.get(url, headers={"Range": "bytes=0-"})
    assert first.status_code == 206 and first.content == data
    seek = len(data) * 2 // 3
    second = client.get(url, headers={"Range": f"bytes={seek}-", "If-Range": first.headers["etag"]})
    assert second.status_code == 206 and second.content == data[seek:]
    assert second.headers["content-range"] == f"bytes {seek}-{len(data) - 1}/{len(data)}"
    tail = client.get(url, headers={"Range": "bytes=-16"})
    assert tail.status_code == 206 and tail.content == data[-16:]
    # Past the end: 416 in the API's error shape, with the size.
    bad = client.get(url, headers={"Range": f"bytes={len(data)}-"})
    assert bad.status_code == 416 and bad.json()["error_code"] == "RANGE_NOT_SATISFIABLE"
    assert bad.headers["content-range"] == f"bytes */{len(data)}"
    assert client.get(url, headers={"Range": "lines=1-2"}).json()["error_code"] == "VALIDATION_ERROR"


def test_expired_and_tampered_urls_are_refused(served, tmp_path):
    client, store, keys = served
    url = store.url(keys["video"])
    q = parse_qs(urlsplit(url).query)
    expired = UrlSigner.from_settings(get_settings()).url(keys["video"], store._path(keys["video"]),
                                                          now=time.time() - 7200)
    r = client.get(expired)
    assert r.status_code == 403 and r.json()["error_code"] == "FORBIDDEN" and "expired" in r.json()["detail"]
    sig = q["signature"][0]
    tampered = [
        _with(url, signature=("0" if sig[0] != "0" else "1") + sig[1:]),  # the signature
        _with(url, expires=str(int(q["expires"][0]) + 3600)),  # a later expiry
        _with(url.replace("/scenes/01/", "/scenes/02/")),  # another object
        _with(url, version="0-0"),  # another version
        _with(store.url(keys["video"]).replace("/p1/", "/p2/")),  # another project's
    ]
    for bad in tampered:
        r = client.get(bad)
        assert r.status_code == 403, bad
        assert set(r.json()) == {"detail", "error_code", "timestamp"} and "signature" in r.json()["detail"]
    # Another key (another machine's file) signs nothing here.
    other = UrlSigner(tmp_path / "other.key", PUBLIC, 3600).url(keys["video"], store._path(keys["video"]))
    assert client.get(other).status_code == 403
    assert client.get(url.split("?")[0]).status_code == 400  # no signature at all


def test_another_projects_token_is_refused(served):
    client, store, keys = served
    url = store.url(keys["video"])
    assert client.get(url).status_code == 200  # a <video> tag sends no token: the URL suffices
    assert client.get(url, headers=bearer(["p1"])).status_code == 200
    assert client.get(url, headers=bearer(["*"])).status_code == 200
    r = client.get(url, headers=bearer(["p2"]))
    assert r.status_code == 403 and "'p1'" in r.json()["detail"]
    assert client.get(store.url(keys["other"]), headers=bearer(["p2"])).status_code == 200
    assert client.get(url, headers={"Authorization": "Bearer not-a-jwt"}).status_code == 401
    # An edit made in place (v1/r1/...) names its project too.
    in_place = store.put_bytes("projects/p1/s1/scenes/01/v1/r1/scene.py", b"x = 1\n").key
    assert client.get(store.url(in_place), headers=bearer(["p2"])).status_code == 403


@pytest.mark.parametrize("path", [
    "projects/p1/%2e%2e/%2e%2e/%2e%2e/url-signing.key",  # .. segments (decoded before routing)
    "%2fetc/passwd",  # absolute
    "projects\\..\\..\\url-signing.key",  # backslashes
    "projects/p1/%2e/s1/scenes/01/v1/scene.py",  # . segment
    "projects//p1",  # empty segment
])
def test_keys_outside_the_store_are_refused(served, path):
    client, *_ = served
    r = client.get(f"/api/v1/objects/{path}?expires=9999999999&signature=00")
    assert r.status_code == 400 and r.json()["error_code"] == "VALIDATION_ERROR"
    assert r.json()["detail"].startswith("key: ")


def test_missing_replaced_and_linked_objects_are_404(served):
    client, store, keys = served
    signer = UrlSigner.from_settings(get_settings())
    missing = "projects/p1/s1/scenes/03/v1/scene.mp4"
    assert client.get(signer.url(missing, store._path(missing))).status_code == 404
    # A file replaced at its key: its old URLs stop working.
    url = store.url(keys["source"])
    time.sleep(0.01)
    store.put_bytes(keys["source"], b"print('changed')\n")
    r = client.get(url)
    assert r.status_code == 404 and "replaced" in r.json()["detail"]
    assert client.get(store.url(keys["source"])).text == "print('changed')\n"
    # A link out of the store is not followed, whoever signed it.
    link = "projects/p1/s1/scenes/01/v1/link.json"
    store._path(link).symlink_to(get_settings().var_dir.resolve() / "url-signing.key")
    assert client.get(signer.url(link, store._path(link))).status_code == 404
    # A folder is no object.
    folder = "projects/p1/s1/scenes/01/v1"
    assert client.get(signer.url(folder, store._path(folder))).status_code == 404


def test_signing_key_is_made_once_private_and_shared(tmp_path, monkeypatch):
    path = tmp_path / "var" / "url-signing.key"
    first = UrlSigner(path).key()
    assert (path.stat().st_mode & 0o777) == 0o600 and len(first) == 64
    read_or_create_key.cache_clear()
    assert UrlSigner(path).key() == first  # another process reads the same file
    path.chmod(0o644)
    read_or_create_key.cache_clear()
    with pytest.raises(ObjectStoreError, match="chmod 600"):
        UrlSigner(path).key()
    read_or_create_key.cache_clear()
    # A key from the settings wins over the file.
    assert UrlSigner(path, secret=SECRET).key() == SECRET.encode()


def test_urls_by_mode(tmp_path):
    """No public URL: file:// (the CLI alone); S3: presigned S3 URLs, or the public base URL."""
    key = "projects/p1/s1/plan/v1/plan.json"
    plain = StoreConfig.from_settings(Settings.from_env({"VIDEOGEN_VAR_DIR": str(tmp_path)})).store_for(None)
    assert isinstance(plain, LocalObjectStore) and plain.url(key).startswith("file:///")
    s3_env = {"VIDEOGEN_VAR_DIR": str(tmp_path), "VIDEOGEN_PUBLIC_URL": "http://127.0.0.1:8000",
              "S3_BUCKET": "b1", "S3_ENDPOINT_URL": "http://127.0.0.1:1", "AWS_ACCESS_KEY_ID": "k",
              "AWS_SECRET_ACCESS_KEY": "s"}
    s3 = StoreConfig.from_settings(Settings.from_env(s3_env)).store_for(None)
    assert isinstance(s3, S3ObjectStore) and "X-Amz-Signature=" in s3.url(key)
    public = StoreConfig.from_settings(Settings.from_env({**s3_env, "S3_PUBLIC_BASE_URL": "https://cdn.example"}))
    assert public.store_for(None).url(key) == f"https://cdn.example/{key}"
    # A record keeps the file:// URI, never a signed URL.
    local = StoreConfig.from_settings(Settings.from_env({k: s3_env[k] for k in ("VIDEOGEN_VAR_DIR", "VIDEOGEN_PUBLIC_URL")}))
    obj = local.store_for(None).put_bytes(key, b"{}")
    assert obj.uri.startswith("file:///") and local.store_for(None).url(key).startswith("http://127.0.0.1:8000/")
