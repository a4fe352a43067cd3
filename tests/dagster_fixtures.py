"""Set-ups shared by the Dagster tests.

`video_instance`: definitions on a state folder's default resources, one video registered, and a
test Dagster instance with its partition (tests/test_chain.py, tests/test_plan_submit.py);
`tick`: one evaluation of the chain sensor. Fixtures (made available by tests/conftest.py):
`warm_code`, a code location for the warm run launcher, and `warm_launcher`, that launcher on a
test instance (tests/test_launcher.py, tests/test_launcher_prestart.py). Dagster is imported
only when they are used."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NamedTuple

import pytest

from .conftest import REPO


class VideoSetup(NamedTuple):
    instance: Any  # dg.DagsterInstance
    defs: Any  # dg.Definitions
    meta: Any  # the metadata store
    resources: dict


@contextmanager
def video_instance(var_dir: Path, video: str, request: dict, overrides: dict | None = None) -> Iterator[VideoSetup]:
    """`video` registered from `request` (a GenerateRequest's fields) in `var_dir`'s metadata
    store, and a test Dagster instance (with `overrides`) that has its `videos` partition."""
    import dagster as dg

    from videogen_dagster.definitions import build_definitions, default_resources
    from videogen_dagster.models import GenerateRequest

    resources = default_resources(var_dir)
    defs = build_definitions(resources)
    meta = resources["metadata"].get_store()
    req = GenerateRequest.model_validate(request)
    meta.register_video(video, req.project_id, req.session_id, req.to_stored())
    with dg.instance_for_test(overrides=overrides) as instance:
        instance.add_dynamic_partitions("videos", [video])
        yield VideoSetup(instance, defs, meta, resources)


def tick(instance, defs, cursor):
    """One evaluation of the chain sensor: (its run requests, its new cursor)."""
    import dagster as dg

    from videogen_dagster.sensors import video_chain_sensor

    ctx = dg.build_sensor_context(
        instance=instance, definitions=defs, cursor=cursor,
        resources={"metadata": defs.resources["metadata"]},
    )
    result = video_chain_sensor(ctx)
    return result.run_requests or [], result.cursor


@pytest.fixture
def warm_code(tmp_path, monkeypatch) -> Path:
    """A code location of one module (`warm_probe_mod`), importable from its working directory."""
    loc = tmp_path / "loc"
    loc.mkdir()
    (loc / "warm_probe_mod.py").write_text("VALUE = 1\n")
    # The warm parent runs `-m videogen_dagster.launcher.warm_worker` from the location's folder.
    monkeypatch.setenv("PYTHONPATH", str(REPO))
    return loc


@pytest.fixture
def warm_launcher():
    """(instance, launcher): a WarmRunLauncher preloading `warm_probe_mod`, registered with a
    test instance; its warm parents are stopped after the test."""
    import dagster as dg

    from videogen_dagster.launcher import WarmRunLauncher

    with dg.instance_for_test() as instance:
        launcher = WarmRunLauncher(preload_modules=["warm_probe_mod"])
        launcher.register_instance(instance)
        try:
            yield instance, launcher
        finally:
            launcher.dispose()
