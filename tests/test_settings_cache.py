"""get_settings()'s cache follows every way a process changes its environment (its key is read
from os.environ's own dict: VariableWatch)."""

import os

import pytest

from videogen_dagster.settings import get_settings
from videogen_dagster.settings.environment import VariableWatch


@pytest.fixture(autouse=True)
def _fresh():
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_direct_writes_and_deletes_of_os_environ_are_seen(monkeypatch):
    monkeypatch.delenv("VIDEOGEN_BATCH_SIZE", raising=False)
    default = get_settings().batch.size
    os.environ["VIDEOGEN_BATCH_SIZE"] = str(default + 3)
    try:
        assert get_settings().batch.size == default + 3
        first = get_settings()
        assert get_settings() is first  # unchanged: the same object
    finally:
        del os.environ["VIDEOGEN_BATCH_SIZE"]
    assert get_settings().batch.size == default


def test_the_models_files_key_variables_are_watched(monkeypatch, tmp_path):
    f = tmp_path / "models.yaml"
    f.write_text("gw-model: {base_url: 'http://gw/v1', api_key_env: GW_TEST_KEY}\n")
    monkeypatch.setenv("VIDEOGEN_MODELS_FILE", str(f))
    monkeypatch.setenv("GW_TEST_KEY", "one")
    assert get_settings().llm.models["gw-model"].api_key == "one"
    monkeypatch.setenv("GW_TEST_KEY", "two")
    assert get_settings().llm.models["gw-model"].api_key == "two"


def test_a_replaced_os_environ_is_read_through_its_get(monkeypatch):
    watch = VariableWatch(["B_VAR", "A_VAR"])
    monkeypatch.setenv("A_VAR", "a")
    monkeypatch.delenv("B_VAR", raising=False)
    assert watch.names == ("A_VAR", "B_VAR") and watch.values() == (b"a" if os.name == "posix" else "a", None)
    monkeypatch.setattr(os, "environ", {"A_VAR": "x", "B_VAR": "y"})
    assert watch.values() == ("x", "y")
