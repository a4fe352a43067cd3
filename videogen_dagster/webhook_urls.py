"""What a webhook URL may be (requests' `webhook_url` and the VIDEOGEN_WEBHOOKS defaults): an
absolute http(s) URL with a host, no credentials in it, at most 2,000 characters. No import of
the rest of the package, so the settings and the request models can both use it."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlsplit

from pydantic import AfterValidator, WithJsonSchema

MAX_URL_CHARS = 2000


def check_webhook_url(url: str) -> str:
    """`url` if it is a usable webhook URL, else ValueError saying why."""
    if len(url) > MAX_URL_CHARS:
        raise ValueError(f"webhook_url: at most {MAX_URL_CHARS} characters (got {len(url)})")
    if any(c.isspace() or ord(c) < 32 for c in url):
        raise ValueError("webhook_url: must not contain spaces or control characters")
    try:
        parts = urlsplit(url)
        port = parts.port  # raises on a port that is not a number in 0-65535
    except ValueError as exc:
        raise ValueError(f"webhook_url: not a valid URL ({exc})") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"webhook_url: must be an http:// or https:// URL with a host (got {url[:100]!r})")
    if parts.username or parts.password:
        raise ValueError("webhook_url: must not carry credentials; verify the Videogen-Signature header instead")
    if port == 0:
        raise ValueError("webhook_url: port 0 is not a port")
    return url


WebhookUrl = Annotated[str, AfterValidator(check_webhook_url), WithJsonSchema({
    "type": "string", "format": "uri", "pattern": r"^https?://[^\s/?#@]+(/[^\s]*)?$", "maxLength": MAX_URL_CHARS,
    "description": "Where the task's events are POSTed, signed (see README: Webhooks)",
})]
