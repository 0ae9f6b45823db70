"""End to end: what a run reports, as a user reads it in a CI log or on a terminal: apply's
result table, the markdown plan's counts, the unfiled summary. The real CLI against the
emulator."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from reconciler.emulator.testing import running_emulator
from tests.support.e2e_helpers import (
    EMULATOR_TOKEN,
    clean_env,
    on_a_terminal,
    result_row,
    state_doc,
    symsync,
    write_tree,
)

pytestmark = pytest.mark.e2e


def _http(sid: str, **extra: object) -> dict:
    return {"id": sid, "type": "http", "name": f"{sid} server", "url": f"https://{sid}.example/",
            "layout": {"type": "native"}, **extra}  # fmt: skip


def _env(url: str) -> dict[str, str]:
    return clean_env(SENTRY_URL=url, SENTRY_AUTH_TOKEN=EMULATOR_TOKEN)


UNCHANGED = [f"acme/p{i:02d}" for i in range(5)]


def _table_rows(stderr: str) -> list[str]:
    """The project of every row of apply's result table."""
    return [
        cells[0]
        for line in stderr.splitlines()
        if (cells := [c.strip() for c in line.strip().strip("│|").split("│")])
        and cells[0].startswith("acme/")
        and len(cells) > 1
    ]


def test_in_a_ci_log_apply_lists_what_happened_and_counts_the_unchanged(tmp_path: Path):
    files = {key: {"sources": [_http("same")]} for key in UNCHANGED}
    files["acme/changed"] = {"sources": [_http("same"), _http("new")]}
    configs = write_tree(tmp_path, files)
    remote = {key: [_http("same")] for key in [*UNCHANGED, "acme/changed"]}
    with running_emulator(state=state_doc(remote)) as emu:
        env = _env(emu.url)
        ci = symsync("apply", "--yes", "--config-dir", str(configs), env=env)
        # Now everything is unchanged: the table has no row, the line says so.
        quiet = symsync("apply", "--yes", "--config-dir", str(configs), env=env)
        verbose = symsync("apply", "--yes", "-v", "--config-dir", str(configs), env=env)
        code, terminal = on_a_terminal("apply", "--yes", "--config-dir", str(configs), env=env)
    assert ci.returncode == 0, ci.stderr
    assert _table_rows(ci.stderr) == ["acme/changed"]
    assert result_row(ci.stderr, "acme/changed")[:3] == ["acme/changed", "applied", "1/1"]
    assert "\n5 projects unchanged (-v lists them)\n" in ci.stderr
    assert "Apply: 1 applied, 5 unchanged, 0 failed, 0 refused." in ci.stderr

    assert quiet.returncode == 0, quiet.stderr
    assert _table_rows(quiet.stderr) == []
    assert "6 projects unchanged (-v lists them)" in quiet.stderr
    # -v and a terminal list every project, as before
    assert verbose.returncode == 0, verbose.stderr
    assert _table_rows(verbose.stderr) == sorted([*UNCHANGED, "acme/changed"])
    assert "projects unchanged (-v" not in verbose.stderr
    assert code == 0, terminal
    assert _table_rows(terminal) == sorted([*UNCHANGED, "acme/changed"])
    assert "projects unchanged (-v" not in terminal


def test_the_markdown_plan_counts_reported_sources(tmp_path: Path):
    configs = write_tree(
        tmp_path,
        {
            "acme/ios": {"unmanaged": "report", "sources": [_http("a")]},
            "acme/web": {"sources": [_http("w")]},
        },
    )
    remote = {
        "acme/ios": [_http("a"), _http("by-hand"), _http("by-hand-2")],
        "acme/web": [_http("w"), _http("kept")],
    }
    with running_emulator(state=state_doc(remote)) as emu:
        run = symsync("plan", "--format", "markdown", "--config-dir", str(configs),
                      env=_env(emu.url))  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert "| Project | Create | Update | Delete | Unmanaged | Reported | Status |" in run.stdout
    assert "| `acme/ios` | 0 | 0 | 0 | 0 | 2 | sources not in the file |" in run.stdout


def test_the_unfiled_summary_counts_a_project_it_could_not_read_apart(tmp_path: Path):
    configs = write_tree(tmp_path, {"acme/ios": {"sources": [_http("a")]}})
    state = state_doc({"acme/ios": [_http("a")], "acme/new": [_http("b")], "acme/broken": []})
    # Sentry cannot read a stored list that is not JSON: every read of it fails with a 500.
    state["organizations"]["acme"]["projects"]["broken"]["symbol_sources"] = "not json ["
    with running_emulator(state=state) as emu:
        args = ("plan", "--report-unfiled", "--config-dir", str(configs), "--retry-budget", "1")
        text = symsync(*args, env=_env(emu.url))
        document = json.loads(symsync(*args, "--format", "json", env=_env(emu.url)).stdout)
    assert text.returncode == 1, text.stderr
    assert (
        "1 project in Sentry has symbol sources and no file; 1 could not be read.\n" in text.stdout
    )
    assert document["summary"]["unfiled"] == 1
    assert document["summary"]["unfiled_unreadable"] == 1
    assert sorted(document["unfiled_errors"]) == ["acme/broken"]
