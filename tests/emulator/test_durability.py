"""``symsync emulator --state FILE`` killed and restarted, as a user would: the real CLI.

An answered write survives ``kill -9``; a kill at any moment leaves a state that loads; a clean
stop (SIGINT or SIGTERM) leaves the complete state in the JSON file and nothing beside it; on a
full disk writes are refused with 503 and every one answered survives a kill.

The random-kill loop runs a few seeded rounds here, and ``SYMSYNC_SOAK_KILLS`` rounds (40 by
default) in ``make soak``, which also fills a small tmpfs under a running emulator (where this
machine lets the tests mount one).
"""

from __future__ import annotations

import json
import os
import random
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import requests

from reconciler.emulator.state import EmulatorState
from tests.support.emulator_support import AUTH, ORG, http_source, state_of

pytestmark = pytest.mark.e2e

LISTENING_RE = re.compile(r"listening on (http://\S+)")
KILL_ROUNDS = 4
SOAK_KILL_ROUNDS = int(os.environ.get("SYMSYNC_SOAK_KILLS", "40"))


class Emulator:
    """The CLI on a given state file, which outlives it (``running_emulator`` makes its own)."""

    def __init__(self, path: Path) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "reconciler", "emulator", "--port", "0", "--state", str(path)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        match = LISTENING_RE.search(line)
        if match is None:
            self.process.kill()
            _, err = self.process.communicate(timeout=10)
            raise AssertionError(f"the emulator did not start: {line!r} {err}")
        self.url = match.group(1)

    def state(self) -> Any:
        return requests.get(f"{self.url}/_emulator/state", timeout=10).json()

    def kill(self) -> None:
        self.process.kill()  # SIGKILL: nothing runs after it
        self.process.communicate(timeout=10)

    def stop(self, sig: signal.Signals = signal.SIGTERM) -> str:
        self.process.send_signal(sig)
        _, err = self.process.communicate(timeout=30)
        assert self.process.returncode == 0, err
        return err


@contextmanager
def emulator_on(path: Path) -> Iterator[Emulator]:
    emulator = Emulator(path)
    try:
        yield emulator
    finally:
        if emulator.process.poll() is None:
            emulator.kill()


def _sources_url(url: str, project: str) -> str:
    return f"{url}/api/0/projects/{ORG}/{project}/symbol-sources/"


def _rename(session: requests.Session, url: str, project: str, name: str) -> int:
    body = {**http_source("web", password={"hidden-secret": True}), "name": name}
    response = session.put(_sources_url(url, project) + "?id=web", json=body, headers=AUTH)
    return response.status_code


def _names_in(state: Any) -> dict[str, str]:
    projects = state["organizations"][ORG]["projects"]
    return {slug: p["symbol_sources"][0]["name"] for slug, p in projects.items()}


def _files_beside(path: Path) -> list[str]:
    return sorted(p.name for p in path.parent.iterdir() if p.name != path.name)


