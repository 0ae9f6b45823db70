"""End to end: SIGINT and SIGTERM sent to the real CLI while it writes to the real emulator.

The emulator answers every request after ``--latency-ms``, so writes are in flight when the
signal comes. "No write started after the signal" is checked from the order of events, never
from how long anything took: the CLI reports each write before it starts the next one of that
project, and says when it has stopped starting writes, so after that line only the write in
flight of each project can be reported; and the emulator's request log says when each request
arrived (``received_monotonic``, the machine's monotonic clock, which this process reads too),
so at most one write per project arrives after the signal was sent. The waits for the CLI to
end are generous; what they guard is that it does not wait for a request's deadline or for
its retry budget, which are far longer.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from reconciler.core import interrupt
from reconciler.emulator.testing import running_emulator
from tests.support.e2e_helpers import (
    EMULATOR_TOKEN,
    clean_env,
    result_row,
    sources_in,
    state_doc,
    symsync,
    write_tree,
)
from tests.support.hostile_sentry import HostileSentry, Rule, hang, json_reply

pytestmark = pytest.mark.e2e

LATENCY_MS = 600
# A request's deadline that the CLI must not wait for, once told to stop.
LONG_TIMEOUT = ("--timeout", "600")
PROJECTS = ("acme/one", "acme/three", "acme/two")
WRITES = ("s1", "s2", "s3", "s4")


def _http(sid: str) -> dict[str, Any]:
    return {
        "id": sid,
        "type": "http",
        "name": f"{sid} server",
        "url": f"https://{sid}.example/",
        "layout": {"type": "native", "casing": "default"},
    }


class Running:
    """The CLI as a subprocess, its stderr read line by line as it comes."""

    def __init__(self, *args: str, env: dict[str, str]) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "reconciler", *args],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: list[str] = []
        self._seen = threading.Condition()
        self._out: list[str] = []
        self._readers = [
            threading.Thread(target=self._read, daemon=True),
            threading.Thread(target=self._read_stdout, daemon=True),
        ]
        for reader in self._readers:
            reader.start()

    def _read_stdout(self) -> None:
        assert self.process.stdout is not None
        self._out.append(self.process.stdout.read())

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            with self._seen:
                self.lines.append(line)
                self._seen.notify_all()

    def wait_for(self, text: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        with self._seen:
            while not any(text in line for line in self.lines):
                left = deadline - time.monotonic()
                if left <= 0 or self.process.poll() is not None:
                    raise AssertionError(f"never saw {text!r}:\n{''.join(self.lines)}")
                self._seen.wait(min(left, 0.1))

    def finish(self, timeout: float = 30) -> tuple[int, str, str]:
        self.process.wait(timeout=timeout)
        for reader in self._readers:
            reader.join(timeout=5)
        return self.process.returncode, "".join(self._out), "".join(self.lines)

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def detail(stderr: str, key: str) -> str:
    """The detail cell of ``key``'s row in the result table, folded lines joined."""
    rows = [line.strip().strip("│").split("│") for line in stderr.splitlines() if "│" in line]
    text: list[str] = []
    inside = False
    for cells in rows:
        first = cells[0].strip()
        if first == key:
            inside = True
        elif first:
            inside = False
        if inside:
            text.append(cells[-1].strip())
    assert text, f"no row for {key}:\n{stderr}"
    return " ".join(text)


def listed(text: str, label: str) -> list[str]:
    """The source ids after ``label:`` in a detail cell ("written: create s1, create s2; ...")."""
    part = text.split(f"{label}: ", 1)[1].split(";", 1)[0]
    if part.strip() == "nothing":
        return []
    return [item.split()[-1] for item in part.split(",")]


@pytest.fixture
def configs(tmp_path: Path) -> Path:
    return write_tree(tmp_path, {key: {"sources": [_http(s) for s in WRITES]} for key in PROJECTS})


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_mid_apply_finishes_the_writes_in_flight_and_starts_no_other(
    signum, code, configs
):
    state = state_doc({key: [] for key in PROJECTS})
    with running_emulator("--latency-ms", str(LATENCY_MS), state=state) as emu:
        env = clean_env(SENTRY_URL=emu.url, SENTRY_AUTH_TOKEN=EMULATOR_TOKEN)
        run = Running("apply", "--yes", "--verbose", "--config-dir", str(configs), env=env)
        try:
            run.wait_for(": created `s1`")  # one write done; the others' are in flight
            sent = time.monotonic()
            run.process.send_signal(signum)
            rc, _, stderr = run.finish()
        finally:
            run.kill()
        log = emu.requests()
        remote = emu.state()

        assert rc == code, stderr
        assert "Traceback" not in stderr
        assert f"{signum.name}: no new write starts" in stderr
        assert f"Stopped by {signum.name} after finishing the writes in flight" in stderr

        # The stop flag is set before this line is printed, each write is reported before the
        # next of its project starts and every project's writes are sequential: after the line,
        # a project can report only its write in flight.
        said_after = stderr.split(f"{signum.name}: no new write starts", 1)[1]
        reported = [line.split(":")[0] for line in said_after.splitlines() if ": created `" in line]
        assert len(reported) == len(set(reported)), "a write started after the signal"
        writes = [e for e in log if e["method"] != "GET"]
        after = [e["path"] for e in writes if e["received_monotonic"] > sent]
        assert len(after) == len(set(after)), "more than one write per project after the signal"

        remaining: dict[str, list[str]] = {}
        for key in PROJECTS:
            stored = [s["id"] for s in sources_in(remote, key)]
            cells = result_row(stderr, key)
            text = detail(stderr, key)
            # Every write the emulator committed is in the table, and nothing else is.
            assert listed(text, "written") == stored, text
            assert stored + listed(text, "not written") == list(WRITES), text
            assert cells[2] == f"{len(stored)}/{len(WRITES)}"
            expected = (
                "applied" if len(stored) == len(WRITES) else
                "interrupted" if stored else "not started"
            )  # fmt: skip
            assert cells[1] == expected
            if expected == "interrupted":
                assert f"interrupted after {len(stored)} of {len(WRITES)} writes" in text
            remaining[key] = [f"create {s}" for s in WRITES if s not in stored]
        assert any(remaining.values()), "the signal came too late to interrupt anything"

        # A later plan shows exactly what was not written.
        again = symsync(
            "plan", "--config-dir", str(configs), "--format", "json", env=env
        )  # fmt: skip
        assert again.returncode == 0, again.stderr
        planned = {
            f"{p['organization']}/{p['project']}": [
                f"{c['action']} {c['source_id']}" for c in p["changes"]
            ]
            for p in json.loads(again.stdout)["projects"]
        }
        assert planned == remaining


