"""A local OpenAI-compatible chat-completions server, scripted per test (the one fake allowed:
no provider can be reached from here). It follows the documented wire format: POST
/v1/chat/completions with bearer auth; the answer's `choices[0].message.content` and `usage`;
errors as {"error": {"message", "type", "code"}} with the HTTP status."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ROLES = {"You plan": "planner", "You write Manim": "scene", "You fix": "helper", "You review frames": "visual"}


class FakeOpenAI:
    def __init__(self, api_key: str = "sk-test"):
        self.api_key = api_key
        self.script: dict[str, list] = {}
        self.requests: list[dict] = []
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

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["content-length"])))
                if self.path.rstrip("/") != "/v1/chat/completions":
                    return self._send(404, {"error": {"message": "not found", "type": "invalid_request_error", "code": None}})
                if self.headers.get("authorization") != f"Bearer {fake.api_key}":
                    return self._send(401, {"error": {"message": "Incorrect API key provided", "type": "invalid_request_error", "code": "invalid_api_key"}})
                system = body["messages"][0]["content"]
                role = next((r for k, r in ROLES.items() if system.startswith(k)), "unknown")
                fake.requests.append({"role": role, **body})
                queue = fake.script.get(role) or []
                if not queue:
                    return self._send(500, {"error": {"message": f"no scripted answer for {role}", "type": "server_error", "code": None}})
                answer = queue.pop(0)
                if isinstance(answer, int):
                    return self._send(answer, {"error": {"message": "scripted error", "type": "rate_limit_exceeded" if answer == 429 else "server_error", "code": None}})
                prompt_tokens = sum(len(json.dumps(m["content"])) for m in body["messages"]) // 4
                completion_tokens = len(answer) // 4
                self._send(200, {
                    "id": "chatcmpl-test", "object": "chat.completion", "created": int(time.time()),
                    "model": body["model"],
                    "choices": [{"index": 0, "message": {"role": "assistant", "content": answer}, "finish_reason": "stop"}],
                    "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                              "total_tokens": prompt_tokens + completion_tokens},
                })

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def roles(self) -> list[str]:
        return [r["role"] for r in self.requests]

    def close(self) -> None:
        self.server.shutdown()
