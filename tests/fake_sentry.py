"""A scripted HTTP server on loopback for the client's unit tests.

Each request takes the next scripted reply (or the default), and is recorded with its raw path,
so tests can check exactly what went over the wire: encoding, headers, retries, write counts.
"""

from __future__ import annotations

import json
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
from urllib.parse import parse_qs, urlsplit


@dataclass
class Reply:
    status: int = 200
    body: Any = None  # JSON-encoded unless bytes; None means an empty body
    headers: dict[str, str] = field(default_factory=dict)
    drop: bool = False  # close the connection without answering
    reset: bool = False  # abort the connection (TCP RST) without answering
    delay: float = 0.0  # seconds to wait before answering
    cut: bool = False  # announce the whole body, send only part of it, then close


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


class FakeSentry:
    def __init__(self) -> None:
        self.script: deque[Reply | Responder] = deque()
        self.default: Reply | Responder = Reply(200, [])
        self.requests: list[Recorded] = []
        self.lock = threading.Lock()
        self.url = ""

    def add(self, *replies: Reply | Responder) -> None:
        self.script.extend(replies)

    def _next(self, recorded: Recorded) -> Reply:
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
            self.wfile.write(payload)

        do_GET = do_POST = do_PUT = do_DELETE = _serve

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
