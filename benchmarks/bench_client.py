"""How the client's shared connection pool scales across threads.

A loopback server answers every symbol-source GET after a fixed latency (like a remote Sentry).
The same client reads N projects one after the other (the baseline, measured in the same run) and
then from 8 threads at once, as `apply --parallelism 8` does. Prints both timings and the ratio,
and the cost of redacting a large Gen A error message.

    .venv/bin/python benchmarks/bench_client.py
"""

from __future__ import annotations

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from reconciler.core.redact import redact_text
from reconciler.sentry.client import SentryClient

LATENCY = 0.02
PROJECTS = 120
THREADS = 8
BODY = json.dumps(
    [
        {
            "id": f"s{i}",
            "type": "http",
            "name": "n",
            "url": "https://x",
            "layout": {"type": "native"},
            "password": {"hidden-secret": True},
        }
        for i in range(5)
    ]
).encode()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    wbufsize = 65536  # one send per answer (headers and body), as a real server does

    def do_GET(self) -> None:
        time.sleep(LATENCY)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(BODY)))
        self.end_headers()
        self.wfile.write(BODY)

    def log_message(self, format: str, *args: object) -> None:
        pass


def main() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    projects = [f"p{i}" for i in range(PROJECTS)]
    try:
        with SentryClient(url, "bench-token", pool_size=THREADS) as client:
            client.list_sources("acme", "warmup")
            start = time.perf_counter()
            for project in projects:
                client.list_sources("acme", project)
            sequential = time.perf_counter() - start

            start = time.perf_counter()
            with ThreadPoolExecutor(THREADS) as pool:
                list(pool.map(lambda p: client.list_sources("acme", p), projects))
            parallel = time.perf_counter() - start
    finally:
        server.shutdown()
        server.server_close()

    print(f"client: {PROJECTS} project reads, {LATENCY * 1000:.0f} ms server latency")
    print(f"  sequential (baseline): {sequential:.2f} s ({PROJECTS / sequential:.0f} req/s)")
    print(f"  {THREADS} threads, one client: {parallel:.2f} s ({PROJECTS / parallel:.0f} req/s)")
    print(f"  speed-up: {sequential / parallel:.1f}x (ideal {THREADS}x)")

    source = {"id": "a", "type": "http", "url": "https://x", "password": "hunter22"}
    message = "Failed to validate source [" + ", ".join([repr(source)] * 2000) + "]"
    start = time.perf_counter()
    masked = redact_text(message, ["bench-token"])
    redact = time.perf_counter() - start
    start = time.perf_counter()
    message.replace("bench-token", "***")
    baseline = time.perf_counter() - start
    assert "hunter22" not in masked
    print(f"redaction of a {len(message) // 1000} kB Gen A message: {redact * 1000:.1f} ms")
    print(f"  plain str.replace of the token (baseline): {baseline * 1000:.2f} ms")
    print(f"  ratio: {redact / max(baseline, 1e-9):.0f}x")


if __name__ == "__main__":
    main()
