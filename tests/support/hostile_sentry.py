"""A hostile fake Sentry for tests: answers that a real server, a proxy or a broken network give.

``HostileSentry`` listens on 127.0.0.1 only, on a free port, and answers each request with the
first rule whose method and path match. It records every request the moment its headers have
arrived (before answering), with the headers, so tests can check what was sent, and whether a
write was sent at all. Behaviours:

- ``json_reply`` / ``raw_reply``: any status, body and headers (HTML pages, wrong shapes,
  401/403/404, 429 without rate-limit headers, redirects elsewhere);
- ``cut_reply``: a body shorter than its ``Content-Length``, then the connection closes;
- ``huge_reply``: a body of many megabytes, streamed;
- ``hang``: the connection is accepted and never answered;
- ``trickle``: the status line and headers, then one byte every few seconds;
- ``echo_reply``: an error page that repeats the request's URL and headers (the token among
  them), as some proxies and debug pages do.

Handlers that never finish on their own (``hang``, ``trickle``) end when the server stops.
"""

from __future__ import annotations

import contextlib
import json
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

ORG_DETAILS_RE = re.compile(r"^/api/0/organizations/([^/]+)/$")

PHRASES = {
    200: "OK",
    201: "Created",
    204: "No Content",
    301: "Moved Permanently",
    302: "Found",
    307: "Temporary Redirect",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
}


@dataclass(frozen=True)
class Received:
    """One request, as it arrived."""

    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes
    at: float  # time.monotonic() when its headers had arrived

    @property
    def is_write(self) -> bool:
        return self.method not in ("GET", "HEAD", "OPTIONS")


Behaviour = Callable[["_Handler", Received], None]


@dataclass
class Rule:
    method: str  # "*" for any
    path: str  # a regular expression searched in the path
    behaviour: Behaviour

    def matches(self, request: Received) -> bool:
        return (self.method in ("*", request.method)) and re.search(
            self.path, request.path
        ) is not None


@dataclass
class HostileSentry:
    """``with HostileSentry([Rule(...), ...]) as server:`` ... ``server.url``."""

    rules: Sequence[Rule] = ()
    received: list[Received] = field(default_factory=list)
    lookups: list[Received] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.hostile = self
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def writes(self) -> list[Received]:
        with self._lock:
            return [r for r in self.received if r.is_write]

    def requests(self) -> list[Received]:
        with self._lock:
            return list(self.received)

    def record(self, request: Received) -> None:
        with self._lock:
            self.received.append(request)

    def behaviour_for(self, request: Received) -> Behaviour:
        for rule in self.rules:
            if rule.matches(request):
                return rule.behaviour
        return json_reply(404, {"detail": "The requested resource does not exist"})

    def organization_details(self, request: Received) -> Behaviour | None:
        """The organization details a command looks up first, when no rule is about them:
        answered as Sentry answers them (this server is the region), and kept apart from
        ``received`` (in ``lookups``), so that the rules and counts are about the rest."""
        match = ORG_DETAILS_RE.match(request.path)
        if match is None or request.method != "GET":
            return None
        if any(rule.matches(request) for rule in self.rules):
            return None
        with self._lock:
            self.lookups.append(request)
        links = {"organizationUrl": self.url, "regionUrl": self.url}
        return json_reply(200, {"id": "1", "slug": match.group(1), "name": "x", "links": links})

    def wait_for(self, method: str, timeout: float = 30, count: int = 1) -> Received:
        """Waits until ``count`` requests of ``method`` have arrived; returns the last of them."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                arrived = [r for r in self.received if r.method == method]
            if len(arrived) >= count:
                return arrived[count - 1]
            time.sleep(0.02)
        raise AssertionError(
            f"{count} {method} request(s) did not reach the hostile server in {timeout} s"
        )

    def __enter__(self) -> HostileSentry:
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopping.set()
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    hostile: HostileSentry

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hangs up on a hostile answer is expected: no traceback."""


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        request = Received(
            method=self.command,
            path=parts.path,
            query=parts.query,
            headers={k.lower(): v for k, v in self.headers.items()},
            body=body,
            at=time.monotonic(),
        )
        hostile = self.server.hostile
        behaviour = hostile.organization_details(request)
        if behaviour is None:
            hostile.record(request)
            behaviour = hostile.behaviour_for(request)
        with contextlib.suppress(OSError):
            behaviour(self, request)
            self.wfile.flush()

    do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = do_GET

    # -- raw writing --------------------------------------------------------------------------

    def head(self, status: int, headers: dict[str, str]) -> None:
        lines = [f"HTTP/1.1 {status} {PHRASES.get(status, 'Unknown')}"]
        lines += [f"{k}: {v}" for k, v in headers.items()]
        self.wfile.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))

    @property
    def stopping(self) -> threading.Event:
        return self.server.hostile.stopping


