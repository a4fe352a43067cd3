"""S3 transient faults: the object store (and a whole generation) through a fault-injecting proxy
in front of moto's server. Some PUTs answer 500 InternalError or 503 SlowDown, hang past the
client's read timeout (before or after reaching the store), or drop the connection; multipart
parts and completions fail too. Everything must still land intact: checked against moto
directly, never through the proxy."""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path

import boto3
import pytest
from botocore.exceptions import ClientError, ReadTimeoutError

from videogen_dagster.stores.objectstore import (
    MiB,
    ObjectStoreError,
    S3ObjectStore,
    S3Settings,
    StoreConfig,
)

from .conftest import run_cli, start_moto
from .s3_fault_proxy import FaultProxy, FaultRule, classify

REGION = "us-east-1"
CREDS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
# The unit tests abandon a request after 1 s; the proxy hangs 3 s.
READ_TIMEOUT, HANG = 1.0, 3.0


@pytest.fixture(scope="module")
def moto_url():
    proc, url = start_moto()
    yield url
    proc.terminate()
    proc.wait(timeout=10)


@pytest.fixture(scope="module")
def direct(moto_url):
    """A client that talks to moto itself, not through the proxy."""
    return boto3.client("s3", endpoint_url=moto_url, region_name=REGION, **CREDS)


@pytest.fixture
def proxy(moto_url):
    with FaultProxy(moto_url, hang_seconds=HANG) as p:
        yield p


def _bucket(direct, name: str) -> str:
    direct.create_bucket(Bucket=name)
    direct.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    return name


@pytest.fixture
def make_store(direct, proxy, request):
    def make(**kw) -> S3ObjectStore:
        bucket = _bucket(direct, "f-" + hashlib.md5(request.node.name.encode()).hexdigest()[:12])
        settings = dict(endpoint_url=proxy.url, region=REGION, access_key_id="testing",
                        secret_access_key="testing", read_timeout=READ_TIMEOUT, connect_timeout=1.0,
                        multipart_threshold=5 * MiB)
        return S3ObjectStore(S3Settings(bucket=bucket, **{**settings, **kw}))
    return make


def _intact(direct, bucket: str, obj) -> bytes:
    """The object as moto holds it (the recorded version): bytes, sha256 and size as recorded."""
    got = direct.get_object(Bucket=bucket, Key=obj["key"], **({"VersionId": obj["version_id"]} if obj.get("version_id") else {}))
    body = got["Body"].read()
    assert hashlib.sha256(body).hexdigest() == obj["sha256"], obj["key"]
    assert got["Metadata"]["sha256"] == obj["sha256"] and len(body) == obj["bytes"], obj["key"]
    return body


def test_classify_path_style_requests():
    assert classify("PUT", "/b/p/s/plan.json") == ("PutObject", "b", "p/s/plan.json")
    assert classify("PUT", "/b/a%20b.mp4?partNumber=2&uploadId=x")[0] == "UploadPart"
    assert classify("POST", "/b/k?uploads")[0] == "CreateMultipartUpload"
    assert classify("POST", "/b/k?uploadId=x")[0] == "CompleteMultipartUpload"
    assert classify("PUT", "/b?versioning")[0] == "PUTBucket"


def test_500_and_503_are_retried(make_store, proxy, direct):
    store = make_store()
    proxy.set_rules([FaultRule("500", key=r"plan\.json$", times=2), FaultRule("503", key=r"scene\.py$")])
    plan = store.put_bytes("projects/p/s/plan/v1/plan.json", b'{"plan": 1}')
    code = store.put_bytes("projects/p/s/scenes/01/v1/scene.py", b"print(1)\n")
    assert proxy.counts == {"500": 2, "503": 1}
    assert _intact(direct, store.s.bucket, plan.as_dict()) == b'{"plan": 1}'
    assert _intact(direct, store.s.bucket, code.as_dict()) == b"print(1)\n"


