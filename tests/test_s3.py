"""The S3 object store against a real HTTP S3 endpoint: moto's server, with IAM auth enforced."""

import hashlib
import json
import os

import boto3
import httpx
import pytest
from botocore.exceptions import ConnectionClosedError

from videogen_dagster.stores.objectstore import (
    MiB,
    ObjectStoreError,
    S3ObjectStore,
    S3Settings,
    StoreConfig,
)

from .conftest import run_cli, start_moto

REGION = "us-east-1"


@pytest.fixture(scope="module")
def s3_endpoint():
    """moto_server in its own process: a real HTTP S3 endpoint."""
    proc, url = start_moto()
    yield {"url": url, "key": "testing", "secret": "testing"}
    proc.terminate()
    proc.wait(timeout=10)


@pytest.fixture(scope="module")
def s3_auth_endpoint():
    """moto_server with IAM auth enforced: the first 3 calls (an IAM user, its key and policy)
    are unauthenticated, every later one needs valid credentials. (moto cannot serve presigned
    URLs in this mode, so only the credential checks use it.)"""
    proc, url = start_moto("3")
    iam = boto3.client("iam", endpoint_url=url, region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x")
    iam.create_user(UserName="videogen")
    key = iam.create_access_key(UserName="videogen")["AccessKey"]
    iam.put_user_policy(
        UserName="videogen", PolicyName="all",
        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}),
    )
    yield {"url": url, "key": key["AccessKeyId"], "secret": key["SecretAccessKey"]}
    proc.terminate()
    proc.wait(timeout=10)


def _settings(ep, bucket, **kw) -> S3Settings:
    return S3Settings(bucket=bucket, endpoint_url=ep["url"], region=REGION, access_key_id=ep["key"],
                      secret_access_key=ep["secret"], **kw)


@pytest.fixture
def store(s3_endpoint, request):
    bucket = "t-" + hashlib.md5(request.node.name.encode()).hexdigest()[:12]
    s = S3ObjectStore(_settings(s3_endpoint, bucket, create_bucket=True, multipart_threshold=5 * MiB))
    s.check()
    return s


def test_start_up_check_names_bucket_and_endpoint(s3_auth_endpoint):
    s3_endpoint = s3_auth_endpoint
    missing = S3ObjectStore(_settings(s3_endpoint, "no-such-bucket"))
    with pytest.raises(ObjectStoreError, match=r"bucket 'no-such-bucket' at http://127\.0\.0\.1:\d+ does not exist"):
        missing.check()
    good = S3ObjectStore(_settings(s3_endpoint, "auth-bucket", create_bucket=True))
    good.check()
    wrong = S3ObjectStore(S3Settings(bucket="auth-bucket", endpoint_url=s3_endpoint["url"],
                                     access_key_id="AKIAWRONG", secret_access_key="nope"))
    with pytest.raises(ObjectStoreError, match="access denied; check AWS_ACCESS_KEY_ID"):
        wrong.check()
    down = S3ObjectStore(S3Settings(bucket="b", endpoint_url="http://127.0.0.1:9", max_attempts=1))
    with pytest.raises(ObjectStoreError, match="unreachable"):
        down.check()


def test_create_bucket_turns_on_versioning(store):
    assert store.client.get_bucket_versioning(Bucket=store.s.bucket)["Status"] == "Enabled"


def test_large_file_goes_multipart(store, tmp_path):
    big = tmp_path / "big.mp4"
    big.write_bytes(os.urandom(12 * MiB))
    obj = store.put_file("p/s/video/v1/combined.mp4", big)
    head = store.client.head_object(Bucket=store.s.bucket, Key=obj.key)
    assert head["ETag"].strip('"').endswith("-3")  # three 5 MiB parts
    assert head["ContentType"] == "video/mp4" and head["Metadata"]["sha256"] == obj.sha256
    assert obj.version_id and obj.bytes == 12 * MiB


def test_versions_content_types_storage_class_and_skip(s3_endpoint, tmp_path):
    s = S3ObjectStore(_settings(s3_endpoint, "versions-bucket", create_bucket=True, storage_class="STANDARD_IA"))
    s.check()
    key = "projects/p/s/scenes/01/v1/scene.py"
    first = s.put_bytes(key, b"print(1)\n")
    same = s.put_bytes(key, b"print(1)\n")
    assert same.version_id == first.version_id  # identical bytes are not uploaded again
    second = s.put_bytes(key, b"print(2)\n")
    versions = s.client.list_object_versions(Bucket=s.s.bucket, Prefix=key)["Versions"]
    assert len(versions) == 2 and second.version_id != first.version_id
    head = s.client.head_object(Bucket=s.s.bucket, Key=key)
    assert head["ContentType"] == "text/x-python" and head["StorageClass"] == "STANDARD_IA"
    tags = s.client.get_object_tagging(Bucket=s.s.bucket, Key=key)["TagSet"]
    assert {"Key": "kind", "Value": "py"} in tags and {"Key": "project", "Value": "p"} in tags
    assert s.get_bytes(key, version_id=first.version_id) == b"print(1)\n"


