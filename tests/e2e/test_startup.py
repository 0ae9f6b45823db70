"""Start-up imports only what the command needs, so the first request goes out early.

``symsync plan`` sends its first read before it imports what only an answer needs (the differ,
the plan's models), and a plan printed to a pipe with stderr in a CI log never imports rich
(the terminal library) at all. Both are checked in the real CLI, against the real emulator.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from reconciler.emulator.testing import running_emulator
from tests.support.e2e_helpers import EMULATOR_TOKEN, clean_env, state_doc, write_tree

# Runs `symsync plan ARGS...` in this interpreter, recording which modules were loaded when the
# client sent its first read, and at the end of the run; writes both to the file in argv[1].
PROBE = """
import atexit, json, runpy, sys
WATCHED = ("reconciler.plan.model", "reconciler.plan.differ", "rich")
out, seen = sys.argv[1], {}

def loaded():
    return sorted(m for m in WATCHED if m in sys.modules)

from reconciler.sentry.client import SentryClient
original = SentryClient.list_sources

def list_sources(self, org, project):
    seen.setdefault("first_read", loaded())
    return original(self, org, project)

SentryClient.list_sources = list_sources

@atexit.register
def report():
    seen["at_exit"] = loaded()
    with open(out, "w") as f:
        json.dump(seen, f)

sys.argv = ["symsync", *sys.argv[2:]]
runpy.run_module("reconciler", run_name="__main__")
"""

SOURCE = {
    "id": "web",
    "type": "http",
    "name": "Symbols",
    "url": "https://symbols.example.com/",
    "layout": {"type": "native"},
}


def _probe(tmp_path: Path, *args: str) -> tuple[dict[str, list[str]], str]:
    """The modules loaded at the first read and at exit, and the plan printed."""
    configs = write_tree(
        tmp_path,
        {f"acme/p{i}": {"sources": [dict(SOURCE, name=f"Symbols {i}")]} for i in range(3)},
    )
    state = state_doc({f"acme/p{i}": [SOURCE] for i in range(3)})
    report = tmp_path / "modules.json"
    with running_emulator(state=state) as emulator:
        env = clean_env(SENTRY_URL=emulator.url, SENTRY_AUTH_TOKEN=EMULATOR_TOKEN)
        done = subprocess.run(
            [sys.executable, "-c", PROBE, str(report), "plan", "--config-dir", str(configs), *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert done.returncode == 0, done.stderr
    # The organization's details (its region), then one read per project.
    assert "plan: 3 projects, 4 requests" in done.stderr
    result: dict[str, list[str]] = json.loads(report.read_text())
    return result, done.stdout


def test_plan_sends_its_first_read_before_importing_what_only_an_answer_needs(
    tmp_path: Path,
) -> None:
    modules, printed = _probe(tmp_path)
    assert modules["first_read"] == []
    assert "~ update web" in printed  # the plan was made and printed all the same


def test_a_plan_to_a_pipe_with_stderr_in_a_ci_log_never_imports_rich(tmp_path: Path) -> None:
    modules, printed = _probe(tmp_path)
    assert "~ update web" in printed
    assert "rich" not in modules["at_exit"]
    assert "reconciler.plan.model" in modules["at_exit"]  # the probe does see what was imported


def test_markdown_and_json_plans_need_no_rich_either(tmp_path: Path) -> None:
    modules, printed = _probe(tmp_path / "md", "--format", "markdown")
    assert "web" in printed and "rich" not in modules["at_exit"]
    modules, printed = _probe(tmp_path / "json", "--format", "json")
    assert json.loads(printed)["summary"]["update"] == 3
    assert "rich" not in modules["at_exit"]