def test_an_answered_write_survives_kill_9(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    path.write_text(json.dumps(state_of({"ios": [http_source("web", password="pw-1")]})))
    with emulator_on(path) as emulator, requests.Session() as session:
        assert _rename(session, emulator.url, "ios", "answered") == 200
        emulator.kill()
    with emulator_on(path) as emulator:
        state = emulator.state()
        assert _names_in(state) == {"ios": "answered"}
        # The secret that the write sent back as a placeholder is still the stored one.
        assert (
            state["organizations"][ORG]["projects"]["ios"]["symbol_sources"][0]["password"]
            == "pw-1"
        )
        emulator.stop()
    assert _names_in(json.loads(path.read_text())) == {"ios": "answered"}
    assert _files_beside(path) == []


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_clean_stop_leaves_the_complete_state_in_the_file(
    tmp_path: Path, sig: signal.Signals
) -> None:
    path = tmp_path / "state.json"
    projects = {f"p{i:03d}": [http_source("web", password=f"pw-{i}")] for i in range(200)}
    path.write_text(json.dumps(state_of(projects)))
    with emulator_on(path) as emulator, requests.Session() as session:
        for i in range(0, 200, 3):
            assert _rename(session, emulator.url, f"p{i:03d}", f"n{i}") == 200
        live = emulator.state()
        err = emulator.stop(sig)  # at once: the file has not caught up yet
    assert "Traceback" not in err
    assert json.loads(path.read_text()) == live
    assert _names_in(live)["p003"] == "n3"
    assert _files_beside(path) == []


class Writer:
    """Writes to random projects one after another, pausing now and then (so the file is also
    rewritten in the background), and notes what was answered."""

    def __init__(self, url: str, projects: list[str], rng: random.Random) -> None:
        self.url = url
        self.projects = projects
        self.rng = rng
        self.answered: dict[str, str] = {}  # project -> last name answered
        self.in_flight: dict[str, str] = {}  # project -> name sent, not (yet) answered
        self.counter = 0
        self.failures: list[str] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        with requests.Session() as session:
            while not self.stop.is_set():
                if self.rng.random() < 0.05:
                    time.sleep(self.rng.uniform(0.4, 0.8))
                    continue
                project = self.rng.choice(self.projects)
                self.counter += 1
                name = f"w{self.counter}"
                self.in_flight[project] = name
                try:
                    status = _rename(session, self.url, project, name)
                except requests.ConnectionError:
                    return  # killed
                if status != 200:
                    self.failures.append(f"{project}: {status}")
                    return
                self.answered[project] = name
                del self.in_flight[project]


def test_kills_at_random_moments_leave_a_state_that_loads_with_every_answered_write(
    tmp_path: Path,
) -> None:
    _kill_during_write_bursts(tmp_path, KILL_ROUNDS)


@pytest.mark.soak
def test_many_kills_during_write_bursts_lose_no_answered_write(tmp_path: Path) -> None:
    _kill_during_write_bursts(tmp_path, SOAK_KILL_ROUNDS)


def _kill_during_write_bursts(tmp_path: Path, rounds: int) -> None:
    rng = random.Random(20261202)
    path = tmp_path / "state.json"
    slugs = [f"p{i:03d}" for i in range(300)]
    seed = {s: [http_source("web", name="seed", password=f"pw-{s}")] for s in slugs}
    path.write_text(json.dumps(state_of(seed)))
    expected = dict.fromkeys(slugs, "seed")  # what must be there after a restart
    maybe: dict[str, str] = {}  # a write in flight at the kill may or may not be there
    for _round in range(rounds):
        with emulator_on(path) as emulator:
            names = _names_in(emulator.state())
            for slug in slugs:
                assert names[slug] in (expected[slug], maybe.get(slug)), slug
            expected = names
            writer = Writer(emulator.url, slugs, random.Random(rng.random()))
            writer.thread.start()
            time.sleep(rng.uniform(0.05, 1.2))
            emulator.kill()
            writer.stop.set()
            writer.thread.join(timeout=10)
        assert writer.failures == []
        expected.update(writer.answered)
        maybe = dict(writer.in_flight)
        # Whatever the moment of the kill, the file on its own loads.
        EmulatorState.from_dict(json.loads(path.read_text()))
    with emulator_on(path) as emulator:
        state = emulator.state()
        names = _names_in(state)
        for slug in slugs:
            assert names[slug] in (expected[slug], maybe.get(slug)), slug
        stored = state["organizations"][ORG]["projects"]
        assert all(stored[s]["symbol_sources"][0]["password"] == f"pw-{s}" for s in slugs)
        emulator.stop()
    assert _names_in(json.loads(path.read_text())) == names
    assert _files_beside(path) == []


@contextmanager
def _small_disk(folder: Path, size: str = "8m") -> Iterator[Path]:
    """A tmpfs of ``size`` mounted on ``folder`` (needs root; the test is skipped without)."""
    folder.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
        capture_output=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode(errors='replace')}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


def _fill(folder: Path) -> Path:
    filler = folder / "filler"
    with open(filler, "wb", buffering=0) as out:
        try:
            while True:
                out.write(b"\0" * 4096)
        except OSError:
            pass
    return filler


@pytest.mark.soak
def test_a_full_disk_refuses_writes_with_503_and_loses_none_answered_across_a_kill(
    tmp_path: Path,
) -> None:
    with _small_disk(tmp_path / "disk") as disk:
        path = disk / "state.json"
        path.write_text(json.dumps(state_of({"ios": []})))
        answered: list[str] = []
        refused: list[str] = []
        big = "n" * 2000  # each write grows the journal
        with emulator_on(path) as emulator, requests.Session() as session:

            def post(i: int) -> int:
                body = http_source(f"s{i:04d}", name=big)
                status = session.post(
                    _sources_url(emulator.url, "ios"), json=body, headers=AUTH, timeout=30
                ).status_code
                (answered if status == 201 else refused).append(body["id"])
                return status

            for i in range(5):
                assert post(i) == 201
            filler = _fill(disk)
            statuses = [post(i) for i in range(5, 100)]
            assert 503 in statuses
            assert set(statuses) <= {201, 503}
            listed = session.get(_sources_url(emulator.url, "ios"), headers=AUTH, timeout=30)
            assert listed.status_code == 200  # reads go on
            assert [s["id"] for s in listed.json()] == answered
            filler.unlink()
            assert post(500) == 201  # writes are saved again
            emulator.kill()
        with emulator_on(path) as emulator:
            stored = [
                s["id"]
                for s in emulator.state()["organizations"][ORG]["projects"]["ios"]["symbol_sources"]
            ]
            emulator.stop()
    assert stored == answered
    assert not set(stored) & set(refused)
