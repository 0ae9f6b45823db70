"""Cost of one write to ``symsync emulator --state FILE`` as the number of projects grows.

Target: a PUT costs the same whatever the number of projects, under 5 ms at 10,000
projects. For N projects (default 1,000 and 10,000, each with 3 sources) the script seeds a
state file, starts the real CLI, and times PUTs one after another on a keep-alive session, each
to a random project (a rename that sends the stored password back as the placeholder, as
``symsync apply`` does). Same-run baselines, running at the same time, their PUTs taking turns
with the measured one's (so that the noise of a shared machine falls on all alike):

- the same state loaded from a read-only file (loaded, never saved): the emulator without any
  saving;
- a state of 10 projects: a write should cost no more than there (a state that small is also
  written to its JSON file after every write, ``persistence.SYNC_BYTES``, so the large state's
  journal-only write is expected to be the cheaper one);
- the same state with the rate and concurrency limiters switched on, timed again once the
  request log holds 10,000 more requests: neither should be the bottleneck.

Also measured: 8 clients writing at once, the time to "listening on", to a restart after
``kill -9`` (which must serve the last write), to a clean stop (after which the JSON file must
hold the last write), and to ``GET /_emulator/state`` and ``GET /_emulator/requests``. The
script fails if a write is refused or lost, or if the read-only file changes.

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
from pathlib import Path
from typing import Any

import requests

ORG = "acme"
HEADERS = {"Authorization": "Bearer symsync-emulator"}
TARGET_MS = 5.0
LOGGED = 10_000
WARM_UP = 20
LIMITS = ("--rate-limit", "1000000/1", "--concurrent-limit", "1000")
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


class Emulator:
    """One ``symsync emulator`` process, its session, and the PUTs it answered."""

    def __init__(self, state_path: Path, projects: int, *args: str) -> None:
        self.state_path = state_path
        self.projects = projects
        self.args = args
        self.rng = random.Random(projects)
        self.failures: list[str] = []
        self.last = ("", "")  # the project last written, and the name it was given
        self.writes = 0
        self._start()

    def _start(self) -> None:
        command = [
            sys.executable, "-m", "reconciler", "emulator", "--port", "0",
            "--state", str(self.state_path), *self.args,
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
        self.session = requests.Session()

    def put(self) -> float:
        """One PUT to a random project; answers its time in ms."""
        project = f"project-{self.rng.randrange(self.projects):05d}"
        self.writes += 1
        name = f"Renamed {self.writes}"
        body = _source(0, name, {"hidden-secret": True})
        started = time.perf_counter()
        response = self.session.put(
            f"{self.url}/api/0/projects/{ORG}/{project}/symbol-sources/?id=src-0",
            json=body,
            headers=HEADERS,
        )
        elapsed = (time.perf_counter() - started) * 1000
        if response.status_code != 200:
            self.failures.append(f"PUT {project}: {response.status_code} {response.text[:200]}")
        self.last = (project, name)
        return elapsed

    def timed_get(self, path: str) -> tuple[Any, float]:
        started = time.perf_counter()
        data = self.session.get(f"{self.url}{path}").json()
        return data, (time.perf_counter() - started) * 1000

    def kill_and_restart(self) -> float:
        """``kill -9``, then start again on the same file: answers the time to listening."""
        self.session.close()
        self.process.kill()
        self.process.wait(timeout=30)
        self._start()
        return self.startup_ms

    def stop(self) -> float:
        self.session.close()
        started = time.perf_counter()
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=120)
        return (time.perf_counter() - started) * 1000


def _take_turns(emulators: list[Emulator], puts: int) -> list[list[float]]:
    for emulator in emulators:
        for _ in range(WARM_UP):  # connection, first-touch costs
            emulator.put()
    times: list[list[float]] = [[] for _ in emulators]
    for _ in range(puts):
        for index, emulator in enumerate(emulators):
            times[index].append(emulator.put())
    return times


def _parallel(emulator: Emulator, puts: int, clients: int = 8) -> float:
    """``clients`` threads writing at once, each to its own projects (as apply does)."""

    def worker(index: int) -> None:
        with requests.Session() as session:
            for n in range(puts // clients):
                project = f"project-{(index + n * clients) % emulator.projects:05d}"
                response = session.put(
                    f"{emulator.url}/api/0/projects/{ORG}/{project}/symbol-sources/?id=src-0",
                    json=_source(0, f"Parallel {n}", {"hidden-secret": True}),
                    headers=HEADERS,
                )
                if response.status_code != 200:
                    emulator.failures.append(f"PUT {project}: {response.status_code}")

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return (puts // clients) * clients / (time.perf_counter() - started)


def _fill_log(emulator: Emulator, count: int, clients: int = 8) -> None:
    """``count`` cheap API requests (an unknown route: an empty 404, recorded like any)."""

    def worker() -> None:
        with requests.Session() as session:
            for _ in range(count // clients):
                session.get(f"{emulator.url}/api/0/no-such-route/")

    threads = [threading.Thread(target=worker) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def _first_name(state: Any, project: str) -> Any:
    return state["organizations"][ORG]["projects"][project]["symbol_sources"][0]["name"]


def _figures(times: list[float]) -> tuple[float, float]:
    ordered = sorted(times)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]


def _row(label: str, times: list[float]) -> str:
    median, p95 = _figures(times)
    return f"{label:<46} {median:8.2f} {p95:8.2f}"


def _measure_size(
    tmp: Path, size: int, sources: int, puts: int, small: Emulator, rows: list[str]
) -> list[str]:
    seeded = json.dumps(_state(size, sources))
    paths = {name: tmp / f"{name}-{size}.json" for name in ("saved", "readonly", "limited")}
    for path in paths.values():
        path.write_text(seeded, encoding="utf-8")
    os.chmod(paths["readonly"], 0o444)
    saved = Emulator(paths["saved"], size)
    readonly = Emulator(paths["readonly"], size)
    limited = Emulator(paths["limited"], size, *LIMITS)
    everyone = [saved, readonly, limited, small]
    try:
        t_saved, t_readonly, t_limited, t_small = _take_turns(everyone, puts)
        writes_per_s = _parallel(limited, puts)
        _fill_log(limited, LOGGED)
        t_saved_again, t_full_log = _take_turns([saved, limited], puts)
        _, state_ms = saved.timed_get("/_emulator/state")
        logged, requests_ms = limited.timed_get("/_emulator/requests")
        last_project, last_name = saved.last
        start_ms, written = saved.startup_ms, saved.writes
        restart_ms = saved.kill_and_restart()
        restarted, _ = saved.timed_get("/_emulator/state")
        if _first_name(restarted, last_project) != last_name:
            saved.failures.append(f"after kill -9 and a restart, {last_project} lacks its write")
    finally:
        stop_ms = saved.stop()
        readonly.stop()
        limited.stop()
    if _first_name(json.loads(paths["saved"].read_text()), last_project) != last_name:
        saved.failures.append(
            f"after a clean stop, the file lacks the last write to {last_project}"
        )
    if paths["readonly"].read_text(encoding="utf-8") != seeded:
        readonly.failures.append("the read-only state file was changed")

    median = statistics.median
    rows.append(_row(f"{size:,} projects, saved", t_saved))
    rows.append(_row(f"{size:,} projects, read-only file (never saved)", t_readonly))
    rows.append(_row("10 projects, saved (same turns)", t_small))
    rows.append(_row(f"{size:,} projects, saved, limiters on", t_limited))
    rows.append(_row(f"{size:,} projects, saved, limiters on, full log", t_full_log))
    rows.append(
        f"    ratios of medians: saved / read-only {median(t_saved) / median(t_readonly):.2f}; "
        f"saved / 10 projects {median(t_saved) / median(t_small):.2f}; "
        f"limiters on / off {median(t_limited) / median(t_saved):.2f}; "
        f"with {len(logged):,} requests logged / saved "
        f"{median(t_full_log) / median(t_saved_again):.2f}; "
        f"target {TARGET_MS:.0f} ms: {'met' if median(t_saved) < TARGET_MS else 'NOT met'}"
    )
    rows.append(
        f"    start to 'listening on' {start_ms:.0f} ms; after kill -9 and {written:,} writes "
        f"{restart_ms:.0f} ms; clean stop (writes the JSON file) {stop_ms:.0f} ms"
    )
    rows.append(
        f"    GET /_emulator/state {state_ms:.0f} ms; GET /_emulator/requests "
        f"({len(logged):,} entries) {requests_ms:.0f} ms; 8 clients writing at once: "
        f"{writes_per_s:.0f} writes/s"
    )
    return saved.failures + readonly.failures + limited.failures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--projects", default="1000,10000", help="comma-separated sizes")
    parser.add_argument("--puts", type=int, default=400, help="timed PUTs per emulator and turn")
    parser.add_argument("--sources", type=int, default=3)
    options = parser.parse_args()
    sizes = [int(size) for size in options.projects.split(",")]
    failures: list[str] = []
    rows: list[str] = []
    with tempfile.TemporaryDirectory(prefix="symsync-bench-writes-") as tmp:
        small_path = Path(tmp) / "small.json"
        small_path.write_text(json.dumps(_state(10, options.sources)), encoding="utf-8")
        small = Emulator(small_path, 10)
        try:
            for size in sizes:
                failures += _measure_size(
                    Path(tmp), size, options.sources, options.puts, small, rows
                )
        finally:
            small.stop()
        failures += small.failures
    print(
        f"emulator writes: {options.puts} PUTs per emulator, one after another on keep-alive "
        f"sessions, the emulators taking turns; {options.sources} sources per project, loopback"
    )
    print(f"{'run':<46} {'median':>8} {'p95':>8}  (ms per PUT)")
    for row in rows:
        print(row)
    for failure in failures[:10]:
        print(f"FAILED: {failure}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