def test_hung_put_is_abandoned_and_retried(make_store, proxy, direct):
    store = make_store()
    # hang: the PUT never reaches the store; hang_after: it does, but its answer never comes.
    proxy.set_rules([FaultRule("hang", key=r"/a\.srt$"), FaultRule("hang_after", key=r"/b\.srt$")])
    for name in ("a", "b"):
        started = time.monotonic()
        obj = store.put_bytes(f"projects/p/s/scenes/01/v1/{name}.srt", name.encode() * 100)
        # Given up after the read timeout, not after the hang (nor botocore's default 60 s).
        assert time.monotonic() - started < HANG, name
        _intact(direct, store.s.bucket, obj.as_dict())
    assert proxy.settle()  # the proxy's hangs are over
    assert proxy.counts == {"hang": 1, "hang_after": 1}
    assert all(e["client_gave_up"] for e in proxy.faults()), proxy.faults()
    # The lost-answer PUT did write; the retry wrote the same bytes again as a newer version.
    versions = direct.list_object_versions(Bucket=store.s.bucket, Prefix="projects/p/s/scenes/01/v1/b.srt")["Versions"]
    assert len(versions) == 2


def test_dropped_connection_is_retried(make_store, proxy, direct, tmp_path):
    store = make_store()
    proxy.set_rules([FaultRule("reset", key=r"thumbnail\.jpg$", times=2)])
    path = tmp_path / "thumbnail.jpg"
    path.write_bytes(os.urandom(40_000))
    obj = store.put_file("projects/p/s/scenes/01/v1/thumbnail.jpg", path)
    assert proxy.counts == {"reset": 2}
    assert _intact(direct, store.s.bucket, obj.as_dict()) == path.read_bytes()


def test_multipart_part_failures_are_retried(make_store, proxy, direct, tmp_path):
    store = make_store()
    # Each of the two parts fails once: one with a 500, one hangs past the read timeout.
    proxy.set_rules([FaultRule("500", op="UploadPart"), FaultRule("hang", op="UploadPart", skip=1),
                     FaultRule("503", op="CompleteMultipartUpload")])
    big = tmp_path / "combined.mp4"
    big.write_bytes(os.urandom(7 * MiB))
    obj = store.put_file("projects/p/s/video/v1/combined.mp4", big)
    assert proxy.counts == {"500": 1, "hang": 1, "503": 1}
    head = direct.head_object(Bucket=store.s.bucket, Key=obj.key)
    assert head["ETag"].strip('"').endswith("-2")  # still two parts
    assert _intact(direct, store.s.bucket, obj.as_dict()) == big.read_bytes()
    assert "Uploads" not in direct.list_multipart_uploads(Bucket=store.s.bucket)


def test_lost_answers_are_recognised_by_checksum(make_store, proxy, direct, tmp_path):
    """A request goes through but its answer is lost, and every retry then fails: the object that
    did land (same sha256) is recognised as stored instead of failing the step."""
    store = make_store(max_attempts=3)
    proxy.set_rules([FaultRule("hang_after", op="CompleteMultipartUpload"),
                     FaultRule("500", op="CompleteMultipartUpload", skip=1, times=10),
                     FaultRule("hang_after", key=r"plan\.json$"),
                     FaultRule("503", key=r"plan\.json$", skip=1, times=10)])
    big = tmp_path / "scene.mp4"
    big.write_bytes(os.urandom(6 * MiB))
    obj = store.put_file("projects/p/s/scenes/01/v1/scene.mp4", big)
    plan = store.put_bytes("projects/p/s/plan/v1/plan.json", b'{"plan": 2}')
    assert proxy.counts == {"hang_after": 2, "500": 2, "503": 2}
    assert [e["status"] for e in proxy.faults("hang_after")] == [200, 200]  # they did land
    assert _intact(direct, store.s.bucket, obj.as_dict()) == big.read_bytes()
    assert _intact(direct, store.s.bucket, plan.as_dict()) == b'{"plan": 2}'