# ---------------------------------------------------------------------------------- behaviours


def raw_reply(
    status: int,
    body: bytes = b"",
    content_type: str = "application/json",
    headers: dict[str, str] | None = None,
) -> Behaviour:
    def reply(handler: _Handler, request: Received) -> None:
        handler.head(
            status,
            {"Content-Type": content_type, "Content-Length": str(len(body)), **(headers or {})},
        )
        handler.wfile.write(body)

    return reply


def json_reply(status: int, data: Any, headers: dict[str, str] | None = None) -> Behaviour:
    return raw_reply(status, json.dumps(data).encode(), "application/json", headers)


def html_reply(status: int = 200) -> Behaviour:
    page = (
        b"<!DOCTYPE html><html><head><title>Sign in</title></head>"
        b"<body><h1>Please sign in</h1><form></form></body></html>"
    )
    return raw_reply(status, page, "text/html; charset=utf-8")


def cut_reply(status: int = 200, claimed: int = 4096) -> Behaviour:
    """JSON that stops early: fewer bytes than ``Content-Length`` says, then the socket closes."""

    def reply(handler: _Handler, request: Received) -> None:
        handler.head(status, {"Content-Type": "application/json", "Content-Length": str(claimed)})
        handler.wfile.write(b'[{"id": "half", "type": "ht')
        handler.wfile.flush()
        handler.close_connection = True
        handler.connection.shutdown(socket.SHUT_RDWR)

    return reply


def huge_reply(megabytes: int = 50, status: int = 200) -> Behaviour:
    """A JSON list of ``megabytes`` MB (one long string), streamed in pieces."""
    piece = b"x" * (1 << 20)

    def reply(handler: _Handler, request: Received) -> None:
        size = 2 + 2 + megabytes * len(piece)
        handler.head(status, {"Content-Type": "application/json", "Content-Length": str(size)})
        handler.wfile.write(b'["')
        for _ in range(megabytes):
            if handler.stopping.is_set():
                return
            handler.wfile.write(piece)
        handler.wfile.write(b'"]')

    return reply


def hang(handler: _Handler, request: Received) -> None:
    """Accept, read the request, never answer (until the server stops)."""
    handler.stopping.wait()
    handler.close_connection = True


def trickle(interval: float = 2.0, status: int = 200) -> Behaviour:
    """Headers at once, then one byte of the body every ``interval`` seconds."""

    def reply(handler: _Handler, request: Received) -> None:
        handler.head(status, {"Content-Type": "application/json", "Content-Length": "100000"})
        handler.wfile.write(b"[")
        handler.wfile.flush()
        while not handler.stopping.wait(interval):
            handler.wfile.write(b" ")
            handler.wfile.flush()
        handler.close_connection = True

    return reply


def echo_reply(status: int = 400) -> Behaviour:
    """An error page that shows the request back: URL, query and every header."""

    def reply(handler: _Handler, request: Received) -> None:
        shown = {
            "error": f"bad request to {request.path}?{request.query}",
            "headers": request.headers,
            "body": request.body.decode("utf-8", "replace"),
        }
        json_reply(status, shown)(handler, request)

    return reply


def redirect_to(url: str, status: int = 302) -> Behaviour:
    def reply(handler: _Handler, request: Received) -> None:
        target = url + request.path + (f"?{request.query}" if request.query else "")
        raw_reply(status, b"", "text/html", {"Location": target})(handler, request)

    return reply


@contextlib.contextmanager
def serving(*rules: Rule) -> Iterator[HostileSentry]:
    with HostileSentry(list(rules)) as server:
        yield server
