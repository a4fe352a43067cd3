"""The one settings object: every variable read there only, named errors, one judgment for the
code location, the CLI and the bridge."""

import ast
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest
import yaml

from videogen_dagster.settings import VARIABLES, Settings, SettingsError, get_settings

from .conftest import run_cli

REPO = Path(__file__).resolve().parent.parent
PACKAGES = ("videogen_dagster", "api_bridge", "mcp_server", "bench")
# Files that copy the environment only to build a child process's environment.
CHILD_ENV_BUILDERS = {
    "bench/bench_generate.py", "bench/_stack.py", "bench/bench_narration.py", "bench/bench_evaluate.py",
    "bench/bench_reuse.py",
}


def _sources():
    for package in PACKAGES:
        for path in sorted((REPO / package).rglob("*.py")):
            yield path.relative_to(REPO).as_posix(), ast.parse(path.read_text())


def _environment_reads(tree: ast.AST) -> list[tuple[int, bool]]:
    """(line, is a `{**os.environ, ...}` child environment) of each use of os.environ/getenv."""
    child_envs = {
        id(v) for node in ast.walk(tree) if isinstance(node, ast.Dict)
        for k, v in zip(node.keys, node.values, strict=True) if k is None
    }
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in ("environ", "getenv", "environb", "putenv"):
            if isinstance(node.value, ast.Name) and node.value.id == "os":
                found.append((node.lineno, id(node) in child_envs))
        elif isinstance(node, ast.ImportFrom) and node.module == "os":
            if {a.name for a in node.names} & {"environ", "getenv", "environb"}:
                found.append((node.lineno, False))
    return found


def test_no_environment_read_outside_the_settings_module():
    offenders = []
    for name, tree in _sources():
        if name == "videogen_dagster/settings/environment.py":
            continue
        for line, child_env in _environment_reads(tree):
            if not (child_env and name in CHILD_ENV_BUILDERS):
                offenders.append(f"{name}:{line}")
    assert offenders == [], "read the environment through videogen_dagster.settings: " + ", ".join(offenders)


def test_no_import_cycle():
    modules = {}
    for name, tree in _sources():
        if not name.startswith("bench/"):
            modules[name.removesuffix(".py").removesuffix("/__init__").replace("/", ".")] = tree
    graph: dict[str, set[str]] = {}
    for name, tree in modules.items():
        type_only = {id(n) for node in ast.walk(tree) if isinstance(node, ast.If)
                     and "TYPE_CHECKING" in ast.unparse(node.test) for n in ast.walk(node)}
        deps = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0 and id(node) not in type_only:
                deps |= {node.module} | {f"{node.module}.{a.name}" for a in node.names}
            elif isinstance(node, ast.Import) and id(node) not in type_only:
                deps |= {a.name for a in node.names}
        # A package importing its own submodules (re-exports) is not a cycle.
        graph[name] = {d for d in deps if d in modules and d != name and not d.startswith(name + ".")}

    cycles, done = [], set()

    def visit(node: str, path: list[str]) -> None:
        if node in path:
            cycles.append(path[path.index(node):] + [node])
            return
        if node in done:
            return
        for dep in sorted(graph[node]):
            visit(dep, [*path, node])
        done.add(node)

    for module in sorted(graph):
        visit(module, [])
    assert cycles == []


def test_defaults_are_the_documented_ones():
    s = Settings.from_env({})
    assert (s.var_dir, s.scene_concurrency, s.max_body_bytes, s.jwt_secret) == (Path("var"), 3, 2 * 1024 * 1024, None)
    assert (s.s3.bucket, s.s3.base_prefix, s.s3.region, s.s3.storage_class, s.s3.presign_seconds) == (
        "", "projects/", "us-east-1", "STANDARD", 3600)
    assert (s.s3.multipart_threshold, s.s3.max_attempts, s.s3.retry_mode, s.s3.connect_timeout,
            s.s3.read_timeout, s.s3.create_bucket) == (16 * 1024 * 1024, 5, "standard", 5.0, 30.0, False)
    assert (s.batch.topics_path, s.batch.cron, s.batch.timezone, s.batch.size, s.batch.scene_count,
            s.batch.quality) == ("", "0 2 * * *", "UTC", 5, 3, "preview")
    assert (s.llm.api_key, s.llm.models, s.llm.budget_tokens, s.llm.budget_usd) == (None, {}, 0, 0.0)
    d = s.dagster
    assert (d.home, d.host, d.port, d.location, d.timeout_seconds, d.launch_retry_seconds,
            d.max_concurrent_launches) == (None, "127.0.0.1", 3000, "videogen_dagster", 10.0, 30.0, 4)
    assert (s.convex.url, s.convex.deploy_key) == (None, None)
    assert (s.urls.public_url, s.urls.seconds, s.urls.signing_key) == (None, 3600, None)


def test_every_variable_is_in_the_readme():
    readme = (REPO / "README.md").read_text()
    assert [v for v in VARIABLES if v not in readme and f"{v.split('_')[0]}_*" not in readme] == []


