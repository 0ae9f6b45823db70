"""Cost of one write to ``symsync emulator --state FILE`` as the number of projects grows.

Target (issue 7): a PUT costs the same whatever the number of projects, under 5 ms at 10,000
projects. For N projects (default 1,000 and 10,000, each with 3 sources) the script seeds a
state file, starts the real CLI, and times PUTs one after another on a keep-alive session, each
to a random project (a rename that sends the stored password back as the placeholder, as
``symsync apply`` does). Same-run baselines:

- the same PUTs against the same state loaded from a read-only file (loaded, never saved): the
  cost of the emulator without any saving;
- the same PUTs against a state of 10 projects: a write should cost what it costs there.

Also measured: the same PUTs with the rate and concurrency limiters switched on (so that they are
seen not to be the bottleneck), 8 clients writing at once, the time to "listening on", to
``GET /_emulator/state`` and ``GET /_emulator/requests``, and to a clean stop (SIGTERM), after
which the state file must hold the last write (else the script fails).

Run: .venv/bin/python benchmarks/bench_emulator_writes.py [--projects 1000,10000] [--puts N]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

ORG = "acme"
HEADERS = {"Authorization": "Bearer symsync-emulator"}
TARGET_MS = 5.0
LISTENING_RE = re.compile(r"listening on (http://\S+)")


def _source(i: int, name: str, password: Any) -> dict[str, Any]:
    return {
        "id": f"src-{i}",
        "type": "http",
        "name": name,
        "url": f"https://symbols{i}.example/",
        "layout": {"type": "native", "casing": "default"},
        "username": "ci",
        "password": password,
        "filters": {"filetypes": ["pe", "pdb"], "path_patterns": ["*.dll"]},
    }


def _state(projects: int, sources: int) -> dict[str, Any]:
    return {
        "organizations": {
            ORG: {
                "projects": {
                    f"project-{p:05d}": {
                        "symbol_sources": [
                            _source(i, f"Source {i}", f"pw-{p}-{i}") for i in range(sources)
                        ]
                    }
                    for p in range(projects)
                }
            }
        }
    }


@dataclass
class Run:
    """What one emulator process measured."""

    startup_ms: float = 0.0
    put_ms: list[float] = field(default_factory=list)
    parallel_writes_per_s: float = 0.0
    state_ms: float = 0.0
    requests_ms: float = 0.0
    logged: int = 0
    stop_ms: float = 0.0
    failures: list[str] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.put_ms)

    @property
    def p95(self) -> float:
        ordered = sorted(self.put_ms)
        return ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]


class Emulator:
    def __init__(self, state_path: Path, *args: str) -> None:
        command = [
            sys.executable, "-m", "reconciler", "emulator", "--port", "0",
            "--state", str(state_path), *args,
        ]  # fmt: skip
        started = time.perf_counter()
        self.process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        self.startup_ms = (time.perf_counter() - started) * 1000
        match = LISTENING_RE.search(line)
        if match is None:
            self.process.kill()
            raise SystemExit(f"emulator did not start: {line!r}")
        self.url = match.group(1)

    def stop(self) -> float:
        started = time.perf_counter()
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=120)
        return (time.perf_counter() - started) * 1000


def _put(session: requests.Session, url: str, project: str, n: int, run: Run) -> float:
    source = _source(0, f"Renamed {n}", {"hidden-secret": True})
    started = time.perf_counter()
    response = session.put(
        f"{url}/api/0/projects/{ORG}/{project}/symbol-sources/?id=src-0",
        json=source,
        headers=HEADERS,
    )
    elapsed = (time.perf_counter() - started) * 1000
    if response.status_code != 200:
        run.failures.append(f"PUT {project}: {response.status_code} {response.text[:200]}")
    return elapsed


def _measure(
    state_path: Path, projects: int, puts: int, *args: str, parallel: bool = False
) -> tuple[Run, str]:
    """Starts the emulator on ``state_path``, times ``puts`` PUTs; returns the run and the name
    the last PUT gave to its project's first source (``project/name``)."""
    run = Run()
    emulator = Emulator(state_path, *args)
    run.startup_ms = emulator.startup_ms
    rng = random.Random(projects)
    last = ""
    with requests.Session() as session:
        for n in range(20):  # warm-up: connection, first-touch costs
            _put(session, emulator.url, f"project-{rng.randrange(projects):05d}", n, run)
        for n in range(puts):
            project = f"project-{rng.randrange(projects):05d}"
            run.put_ms.append(_put(session, emulator.url, project, n, run))
            last = f"{project}/Renamed {n}"
        if parallel:
            run.parallel_writes_per_s = _parallel(emulator.url, projects, puts, run)
            last = ""
        started = time.perf_counter()
        session.get(f"{emulator.url}/_emulator/state").json()
        run.state_ms = (time.perf_counter() - started) * 1000
        started = time.perf_counter()
        run.logged = len(session.get(f"{emulator.url}/_emulator/requests").json())
        run.requests_ms = (time.perf_counter() - started) * 1000
    run.stop_ms = emulator.stop()
    return run, last


