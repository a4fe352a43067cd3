"""Model answers that parse: structured outputs where the provider has them, JSON mode or plain
text where it refuses them, and one way to read every answer.

OpenAI's Chat Completions API takes `response_format={"type": "json_schema", "json_schema":
{"name", "schema", "strict": true}}` and then constrains decoding to the schema. Strict mode
accepts a subset of JSON Schema: every object closed (`additionalProperties: false`), every
property required (optional means nullable), no string lengths, no defaults. Compatible servers
differ: some refuse the parameter, or one of its types, with a 400 that names it (older vLLM and
llama.cpp builds, LM Studio for `json_object`, OpenAI itself for models before gpt-4o-2024-08-06);
some accept it and ignore it, so the model answers in prose (Anthropic's compatibility layer).
So the ladder is json_schema -> json_object -> plain text; a refusal is remembered for the
endpoint and model for the life of the process, and every answer, whatever the format, is
extracted and validated the same way by the caller.
"""

from __future__ import annotations

import json
import re
import threading
from enum import StrEnum
from typing import Any

from pydantic import BaseModel


class Format(StrEnum):
    """How an answer is asked for, most constrained first (the order of the fallback)."""

    JSON_SCHEMA = "json_schema"
    JSON_OBJECT = "json_object"
    TEXT = "text"


LADDER: tuple[Format, ...] = tuple(Format)

# Keywords OpenAI's strict mode documents as supported; anything else (minLength, maxLength,
# default, title...) is dropped from the schema sent and still checked by pydantic afterwards.
_STRICT_KEYWORDS = {
    "type", "properties", "required", "additionalProperties", "items", "anyOf", "enum", "const",
    "description", "pattern", "format", "minimum", "maximum", "exclusiveMinimum",
    "exclusiveMaximum", "multipleOf", "minItems", "maxItems",
}  # fmt: skip


def strict_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The model's JSON schema in strict-mode form: references inlined (grammar engines of local
    servers handle them unevenly), objects closed, all properties required. Recursive models are
    not supported (none is asked for)."""
    root = model.model_json_schema()
    defs: dict[str, Any] = root.get("$defs", {})

    def strict(node: dict[str, Any]) -> dict[str, Any]:
        if "$ref" in node:
            node = {**defs[node["$ref"].rsplit("/", 1)[-1]], **node}
            node.pop("$ref")
        out = {k: v for k, v in node.items() if k in _STRICT_KEYWORDS}
        if "properties" in node:
            out["properties"] = {k: strict(v) for k, v in node["properties"].items()}
            out["required"] = list(node["properties"])
            out["additionalProperties"] = False
        if isinstance(node.get("items"), dict):
            out["items"] = strict(node["items"])
        if "anyOf" in node:
            out["anyOf"] = [strict(v) for v in node["anyOf"]]
        return out

    return strict(root)


def response_format(fmt: Format, name: str, schema: dict[str, Any]) -> dict[str, Any] | None:
    """The `response_format` parameter for a format (None: plain text, no parameter sent)."""
    if fmt is Format.JSON_SCHEMA:
        return {
            "type": "json_schema",
            "json_schema": {"name": name, "schema": schema, "strict": True},
        }
    if fmt is Format.JSON_OBJECT:
        return {"type": "json_object"}
    return None


# What a refusal of the parameter says: OpenAI ("Invalid parameter: 'response_format' of type
# 'json_schema' is not supported with this model", param "response_format"), vLLM ("The provided
# JSON schema contains features not supported by xgrammar"), LM Studio
# ("'response_format.type' must be 'json_schema'"), llama.cpp ("grammar"). Another parameter
# named in `param` (o1's "temperature") is not a format refusal.
_REFUSAL = re.compile(
    r"response_format|json[_ ]schema|json[_ ]object|structured output|guided|grammar", re.I
)


def is_format_refusal(status: int, message: str, param: str | None) -> bool:
    """Whether a provider's error means "this response_format is not supported here"."""
    if status not in (400, 422):
        return False
    if param:
        return param.startswith("response_format")
    return bool(_REFUSAL.search(message))


class FormatMemory:
    """The most constrained format each (endpoint, model) has not refused, process-wide.
    Keyed by model too: one endpoint (OpenAI, a gateway) serves models with and without
    structured outputs. A refusal only ever moves an entry down the ladder."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._start: dict[tuple[str, str], Format] = {}

    def ladder(self, endpoint: str, model: str) -> tuple[Format, ...]:
        """The formats to try, in order, for the next call."""
        with self._lock:
            start = self._start.get((endpoint, model), LADDER[0])
        return LADDER[LADDER.index(start) :]

    def refused(self, endpoint: str, model: str, fmt: Format) -> Format:
        """Records that `fmt` was refused; returns the format to try next."""
        following = LADDER[min(LADDER.index(fmt) + 1, len(LADDER) - 1)]
        with self._lock:
            current = self._start.get((endpoint, model), LADDER[0])
            if LADDER.index(following) > LADDER.index(current):
                self._start[(endpoint, model)] = following
        return following

    def forget(self) -> None:
        with self._lock:
            self._start.clear()


FORMATS = FormatMemory()

_FENCE = re.compile(r"```[\w-]*[ \t]*\n?(.*?)```", re.S)
_THINKING = re.compile(r"<think>.*?</think>", re.S | re.I)  # reasoning models served by vLLM/Ollama


def extract_json(text: str) -> Any:
    """The JSON value of an answer: the whole answer, a fenced block, or the first JSON object
    embedded in prose. ValueError (with the answer's start) when there is none."""
    text = _THINKING.sub("", text).strip()
    for candidate in (text, *(m.group(1).strip() for m in _FENCE.finditer(text))):
        try:
            return json.loads(candidate)
        except ValueError:
            pass
    decoder = json.JSONDecoder()
    for m in re.finditer(r"\{", text):
        try:
            value, _ = decoder.raw_decode(text, m.start())
        except ValueError:
            continue
        if isinstance(value, dict):
            return value
    raise ValueError(f"no JSON object in the answer, which begins {text[:160]!r}")
