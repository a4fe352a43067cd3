"""The settings of live progress (Server-Sent Events) and webhooks: the `events` group."""

from __future__ import annotations

import json
from typing import Any

from pydantic import Field, field_validator

from videogen_dagster.settings.errors import Problem
from videogen_dagster.settings.groups import Group
from videogen_dagster.webhook_urls import check_webhook_url


class EventSettings(Group):
    """Task events as Server-Sent Events (GET .../tasks/{id}/events) and signed webhooks."""

    # How often the bridge looks for new events (one indexed query per process, whatever the
    # number of open streams), and the comment ping an idle stream gets (keeps proxies from
    # closing it).
    poll_seconds: float = Field(0.2, alias="VIDEOGEN_EVENTS_POLL_SECONDS", gt=0, le=10)
    heartbeat_seconds: float = Field(15.0, alias="VIDEOGEN_SSE_HEARTBEAT_SECONDS", gt=0, le=300)
    # Per-project default webhook, as JSON: {"project_id": "https://...", "*": "https://..."}
    # ("*": every other project). A request's webhook_url wins.
    webhooks: dict[str, str] = Field({}, alias="VIDEOGEN_WEBHOOKS")
    # HMAC-SHA256 key of the Videogen-Signature header; unset: 32 random bytes generated once into
    # VIDEOGEN_VAR_DIR/webhook-signing.key (mode 0600; its text is the secret).
    webhook_secret: str | None = Field(None, alias="VIDEOGEN_WEBHOOK_SECRET", repr=False)
    # One attempt waits this long for the receiver's answer.
    webhook_timeout_seconds: float = Field(10.0, alias="VIDEOGEN_WEBHOOK_TIMEOUT_SECONDS", gt=0)
    # Attempts per event (then it is given up and the task's next event goes); the wait between
    # attempts starts at 1 s and doubles up to the maximum.
    webhook_max_attempts: int = Field(25, alias="VIDEOGEN_WEBHOOK_MAX_ATTEMPTS", ge=1)
    webhook_max_backoff_seconds: float = Field(3600.0, alias="VIDEOGEN_WEBHOOK_MAX_BACKOFF_SECONDS", gt=0)

    @field_validator("webhooks", mode="before")
    @classmethod
    def _json(cls, v: Any) -> Any:
        if isinstance(v, str):
            try:
                v = json.loads(v)
            except json.JSONDecodeError:
                raise ValueError('must be a JSON object of project ids to URLs, e.g. {"demo": "https://example.com/hook"}') from None
        if not isinstance(v, dict):
            raise ValueError('must be a JSON object of project ids to URLs, e.g. {"demo": "https://example.com/hook"}')
        return {str(k): check_webhook_url(str(url)) for k, url in v.items()}

    def problems(self) -> list[Problem]:
        """Checked when the settings load; the secret itself is never quoted in the message."""
        if self.webhook_secret is not None and len(self.webhook_secret) < 32:
            return [Problem("VIDEOGEN_WEBHOOK_SECRET", f"must be at least 32 characters (got {len(self.webhook_secret)})")]
        return []

    def webhook_for(self, project_id: str, requested: str | None) -> str | None:
        """Where a task's events go: the request's URL, else the project's default, else none."""
        return requested or self.webhooks.get(project_id) or self.webhooks.get("*")
