"""A scripted HTTP server on loopback for the client's unit tests.

Each request takes the next scripted reply (or the default), and is recorded with its raw path,
so tests can check exactly what went over the wire: encoding, headers, retries, write counts.
"""

from __future__ import annotations

import contextlib
import json
import re
import socket
import struct
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

# The token the client tests send: shaped like a Sentry user token, so that the pattern-based
# masking and the masking by value are both exercised.
CLIENT_TOKEN = "sntryu_TOKENSENTINEL0123456789abcdef"


@dataclass
class Reply:
    status: int = 200
    body: Any = None  # JSON-encoded unless bytes; None means an empty body
    headers: dict[str, str] = field(default_factory=dict)
    drop: bool = False  # close the connection without answering
    reset: bool = False  # abort the connection (TCP RST) without answering
    delay: float = 0.0  # seconds to wait before answering
    cut: bool = False  # announce the whole body, send only part of it, then close
    trickle: float = 0.0  # send the body one byte at a time, this many seconds apart
    trickle_head: float = 0.0  # likewise from the status line on (headers never complete)


@dataclass
class Recorded:
    method: str
    raw_path: str
    headers: dict[str, str]
    body: bytes

    @property
    def path(self) -> str:
        return urlsplit(self.raw_path).path

    @property
    def query(self) -> dict[str, list[str]]:
        return parse_qs(urlsplit(self.raw_path).query, keep_blank_values=True)

    def json(self) -> Any:
        return json.loads(self.body)


Responder = Callable[[Recorded], Reply]


ORG_DETAILS_RE = re.compile(r"^/api/0/organizations/([^/]+)/$")


class FakeSentry:
    """``requests`` records every request but the organization details a command looks up
    first (its region), which are answered as Sentry answers them, with this server's own URL
    as ``links.regionUrl``, and kept in ``lookups``; ``org_details`` set to a reply (or a
    responder) scripts them instead."""

    def __init__(self) -> None:
        self.script: deque[Reply | Responder] = deque()
        self.default: Reply | Responder = Reply(200, [])
        self.requests: list[Recorded] = []
        self.lookups: list[Recorded] = []
        self.org_details: Reply | Responder | None = None
        self.lock = threading.Lock()
        self.url = ""

    def add(self, *replies: Reply | Responder) -> None:
        self.script.extend(replies)

    def _next(self, recorded: Recorded) -> Reply:
        match = ORG_DETAILS_RE.match(recorded.path)
        if match is not None and recorded.method == "GET":
            with self.lock:
                self.lookups.append(recorded)
            item = self.org_details
            if item is None:
                slug = unquote(match.group(1))
                links = {"organizationUrl": self.url, "regionUrl": self.url}
                return Reply(200, {"id": "1", "slug": slug, "name": slug, "links": links})
            return item(recorded) if callable(item) else item
        with self.lock:
            self.requests.append(recorded)
            item = self.script.popleft() if self.script else self.default
        return item(recorded) if callable(item) else item

    def methods(self) -> list[str]:
        return [r.method for r in self.requests]


def _handler(fake: FakeSentry) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        wbufsize = 65536  # one send per answer (headers and body), as a real server does

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            recorded = Recorded(self.command, self.path, dict(self.headers.items()), body)
            reply = fake._next(recorded)
            if reply.delay:
                time.sleep(reply.delay)
            if reply.reset:
                self.connection.setsockopt(
                    socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                )
                self.close_connection = True
                return
            if reply.drop:
                self.close_connection = True
                return
            if isinstance(reply.body, bytes):
                payload = reply.body
            elif reply.body is None:
                payload = b""
            else:
                payload = json.dumps(reply.body).encode()
            if reply.trickle_head:
                self._trickle(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n" * 50,
                              reply.trickle_head)  # fmt: skip
                return
            self.send_response(reply.status)
            if payload and "Content-Type" not in reply.headers:
                self.send_header("Content-Type", "application/json")
            for key, value in reply.headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            if reply.cut:
                self.wfile.write(payload[: len(payload) // 2])
                self.close_connection = True
                return
            if reply.trickle:
                self.wfile.flush()
                self._trickle(payload, reply.trickle)
                return
            self.wfile.write(payload)

        def _trickle(self, data: bytes, pause: float) -> None:
            """One byte at a time until the client hangs up (or the data ends)."""
            self.close_connection = True
            try:
                for index in range(len(data)):
                    self.wfile.write(data[index : index + 1])
                    self.wfile.flush()
                    time.sleep(pause)
            except OSError:
                pass

        do_GET = do_POST = do_PUT = do_DELETE = _serve

        def handle_one_request(self) -> None:
            # A client that hung up (cut off at its deadline) is no error of the server's.
            try:
                super().handle_one_request()
            except OSError:
                self.close_connection = True

        def finish(self) -> None:
            with contextlib.suppress(OSError):
                super().finish()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@contextmanager
def fake_sentry() -> Iterator[FakeSentry]:
    fake = FakeSentry()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake))
    server.daemon_threads = True
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


NOW = 1_000_000.0


class FakeTime:
    """A clock that only moves when the code under test sleeps: epoch and monotonic alike."""

    def __init__(self, now: float = NOW) -> None:
        self.now = now
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    monotonic = clock

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def jitter(self) -> float:
        """No randomness in the exact waits tests check."""
        return 0.0

    def kwargs(self) -> dict[str, Any]:
        """The client's clock arguments, all fake."""
        return {
            "sleep": self.sleep,
            "clock": self.clock,
            "monotonic": self.monotonic,
            "jitter": self.jitter,
        }
