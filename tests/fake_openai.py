"""A local OpenAI-compatible chat-completions server, scripted per test (the one fake allowed:
no provider can be reached from here). It follows the documented wire format: POST
/v1/chat/completions with bearer auth; the answer's `choices[0].message.content` and `usage`;
errors as {"error": {"message", "type", "param", "code"}} with the HTTP status.

`response_format` is treated the way one kind of real provider treats it:
- "ignore" (the default): accepted and not enforced, as Anthropic's compatibility layer does;
- "honour": as OpenAI's structured outputs: a strict `json_schema` is checked (every object
  closed, every property required, only the documented keywords; otherwise a 400 "Invalid
  schema for response_format ...") and the answer satisfies it; `json_object` answers a JSON
  object. The script supplies the JSON; a scripted answer that breaks the schema is a broken
  test, answered 500 and listed in `script_errors`;
- "refuse": a request carrying a `response_format` of a type in `refuse` is answered 400 naming
  the parameter, as servers without structured outputs do, and consumes no scripted answer.
`prose` wraps every answer in chatter (PROSE_FENCED, PROSE_INLINE), as models without JSON mode
answer.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jsonschema

ROLES = {
    "You plan": "planner",
    "You write Manim": "scene",
    "You fix": "helper",
    "You review frames": "visual",
}
PROSE_FENCED = "Sure! Here is what you asked for:\n\n```json\n{answer}\n```\n\nLet me know if you want changes."
PROSE_INLINE = "Of course, {{gladly}}! The plan is {answer}, I hope it helps."
# Keywords OpenAI documents as supported in strict mode.
STRICT_KEYWORDS = {
    "type", "properties", "required", "additionalProperties", "items", "anyOf", "enum", "const",
    "description", "title", "$ref", "$defs", "pattern", "format", "minimum", "maximum",
    "exclusiveMinimum", "exclusiveMaximum", "multipleOf", "minItems", "maxItems",
}  # fmt: skip


def strict_problem(schema: Any, context: tuple = ()) -> str | None:
    """The first reason OpenAI's strict mode would refuse a schema, in its words; None if none."""
    if not isinstance(schema, dict):
        return None
    for key in schema:
        if key not in STRICT_KEYWORDS:
            return f"In context={context}, '{key}' is not permitted."
    if schema.get("type") == "object" or "properties" in schema:
        if schema.get("additionalProperties") is not False:
            return (
                f"In context={context}, 'additionalProperties' is required to be supplied "
                "and to be false."
            )
        missing = [k for k in schema.get("properties", {}) if k not in schema.get("required", [])]
        if missing:
            return (
                f"In context={context}, 'required' is required to be supplied and to be an "
                f"array including every key in properties. Missing '{missing[0]}'."
            )
    children = [(("properties", k), v) for k, v in schema.get("properties", {}).items()]
    children += [(("$defs", k), v) for k, v in schema.get("$defs", {}).items()]
    children += [(("anyOf", str(i)), v) for i, v in enumerate(schema.get("anyOf", []))]
    if "items" in schema:
        children.append((("items",), schema["items"]))
    for where, child in children:
        problem = strict_problem(child, context + where)
        if problem:
            return problem
    return None