def test_a_second_sigint_exits_at_once(tmp_path: Path):
    configs = write_tree(tmp_path, {"acme/one": {"sources": [_http("s1"), _http("s2")]}})
    rules = [Rule("GET", "/symbol-sources/$", json_reply(200, [])), Rule("POST", ".", hang)]
    with HostileSentry(rules) as server:
        env = clean_env(SENTRY_URL=server.url, SENTRY_AUTH_TOKEN=EMULATOR_TOKEN)
        run = Running("apply", "--yes", "--config-dir", str(configs), *LONG_TIMEOUT, env=env)
        try:
            server.wait_for("POST")  # the first write is in flight, and never answered
            run.process.send_signal(signal.SIGINT)
            run.wait_for("SIGINT: no new write starts", timeout=10)
            # A second signal within a second of the first is the same interrupt (a sender
            # that signals the process group delivers it twice): a person's second Ctrl-C
            # comes later.
            time.sleep(interrupt.BURST + 0.2)
            run.process.send_signal(signal.SIGINT)
            # At once: not when the write in flight would time out, 600 s from now.
            rc, _, stderr = run.finish(timeout=30)
        finally:
            run.kill()
        writes = server.writes()
    assert rc == 130
    assert "SIGINT again: exiting at once" in stderr
    assert "Traceback" not in stderr
    assert len(writes) == 1  # the second source was never sent


@pytest.mark.parametrize("command", ["plan", "import"])
def test_plan_and_import_stop_promptly_on_sigint(command, tmp_path: Path):
    configs = write_tree(tmp_path, {"acme/one": {"sources": [_http("s1")]}})
    with HostileSentry([Rule("GET", ".", hang)]) as server:  # every read hangs
        env = clean_env(SENTRY_URL=server.url, SENTRY_AUTH_TOKEN=EMULATOR_TOKEN)
        args = (
            ("plan", "--config-dir", str(configs)) if command == "plan" else
            ("import", "--org", "acme", "--config-dir", str(tmp_path / "imported"))
        )  # fmt: skip
        run = Running(*args, *LONG_TIMEOUT, env=env)
        try:
            server.wait_for("GET")
            run.process.send_signal(signal.SIGINT)
            # Promptly: not when the hanging read would time out, 600 s from now.
            rc, _, stderr = run.finish(timeout=30)
        finally:
            run.kill()
    assert rc == 130, stderr
    assert f"SIGINT: {command} stopped; nothing was written." in stderr
    assert "Traceback" not in stderr and "Aborted" not in stderr
    assert not (tmp_path / "imported").exists()


def test_a_retrying_write_stops_retrying_at_the_signal_and_is_settled_with_one_read(
    tmp_path: Path,
):
    configs = write_tree(tmp_path, {"acme/one": {"sources": [_http("s1"), _http("s2")]}})
    rules = [
        Rule("GET", "/symbol-sources/$", json_reply(200, [])),
        # Every answer to the write is a 503, after which it may or may not have been written:
        # the client retries it for the whole (long) budget unless told to stop.
        Rule("POST", ".", json_reply(503, {"detail": "Service Unavailable"})),
    ]
    with HostileSentry(rules) as server:
        env = clean_env(SENTRY_URL=server.url, SENTRY_AUTH_TOKEN=EMULATOR_TOKEN)
        run = Running(
            "apply", "--yes", "--config-dir", str(configs), "--retry-budget", "120", env=env
        )
        try:
            server.wait_for("POST", count=2)  # retrying now
            sent = time.monotonic()
            run.process.send_signal(signal.SIGINT)
            # The retries stop: the run ends long before its 120 s retry budget would.
            rc, _, stderr = run.finish(timeout=30)
        finally:
            run.kill()
        writes_after = [r for r in server.writes() if r.at > sent]
        reads_after = [
            (r.method, r.query) for r in server.requests() if r.at > sent and not r.is_write
        ]
    assert rc == 130, stderr
    assert "Traceback" not in stderr
    # No retry after the signal (only the attempt already on its way may arrive after it was
    # sent), and the uncertain write settled with one read of the source.
    assert len(writes_after) <= 1, writes_after
    assert reads_after == [("GET", "id=s1")]
    cells = result_row(stderr, "acme/one")
    assert cells[1] == "failed" and cells[2] == "0/2"
    assert not any(b'"s2"' in r.body for r in server.writes())
