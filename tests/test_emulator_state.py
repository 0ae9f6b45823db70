"""The state file: loading, atomic saving after every write, concurrency, restart."""

from __future__ import annotations

import io
import json
import os
import threading
from pathlib import Path

import pytest
import requests

from reconciler.emulator import state as state_module
from reconciler.emulator.state import EmulatorState, StateFileError
from reconciler.emulator.testing import serving_emulator
from tests.emulator_support import AUTH, ORG, http_source, s3_source, state_of

SOURCES = f"/api/0/projects/{ORG}/ios/symbol-sources/"


def _write_state(path: Path, data: object) -> None:
    path.write_text(json.dumps(data), encoding="utf-8")


def test_every_write_is_saved_to_the_state_file_with_secrets_in_clear(tmp_path: Path) -> None:
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
        on_disk = json.loads(path.read_text())
        assert on_disk == handle.state()
        assert on_disk["organizations"][ORG]["projects"]["ios"]["symbol_sources"] == [
            s3_source("b", secret_key="plain-secret")
        ]
        requests.delete(handle.url + SOURCES + "?id=b", headers=AUTH, timeout=10)
        assert json.loads(path.read_text()) == state_of({"ios": []})
    assert [p.name for p in tmp_path.iterdir()] == ["state.json"]  # no temporary file left


def test_a_failed_rename_leaves_the_previous_file_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "state.json"
    _write_state(path, state_of({"ios": [http_source("old")]}))
    before = path.read_bytes()

    def crash(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(state_module.os, "replace", crash)
    log = io.StringIO()
    with serving_emulator(state_path=path, log=log) as handle:
        response = requests.post(
            handle.url + SOURCES, json=http_source("new"), headers=AUTH, timeout=10
        )
        # Sentry answered; the emulator keeps serving from memory.
        assert response.status_code == 201
        ids = [s["id"] for s in requests.get(handle.url + SOURCES, headers=AUTH, timeout=10).json()]
        assert ids == ["old", "new"]
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["state.json"]


def test_unwritable_state_file_warns_once_and_keeps_serving(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "state.json"
    _write_state(path, state_of({"ios": []}))

    def refuse(*args: object, **kwargs: object) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(state_module.tempfile, "mkstemp", refuse)
    with serving_emulator(state_path=path) as handle:
        for i in range(3):
            response = requests.post(
                handle.url + SOURCES, json=http_source(f"s{i}"), headers=AUTH, timeout=10
            )
            assert response.status_code == 201
        assert len(handle.state()["organizations"][ORG]["projects"]["ios"]["symbol_sources"]) == 3
    err = capsys.readouterr().err
    assert err.count("cannot save state") == 1


def test_concurrent_writes_lose_nothing_and_keep_the_file_valid(tmp_path: Path) -> None:
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
        stored = json.loads(path.read_text())["organizations"][ORG]["projects"]["ios"]
        assert sorted(s["id"] for s in stored["symbol_sources"]) == sorted(
            f"s{i}" for i in range(16)
        )


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


def test_missing_state_file_is_an_empty_instance(tmp_path: Path) -> None:
    with serving_emulator(state_path=tmp_path / "absent.json") as handle:
        assert handle.state() == {"organizations": {}}
        response = requests.get(handle.url + SOURCES, headers=AUTH, timeout=10)
        assert response.status_code == 404


# Reference section 6: an unset option reads back as [].
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


def test_state_file_is_created_private(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    _write_state(path, state_of({"ios": []}))
    with serving_emulator(state_path=path) as handle:
        requests.post(handle.url + SOURCES, json=http_source("a"), headers=AUTH, timeout=10)
    assert os.stat(path).st_mode & 0o077 == 0  # secrets in clear: owner only
