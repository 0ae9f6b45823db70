"""``symsync emulator`` as a user runs it: the real CLI in a subprocess, over loopback."""

from __future__ import annotations

import contextlib
import json
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from reconciler.emulator.testing import running_emulator
from tests.support.emulator_support import ORG, http_source, s3_source, state_of

pytestmark = pytest.mark.e2e

STATE = state_of({"ios": [http_source("web", password="stored-pw-SENTINEL-1")]})
SOURCES = f"/api/0/projects/{ORG}/ios/symbol-sources/"


def _auth(token: str = "symsync-emulator") -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _run_cli(*args: str, timeout: float = 20) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "reconciler", "emulator", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_prints_listening_url_on_loopback_and_serves_the_api() -> None:
    with running_emulator(state=STATE) as emu:
        assert emu.url.startswith("http://127.0.0.1:")
        response = requests.get(emu.url + SOURCES, headers=_auth(), timeout=10)
        assert response.status_code == 200
        assert response.json()[0]["password"] == {"hidden-secret": True}
        assert emu.requests()[0]["status"] == 200
        assert emu.state() == json.loads(emu.state_path.read_text())


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_stops_cleanly_on_signal_with_exit_0(sig: signal.Signals) -> None:
    with running_emulator(state=STATE) as emu:
        assert emu.process is not None
        emu.process.send_signal(sig)
        assert emu.process.wait(timeout=10) == 0
        assert "Traceback" not in emu.stderr()


def test_logs_one_line_per_request_and_never_a_secret_or_token() -> None:
    token = "tok-SENTINEL-2"
    with running_emulator("--token", token, state=STATE) as emu:
        headers = _auth(token)
        requests.get(emu.url + SOURCES, headers=headers, timeout=10)
        requests.post(
            emu.url + SOURCES,
            json=s3_source("b", secret_key="s3-SENTINEL-3"),
            headers=headers,
            timeout=10,
        )
        requests.put(
            emu.url + SOURCES + "?id=web",
            json=http_source("web", password="new-SENTINEL-4"),
            headers=headers,
            timeout=10,
        )
        requests.put(  # a 400 whose message would hold the list
            emu.url + SOURCES + "?id=b",
            json=s3_source("b", secret_key="bad-SENTINEL-5", region=None),
            headers=headers,
            timeout=10,
        )
        requests.get(emu.url + SOURCES, headers=_auth("wrong-SENTINEL-6"), timeout=10)
        # a client that put its token in the URL (`--url https://host/TOKEN`)
        requests.get(f"{emu.url}/{token}{SOURCES}", headers=headers, timeout=10)
        emu.stop()
        log = emu.stderr()
    lines = [line for line in log.splitlines() if line.strip()]
    assert len(lines) == 6
    assert lines[0].startswith(f"GET {SOURCES} 200 ")
    assert lines[1].startswith(f"POST {SOURCES} 201 ")
    assert lines[2].startswith(f"PUT {SOURCES}?id=web 200 ")
    assert lines[3].startswith(f"PUT {SOURCES}?id=b 400 ")
    assert lines[4].startswith(f"GET {SOURCES} 401 ")
    assert lines[5].startswith(f"GET /***{SOURCES} 404 ")
    assert "SENTINEL" not in log


def test_token_scopes_from_the_command_line() -> None:
    with running_emulator("--token", "reader=project:read", state=STATE) as emu:
        reader = _auth("reader")
        assert requests.get(emu.url + SOURCES, headers=reader, timeout=10).status_code == 200
        posted = requests.post(emu.url + SOURCES, json=http_source("x"), headers=reader, timeout=10)
        assert posted.status_code == 403
        # The default token is accepted only when no --token is given.
        assert requests.get(emu.url + SOURCES, headers=_auth(), timeout=10).status_code == 401


def test_token_role_and_integration_token_from_the_command_line() -> None:
    args = ("--token", "m-SENTINEL@member", "--token", "sntrys_ci-SENTINEL")
    args += ("--org-token", f"{ORG}=int-SENTINEL")
    other = {"organizations": {**STATE["organizations"], "globex": {"projects": {"ios": {}}}}}
    with running_emulator(*args, state=other) as emu:
        member = _auth("m-SENTINEL")
        assert requests.get(emu.url + SOURCES, headers=member, timeout=10).status_code == 200
        posted = requests.post(emu.url + SOURCES, json=http_source("x"), headers=member, timeout=10)
        assert posted.status_code == 403
        org_ci = _auth("sntrys_ci-SENTINEL")
        assert requests.get(emu.url + SOURCES, headers=org_ci, timeout=10).status_code == 403
        integration = _auth("int-SENTINEL")
        assert requests.get(emu.url + SOURCES, headers=integration, timeout=10).status_code == 200
        elsewhere = emu.url + SOURCES.replace(f"/{ORG}/", "/globex/")
        assert requests.get(elsewhere, headers=integration, timeout=10).status_code == 403
        log = emu.stderr()
    assert "SENTINEL" not in log


