"""A local OpenAI-compatible text-to-speech server (no provider can be reached from here).

It follows the documented wire contract of POST /v1/audio/speech: bearer auth; a JSON body
{model, input, voice, response_format, speed}; the answer is the audio file itself (here a real
WAV, 24 kHz mono s16 like OpenAI's, spoken by espeak-ng, or a sine tone where espeak-ng is
missing); errors are {"error": {"message", "type", "code"}} with the HTTP status. Every request
is recorded; `fail_next(n)` makes the next n requests answer 500."""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

VOICES = {
    "alloy",
    "ash",
    "ballad",
    "coral",
    "echo",
    "fable",
    "nova",
    "onyx",
    "sage",
    "shimmer",
    "verse",
}
MODELS = {"tts-1", "tts-1-hd", "gpt-4o-mini-tts"}
FORMATS = {"mp3", "opus", "aac", "flac", "wav", "pcm"}
MAX_INPUT = 4096


def spoken_wav(text: str, speed: float = 1.0) -> bytes:
    """A real WAV of `text` (espeak-ng), or a tone of similar length without it."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "speech.wav"
        if shutil.which("espeak-ng"):
            raw = Path(tmp) / "raw.wav"
            wpm = str(round(175 * speed))
            subprocess.run(
                ["espeak-ng", "-s", wpm, "-w", str(raw), "--", text],
                check=True,
                capture_output=True,
            )
            source = ["-i", str(raw)]
        else:
            seconds = max(0.3, 0.06 * len(text) / speed)
            source = ["-f", "lavfi", "-i", f"sine=frequency=440:duration={seconds:.3f}"]
        subprocess.run(
            ["ffmpeg", "-nostdin", "-y", "-v", "error", *source, "-ar", "24000", "-ac", "1",
             "-c:a", "pcm_s16le", str(out)],
            check=True, capture_output=True,
        )  # fmt: skip
        return out.read_bytes()


class FakeOpenAISpeech:
    def __init__(self, api_key: str = "sk-test"):
        self.api_key = api_key
        self.requests: list[dict] = []
        self._failures = 0
        self._failure_status = 500
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _error(
                self, status: int, message: str, type_: str, code: str | None = None
            ) -> None:
                data = json.dumps(
                    {"error": {"message": message, "type": type_, "param": None, "code": code}}
                ).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                if status >= 500:
                    # The SDK honours retry-after-ms, which keeps its retries quick in tests.
                    self.send_header("retry-after-ms", "20")
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self):
                raw = self.rfile.read(int(self.headers.get("content-length") or 0))
                try:
                    body = json.loads(raw or b"{}")
                except json.JSONDecodeError:
                    body = None
                with fake._lock:
                    fake.requests.append(
                        {
                            "path": self.path,
                            "body": body,
                            "retry_count": self.headers.get("x-stainless-retry-count"),
                        }
                    )
                    failing = fake._failures > 0
                    if failing:
                        fake._failures -= 1
                if self.path.rstrip("/") != "/v1/audio/speech":
                    return self._error(
                        404, f"Invalid URL (POST {self.path})", "invalid_request_error"
                    )
                if self.headers.get("authorization") != f"Bearer {fake.api_key}":
                    return self._error(
                        401,
                        "Incorrect API key provided",
                        "invalid_request_error",
                        "invalid_api_key",
                    )
                if failing:
                    return self._error(
                        fake._failure_status,
                        "The server had an error while processing your request.",
                        "server_error",
                    )
                if not isinstance(body, dict):
                    return self._error(
                        400,
                        "We could not parse the JSON body of your request.",
                        "invalid_request_error",
                    )
                problem = self._invalid(body)
                if problem:
                    return self._error(400, problem, "invalid_request_error")
                audio = spoken_wav(body["input"], float(body.get("speed", 1.0)))
                self.send_response(200)
                self.send_header("content-type", "audio/wav")
                self.send_header("content-length", str(len(audio)))
                self.end_headers()
                self.wfile.write(audio)

            @staticmethod
            def _invalid(body: dict) -> str | None:
                for field in ("model", "input", "voice"):
                    if not body.get(field):
                        return f"Missing required parameter: '{field}'."
                if body["model"] not in MODELS:
                    return (
                        f"Invalid model '{body['model']}'. Supported: {', '.join(sorted(MODELS))}."
                    )
                if len(body["input"]) > MAX_INPUT:
                    return f"'input' is longer than {MAX_INPUT} characters."
                if body["voice"] not in VOICES:
                    return f"Invalid value for 'voice': '{body['voice']}'. Supported values are: {', '.join(sorted(VOICES))}."
                fmt = body.get("response_format", "mp3")
                if fmt not in FORMATS:
                    return f"Invalid value for 'response_format': '{fmt}'."
                if fmt != "wav":
                    return f"This fake only answers response_format 'wav', not '{fmt}'."
                speed = body.get("speed", 1.0)
                if not isinstance(speed, int | float) or not 0.25 <= speed <= 4.0:
                    return f"Invalid value for 'speed': {speed}. It must be between 0.25 and 4.0."
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()

    def fail_next(self, count: int, status: int = 500) -> None:
        """The next `count` requests answer `status` (a server error) instead of audio."""
        with self._lock:
            self._failures = count
            self._failure_status = status

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