def _parallel(url: str, projects: int, puts: int, run: Run, clients: int = 8) -> float:
    """``clients`` threads, each writing its own projects (as apply's parallelism does)."""

    def worker(index: int) -> None:
        with requests.Session() as session:
            for n in range(puts // clients):
                project = f"project-{(index + n * clients) % projects:05d}"
                _put(session, url, project, n, run)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return (puts // clients) * clients / (time.perf_counter() - started)


def _check_saved(state_path: Path, last: str, run: Run) -> None:
    if not last:
        return
    project, name = last.split("/", 1)
    saved = json.loads(state_path.read_text(encoding="utf-8"))
    stored = saved["organizations"][ORG]["projects"][project]["symbol_sources"][0]
    if stored["name"] != name or not stored["password"].startswith("pw-"):
        run.failures.append(f"the state file after a clean stop lacks the last write to {project}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--projects", default="1000,10000", help="comma-separated sizes")
    parser.add_argument("--puts", type=int, default=400, help="timed PUTs per run")
    parser.add_argument("--sources", type=int, default=3)
    options = parser.parse_args()
    sizes = [int(size) for size in options.projects.split(",")]
    failures: list[str] = []
    rows: list[str] = []

    with tempfile.TemporaryDirectory(prefix="symsync-bench-writes-") as tmp:
        small_path = Path(tmp) / "small.json"
        small_path.write_text(json.dumps(_state(10, options.sources)), encoding="utf-8")
        small, _ = _measure(small_path, 10, options.puts)
        failures += small.failures
        rows.append(f"{'10 projects, saved':<34} {small.median:8.2f} {small.p95:8.2f}")

        for size in sizes:
            saved_path = Path(tmp) / f"state-{size}.json"
            seeded = json.dumps(_state(size, options.sources))
            saved_path.write_text(seeded, encoding="utf-8")
            saved, last = _measure(saved_path, size, options.puts)
            _check_saved(saved_path, last, saved)
            failures += saved.failures

            readonly_path = Path(tmp) / f"readonly-{size}.json"
            readonly_path.write_text(seeded, encoding="utf-8")
            os.chmod(readonly_path, 0o444)
            readonly, _ = _measure(readonly_path, size, options.puts)
            failures += readonly.failures

            limited_path = Path(tmp) / f"limited-{size}.json"
            limited_path.write_text(seeded, encoding="utf-8")
            limited, _ = _measure(
                limited_path,
                size,
                options.puts,
                "--rate-limit",
                "1000000/1",
                "--concurrent-limit",
                "1000",
                parallel=True,
            )
            failures += limited.failures

            rows.append(f"{f'{size:,} projects, saved':<34} {saved.median:8.2f} {saved.p95:8.2f}")
            rows.append(
                f"{f'{size:,} projects, read-only file':<34} "
                f"{readonly.median:8.2f} {readonly.p95:8.2f}"
            )
            rows.append(
                f"{f'{size:,} projects, saved + limiters':<34} "
                f"{limited.median:8.2f} {limited.p95:8.2f}"
            )
            rows.append(
                f"    ratio saved / read-only: {saved.median / readonly.median:.2f}; "
                f"saved / 10 projects: {saved.median / small.median:.2f}; "
                f"limiters on / off: {limited.median / saved.median:.2f}; "
                f"target {TARGET_MS:.0f} ms: "
                f"{'met' if saved.median < TARGET_MS else 'NOT met'}"
            )
            rows.append(
                f"    startup to 'listening on': {saved.startup_ms:.0f} ms; "
                f"clean stop (SIGTERM, writes the JSON file): {saved.stop_ms:.0f} ms; "
                f"GET /_emulator/state: {saved.state_ms:.0f} ms; "
                f"GET /_emulator/requests ({limited.logged} entries): "
                f"{limited.requests_ms:.0f} ms"
            )
            rows.append(
                f"    8 clients writing at once (limiters on): "
                f"{limited.parallel_writes_per_s:.0f} writes/s"
            )

    print(
        f"emulator writes: {options.puts} PUTs per run, one after another on a keep-alive "
        f"session, {options.sources} sources per project, loopback"
    )
    print(f"{'run':<34} {'median':>8} {'p95':>8}  (ms per PUT)")
    for row in rows:
        print(row)
    for failure in failures[:10]:
        print(f"FAILED: {failure}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
