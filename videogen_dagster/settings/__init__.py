"""The project's one settings object: every environment variable it reads, validated once.

`get_settings()` is the only door to the environment (and to `.env` in the working folder, the
environment winning; environment.py is the one module that reads it). The code location, its
resources, the run workers, the CLI and the REST bridge all read the same `Settings`
(core.py; its groups in groups.py), so they judge the same configuration the same way. An
invalid value raises `SettingsError` (errors.py), naming each variable:
`VIDEOGEN_BATCH_SIZE: must be an integer (got 'five')`. An empty variable counts as unset.

Building a child process's environment (render confinement, tests, benchmarks) is the one
other use of `os.environ`; nothing else reads it.
"""

from videogen_dagster.settings.core import (
    VARIABLES,
    Settings,
    StatePaths,
    get_settings,
    state_paths,
)
from videogen_dagster.settings.environment import ENV_FILE
from videogen_dagster.settings.errors import Problem, SettingsError
from videogen_dagster.settings.groups import (
    MAX_PRESIGN_SECONDS,
    MODELS_FILE_VARIABLE,
    BatchSettings,
    ConvexSettings,
    DagsterSettings,
    LLMSettings,
    McpSettings,
    MiB,
    ModelRoute,
    ObjectUrlSettings,
    S3Settings,
)

__all__ = [
    "ENV_FILE",
    "MAX_PRESIGN_SECONDS",
    "MODELS_FILE_VARIABLE",
    "VARIABLES",
    "BatchSettings",
    "ConvexSettings",
    "DagsterSettings",
    "LLMSettings",
    "McpSettings",
    "MiB",
    "ModelRoute",
    "ObjectUrlSettings",
    "Problem",
    "S3Settings",
    "Settings",
    "SettingsError",
    "StatePaths",
    "get_settings",
    "state_paths",
]
