"""End to end: adopting an organization (import, then plan), the real CLI against the emulator."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from reconciler.emulator.testing import running_emulator
from tests.e2e_helpers import EMULATOR_TOKEN, clean_env, state_doc, symsync, write_tree

pytestmark = [pytest.mark.e2e, pytest.mark.parametrize("generation", ["a", "b"])]


def _http(sid: str, **extra):
    return {"id": sid, "type": "http", "name": f"{sid} server", "url": f"https://{sid}.example/",
            "layout": {"type": "native"}, **extra}  # fmt: skip


def test_report_unfiled_lists_projects_with_sources_and_no_file(tmp_path: Path, generation):
    state = state_doc(
        {
            "acme/ios": [_http("a")],
            "acme/new": [_http("b")],
            "acme/empty": [],
            "globex/api": [_http("c")],  # no folder for globex: not looked at
        }
    )
    write_tree(tmp_path, {"acme/ios": {"sources": [_http("a")]}})
    with running_emulator("--api-generation", generation, state=state) as emulator:
        env = clean_env(SENTRY_AUTH_TOKEN=EMULATOR_TOKEN, SENTRY_URL=emulator.url)
        plain = symsync("plan", "--detailed-exitcode", env=env, cwd=tmp_path)
        proc = symsync(
            "plan", "--report-unfiled", "--detailed-exitcode", "--format", "json",
            env=env, cwd=tmp_path,
        )  # fmt: skip
        text = symsync("plan", "--report-unfiled", env=env, cwd=tmp_path)
    assert plain.returncode == 0, plain.stdout + plain.stderr
    assert proc.returncode == 2, proc.stdout + proc.stderr
    document = json.loads(proc.stdout)
    assert document["unfiled"] == ["acme/new"]
    assert document["summary"]["unfiled"] == 1
    assert "  ? acme/new\n" in text.stdout
    assert text.returncode == 0
