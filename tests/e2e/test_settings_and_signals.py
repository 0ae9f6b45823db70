"""End to end: the settings file (exclude, max_deletes) and --exclude; a signal sent to the
whole process group (`timeout -s INT`) is one interrupt."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from reconciler.emulator.testing import running_emulator
from tests.support.e2e_helpers import EMULATOR_TOKEN, clean_env, state_doc, symsync, write_tree
from tests.support.hostile_sentry import HostileSentry, Rule, json_reply
from tests.support.plan_helpers import http

pytestmark = pytest.mark.e2e


def _touched(log: list[dict[str, Any]]) -> set[str]:
    parts = (e["path"].strip("/").split("/") for e in log)
    return {"/".join(p[3:5]) for p in parts if len(p) > 4 and p[2] == "projects"}


def test_excluded_projects_are_never_read_planned_or_reported(tmp_path: Path) -> None:
    write_tree(tmp_path, {"acme/ios": {"sources": [http("a")]}, "acme/gone": {"sources": []}})
    (tmp_path / "configs" / "symsync.yaml").write_text("exclude: [acme/gone]\n")
    state = state_doc({"acme/ios": [], "acme/legacy": [http("old")], "acme/web": [http("w")]})
    with running_emulator(state=state) as sentry:
        env = clean_env(SENTRY_URL=sentry.url, SENTRY_AUTH_TOKEN=EMULATOR_TOKEN)
        plan = symsync(
            "plan", "--report-unfiled", "--exclude", "acme/legacy", "--format", "json",
            env=env, cwd=tmp_path,
        )  # fmt: skip
        assert plan.returncode == 0, plan.stderr  # gone would fail: Sentry has no such project
        document = json.loads(plan.stdout)
        assert [p["project"] for p in document["projects"]] == ["ios"]
        assert document["unfiled"] == ["acme/web"]
        assert "gone" not in plan.stdout + plan.stderr and "legacy" not in plan.stdout
        assert _touched(sentry.requests()) == {"acme/ios", "acme/web"}

        (tmp_path / "configs" / "symsync.yaml").write_text("exclude: [acme/legacy]\n")
        imported = symsync("import", "--org", "acme", "--force", env=env, cwd=tmp_path)
        assert imported.returncode == 0, imported.stderr
        assert (tmp_path / "configs" / "acme" / "web.yaml").exists()
        assert not (tmp_path / "configs" / "acme" / "legacy.yaml").exists()
        assert "acme/legacy" in imported.stderr  # named among the excluded


def test_the_settings_files_max_deletes_and_the_flag_over_it(tmp_path: Path) -> None:
    gone = [{"id": s, "state": "absent"} for s in ("b", "c", "d")]
    write_tree(tmp_path, {"acme/ios": {"sources": [http("a"), *gone], "max_deletes": 3}})
    (tmp_path / "configs" / "symsync.yaml").write_text("max_deletes: 2\n")
    state = state_doc({"acme/ios": [http(s) for s in "abcd"]})
    with running_emulator(state=state) as sentry:
        env = clean_env(SENTRY_URL=sentry.url, SENTRY_AUTH_TOKEN=EMULATOR_TOKEN)
        refused = symsync("apply", "--yes", env=env, cwd=tmp_path)
        assert refused.returncode == 3, refused.stderr
        assert "3 deletes, more than --max-deletes 2" in refused.stderr
        (tmp_path / "configs" / "symsync.yaml").write_text("max_deletes: 3\n")
        allowed = symsync("apply", "--yes", "--max-deletes", "2", env=env, cwd=tmp_path)
        assert allowed.returncode == 3, "the flag overrides the file"
        done = symsync("apply", "--yes", env=env, cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        assert [
            s["id"]
            for s in sentry.state()["organizations"]["acme"]["projects"]["ios"]["symbol_sources"]
        ] == ["a"]


@pytest.mark.skipif(shutil.which("timeout") is None, reason="needs coreutils' timeout")
def test_timeout_s_int_gives_the_result_table_and_exit_130(tmp_path: Path) -> None:
    """`timeout` signals the command and then its whole process group: SIGINT arrives twice,
    and is one interrupt. The write in flight is held until the interrupt has been taken."""
    write_tree(tmp_path, {"acme/ios": {"sources": [http("s1"), http("s2")]}})
    interrupted = threading.Event()

    def held_write(handler: Any, request: Any) -> None:
        interrupted.wait(60)
        json_reply(201, {**http("s1"), "layout": {"type": "native", "casing": "default"}})(
            handler, request
        )

    rules = [Rule("GET", "/symbol-sources/$", json_reply(200, [])), Rule("POST", ".", held_write)]
    with HostileSentry(rules) as server:
        env = clean_env(SENTRY_URL=server.url, SENTRY_AUTH_TOKEN=EMULATOR_TOKEN)
        process = subprocess.Popen(
            ["timeout", "--preserve-status", "-s", "INT", "6",
             sys.executable, "-m", "reconciler", "apply", "--yes", "--timeout", "60"],
            cwd=tmp_path, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        lines: list[str] = []
        assert process.stderr is not None
        for line in process.stderr:
            lines.append(line)
            if line.startswith("SIGINT: no new write starts"):
                interrupted.set()  # now the write in flight may finish
        process.wait(timeout=60)
        interrupted.set()
        stderr = "".join(lines)
        writes = server.writes()
    assert process.returncode == 130, stderr
    assert stderr.count("SIGINT: no new write starts") == 1
    assert "again: exiting at once" not in stderr and "Traceback" not in stderr
    assert "interrupted after 1 of 2 writes" in stderr  # the result table
    assert len(writes) == 1
