"""Running the real CLI as a subprocess against the real emulator, for end-to-end tests."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import signal
import struct
import subprocess
import sys
import termios
from pathlib import Path
from typing import Any, Literal

import yaml

EMULATOR_TOKEN = "symsync-emulator"


def clean_env(**extra: str) -> dict[str, str]:
    """The parent environment without anything symsync reads, plus ``extra``."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SENTRY_", "SYMSYNC_")) and k not in ("NO_COLOR", "FORCE_COLOR")
    }
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


def symsync(
    *args: str,
    env: dict[str, str],
    cwd: Path | None = None,
    stdin: str | None = None,
    timeout: float = 60,
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "reconciler", *args],
        env=env,
        cwd=cwd,
        input=stdin if stdin is not None else "",
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def on_a_terminal(
    *args: str,
    env: dict[str, str],
    stream: Literal["stdout", "stderr"] = "stderr",
    interrupt_at: str | None = None,
) -> tuple[int, str]:
    """Runs the CLI with its ``stream`` on a pseudo-terminal 160 columns wide (the other one goes
    nowhere); its exit code and everything the terminal received. With ``interrupt_at``, a
    SIGINT is sent once the terminal has shown that text."""
    leader, follower = pty.openpty()
    try:
        fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 160, 0, 0))
        on_terminal = {stream: follower}
        process = subprocess.Popen(
            [sys.executable, "-m", "reconciler", *args],
            stdin=subprocess.DEVNULL,
            stdout=on_terminal.get("stdout", subprocess.DEVNULL),
            stderr=on_terminal.get("stderr", subprocess.DEVNULL),
            env=env,
        )
        os.close(follower)
        follower = -1
        chunks = []
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # the terminal closes when the process ends
                break
            if not chunk:
                break
            chunks.append(chunk)
            received = b"".join(chunks).decode(errors="replace")
            if interrupt_at is not None and interrupt_at in received:
                process.send_signal(signal.SIGINT)
                interrupt_at = None
        code = process.wait(timeout=60)
    finally:
        os.close(leader)
        if follower != -1:
            os.close(follower)
    return code, b"".join(chunks).decode()


def write_tree(root: Path, projects: dict[str, dict[str, Any]]) -> Path:
    """configs/<org>/<project>.yaml from ``{"org/project": {...file content...}}``."""
    configs = root / "configs"
    for key, content in projects.items():
        org, name = key.split("/")
        path = configs / org / f"{name}.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(yaml.safe_dump(content, sort_keys=False), encoding="utf-8")
    return configs


def state_doc(projects: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """Emulator state (the document `symsync emulator --state` reads) from
    ``{"org/project": [sources...]}``."""
    orgs: dict[str, Any] = {}
    for key, sources in projects.items():
        org, name = key.split("/")
        orgs.setdefault(org, {"projects": {}})["projects"][name] = {"symbol_sources": sources}
    return {"organizations": orgs}


def sources_in(state: dict[str, Any], key: str) -> list[dict[str, Any]]:
    org, name = key.split("/")
    result = state["organizations"][org]["projects"][name]["symbol_sources"]
    assert isinstance(result, list)
    return result


def is_organization_lookup(entry: dict[str, Any]) -> bool:
    """The organization details a command reads once per organization (its region)."""
    parts = entry["path"].strip("/").split("/")
    return entry["method"] == "GET" and len(parts) == 4 and parts[2] == "organizations"


def organization_lookups(log: list[dict[str, Any]]) -> list[str]:
    """The organizations whose details were read, in order (attempts refused with a 429 and
    retried are left out)."""
    return [
        entry["path"].strip("/").split("/")[3]
        for entry in log
        if is_organization_lookup(entry) and entry["status"] != 429
    ]


def api_requests(log: list[dict[str, Any]], since: int = 0) -> list[tuple[str, str, str]]:
    """(method, org/project, query) of every API request after the first ``since``, but the
    organization lookups (``organization_lookups``)."""
    out = []
    for entry in log[since:]:
        if is_organization_lookup(entry):
            continue
        parts = entry["path"].strip("/").split("/")
        key = f"{parts[3]}/{parts[4]}" if len(parts) > 4 and parts[2] == "projects" else ""
        out.append((entry["method"], key, entry.get("query") or ""))
    return out


def parse_json(text: str) -> Any:
    return json.loads(text)


def result_row(stderr: str, key: str) -> list[str]:
    """The cells of ``key``'s row in apply's result table (printed on stderr)."""
    for line in stderr.splitlines():
        cells = [c.strip() for c in line.strip().strip("│|").split("│")]
        if cells and cells[0] == key:
            return cells
    raise AssertionError(f"no result row for {key} in:\n{stderr}")
