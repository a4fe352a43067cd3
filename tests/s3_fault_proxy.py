"""A fault-injecting HTTP reverse proxy for S3 tests, put in front of a moto server.

Every request is forwarded as the client sent it: method, path and query, every header
(Host included, as SigV4 signs it) but the hop-by-hop ones, and the body streamed through
unchanged (Content-Length or chunked, aws-chunked framing included). Responses come back the same
way. The proxy speaks HTTP/1.1 with keep-alive, as S3 does.

Faults follow a deterministic schedule of `FaultRule`s: a rule matches an S3 operation (worked
out from method, path and query, path-style addressing) and a regular expression searched in the
object key, lets its first `skip` matching requests through and then injects its fault into the
next `times` ones. The first rule that fires wins. Faults:

- `500`: S3's `InternalError` XML error, status 500 (nothing reaches the upstream);
- `503`: S3's `SlowDown` XML error, status 503 (nothing reaches the upstream);
- `hang`: the request is read, then nothing is answered for `hang_seconds`, then the connection
  is closed (a client with a shorter read timeout gives up first);
- `hang_after`: the request is forwarded (the object IS written upstream), then the answer is held
  back the same way: the client never learns that its request succeeded;
- `reset`: the request is read, then the connection is closed without an answer.

For the two hangs, the event's `client_gave_up` says whether the client had closed the
connection (timed out) before the hang ended.

`counts` (fault kind -> number injected) and `events` (one dict per request) record what it did.
"""

from __future__ import annotations

import http.client
import re
import socket
import struct
import threading
from collections import Counter
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, unquote, urlsplit
from xml.sax.saxutils import escape

FAULTS = ("500", "503", "hang", "hang_after", "reset")
# Hop-by-hop headers (RFC 9110 7.6.1) are the proxy's own business; Expect is answered here
# (the proxy sends the 100 Continue itself), so it is not passed on either.
HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "te", "trailer", "upgrade", "expect"}
ERRORS = {
    "500": (500, "Internal Server Error", "InternalError", "We encountered an internal error. Please try again."),
    "503": (503, "Slow Down", "SlowDown", "Please reduce your request rate."),
}
CHUNK = 64 * 1024


@dataclass
class FaultRule:
    fault: str
    op: str = "PutObject"  # an S3 operation name (see `classify`), or "*" for any request
    key: str = ""  # regular expression searched in the object key ("" matches any key)
    times: int = 1
    skip: int = 0
    seen: int = 0  # matching requests so far

    def __post_init__(self):
        if self.fault not in FAULTS:
            raise ValueError(f"unknown fault {self.fault!r}; one of {FAULTS}")

    def matches(self, op: str, key: str) -> bool:
        return (self.op == "*" or self.op == op) and (not self.key or bool(key and re.search(self.key, key)))


def classify(method: str, path: str) -> tuple[str, str, str]:
    """(operation, bucket, key) of a path-style S3 request."""
    parts = urlsplit(path)
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    query.pop("x-id", None)
    bucket, _, key = unquote(parts.path).lstrip("/").partition("/")
    if not key:
        return f"{method}Bucket", bucket, ""
    if method == "PUT":
        if "partNumber" in query and "uploadId" in query:
            return "UploadPart", bucket, key
        return ("PutObject" if not query else "PutObject?" + "&".join(sorted(query))), bucket, key
    if method == "POST":
        if "uploads" in query:
            return "CreateMultipartUpload", bucket, key
        if "uploadId" in query:
            return "CompleteMultipartUpload", bucket, key
    if method == "DELETE" and "uploadId" in query:
        return "AbortMultipartUpload", bucket, key
    return {"GET": "GetObject", "HEAD": "HeadObject", "DELETE": "DeleteObject"}.get(method, method), bucket, key


