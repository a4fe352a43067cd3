"""One error type per failure, from what the store keeps of it: the task's (or scene's) status and
its error message. The messages are the pipeline's own sentences (`plan: S3 upload of key ...
failed after 5 attempt(s)`, `scene 2 failed after 2 attempt(s): manim exited with code 1 ...`),
so their wording is the classification's contract; only the first line is read (a render
failure's message goes on with Manim's log, which may say anything)."""

from __future__ import annotations

import re

ERROR_TYPES = ("render", "timeout", "llm", "storage", "narration", "cancelled", "other")

# (type, pattern), first match wins. Storage comes first: an S3 read timeout is a storage
# failure, not a render timeout; narration before render: "scene 1: the narration takes 13.5s
# to speak" failed a scene but not its render; LLM before timeout: an LLM call that timed out is
# an LLM failure.
_RULES: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (kind, re.compile(pattern, re.IGNORECASE))
    for kind, pattern in (
        ("storage", r"\bS3\b|upload|object store|object folder|bucket|presign|signing key"),
        ("narration", r"narration|speech|\bspeak|voice|espeak|piper"),
        ("llm", r"\bLLM\b|planner|token budget|budget of \$|answered HTTP|declined to answer"
                r"|unavailable after \d+ attempts|has no endpoint|OPENAI_|not a valid plan|model .* refused"),
        ("timeout", r"timed out|time ?out|wall-clock limit|deadline"),
        ("render", r"manim|\brender(?:ing|s)?\b|ffmpeg|latex|unsafe code|failed after \d+ attempt|layout"),
    )
)


def classify_error(message: str | None, status: str | None = None) -> str:
    """The error type of a failed (or cancelled) task or scene: one of ERROR_TYPES."""
    if status == "cancelled":
        return "cancelled"
    first = (message or "").strip().splitlines()[0] if (message or "").strip() else ""
    for kind, pattern in _RULES:
        if pattern.search(first):
            return kind
    return "other"