def test_scene_concurrency_default_matches_dagster_yaml():
    limits = yaml.safe_load((REPO / "dagster.yaml").read_text())["concurrency"]["runs"]["tag_concurrency_limits"]
    scene = next(lim for lim in limits if lim.get("key") == "videogen/kind" and lim.get("value") == "scene")
    assert scene["limit"] == Settings.model_fields["scene_concurrency"].default


def test_values_are_parsed_from_the_flat_variables():
    s = Settings.from_env({"S3_BUCKET": "b", "S3_BASE_PREFIX": "videos", "S3_MULTIPART_THRESHOLD_MB": "5",
                           "S3_CREATE_BUCKET": "yes", "VIDEOGEN_BATCH_SIZE": "7", "DAGSTER_PORT": "3100",
                           "SCENE_CONCURRENCY": "2", "JWT_SECRET": "x", "S3_SSE": "",
                           "AWS_SECRET_ACCESS_KEY": "s3cr3t-value", "OPENAI_API_KEY": "sk-s3cr3t"})
    assert (s.s3.bucket, s.s3.base_prefix, s.s3.multipart_threshold, s.s3.create_bucket) == ("b", "videos/", 5 * 1024 * 1024, True)
    assert (s.batch.size, s.dagster.url, s.scene_concurrency, s.jwt_secret) == (7, "http://127.0.0.1:3100", 2, "x")
    assert s.s3.server_side_encryption is None  # an empty variable is unset
    assert "s3cr3t" not in repr(s) and "jwt_secret" not in repr(s)  # secrets stay out of reprs


@pytest.mark.parametrize("env, message", [
    ({"VIDEOGEN_BATCH_SIZE": "five"}, "VIDEOGEN_BATCH_SIZE: must be an integer (got 'five')"),
    ({"S3_READ_TIMEOUT": "soon"}, "S3_READ_TIMEOUT: must be a number (got 'soon')"),
    ({"S3_MAX_ATTEMPTS": "0"}, "S3_MAX_ATTEMPTS: must be at least 1 (got '0')"),
    ({"S3_PRESIGN_SECONDS": "700000"}, "S3_PRESIGN_SECONDS: must be between 1 s and 7 days (got '700000')"),
    ({"S3_RETRY_MODE": "fast"}, "S3_RETRY_MODE: must be one of 'standard' or 'adaptive' (got 'fast')"),
    ({"S3_CREATE_BUCKET": "maybe"}, "S3_CREATE_BUCKET: must be true or false (1/0, yes/no) (got 'maybe')"),
    ({"DAGSTER_PORT": "70000"}, "DAGSTER_PORT: must be at most 65535 (got '70000')"),
    ({"SCENE_CONCURRENCY": "0"}, "SCENE_CONCURRENCY: must be at least 1 (got '0')"),
    ({"VIDEOGEN_BUDGET_USD": "-1"}, "VIDEOGEN_BUDGET_USD: must be at least 0 (got '-1')"),
    ({"VIDEOGEN_BATCH_CRON": "nightly"}, "VIDEOGEN_BATCH_CRON: must be a cron expression of 5 fields"),
    ({"VIDEOGEN_BATCH_TZ": "Mars/Base"}, "VIDEOGEN_BATCH_TZ: must be an IANA time zone"),
    ({"VIDEOGEN_BATCH_QUALITY": "ultra"}, "VIDEOGEN_BATCH_QUALITY: must be one of 'preview', 'low'"),
])
def test_invalid_values_name_the_variable(env, message):
    with pytest.raises(SettingsError) as err:
        Settings.from_env(env)
    assert str(err.value).startswith(message), str(err.value)


def test_every_invalid_variable_is_reported_at_once():
    with pytest.raises(SettingsError) as err:
        Settings.from_env({"VIDEOGEN_BATCH_SIZE": "five", "DAGSTER_TIMEOUT_SECONDS": "soon", "MAX_BODY_BYTES": "0"})
    assert sorted(p.variable for p in err.value.problems) == ["DAGSTER_TIMEOUT_SECONDS", "MAX_BODY_BYTES", "VIDEOGEN_BATCH_SIZE"]


def test_models_file_is_read_once_with_named_errors(tmp_path):
    f = tmp_path / "models.yaml"
    f.write_text("claude-3-sonnet: {base_url: 'http://gw/v1', api_key_env: GW_KEY}\nmy-local: {model: llama3}\n")
    llm = Settings.from_env({"VIDEOGEN_MODELS_FILE": str(f), "GW_KEY": "gw"}).llm
    assert llm.models["claude-3-sonnet"].api_key == "gw" and llm.key_variables == {"GW_KEY"}
    assert llm.models["my-local"].model == "llama3"
    for body, message in [
        (None, "VIDEOGEN_MODELS_FILE: cannot be read: No such file or directory"),
        ("[a, b]", "VIDEOGEN_MODELS_FILE: must map model names to their settings"),
        ("m: {price_in: cheap}", "VIDEOGEN_MODELS_FILE: m.price_in: must be a number (got 'cheap')"),
        ("m: {base_ur: x}", "VIDEOGEN_MODELS_FILE: m.base_ur: is not a known setting"),
        ("m: {api_key: sk-1}", "VIDEOGEN_MODELS_FILE: m: keys do not belong in the file"),
    ]:
        g = tmp_path / "bad.yaml"
        g.unlink(missing_ok=True)
        if body is not None:
            g.write_text(body)
        with pytest.raises(SettingsError) as err:
            Settings.from_env({"VIDEOGEN_MODELS_FILE": str(g)})
        assert str(err.value).startswith(message), str(err.value)
        assert "sk-1" not in str(err.value)


