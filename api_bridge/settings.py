"""The bridge's settings: the project's one settings object (videogen_dagster/settings/), so the
bridge, the code location and the CLI read every variable the same way.

Fields the bridge uses: `dagster` (DAGSTER_HOST, DAGSTER_PORT, DAGSTER_LOCATION, DAGSTER_*),
`var_dir` (VIDEOGEN_VAR_DIR), `jwt_secret`/`jwt_public_key`/`jwt_audience` (JWT_*),
`scene_concurrency` (SCENE_CONCURRENCY), `max_body_bytes` (MAX_BODY_BYTES), `s3` and `convex`.
"""

from videogen_dagster.settings import Settings, SettingsError, get_settings

__all__ = ["Settings", "SettingsError", "get_settings"]