def test_presigned_and_public_urls(store):
    data = os.urandom(2048)
    obj = store.put_bytes("p/s/video/v1/manifest.json", data)
    url = store.url(obj.key)
    assert "X-Amz-Signature" in url and "X-Amz-Expires=3600" in url
    resp = httpx.get(url)
    assert resp.status_code == 200, resp.text[:500]
    body = resp.content
    assert hashlib.sha256(body).hexdigest() == obj.sha256
    public = S3ObjectStore(_settings({"url": store.s.endpoint_url, "key": "k", "secret": "s"}, store.s.bucket,
                                     public_base_url="https://cdn.example.com/"))
    assert public.url("projects/a b/x.mp4") == "https://cdn.example.com/projects/a%20b/x.mp4"
    with pytest.raises(ObjectStoreError, match="7 days"):
        S3ObjectStore(_settings({"url": store.s.endpoint_url, "key": "k", "secret": "s"}, "b", presign_seconds=8 * 86400))


def test_transient_failure_is_retried(store):
    calls = {"n": 0}

    def flaky(request, **kwargs):
        calls["n"] += 1
        if calls["n"] == 1:
            raise ConnectionClosedError(endpoint_url=request.url)

    store.client.meta.events.register("before-send.s3.PutObject", flaky)
    obj = store.put_bytes("p/s/plan/v1/plan.json", b"{}")
    assert calls["n"] == 2 and store.get_bytes(obj.key) == b"{}"


def test_failed_upload_writes_no_record(s3_endpoint, tmp_path):
    """When an upload finally fails, the step fails and nothing points at the missing object."""
    s = S3ObjectStore(_settings(s3_endpoint, "fail-bucket", create_bucket=True, max_attempts=2))
    s.check()

    def always(request, **kwargs):
        raise ConnectionClosedError(endpoint_url=request.url)

    s.client.meta.events.register("before-send.s3.PutObject", always)
    with pytest.raises(ConnectionClosedError):
        s.put_bytes("p/s/plan/v1/plan.json", b"{}")
    assert not s.exists("p/s/plan/v1/plan.json")


def test_request_s3_config_overrides_environment(s3_endpoint):
    cfg = StoreConfig.from_env("/tmp/x", {"S3_BUCKET": "env-bucket", "S3_ENDPOINT_URL": s3_endpoint["url"],
                                          "S3_BASE_PREFIX": "videos"})
    assert cfg.base_prefix == "videos/" and cfg.prefix_for({"base_prefix": "other"}) == "other/"
    store = cfg.store_for({"bucket_name": "req-bucket", "storage_class": "GLACIER_IR", "public_base_url": None})
    assert store.s.bucket == "req-bucket" and store.s.storage_class == "GLACIER_IR"
    assert StoreConfig.from_env("/tmp/x", {}).store_for(None).__class__.__name__ == "LocalObjectStore"


@pytest.mark.slow
def test_generate_video_into_s3(s3_endpoint, var_dir):
    env_extra = {
        "S3_BUCKET": "videos-e2e", "S3_ENDPOINT_URL": s3_endpoint["url"], "S3_CREATE_BUCKET": "1",
        "AWS_ACCESS_KEY_ID": s3_endpoint["key"], "AWS_SECRET_ACCESS_KEY": s3_endpoint["secret"],
        "AWS_REGION": REGION, "S3_BASE_PREFIX": "projects/",
    }
    os.environ.update(env_extra)
    try:
        proc = run_cli(["generate", "Explain the Pythagorean theorem", "--scenes", "2", "--project", "s3p",
                        "--session", "s1", "--max-scene-duration", "4", "--json"], var_dir)
        os.environ["S3_BUCKET"] = "missing-bucket"
        os.environ["S3_CREATE_BUCKET"] = "0"
        bad = run_cli(["generate", "Explain x", "--scenes", "1", "--project", "s3p", "--session", "s2"], var_dir, timeout=120)
    finally:
        for k in env_extra:
            os.environ.pop(k, None)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout)
    s3 = boto3.client("s3", endpoint_url=s3_endpoint["url"], region_name=REGION,
                      aws_access_key_id=s3_endpoint["key"], aws_secret_access_key=s3_endpoint["secret"])
    keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket="videos-e2e")["Contents"])
    base = "projects/s3p/s1/"
    expected = [base + "plan/v1/plan.json"]
    for n in ("01", "02"):
        expected += [f"{base}scenes/{n}/v1/{f}" for f in ("scene.mp4", "scene.py", "subtitles.srt", "thumbnail.jpg")]
    expected += [f"{base}video/v1/{f}" for f in ("combined.mp4", "manifest.json", "subtitles.srt", "subtitles.vtt")]
    assert keys == sorted(expected)
    combined = httpx.get(result["s3_combined_video_url"]).content
    manifest = json.loads(httpx.get(result["s3_manifest_url"]).content)
    assert hashlib.sha256(combined).hexdigest() == manifest["combined"]["video"]["sha256"]
    assert manifest["combined"]["video"]["bucket"] == "videos-e2e" and manifest["combined"]["video"]["version_id"]
    assert "X-Amz-Signature" not in json.dumps(manifest)  # records keep bucket/key/version, never signed URLs

    assert bad.returncode == 2
    assert "bucket 'missing-bucket'" in bad.stderr and s3_endpoint["url"] in bad.stderr