def test_exhausted_retries_fail_naming_bucket_endpoint_and_key(make_store, proxy, direct, tmp_path):
    store = make_store(max_attempts=1)  # no retries: the first fault is final
    key = "projects/p/s/plan/v1/plan.json"
    proxy.set_rules([FaultRule("500", key=r"plan\.json$")])
    with pytest.raises(ObjectStoreError) as err:
        store.put_bytes(key, b"{}")
    msg = str(err.value)
    assert f"bucket {store.s.bucket!r} at {proxy.url}" in msg and repr(key) in msg
    assert "InternalError" in msg and "1 attempt(s)" in msg
    assert isinstance(err.value, ClientError)  # still the botocore error for callers that catch it
    assert "Contents" not in direct.list_objects_v2(Bucket=store.s.bucket)

    proxy.set_rules([FaultRule("hang", key=r"plan\.json$")])
    started = time.monotonic()
    with pytest.raises(ObjectStoreError, match="read timeout 1 s") as err:
        store.put_bytes(key, b"{}")
    assert isinstance(err.value, ReadTimeoutError) and time.monotonic() - started < HANG

    # A part that keeps failing: the upload fails by name and is aborted (no parts left behind).
    retrying = make_store(max_attempts=2)
    proxy.set_rules([FaultRule("503", op="UploadPart", times=100)])
    big = tmp_path / "combined.mp4"
    big.write_bytes(os.urandom(6 * MiB))
    with pytest.raises(ObjectStoreError, match=r"upload of key 'projects/p/s/video/v1/combined\.mp4'.*SlowDown"):
        retrying.put_file("projects/p/s/video/v1/combined.mp4", big)
    assert proxy.counts["503"] >= 2
    assert "Uploads" not in direct.list_multipart_uploads(Bucket=retrying.s.bucket)
    assert not retrying.exists("projects/p/s/video/v1/combined.mp4")


def test_retry_and_timeout_settings_from_env():
    base = {"S3_BUCKET": "b", "S3_ENDPOINT_URL": "http://127.0.0.1:9"}
    default = StoreConfig.from_env("/tmp/x", base).s3
    assert (default.max_attempts, default.retry_mode, default.connect_timeout, default.read_timeout) == (5, "standard", 5.0, 30.0)
    cfg = StoreConfig.from_env("/tmp/x", {**base, "S3_MAX_ATTEMPTS": "3", "S3_RETRY_MODE": "adaptive",
                                          "S3_CONNECT_TIMEOUT": "1.5", "S3_READ_TIMEOUT": "2"})
    client = S3ObjectStore(cfg.s3).client
    assert client.meta.config.retries == {"total_max_attempts": 3, "mode": "adaptive"}
    assert (client.meta.config.connect_timeout, client.meta.config.read_timeout) == (1.5, 2.0)
    with pytest.raises(ObjectStoreError, match="S3_READ_TIMEOUT must be a number"):
        StoreConfig.from_env("/tmp/x", {**base, "S3_READ_TIMEOUT": "soon"})
    with pytest.raises(ObjectStoreError, match="at least 1"):
        S3ObjectStore(S3Settings(bucket="b", max_attempts=0))


# --- a whole generation through the faults ---------------------------------------------------------

# Deterministic: each rule fires on the first matching request(s), whichever process sends it.
GENERATION_FAULTS = [
    FaultRule("500", key=r"/plan/v\d+/plan\.json$", times=2),
    FaultRule("503", key=r"/scenes/\d+/v\d+/scene\.py$"),
    FaultRule("hang", key=r"/scenes/\d+/v\d+/subtitles\.srt$"),
    FaultRule("reset", op="UploadPart", key=r"/scenes/\d+/v\d+/thumbnail\.jpg$"),
    FaultRule("reset", key=r"/video/v\d+/subtitles\.srt$"),
    FaultRule("500", op="UploadPart", key=r"/scene\.mp4$"),
    FaultRule("hang", op="UploadPart", key=r"/combined\.mp4$"),
    FaultRule("hang_after", key=r"/video/v\d+/subtitles\.vtt$"),
    FaultRule("503", key=r"/video/v\d+/manifest\.json$"),
]