def test_get_settings_is_cached_and_follows_its_variables(monkeypatch):
    monkeypatch.setenv("VIDEOGEN_BATCH_SIZE", "6")
    first = get_settings()
    assert first is get_settings() and first.batch.size == 6
    monkeypatch.setenv("VIDEOGEN_BATCH_SIZE", "8")
    assert get_settings().batch.size == 8
    monkeypatch.setenv("VIDEOGEN_BATCH_SIZE", "eight")
    with pytest.raises(SettingsError, match="VIDEOGEN_BATCH_SIZE: must be an integer"):
        get_settings()


def test_code_location_loads_with_an_invalid_value(monkeypatch, tmp_path):
    """The import does not fail; the schedule stays off saying why, and the resources fail
    naming the variable when a run or sensor uses them."""
    env = {"VIDEOGEN_BATCH_SIZE": "five"}
    proc = subprocess.run([sys.executable, "-c", "import videogen_dagster.definitions"], cwd=REPO,
                          env={**_env_without_settings(), **env}, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "VIDEOGEN_BATCH_SIZE: must be an integer (got 'five')" in proc.stderr

    from videogen_dagster.definitions import build_definitions, default_resources

    monkeypatch.setenv("VIDEOGEN_BATCH_SIZE", "five")
    resources = default_resources(tmp_path)
    defs = build_definitions(resources)
    schedule = defs.schedules[0]
    assert schedule.default_status == dg.DefaultScheduleStatus.STOPPED
    tick = schedule.evaluate_tick(dg.build_schedule_context())
    assert "VIDEOGEN_BATCH_SIZE: must be an integer" in (tick.skip_message or "")
    with pytest.raises(SettingsError, match="VIDEOGEN_BATCH_SIZE"):
        resources["storage"].store_config()
    with pytest.raises(SettingsError, match="VIDEOGEN_BATCH_SIZE"):
        resources["metadata"].get_store()


def _env_without_settings() -> dict[str, str]:
    import os  # a child process's environment, without the caller's settings

    return {k: v for k, v in os.environ.items() if k not in VARIABLES}


def test_cli_refuses_invalid_settings_naming_the_variable(monkeypatch, var_dir):
    monkeypatch.setenv("S3_MAX_ATTEMPTS", "0")
    proc = run_cli(["generate", "Explain x", "--scenes", "1"], var_dir, timeout=120)
    assert proc.returncode == 2
    assert "invalid settings: S3_MAX_ATTEMPTS: must be at least 1 (got '0')" in proc.stderr


def test_bridge_and_pipeline_share_one_settings_object(monkeypatch, tmp_path):
    from api_bridge import deps
    from api_bridge.settings import Settings as BridgeSettings
    from videogen_dagster.definitions import default_resources

    assert BridgeSettings is Settings
    monkeypatch.setenv("S3_BUCKET", "shared-bucket")
    monkeypatch.setenv("S3_MAX_ATTEMPTS", "2")
    deps.get_store_config.cache_clear()
    try:
        bridge = deps.get_store_config().s3
        pipeline = default_resources(tmp_path)["storage"].store_config().s3
    finally:
        deps.get_store_config.cache_clear()
    assert bridge == pipeline == get_settings().s3 and bridge.max_attempts == 2


def test_request_validation_reads_settings_not_the_environment(monkeypatch, tmp_path):
    from videogen_dagster.models import GenerateRequest

    f = tmp_path / "models.yaml"
    f.write_text("my-local: {base_url: 'http://ollama/v1', model: llama3}\n")
    raw = {"project_id": "p", "content_prompt": "x", "model_config": {"planner_model": "my-local"}}
    monkeypatch.setenv("VIDEOGEN_MODELS_FILE", str(f))
    assert GenerateRequest.model_validate(raw).llm.planner_model == "my-local"
    # Judged by explicit settings, whatever this process's environment says.
    with pytest.raises(ValueError, match="unknown model 'my-local'"):
        GenerateRequest.model_validate(raw, context={"settings": Settings.from_env({})})
    # Validating a request loads no agent code (models.py and llm.py no longer import each other).
    code = ("import sys; from videogen_dagster.models import GenerateRequest; "
            "GenerateRequest.model_validate({'project_id': 'p', 'content_prompt': 'x'}); "
            "assert 'videogen_dagster.authoring.llm' not in sys.modules, 'llm imported'")
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=_env_without_settings(),
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr[-2000:]