class FakeOpenAI:
    def __init__(
        self,
        api_key: str = "sk-test",
        response_format: str = "ignore",
        refuse: tuple[str, ...] = ("json_schema", "json_object"),
        prose: str | None = None,
    ):
        self.api_key = api_key
        self.response_format, self.refuse, self.prose = response_format, refuse, prose
        self.script: dict[str, list] = {}
        self.requests: list[dict] = []
        self.statuses: list[int] = []  # the HTTP status answered to each recorded request
        self.script_errors: list[str] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _send(self, status: int, body: dict) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _error(
                self, status: int, message: str, type_: str, param: str | None = None
            ) -> None:
                fake.statuses.append(status)
                self._send(
                    status,
                    {"error": {"message": message, "type": type_, "param": param, "code": None}},
                )

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["content-length"])))
                if self.path.rstrip("/") != "/v1/chat/completions":
                    return self._send(
                        404,
                        {
                            "error": {
                                "message": "not found",
                                "type": "invalid_request_error",
                                "code": None,
                            }
                        },
                    )
                if self.headers.get("authorization") != f"Bearer {fake.api_key}":
                    return self._send(
                        401,
                        {
                            "error": {
                                "message": "Incorrect API key provided",
                                "type": "invalid_request_error",
                                "code": "invalid_api_key",
                            }
                        },
                    )
                system = body["messages"][0]["content"]
                role = next((r for k, r in ROLES.items() if system.startswith(k)), "unknown")
                fake.requests.append({"role": role, **body})
                fmt = body.get("response_format") or {"type": "text"}
                if fake.response_format == "refuse" and fmt["type"] in fake.refuse:
                    # vLLM/Ollama-style servers without structured outputs.
                    return self._error(
                        400,
                        f"response_format type {fmt['type']!r} is not supported",
                        "invalid_request_error",
                        "response_format",
                    )
                if fake.response_format == "honour" and fmt["type"] == "json_schema":
                    spec = fmt.get("json_schema") or {}
                    problem = strict_problem(spec.get("schema")) if spec.get("strict") else None
                    if problem:
                        return self._error(
                            400,
                            f"Invalid schema for response_format '{spec.get('name')}': {problem}",
                            "invalid_request_error",
                            "response_format",
                        )
                queue = fake.script.get(role) or []
                if not queue:
                    return self._error(500, f"no scripted answer for {role}", "server_error")
                answer = queue.pop(0)
                if isinstance(answer, int):
                    fake.statuses.append(answer)
                    return self._send(
                        answer,
                        {
                            "error": {
                                "message": "scripted error",
                                "type": "rate_limit_exceeded" if answer == 429 else "server_error",
                                "code": None,
                            }
                        },
                    )
                if fake.response_format == "honour" and fmt["type"] != "text":
                    problem = self._breaks(answer, fmt)
                    if problem:
                        fake.script_errors.append(problem)
                        return self._error(
                            500, f"fake: the scripted {role} answer {problem}", "server_error"
                        )
                if fake.prose:
                    answer = fake.prose.format(answer=answer)
                prompt_tokens = sum(len(json.dumps(m["content"])) for m in body["messages"]) // 4
                completion_tokens = len(answer) // 4
                fake.statuses.append(200)
                self._send(
                    200,
                    {
                        "id": "chatcmpl-test",
                        "object": "chat.completion",
                        "created": int(time.time()),
                        "model": body["model"],
                        "choices": [
                            {
                                "index": 0,
                                "message": {
                                    "role": "assistant",
                                    "content": answer,
                                    "refusal": None,
                                },
                                "finish_reason": "stop",
                            }
                        ],
                        "usage": {
                            "prompt_tokens": prompt_tokens,
                            "completion_tokens": completion_tokens,
                            "total_tokens": prompt_tokens + completion_tokens,
                        },
                    },
                )

            @staticmethod
            def _breaks(answer: str, fmt: dict) -> str | None:
                try:
                    value = json.loads(answer)
                except ValueError:
                    return "is not JSON"
                if not isinstance(value, dict):
                    return "is not a JSON object"
                if fmt["type"] == "json_schema":
                    try:
                        jsonschema.validate(value, fmt["json_schema"]["schema"])
                    except jsonschema.ValidationError as exc:
                        return f"breaks the schema: {exc.message}"
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()

    def roles(self) -> list[str]:
        return [r["role"] for r in self.requests]

    def formats(self) -> list[str | None]:
        """The `response_format` type of each recorded request (None: not sent)."""
        return [(r.get("response_format") or {}).get("type") for r in self.requests]

    def close(self) -> None:
        self.server.shutdown()
