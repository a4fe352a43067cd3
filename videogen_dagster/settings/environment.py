"""The one place that reads the environment: the process's (and `.env`'s), or an explicit one."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from contextvars import ContextVar
from pathlib import Path
from typing import Any

import yaml
from pydantic.fields import FieldInfo
from pydantic_settings import PydanticBaseSettingsSource

from videogen_dagster.settings.errors import Problem, SettingsError
from videogen_dagster.settings.groups import MODELS_FILE_VARIABLE, Group, LLMSettings

ENV_FILE = ".env"
# Set by `Settings.from_env` to read an explicit environment instead of this process's.
EXPLICIT_ENV: ContextVar[Mapping[str, str] | None] = ContextVar("videogen_settings_env", default=None)


def variables_of(fields: dict[str, FieldInfo]) -> dict[str, str]:
    """Variable -> field name, for the fields read from the environment (those with an alias)."""
    return {f.alias: name for name, f in fields.items() if f.alias}


def group_of(field: FieldInfo) -> type[Group] | None:
    annotation = field.annotation
    return annotation if isinstance(annotation, type) and issubclass(annotation, Group) else None


class VariableWatch:
    """What the process environment holds for some variables, read cheaply (a cache key).

    `values()` reads os.environ's own dict with the names encoded once: about 2 us for 70
    names, where os.environ.get (an encoding and, per unset name, a KeyError caught) takes
    about 75. Writes through os.environ (monkeypatch.setenv, os.environ[...] = ...) are seen;
    an os.environ replaced by another mapping is read through its `get`."""

    def __init__(self, names: Iterable[str]) -> None:
        self.names = tuple(sorted(names))
        self._reader: tuple[Any, Any, tuple] | None = None  # (os.environ, its get, the keys it takes)

    def _read_with(self, env: Any) -> tuple[Any, Any, tuple]:
        data, encode = getattr(env, "_data", None), getattr(env, "encodekey", None)
        if isinstance(data, dict) and callable(encode):
            return env, data.get, tuple(map(encode, self.names))
        return env, env.get, self.names

    def values(self) -> tuple:
        env, reader = os.environ, self._reader
        if reader is None or reader[0] is not env:
            reader = self._reader = self._read_with(env)
        return tuple(map(reader[1], reader[2]))


def _read_environment() -> dict[str, str]:
    """`.env` in the working folder (if any), overridden by the process environment."""
    values: dict[str, str] = {}
    if Path(ENV_FILE).is_file():
        from dotenv import dotenv_values

        values = {k: v for k, v in dotenv_values(ENV_FILE).items() if v is not None}
    return {**values, **os.environ}


class FlatEnvironment(PydanticBaseSettingsSource):
    """Flat variable names (`S3_BUCKET`, not `S3__BUCKET`) for the top level and every group;
    an empty variable counts as unset."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # unused: __call__ reads everything at once

    def __call__(self) -> dict[str, Any]:
        explicit = EXPLICIT_ENV.get()
        env = {k: v for k, v in (_read_environment() if explicit is None else explicit).items() if v != ""}
        data: dict[str, Any] = {}
        for name, field in self.settings_cls.model_fields.items():
            group = group_of(field)
            if group is None:
                if field.alias in env:
                    data[field.alias] = env[field.alias]
                continue
            values: dict[str, Any] = {var: env[var] for var in variables_of(group.model_fields) if var in env}
            if group is LLMSettings and MODELS_FILE_VARIABLE in env:
                values["models"] = _read_models_file(env[MODELS_FILE_VARIABLE], env)
            if values:
                data[name] = values
        return data


def _read_models_file(path: str, env: Mapping[str, str]) -> dict[str, dict]:
    """The models file's entries, with each entry's key read from the variable it names."""

    def bad(message: str) -> SettingsError:
        return SettingsError([Problem(MODELS_FILE_VARIABLE, message, path)])

    try:
        data = yaml.safe_load(Path(path).read_text()) or {}
    except OSError as exc:
        raise bad(f"cannot be read: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise bad(f"is not valid YAML: {str(exc).splitlines()[0]}") from None
    if not isinstance(data, dict):
        raise bad("must map model names to their settings ({base_url, api_key_env, model, price_in, price_out})")
    entries: dict[str, dict] = {}
    for name, entry in data.items():
        entry = entry or {}
        if not isinstance(entry, dict):
            raise bad(f"{name}: must be a mapping of settings")
        if "api_key" in entry:
            raise bad(f"{name}: keys do not belong in the file; put the key in a variable and name it with api_key_env")
        if entry.get("api_key_env"):
            entry = {**entry, "api_key": env.get(str(entry["api_key_env"]))}
        entries[str(name)] = entry
    return entries

