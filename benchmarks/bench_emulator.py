"""Throughput of ``symsync emulator`` on loopback with 16 concurrent clients.

Target: at least 500 requests per second with no latency configured. As a same-run baseline it
also measures a trivial static handler on the same server class (ThreadingHTTPServer with
HTTP/1.1 keep-alive), started the same way, so the figure can be read against what the machine
and the client can do at all. Also prints the time from start to "listening on".

Run: .venv/bin/python benchmarks/bench_emulator.py [--seconds S] [--clients N]
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import requests

from reconciler.emulator.testing import running_emulator

TARGET_RPS = 500
ORG, PROJECT = "acme", "ios"
SOURCES = [
    {
        "id": f"src-{i}",
        "type": "http",
        "name": f"Source {i}",
        "url": f"https://symbols{i}.example/",
        "layout": {"type": "native", "casing": "default"},
        "password": f"pw-{i}",
    }
    for i in range(5)
]
STATE = {"organizations": {ORG: {"projects": {PROJECT: {"symbol_sources": SOURCES}}}}}
HEADERS = {"Authorization": "Bearer symsync-emulator"}


class _StaticHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    body = json.dumps([{"id": "static"}]).encode()

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, format: str, *args: object) -> None:
        pass


def serve_static() -> None:
    """The baseline server (run in its own process, like the emulator)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _StaticHandler)
    server.daemon_threads = True
    print(f"listening on http://127.0.0.1:{server.server_address[1]}", flush=True)
    server.serve_forever()


def hammer(
    make_request: Callable[[requests.Session, int], requests.Response], clients: int, seconds: float
) -> tuple[int, int, float]:
    """Runs ``clients`` threads with their own Session for ``seconds``; returns
    (requests done, failures, elapsed)."""
    stop = threading.Event()
    counts = [0] * clients
    failures = [0] * clients

    def worker(index: int) -> None:
        with requests.Session() as session:
            n = 0
            while not stop.is_set():
                response = make_request(session, n)
                if response.status_code >= 400:
                    failures[index] += 1
                counts[index] += 1
                n += 1

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=clients) as pool:
        futures = [pool.submit(worker, i) for i in range(clients)]
        time.sleep(seconds)
        stop.set()
        for future in futures:
            future.result()
    return sum(counts), sum(failures), time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--serve-static", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_static:
        serve_static()
        return 0

    started = time.perf_counter()
    with running_emulator(state=STATE) as emu:
        startup = time.perf_counter() - started
        base = f"{emu.url}/api/0/projects/{ORG}/{PROJECT}/symbol-sources/"

        def mixed(session: requests.Session, n: int) -> requests.Response:
            # Mostly reads, as a plan does; every 10th request is a PUT that keeps the secret.
            if n % 10 == 9:
                source = {**SOURCES[n % 5], "password": {"hidden-secret": True}}
                return session.put(f"{base}?id={source['id']}", json=source, headers=HEADERS)
            if n % 2:
                return session.get(f"{base}?id=src-{n % 5}", headers=HEADERS)
            return session.get(base, headers=HEADERS)

        done, failed, elapsed = hammer(mixed, args.clients, args.seconds)
    emulator_rps = done / elapsed

    static = subprocess.Popen(
        [sys.executable, __file__, "--serve-static"], stdout=subprocess.PIPE, text=True
    )
    try:
        assert static.stdout is not None
        match = re.search(r"http://\S+", static.stdout.readline())
        assert match is not None
        static_url = match.group(0) + "/"
        b_done, _, b_elapsed = hammer(
            lambda session, n: session.get(static_url), args.clients, args.seconds
        )
    finally:
        static.terminate()
        static.wait(timeout=5)
    baseline_rps = b_done / b_elapsed

    print(f"clients: {args.clients}, duration: {args.seconds:.1f}s per run, loopback, no latency")
    print(f"emulator startup to 'listening on': {startup * 1000:.0f} ms")
    print(
        f"emulator (90% GET, 10% PUT with backfill): {emulator_rps:8.0f} req/s  failures: {failed}"
    )
    print(f"baseline (static handler, same server class): {baseline_rps:8.0f} req/s")
    print(f"ratio to the {TARGET_RPS} req/s target: {emulator_rps / TARGET_RPS:.2f}")
    print(f"ratio to the baseline: {emulator_rps / baseline_rps:.2f}")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