def generate_through_faults(moto_url: str, direct, var_dir: Path, bucket: str, max_attempts: int,
                            hang: float = 4.0, read_timeout: float = 2.0):
    """`videogen generate` (2 preview scenes) with S3 behind the fault proxy. Returns the finished
    process and the proxy (stopped)."""
    _bucket(direct, bucket)
    env = {
        "S3_BUCKET": bucket, "S3_BASE_PREFIX": "projects/", "AWS_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
        "S3_MAX_ATTEMPTS": str(max_attempts), "S3_READ_TIMEOUT": str(read_timeout), "S3_CONNECT_TIMEOUT": "2",
        # Videos and thumbnails go multipart (one part each), so parts meet faults too.
        "S3_MULTIPART_THRESHOLD_MB": "0.01",
    }
    rules = [FaultRule(r.fault, r.op, r.key, r.times, r.skip) for r in GENERATION_FAULTS]
    with FaultProxy(moto_url, rules, hang_seconds=hang) as proxy:
        proc = run_cli(["generate", "Explain the Pythagorean theorem", "--scenes", "2", "--quality", "preview",
                        "--project", "faults", "--session", "s1", "--max-scene-duration", "4",
                        "--concurrency", "2", "--json"], var_dir, timeout=240, env={**env, "S3_ENDPOINT_URL": proxy.url})
    return proc, proxy


def _records(node):
    """Every object record ({key, sha256, bytes, ...}) anywhere in a manifest."""
    if isinstance(node, dict):
        if isinstance(node.get("key"), str) and "sha256" in node:
            yield node
        for v in node.values():
            yield from _records(v)
    elif isinstance(node, list):
        for v in node:
            yield from _records(v)


@pytest.mark.slow
def test_generation_completes_through_transient_faults(moto_url, direct, var_dir):
    started = time.monotonic()
    proc, proxy = generate_through_faults(moto_url, direct, var_dir, "faults-e2e", max_attempts=5)
    elapsed = time.monotonic() - started
    assert proc.returncode == 0, proc.stderr[-3000:] + proc.stdout[-2000:]
    assert json.loads(proc.stdout)["status"] == "completed"

    # Every kind of fault really happened, on PUTs and on multipart parts.
    assert {k for k, n in proxy.counts.items() if n} == {"500", "503", "hang", "hang_after", "reset"}, proxy.counts
    assert proxy.counts["500"] >= 3 and proxy.counts["hang"] >= 2
    assert {e["op"] for e in proxy.faults()} >= {"PutObject", "UploadPart"}
    # The client abandoned every hung request at its read timeout (S3_READ_TIMEOUT reached the
    # store), rather than waiting for the proxy to give up.
    hung = proxy.faults("hang") + proxy.faults("hang_after")
    assert hung and all(e.get("client_gave_up") for e in hung), hung

    # Every object named in the manifest is in moto, with the recorded bytes and checksum.
    base = "projects/faults/s1/"
    manifest_key = base + "video/v1/manifest.json"
    got = direct.get_object(Bucket="faults-e2e", Key=manifest_key)
    manifest_bytes = got["Body"].read()
    assert got["Metadata"]["sha256"] == hashlib.sha256(manifest_bytes).hexdigest()
    manifest = json.loads(manifest_bytes)
    records = list(_records(manifest))
    for rec in records:
        _intact(direct, "faults-e2e", rec)
    named = {r["key"] for r in records}
    expected = {base + "plan/v1/plan.json"} | {
        f"{base}scenes/{n}/v1/{f}" for n in ("01", "02") for f in ("scene.mp4", "scene.py", "subtitles.srt", "thumbnail.jpg")
    } | {f"{base}video/v1/{f}" for f in ("combined.mp4", "subtitles.srt", "subtitles.vtt")}
    assert expected <= named, expected - named
    listed = {o["Key"] for o in direct.list_objects_v2(Bucket="faults-e2e")["Contents"]}
    assert listed == expected | {manifest_key}  # nothing half-written or stray
    assert "Uploads" not in direct.list_multipart_uploads(Bucket="faults-e2e")
    print(f"generation through faults: {elapsed:.1f}s, faults {dict(proxy.counts)}")