class FaultProxy:
    """`with FaultProxy(upstream_url, rules) as proxy:` ... point clients at `proxy.url`."""

    def __init__(self, upstream: str, rules: list[FaultRule] | None = None, hang_seconds: float = 4.0,
                 host: str = "127.0.0.1"):
        up = urlsplit(upstream)
        self.upstream = (up.hostname or "127.0.0.1", up.port or 80)
        self.hang_seconds = hang_seconds
        self.lock = threading.Lock()
        self.rules: list[FaultRule] = list(rules or [])
        self.counts: Counter[str] = Counter()
        self.events: list[dict] = []
        self._stopping = threading.Event()
        self._busy = threading.Condition(self.lock)
        self._active = 0  # requests being handled (a hang included)
        self.server = _Server((host, 0), _Handler)
        self.server.proxy = self
        self.url = f"http://{host}:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, name="s3-fault-proxy", daemon=True)

    def start(self) -> FaultProxy:
        self._thread.start()
        return self

    def settle(self, timeout: float = 30.0) -> bool:
        """Wait until no request is being handled (every hang is over); False on timeout."""
        with self._busy:
            return self._busy.wait_for(lambda: self._active == 0, timeout)

    def stop(self) -> None:
        self._stopping.set()  # wakes hanging handlers
        self.settle(10)
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(timeout=10)

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def set_rules(self, rules: list[FaultRule]) -> None:
        """A new schedule; counts and events start again from zero."""
        with self.lock:
            self.rules = list(rules)
            self.counts.clear()
            self.events.clear()

    def faults(self, fault: str | None = None) -> list[dict]:
        """The events where a fault (of this kind) was injected."""
        with self.lock:
            return [e for e in self.events if e["fault"] and (fault is None or e["fault"] == fault)]

    def _decide(self, method: str, path: str) -> dict:
        op, bucket, key = classify(method, path)
        with self.lock:
            fault = None
            for rule in self.rules:
                if not rule.matches(op, key):
                    continue
                rule.seen += 1
                if fault is None and rule.skip < rule.seen <= rule.skip + rule.times:
                    fault = rule.fault
            if fault:
                self.counts[fault] += 1
            event = {"method": method, "op": op, "bucket": bucket, "key": key, "fault": fault, "status": None}
            self.events.append(event)
        return event


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    proxy: FaultProxy


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format, *args):  # noqa: A002 - quiet; events are recorded instead
        pass

    # Every method goes through the same path.
    def do_GET(self):
        self._handle()

    do_HEAD = do_PUT = do_POST = do_DELETE = do_PATCH = do_OPTIONS = do_GET

    # -- request body, streamed --

    def _body_chunks(self):
        """The request body exactly as it came, framing included, in pieces."""
        te = self.headers.get("Transfer-Encoding", "").lower()
        if "chunked" in te:
            while True:
                line = self.rfile.readline(65537)
                yield line
                size = int(line.split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while True:  # trailers, up to the empty line
                        trailer = self.rfile.readline(65537)
                        yield trailer
                        if trailer in (b"\r\n", b"\n", b""):
                            return
                yield from self._exactly(size + 2)  # data and its CRLF
        else:
            yield from self._exactly(int(self.headers.get("Content-Length") or 0))

    def _exactly(self, left: int):
        while left:
            piece = self.rfile.read(min(CHUNK, left))
            if not piece:
                raise ConnectionError("client closed mid-body")
            left -= len(piece)
            yield piece

    def _drain(self) -> None:
        for _ in self._body_chunks():
            pass

    # -- one request --

    def _handle(self) -> None:
        proxy = self.server.proxy
        with proxy._busy:
            proxy._active += 1
        try:
            self._handle_one(proxy)
        finally:
            with proxy._busy:
                proxy._active -= 1
                proxy._busy.notify_all()

    def _handle_one(self, proxy: FaultProxy) -> None:
        event = proxy._decide(self.command, self.path)
        fault = event["fault"]
        try:
            if fault in ERRORS:
                self._drain()
                self._error(event, *ERRORS[fault])
            elif fault in ("hang", "reset"):
                self._drain()
                if fault == "hang":
                    proxy._stopping.wait(proxy.hang_seconds)
                    event["client_gave_up"] = self._client_gone()
                self._drop()
            else:
                status, reason, headers, body = self._forward()
                event["status"] = status
                if fault == "hang_after":
                    for _ in body:  # the upstream answer is read, then lost
                        pass
                    proxy._stopping.wait(proxy.hang_seconds)
                    event["client_gave_up"] = self._client_gone()
                    self._drop()
                    return
                self._relay(status, reason, headers, body)
        except (ConnectionError, TimeoutError, OSError):
            self.close_connection = True

    def _forward(self):
        conn = http.client.HTTPConnection(*self.server.proxy.upstream, timeout=120)
        conn.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
        for name, value in self.headers.items():
            if name.lower() not in HOP_BY_HOP:
                conn.putheader(name, value)
        conn.endheaders()
        for piece in self._body_chunks():
            conn.send(piece)
        resp = conn.getresponse()
        headers = [(k, v) for k, v in resp.getheaders() if k.lower() not in HOP_BY_HOP | {"transfer-encoding"}]

        def body():
            try:
                if self.command == "HEAD" or resp.status in (204, 304):
                    return
                while piece := resp.read(CHUNK):
                    yield piece
            finally:
                conn.close()

        return resp.status, resp.reason, headers, body()

    def _relay(self, status: int, reason: str, headers: list, body) -> None:
        has_length = any(k.lower() == "content-length" for k, _ in headers)
        no_body = self.command == "HEAD" or status in (204, 304) or 100 <= status < 200
        if not has_length and not no_body:
            data = b"".join(body)  # close-delimited or chunked upstream: send it with a length
            headers = [*headers, ("Content-Length", str(len(data)))]
            body = iter([data])
        self.send_response_only(status, reason)
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        for piece in body:
            self.wfile.write(piece)
        self.wfile.flush()

    def _error(self, event: dict, status: int, reason: str, code: str, message: str) -> None:
        event["status"] = status
        rid = f"FAULT{len(self.server.proxy.events):08d}"
        xml = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f"<Error><Code>{code}</Code><Message>{escape(message)}</Message>"
            f"<Resource>/{escape(event['bucket'])}/{escape(event['key'])}</Resource>"
            f"<RequestId>{rid}</RequestId><HostId>s3-fault-proxy</HostId></Error>"
        ).encode()
        self.send_response_only(status, reason)
        self.send_header("Content-Type", "application/xml")
        self.send_header("Content-Length", str(len(xml)))
        self.send_header("x-amz-request-id", rid)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(xml)
        self.wfile.flush()

    def _client_gone(self) -> bool:
        """Whether the client has closed its end (EOF or reset) while nothing was answered."""
        sock = self.connection
        try:
            sock.setblocking(False)
            return sock.recv(1, socket.MSG_PEEK) == b""
        except BlockingIOError:
            return False  # still open, nothing sent
        except OSError:
            return True
        finally:
            try:
                sock.setblocking(True)
            except OSError:
                pass

    def _drop(self) -> None:
        """Close the connection with no answer (RST, not a graceful FIN)."""
        self.close_connection = True
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
