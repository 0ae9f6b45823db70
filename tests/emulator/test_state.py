"""The state file: loading, the write journal beside it, the file catching up, restart,
recovery after a crash at each step of saving, concurrency, a read-only file."""

from __future__ import annotations

import io
import json
import os
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from reconciler.core import atomic
from reconciler.emulator import journal as journal_module
from reconciler.emulator import persistence
from reconciler.emulator.state import EmulatorState, StateFileError
from reconciler.emulator.testing import serving_emulator
from tests.support.emulator_support import AUTH, ORG, http_source, s3_source, state_of

SOURCES = f"/api/0/projects/{ORG}/ios/symbol-sources/"
JOURNAL_SUFFIX = ".journal.sqlite3"


class _Killed(BaseException):
    """Stands for the process being killed at this point: nothing after it runs."""


def _write_state(path: Path, data: object) -> None:
    path.write_text(json.dumps(data), encoding="utf-8")


def _file_state(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def _names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def _wait_for(condition: Any, seconds: float = 15.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return bool(condition())


def _journal_rows(path: Path) -> list[tuple[str, str, str]]:
    with sqlite3.connect(path.with_name(path.name + JOURNAL_SUFFIX)) as db:
        rows = db.execute("SELECT organization, project, symbol_sources FROM writes").fetchall()
    return [(str(o), str(p), str(s)) for o, p, s in rows]


@pytest.fixture
def large_state(monkeypatch: pytest.MonkeyPatch) -> None:
    """A state counted as large: its file follows the writes in the background, not after each
    one (as a state of more than ``persistence.SYNC_BYTES`` does)."""
    monkeypatch.setattr(persistence, "SYNC_BYTES", -1)


@pytest.fixture
def no_background_export(monkeypatch: pytest.MonkeyPatch, large_state: None) -> None:
    """The file is written only when a test says so (or on close)."""
    monkeypatch.setattr(persistence, "IDLE_SECONDS", 3600.0)
    monkeypatch.setattr(persistence, "MAX_LAG_SECONDS", 3600.0)


def _set_sources(state: EmulatorState, project: str, sources: list[dict[str, Any]]) -> None:
    """One write, as a handler makes it: a new list, then the commit, under the lock."""
    with state.lock:
        found = state.find_project(ORG, project)
        assert found is not None
        found.symbol_sources = sources
        state.commit(found)


def _sources_of(state: EmulatorState, project: str) -> Any:
    return state.to_dict()["organizations"][ORG]["projects"][project]["symbol_sources"]


def _rename(session: requests.Session, url: str, i: int) -> None:
    """One PUT that renames project ``p{i}``'s source and sends its password back as Sentry's
    placeholder, as apply does."""
    body = {**http_source("web", password={"hidden-secret": True}), "name": f"n{i}"}
    response = session.put(
        f"{url}/api/0/projects/{ORG}/p{i}/symbol-sources/?id=web",
        json=body,
        headers=AUTH,
        timeout=10,
    )
    assert response.status_code == 200


# -- the journal, the file catching up, a clean stop ------------------------------------------


def test_a_write_is_journaled_before_it_is_answered_and_the_file_catches_up(
    tmp_path: Path, large_state: None
) -> None:
    path = tmp_path / "state.json"
    _write_state(path, state_of({"ios": []}))
    with serving_emulator(state_path=path) as handle:
        created = requests.post(
            handle.url + SOURCES,
            json=s3_source("b", secret_key="plain-secret"),
            headers=AUTH,
            timeout=10,
        )
        assert created.status_code == 201
        # Answered: the journal beside the file holds the project's new list.
        rows = _journal_rows(path)
        assert [(o, p, json.loads(s)) for o, p, s in rows] == [
            (ORG, "ios", [s3_source("b", secret_key="plain-secret")])
        ]
        expected = state_of({"ios": [s3_source("b", secret_key="plain-secret")]})
        assert handle.state() == expected
        # Once writes pause, the file itself is rewritten, secrets in clear.
        assert _wait_for(lambda: _file_state(path) == expected)
        requests.delete(handle.url + SOURCES + "?id=b", headers=AUTH, timeout=10)
        assert _wait_for(lambda: _file_state(path) == state_of({"ios": []}))
    assert _names(tmp_path) == ["state.json"]  # the journal goes with a clean stop


def test_a_clean_stop_leaves_the_complete_state_in_the_file(
    tmp_path: Path, no_background_export: None
) -> None:
    path = tmp_path / "state.json"
    projects = {f"p{i}": [http_source("web", password=f"pw-{i}")] for i in range(20)}
    _write_state(path, state_of(projects))
    with serving_emulator(state_path=path) as handle:
        with requests.Session() as session:
            for i in range(20):
                _rename(session, handle.url, i)
        assert _file_state(path) == state_of(projects)  # not yet rewritten
        final = handle.state()
    assert _file_state(path) == final
    assert final == state_of(
        {f"p{i}": [http_source("web", password=f"pw-{i}", name=f"n{i}")] for i in range(20)}
    )
    assert _names(tmp_path) == ["state.json"]


def test_the_files_are_private_while_running_and_after(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    _write_state(path, state_of({"ios": []}))
    with serving_emulator(state_path=path) as handle:
        requests.post(handle.url + SOURCES, json=http_source("a"), headers=AUTH, timeout=10)
        journal_files = [p for p in tmp_path.iterdir() if JOURNAL_SUFFIX in p.name]
        assert journal_files
        for file in journal_files:
            assert os.stat(file).st_mode & 0o077 == 0, file.name  # secrets in clear
    assert os.stat(path).st_mode & 0o077 == 0


def test_concurrent_writes_lose_nothing(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    _write_state(path, state_of({"ios": []}))
    with serving_emulator(state_path=path) as handle:
        barrier = threading.Barrier(16)
        statuses: list[int] = []

        def create(index: int) -> None:
            barrier.wait()
            response = requests.post(
                handle.url + SOURCES, json=http_source(f"s{index}"), headers=AUTH, timeout=10
            )
            statuses.append(response.status_code)

        threads = [threading.Thread(target=create, args=(i,)) for i in range(16)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert statuses == [201] * 16
        live = handle.state()["organizations"][ORG]["projects"]["ios"]["symbol_sources"]
    stored = _file_state(path)["organizations"][ORG]["projects"]["ios"]["symbol_sources"]
    expected = sorted(f"s{i}" for i in range(16))
    assert sorted(s["id"] for s in live) == expected
    assert stored == live


def test_restart_with_the_saved_state_serves_the_same_sources(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    _write_state(path, state_of({"ios": [http_source("a")]}))
    with serving_emulator(state_path=path) as handle:
        requests.post(
            handle.url + SOURCES, json=http_source("b", password="pw"), headers=AUTH, timeout=10
        )
        first = handle.state()
    with serving_emulator(state_path=path) as handle:
        assert handle.state() == first
        listed = requests.get(handle.url + SOURCES, headers=AUTH, timeout=10).json()
        assert [s["id"] for s in listed] == ["a", "b"]
        assert listed[1]["password"] == {"hidden-secret": True}


def test_a_small_state_is_in_the_file_as_soon_as_a_write_is_answered(tmp_path: Path) -> None:
    """The state file is saved after every write (a state of up to
    ``persistence.SYNC_BYTES``, which any test-sized state is)."""
    path = tmp_path / "state.json"
    projects = {f"p{i}": [http_source("web", password=f"pw-{i}")] for i in range(20)}
    _write_state(path, state_of(projects))
    with serving_emulator(state_path=path) as handle, requests.Session() as session:
        for i in (3, 7, 3):
            _rename(session, handle.url, i)
            # No wait: read the moment the answer is in.
            assert _file_state(path) == handle.state()
        created = session.post(
            f"{handle.url}/api/0/projects/{ORG}/p1/symbol-sources/",
            json=s3_source("b", secret_key="plain-secret"),
            headers=AUTH,
            timeout=10,
        )
        assert created.status_code == 201
        saved = _file_state(path)["organizations"][ORG]["projects"]["p1"]["symbol_sources"]
        assert [s["id"] for s in saved] == ["web", "b"]
        assert saved[1]["secret_key"] == "plain-secret"  # the file holds secrets in clear
        assert saved[0]["password"] == "pw-1"
    assert _names(tmp_path) == ["state.json"]


def test_a_large_state_is_not_rewritten_whole_on_every_write(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "state.json"
    projects = {f"p{i}": [http_source("web", password=f"pw-{i}")] for i in range(20)}
    _write_state(path, state_of(projects))
    # This state's file is some 5 KB: make anything over 1 KB count as large.
    monkeypatch.setattr(persistence, "SYNC_BYTES", 1024)
    monkeypatch.setattr(persistence, "IDLE_SECONDS", 3600.0)
    monkeypatch.setattr(persistence, "MAX_LAG_SECONDS", 3600.0)
    with serving_emulator(state_path=path) as handle, requests.Session() as session:
        _rename(session, handle.url, 0)
        assert _file_state(path) == state_of(projects)  # the journal holds the write
        assert [p for _, p, _ in _journal_rows(path)] == ["p0"]
        final = handle.state()
    assert _file_state(path) == final


# -- the file format, for seeding and reading --------------------------------------------------

SEED: dict[str, Any] = {
    "organizations": {
        ORG: {
            "id": 7,
            "name": "ACME Ltd",
            "plan": {"tier": "business"},
            "projects": {
                "ios": {
                    "id": "42",
                    "name": "iOS app",
                    "platform": "apple-ios",
                    "symbol_sources": [],
                },
                "old-web": {"previous_slugs": ["web"], "team": "front", "symbol_sources": []},
                "légacy": {"symbol_sources": [{"type": "appStoreConnect", "id": "x"}]},
                "bare": {},
            },
        },
        "empty-org": {},
        "no-projects": {"projects": {}},
    }
}


def test_the_saved_file_keeps_the_seeding_format(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    _write_state(path, SEED)
    with serving_emulator(state_path=path) as handle:
        created = requests.post(
            handle.url + SOURCES, json=http_source("a", password="pw"), headers=AUTH, timeout=10
        )
        assert created.status_code == 201
    saved = _file_state(path)
    expected = json.loads(json.dumps(SEED))
    expected["organizations"][ORG]["id"] = "7"  # ids are kept as Sentry's, strings of digits
    expected["organizations"][ORG]["projects"]["ios"]["symbol_sources"] = [
        http_source("a", password="pw")
    ]
    expected["organizations"][ORG]["projects"]["bare"] = {"symbol_sources": []}
    expected["organizations"]["empty-org"] = {"projects": {}}
    assert saved == expected
    again = EmulatorState.load(path)
    ids = {p.slug: p.id for p in again.organizations[ORG].projects.values()}
    assert ids == {"ios": "42", "old-web": "1", "légacy": "2", "bare": "3"}
    assert again.find_moved_project(ORG, "web") is again.find_project(ORG, "old-web")
    assert again.find_project("7", "42") is again.find_project(ORG, "ios")


@pytest.mark.parametrize(
    "data",
    [
        {"organizations": {}},
        SEED,
        state_of({"ios": [http_source("a", name='Ünïcode ☃ "quoted"\n')]}),
        {"organizations": {"a": {"projects": {"x": {"symbol_sources": {"not": "a list"}}}}}},
    ],
)
def test_the_file_text_is_the_state(data: dict[str, Any]) -> None:
    state = EmulatorState.from_dict(data)
    text = state.render_text()
    assert json.loads(text) == state.to_dict()
    assert EmulatorState.from_dict(json.loads(text)).to_dict() == state.to_dict()


def test_the_file_has_one_line_per_project(tmp_path: Path) -> None:
    state = EmulatorState.from_dict(state_of({f"p{i}": [http_source("a")] for i in range(3)}))
    lines = state.render_text().splitlines()
    assert [line.strip().split(":")[0] for line in lines if '"symbol_sources"' in line] == [
        '"p0"',
        '"p1"',
        '"p2"',
    ]


# -- a read-only file, a file that cannot be written -------------------------------------------


def test_a_read_only_state_file_is_loaded_and_never_saved(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    _write_state(path, state_of({"ios": [http_source("a")]}))
    path.chmod(0o444)
    before = path.read_bytes()
    log = io.StringIO()
    try:
        with serving_emulator(state_path=path, log=log) as handle:
            for source_id in ("b", "c"):
                response = requests.post(
                    handle.url + SOURCES, json=http_source(source_id), headers=AUTH, timeout=10
                )
                assert response.status_code == 201
            listed = requests.get(handle.url + SOURCES, headers=AUTH, timeout=10).json()
            assert [s["id"] for s in listed] == ["a", "b", "c"]
            assert _names(tmp_path) == ["state.json"]
    finally:
        path.chmod(0o600)
    assert path.read_bytes() == before
    assert _names(tmp_path) == ["state.json"]


def test_a_read_only_state_file_is_noted_once(tmp_path: Path, capsys: Any) -> None:
    path = tmp_path / "state.json"
    _write_state(path, state_of({"ios": []}))
    path.chmod(0o444)
    try:
        state = EmulatorState.load(path)
        for i in range(3):
            _set_sources(state, "ios", [http_source(f"s{i}")])
        state.close()
    finally:
        path.chmod(0o600)
    err = capsys.readouterr().err
    assert err.count("read-only") == 1
    assert str(path) in err


def test_a_folder_that_cannot_be_written_refuses_writes_with_503_and_keeps_reading(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    path = tmp_path / "state.json"
    _write_state(path, state_of({"ios": [http_source("kept")]}))

    def refuse(*args: object, **kwargs: object) -> None:
        raise PermissionError(13, "Permission denied")

    def no_database(*args: object, **kwargs: object) -> None:
        raise sqlite3.OperationalError("unable to open database file")

    monkeypatch.setattr(journal_module.Journal, "open", no_database)
    monkeypatch.setattr(atomic.tempfile, "mkstemp", refuse)
    with serving_emulator(state_path=path) as handle:
        for i in range(3):
            response = requests.post(
                handle.url + SOURCES, json=http_source(f"s{i}"), headers=AUTH, timeout=10
            )
            assert response.status_code == 503
        listed = requests.get(handle.url + SOURCES, headers=AUTH, timeout=10)
        assert listed.status_code == 200
        assert [s["id"] for s in listed.json()] == ["kept"]  # nothing refused was applied
        assert handle.requests()[-2]["committed"] is False
    err = capsys.readouterr().err
    assert err.count("writes are refused (503)") == 1
    assert _file_state(path) == state_of({"ios": [http_source("kept")]})


def _failing_disk(
    monkeypatch: pytest.MonkeyPatch, errno_value: int, failing: threading.Event
) -> None:
    """While ``failing`` is set, every journal write fails as a full (or failing) disk makes
    SQLite fail."""
    record = journal_module.Journal.record

    def maybe_fail(self: journal_module.Journal, *args: Any) -> None:
        if failing.is_set():
            raise OSError(errno_value, os.strerror(errno_value))
        record(self, *args)

    monkeypatch.setattr(journal_module.Journal, "record", maybe_fail)


@pytest.mark.parametrize("errno_value", [28, 5], ids=["ENOSPC", "EIO"])
def test_a_full_disk_refuses_writes_until_one_can_be_saved_and_loses_none_answered(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: Any,
    errno_value: int,
    no_background_export: None,
) -> None:
    path = tmp_path / "state.json"
    _write_state(path, state_of({"ios": [http_source("a")]}))
    failing = threading.Event()
    _failing_disk(monkeypatch, errno_value, failing)
    answered: list[str] = []
    with serving_emulator(state_path=path) as handle, requests.Session() as session:

        def post(source_id: str) -> int:
            response = session.post(
                handle.url + SOURCES, json=http_source(source_id), headers=AUTH, timeout=10
            )
            if response.status_code == 201:
                answered.append(source_id)
            return response.status_code

        assert post("b") == 201
        failing.set()
        assert [post(f"full{i}") for i in range(3)] == [503, 503, 503]
        delete = session.delete(handle.url + SOURCES + "?id=a", headers=AUTH, timeout=10)
        assert delete.status_code == 503
        listed = session.get(handle.url + SOURCES, headers=AUTH, timeout=10)
        assert [s["id"] for s in listed.json()] == ["a", "b"]  # reads go on, nothing half-done
        failing.clear()
        assert post("c") == 201
        # As after a kill: the emulator still runs, its file was never rewritten.
        assert _file_state(path) == state_of({"ios": [http_source("a")]})
        again = EmulatorState.load(path)
        assert [s["id"] for s in _sources_of(again, "ios")] == ["a", *answered]
    assert answered == ["b", "c"]
    err = capsys.readouterr().err
    assert err.count("writes are refused (503)") == 1
    assert "writes are saved again" in err


def test_a_file_that_cannot_be_replaced_keeps_the_writes_in_the_journal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "state.json"
    _write_state(path, state_of({"ios": [http_source("old")]}))
    before = path.read_bytes()

    def full_disk(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    log = io.StringIO()
    with monkeypatch.context() as patch:
        patch.setattr(persistence.os, "replace", full_disk)
        with serving_emulator(state_path=path, log=log) as handle:
            response = requests.post(
                handle.url + SOURCES, json=http_source("new"), headers=AUTH, timeout=10
            )
            assert response.status_code == 201
    assert path.read_bytes() == before  # whole, and still the old one
    assert path.name + JOURNAL_SUFFIX in _names(tmp_path)  # the write is kept there
    assert not [name for name in _names(tmp_path) if name.endswith(".tmp")]
    with serving_emulator(state_path=path) as handle:
        ids = [s["id"] for s in requests.get(handle.url + SOURCES, headers=AUTH, timeout=10).json()]
        assert ids == ["old", "new"]
    assert [
        s["id"]
        for s in _file_state(path)["organizations"][ORG]["projects"]["ios"]["symbol_sources"]
    ] == ["old", "new"]
    assert _names(tmp_path) == ["state.json"]


# -- recovery: a crash at each step of saving --------------------------------------------------


@pytest.fixture
def seeded(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "state.json"
    _write_state(path, state_of({"ios": [http_source("a")], "android": []}))
    yield path


def test_after_a_crash_the_journal_is_laid_over_the_file(
    seeded: Path, no_background_export: None
) -> None:
    first = EmulatorState.load(seeded)
    _set_sources(first, "ios", [http_source("a"), http_source("b", password="pw")])
    _set_sources(first, "android", [s3_source("s")])
    _set_sources(first, "ios", [http_source("c")])
    # Crash: ``first`` is never closed, the file was never rewritten.
    assert _file_state(seeded) == state_of({"ios": [http_source("a")], "android": []})
    again = EmulatorState.load(seeded)
    assert again.to_dict() == first.to_dict()
    assert _sources_of(again, "ios") == [http_source("c")]
    again.close()
    assert _file_state(seeded) == first.to_dict()
    assert _names(seeded.parent) == ["state.json"]


def test_a_crash_while_the_file_is_being_written_loses_nothing(
    seeded: Path, no_background_export: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = EmulatorState.load(seeded)
    _set_sources(first, "ios", [http_source("b")])

    def killed(src: str, dst: str) -> None:
        raise _Killed

    with monkeypatch.context() as patch:
        patch.setattr(persistence.os, "replace", killed)
        with pytest.raises(_Killed):
            assert first.store is not None
            first.store.flush()
    # A kill leaves the temporary file of the export behind, half written.
    (seeded.parent / f".{seeded.name}.x1y2z3.tmp").write_text('{"organizations": {"ac')
    again = EmulatorState.load(seeded)
    assert _sources_of(again, "ios") == [http_source("b")]
    assert not any(name.endswith(".tmp") for name in _names(seeded.parent))
    again.close()
    assert _file_state(seeded) == first.to_dict()


def test_a_crash_after_the_new_file_is_in_place_loses_nothing(
    seeded: Path, no_background_export: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = EmulatorState.load(seeded)
    _set_sources(first, "ios", [http_source("b")])

    def killed(self: object, base: object) -> None:
        raise _Killed

    with monkeypatch.context() as patch:
        patch.setattr(journal_module.Journal, "end_export", killed)
        with pytest.raises(_Killed):
            assert first.store is not None
            first.store.flush()
    assert _file_state(seeded) == first.to_dict()  # the new file, not yet noted as such
    second = EmulatorState.load(seeded)
    assert second.to_dict() == first.to_dict()
    _set_sources(second, "android", [http_source("d")])
    # Crash again: the journal now applies to the new file.
    third = EmulatorState.load(seeded)
    assert third.to_dict() == second.to_dict()
    third.close()
    assert _file_state(seeded) == second.to_dict()


def test_a_file_changed_by_hand_after_a_crash_is_refused_at_start(
    seeded: Path, no_background_export: None
) -> None:
    first = EmulatorState.load(seeded)
    _set_sources(first, "ios", [http_source("b")])
    edited = state_of({"ios": [], "android": [http_source("by-hand")]})
    _write_state(seeded, edited)
    with pytest.raises(StateFileError) as info:
        EmulatorState.load(seeded)
    message = str(info.value)
    assert f"{seeded} changed since" in message and "1 write(s)" in message
    assert "--fresh" in message and "delete state.json.journal.sqlite3*" in message
    # Deleting the journal as the message says starts from the edited file alone.
    journal_module.remove_files(seeded.with_name(seeded.name + JOURNAL_SUFFIX))
    seeded.with_name(seeded.name + ".journal.seq").unlink()
    assert EmulatorState.load(seeded).to_dict() == edited


def test_a_journal_that_cannot_be_read_is_a_clear_error(seeded: Path) -> None:
    seeded.with_name(seeded.name + JOURNAL_SUFFIX).write_bytes(b"not a database" * 100)
    with pytest.raises(StateFileError) as info:
        EmulatorState.load(seeded)
    message = str(info.value)
    assert f"cannot read {seeded}{JOURNAL_SUFFIX}" in message
    assert "--fresh" in message


_WRITE_AND_DIE = """
import os, sys
from reconciler.emulator import persistence
from reconciler.emulator.state import EmulatorState
persistence.SYNC_BYTES = -1
persistence.IDLE_SECONDS = persistence.MAX_LAG_SECONDS = 3600.0
state = EmulatorState.load(persistence.Path(sys.argv[1]))
for slug in ("ios", "android"):
    with state.lock:
        project = state.organizations["acme"].projects[slug]
        project.symbol_sources = [{"type": "http", "id": slug, "url": "https://x.example/",
                                   "layout": {"type": "native"}}]
        state.commit(project)
os._exit(0)  # as a kill: nothing is closed, nothing checkpointed
"""


def _write_and_die(path: Path) -> None:
    subprocess.run([sys.executable, "-c", _WRITE_AND_DIE, str(path)], check=True, timeout=60)


@pytest.mark.parametrize("side", ["-wal", ""], ids=["wal-removed", "journal-removed"])
def test_a_removed_journal_or_wal_after_a_kill_is_an_error_not_a_loss(
    seeded: Path, side: str
) -> None:
    assert ORG == "acme"
    _write_and_die(seeded)
    journal = seeded.with_name(seeded.name + JOURNAL_SUFFIX)
    if side:
        journal.with_name(journal.name + side).unlink()
    else:
        journal_module.remove_files(journal)
    with pytest.raises(StateFileError) as info:
        EmulatorState.load(seeded)
    message = str(info.value)
    assert str(journal) in message
    assert "recorded 2 write(s)" in message or "but recorded 2" in message
    assert "--fresh" in message


def test_after_a_kill_the_journal_and_its_seal_restore_every_write(seeded: Path) -> None:
    _write_and_die(seeded)
    again = EmulatorState.load(seeded)
    assert [s["id"] for s in _sources_of(again, "ios")] == ["ios"]
    assert [s["id"] for s in _sources_of(again, "android")] == ["android"]
    again.close()
    assert _names(seeded.parent) == ["state.json"]


def test_a_damaged_wal_after_a_kill_is_an_error_not_a_loss(
    seeded: Path, no_background_export: None
) -> None:
    first = EmulatorState.load(seeded)
    for i in range(5):
        _set_sources(first, "ios", [http_source(f"b{i}")])
    wal = seeded.with_name(seeded.name + JOURNAL_SUFFIX + "-wal")
    data = bytearray(wal.read_bytes())
    data[-200:] = bytes(200)  # the last commit's frame, zeroed
    wal.write_bytes(bytes(data))
    with pytest.raises(StateFileError, match="damaged"):
        EmulatorState.load(seeded)


@pytest.mark.parametrize("content", [b"", b"  \n"], ids=["0-bytes", "blank"])
def test_an_empty_state_file_is_refused_at_start(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "state.json"
    path.write_bytes(content)
    with pytest.raises(StateFileError) as info:
        EmulatorState.load(path)
    assert str(info.value).startswith(f"state file {path} is empty;")
    assert "--fresh" in str(info.value)


def test_fresh_starts_empty_whatever_the_file_and_journal_held(
    seeded: Path, no_background_export: None
) -> None:
    first = EmulatorState.load(seeded)
    _set_sources(first, "ios", [http_source("b")])
    seeded.write_bytes(b"")
    state = EmulatorState.fresh(seeded)
    assert state.to_dict() == {"organizations": {}}
    assert _names(seeded.parent) == ["state.json"]
    assert EmulatorState.load(seeded).to_dict() == {"organizations": {}}


def test_a_state_not_read_from_the_file_is_written_in_full_at_the_first_write(
    tmp_path: Path, no_background_export: None
) -> None:
    path = tmp_path / "state.json"
    state = EmulatorState.from_dict(state_of({"ios": [], "android": []}), path)
    _set_sources(state, "ios", [http_source("a")])
    assert _file_state(path) == state.to_dict()
    _set_sources(state, "android", [http_source("b")])
    again = EmulatorState.load(path)  # a crash here: file and journal together are complete
    assert again.to_dict() == state.to_dict()


# -- loading -----------------------------------------------------------------------------------


def test_missing_state_file_is_an_empty_instance(tmp_path: Path) -> None:
    with serving_emulator(state_path=tmp_path / "absent.json") as handle:
        assert handle.state() == {"organizations": {}}
        response = requests.get(handle.url + SOURCES, headers=AUTH, timeout=10)
        assert response.status_code == 404


# Sentry keeps the sources in a project option: an unset option reads back as [].
def test_project_without_symbol_sources_reads_as_an_empty_list() -> None:
    with serving_emulator({"organizations": {ORG: {"projects": {"ios": {}}}}}) as handle:
        response = requests.get(handle.url + SOURCES, headers=AUTH, timeout=10)
    assert response.status_code == 200
    assert response.json() == []


def test_project_ids_are_stable_across_restarts() -> None:
    data = {
        "organizations": {
            "a": {"projects": {"x": {}, "y": {"id": 1}}},
            "b": {"projects": {"z": {}}},
        }
    }
    first = EmulatorState.from_dict(data)
    again = EmulatorState.from_dict(first.to_dict())
    ids = {p.slug: p.id for o in first.organizations.values() for p in o.projects.values()}
    assert ids == {"x": "2", "y": "1", "z": "3"}
    assert ids == {p.slug: p.id for o in again.organizations.values() for p in o.projects.values()}


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        ("{not json", "state file is not valid JSON"),
        ("[]", "top level must be a JSON object"),
        ('{"organisations": {}}', "unknown top-level key 'organisations'"),
        ('{"organizations": {"a": {"projects": []}}}', "organizations.a.projects"),
        ('{"organizations": {"a": {"projects": {"p": 3}}}}', "organizations.a.projects.p"),
        ('{"organizations": {"a": {"id": "x1", "projects": {}}}}', "organizations.a.id"),
        (
            '{"organizations": {"a": {"projects": {"p": {"id": 2}, "q": {"id": "2"}}}}}',
            "projects 'p' and 'q' have the same id 2",
        ),
    ],
)
def test_invalid_state_file_is_a_clear_error(tmp_path: Path, content: str, fragment: str) -> None:
    path = tmp_path / "state.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(StateFileError) as info:
        EmulatorState.load(path)
    assert fragment in str(info.value)
    assert str(path) in str(info.value)
