"""Bridge settings, from the environment (or a .env file)."""

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    dagster_host: str = Field("127.0.0.1", alias="DAGSTER_HOST")
    dagster_port: int = Field(3000, alias="DAGSTER_PORT")
    dagster_location: str = Field("videogen_dagster", alias="DAGSTER_LOCATION")
    dagster_timeout_seconds: float = Field(10.0, alias="DAGSTER_TIMEOUT_SECONDS")
    # A launch that fails for a transient reason (webserver still loading the code location,
    # a dropped connection) is retried for this long before the task fails (0: no retry).
    dagster_launch_retry_seconds: float = Field(30.0, alias="DAGSTER_LAUNCH_RETRY_SECONDS")
    # Launches sent to the webserver at once (it plans each run through the code server; more at
    # once only makes each slower). Others wait their turn in the bridge.
    dagster_max_concurrent_launches: int = Field(4, alias="DAGSTER_MAX_CONCURRENT_LAUNCHES", ge=1)
    # Local state shared with the pipeline (metadata store, objects): same default as the code location.
    var_dir: Path = Field(Path("var"), alias="VIDEOGEN_VAR_DIR")
    jwt_secret: str | None = Field(None, alias="JWT_SECRET")
    jwt_public_key: str | None = Field(None, alias="JWT_PUBLIC_KEY")
    jwt_audience: str | None = Field(None, alias="JWT_AUDIENCE")
    # Seconds of rendering per scene by quality, used until there is measured history.
    fallback_scene_seconds: dict[str, float] = {
        "preview": 6.0, "low": 15.0, "medium": 30.0, "high": 60.0, "production": 120.0,
    }
    convex_url: str | None = Field(None, alias="CONVEX_DEPLOYMENT_URL")
    convex_deploy_key: str | None = Field(None, alias="CONVEX_DEPLOY_KEY")
    scene_concurrency: int = Field(3, alias="SCENE_CONCURRENCY")
    # Largest request body accepted (413 past it): a batch of 100 requests or 100 kB of scene
    # code fit with room to spare.
    max_body_bytes: int = Field(2 * 1024 * 1024, alias="MAX_BODY_BYTES", ge=1)

    @property
    def dagster_url(self) -> str:
        return f"http://{self.dagster_host}:{self.dagster_port}"

    @property
    def metadata_path(self) -> Path:
        return self.var_dir.resolve() / "metadata.sqlite"

    @property
    def objects_root(self) -> Path:
        return self.var_dir.resolve() / "objects"


@lru_cache
def get_settings() -> Settings:
    return Settings()