def test_an_empty_state_file_is_refused_and_fresh_starts_empty(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    path.write_bytes(b"")
    result = _run_cli("--port", "0", "--state", str(path))
    assert result.returncode == 1
    assert f"error: state file {path} is empty;" in result.stderr
    assert "--fresh" in result.stderr and "Traceback" not in result.stderr
    assert path.read_bytes() == b""
    with running_emulator("--fresh") as emu:
        assert requests.get(emu.url + SOURCES, headers=_auth(), timeout=10).status_code == 404


def test_api_generation_b_from_the_command_line() -> None:
    with running_emulator("--api-generation", "b", state=STATE) as emu:
        response = requests.put(
            emu.url + SOURCES, json=http_source("web"), headers=_auth(), timeout=10
        )
        assert response.status_code == 400
        assert response.json() == {"error": "Missing source id"}


def test_switches_from_the_command_line() -> None:
    args = ("--rate-limit", "2/60", "--latency-ms", "50", "--concurrent-limit", "4")
    with running_emulator(*args, state=STATE) as emu:
        responses = [requests.get(emu.url + SOURCES, headers=_auth(), timeout=10) for _ in range(3)]
        assert [r.status_code for r in responses] == [200, 200, 429]
        assert responses[0].headers["X-Sentry-Rate-Limit-Limit"] == "2"
        assert responses[0].headers["X-Sentry-Rate-Limit-ConcurrentLimit"] == "4"
        assert all(r.elapsed.total_seconds() >= 0.05 for r in responses)


def _faults_through_cli(seed: str) -> list[tuple[int | None, str | None]]:
    with running_emulator("--fault-rate", "0.3", "--fault-seed", seed, state=STATE) as emu:
        for i in range(25):
            with contextlib.suppress(requests.ConnectionError):
                requests.post(
                    emu.url + SOURCES, json=http_source(f"f{i}"), headers=_auth(), timeout=10
                )
        return [(entry["status"], entry.get("fault")) for entry in emu.requests()]


def test_same_fault_seed_gives_the_same_faults_through_the_cli() -> None:
    first = _faults_through_cli("7")
    assert first == _faults_through_cli("7")
    assert any(fault for _, fault in first)


def test_restart_with_saved_state_through_the_cli(tmp_path: Path) -> None:
    with running_emulator(state=STATE) as emu:
        requests.post(emu.url + SOURCES, json=http_source("added"), headers=_auth(), timeout=10)
        emu.stop()  # a clean stop leaves the complete state in the file
        saved = json.loads(emu.state_path.read_text())
    with running_emulator(state=saved) as emu:
        listed = requests.get(emu.url + SOURCES, headers=_auth(), timeout=10).json()
        assert [s["id"] for s in listed] == ["web", "added"]
        stored = emu.state()["organizations"][ORG]["projects"]["ios"]["symbol_sources"]
        assert stored[0]["password"] == "stored-pw-SENTINEL-1"


def test_invalid_state_json_exits_1_with_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    path.write_text('{"organizations": ', encoding="utf-8")
    result = _run_cli("--port", "0", "--state", str(path))
    assert result.returncode == 1
    assert f"error: {path}:1:" in result.stderr
    assert "not valid JSON" in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (("--token", "t="), "at least one scope"),
        (("--token", "t@boss"), "unknown role 'boss'"),
        (("--token", "sntrys_x=project:admin"), "org:ci only"),
        (("--org-token", "int"), "ORG=VALUE"),
        (("--fresh",), "--state"),
        (("--rate-limit", "lots"), "is not N/W"),
        (("--api-generation", "c"), "'c' is not one of"),
        (("--fault-rate", "2"), "fault-rate"),
    ],
)
def test_bad_options_exit_1_with_a_message(args: tuple[str, ...], fragment: str) -> None:
    result = _run_cli("--port", "0", *args)
    assert result.returncode == 1
    assert fragment in result.stderr
    assert "Traceback" not in result.stderr


def test_port_in_use_exits_1() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = _run_cli("--port", str(port))
    assert result.returncode == 1
    assert "cannot listen on 127.0.0.1:" in result.stderr


def test_running_emulator_passes_env() -> None:
    with running_emulator(state=STATE, env={"SYMSYNC_DEBUG": "0"}) as emu:
        assert requests.get(emu.url + SOURCES, headers=_auth(), timeout=10).status_code == 200
