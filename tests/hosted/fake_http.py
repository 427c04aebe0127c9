"""Plumbing shared by the fake provider servers: a real HTTP server on 127.0.0.1, faults, a request log.

`FakeServer` binds port 0 on 127.0.0.1 only, serves from a daemon thread, and is a context
manager (`with FakeOpenAI() as server: ...`); `stop()` shuts it down and closes the socket.

Faults are queued with `server.fail(method, path_regex, ...)` and consumed in order by the first
matching requests:
  - `status=500`                       answer with that status and an error body, do nothing else;
  - `status=500, after_handling=True`  do the work (e.g. create the job), then answer 500 anyway;
  - `status=429, headers={"retry-after": "1"}`  rate limit;
  - `drop=True`                        read the request, then close the connection without answering;
  - `drop=True, after_handling=True`   do the work, then close without answering (a timeout too late);
  - `strip=("status",)`                answer normally but without those top-level fields.
`server.requests` records every request (method, path, query, headers, json, form) in order;
`server.served` every answer sent, injected faults included, as (request, reply) pairs; and
`server.replies` only the answers the routes gave (after a fault's strip), for contract checks.
"""

from __future__ import annotations

import json
import re
import socket
import threading
import urllib.parse
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable


@dataclass
class Fault:
    method: str
    path: re.Pattern[str]
    status: int = 500
    times: int = 1
    headers: dict[str, str] = field(default_factory=dict)
    after_handling: bool = False
    drop: bool = False
    strip: tuple[str, ...] = ()


@dataclass(frozen=True)
class Recorded:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    json: Any = None
    form: dict[str, Any] | None = None


@dataclass
class Reply:
    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    raw: bytes | None = None  # a binary body (downloads) or a pre-encoded stream
    content_type: str = "application/json"


Route = Callable[[Recorded, "re.Match[str]"], Reply]


class FakeServer:
    """A threaded HTTP server whose routes are `(method, regex) -> handler(request, match)`."""

    api_key = "sk-test-FAKEKEY-0123456789abcdef"
    requires_key = True  # False for a storage server answering presigned URLs, which carry their own

    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self.served: list[tuple[Recorded, Reply]] = []
        self.replies: list[tuple[Recorded, Reply]] = []  # what each routed request was answered
        self.faults: list[Fault] = []
        self.lock = threading.RLock()
        self._routes: list[tuple[str, re.Pattern[str], Route]] = []
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def root_url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def route(self, method: str, pattern: str, handler: Route) -> None:
        self._routes.append((method, re.compile(pattern + r"$"), handler))

    def fail(self, method: str, path: str, status: int = 500, **options: Any) -> None:
        with self.lock:
            self.faults.append(Fault(method, re.compile(path), status, **options))

    def calls(self, method: str, path_regex: str) -> list[Recorded]:
        pattern = re.compile(path_regex + r"$")
        return [r for r in self.requests if r.method == method and pattern.search(r.path)]

    def start(self) -> "FakeServer":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> "FakeServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _take_fault(self, method: str, path: str) -> Fault | None:
        with self.lock:
            for fault in self.faults:
                if fault.method == method and fault.path.search(path):
                    fault.times -= 1
                    if fault.times <= 0:
                        self.faults.remove(fault)
                    return fault
        return None

    def _dispatch(self, request: Recorded) -> Reply:
        for method, pattern, handler in self._routes:
            match = pattern.search(request.path)
            if method == request.method and match:
                with self.lock:
                    return handler(request, match)
        return error_reply(404, f"No route {request.method} {request.path}", "invalid_request_error")


def error_reply(status: int, message: str, kind: str = "server_error", code: str | None = None, **headers: str) -> Reply:
    return Reply(status, {"error": {"message": message, "type": kind, "param": None, "code": code}}, dict(headers))


def _handler_for(server: FakeServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:  # keep pytest output clean
            pass

        def do_GET(self) -> None:
            self._handle("GET")

        def do_POST(self) -> None:
            self._handle("POST")

        def do_DELETE(self) -> None:
            self._handle("DELETE")

        def do_PATCH(self) -> None:
            self._handle("PATCH")

        def _handle(self, method: str) -> None:
            url = urllib.parse.urlsplit(self.path)
            body = self.rfile.read(int(self.headers.get("content-length") or 0))
            request = Recorded(
                method,
                url.path,
                urllib.parse.parse_qs(url.query),
                {k.lower(): v for k, v in self.headers.items()},
                *_decode_body(self.headers.get("content-type", ""), body),
            )
            with server.lock:
                server.requests.append(request)
            self._request = request
            fault = server._take_fault(method, url.path)
            if fault is not None and fault.drop and not fault.after_handling:
                self._hang_up()
                return
            if fault is not None and not fault.after_handling and not fault.strip:
                self._send(error_reply(fault.status, f"injected {fault.status}", **fault.headers) if fault.status != 429
                           else Reply(429, {"error": {"message": "Rate limit reached", "type": "requests", "param": None, "code": "rate_limit_exceeded"}}, fault.headers))
                return
            presented = request.headers.get("api-key") or request.headers.get("authorization", "").removeprefix("Bearer ")
            if server.requires_key and presented != server.api_key:
                # Echoes the key it was given, as careless servers do: redaction must catch it.
                self._send(error_reply(401, f"Incorrect API key provided: {presented}", "invalid_request_error", "invalid_api_key"))
                return
            reply = server._dispatch(request)
            if fault is not None and fault.drop:
                self._hang_up()
                return
            if fault is not None and fault.after_handling:
                reply = error_reply(fault.status, f"injected {fault.status} after handling", **fault.headers)
            elif fault is not None and fault.strip and isinstance(reply.body, dict):
                reply.body = {k: v for k, v in reply.body.items() if k not in fault.strip}
            with server.lock:
                server.replies.append((request, reply))
            self._send(reply)

        def _hang_up(self) -> None:
            self.connection.shutdown(socket.SHUT_RDWR)
            self.close_connection = True

        def _send(self, reply: Reply) -> None:
            with server.lock:
                server.served.append((self._request, reply))
            data = reply.raw if reply.raw is not None else json.dumps(reply.body).encode()
            self.send_response(reply.status)
            self.send_header("content-type", reply.content_type)
            self.send_header("content-length", str(len(data)))
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

    return Handler


def _decode_body(content_type: str, body: bytes) -> tuple[Any, dict[str, Any] | None]:
    if not body:
        return None, None
    if content_type.startswith("application/json"):
        return json.loads(body), None
    if content_type.startswith("multipart/form-data"):
        message = BytesParser(policy=HTTP).parsebytes(b"content-type: " + content_type.encode() + b"\r\n\r\n" + body)
        form: dict[str, Any] = {}
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            payload = part.get_payload(decode=True)
            form[name] = payload if part.get_filename() else payload.decode()
        return None, form
    return None, None
