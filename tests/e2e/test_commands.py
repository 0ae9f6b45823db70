"""End to end: the options of `symsync plan` and `symsync apply`, as `--help` documents them."""

from __future__ import annotations

import json
import os
import pty
import re
import subprocess
import sys
from pathlib import Path

import pytest

from reconciler.emulator.testing import running_emulator
from tests.support.e2e_helpers import (
    EMULATOR_TOKEN,
    api_requests,
    clean_env,
    on_a_terminal,
    sources_in,
    state_doc,
    symsync,
    write_tree,
)

pytestmark = pytest.mark.e2e

ANSI = re.compile(r"\x1b\[")


def _http(sid: str, **extra):
    return {
        "id": sid,
        "type": "http",
        "name": sid,
        "url": f"https://{sid}.example/",
        "layout": {"type": "native"},
        **extra,
    }


REMOTE = {
    "acme/ios": [_http("a")],
    "acme/android": [_http("b")],
    "beta/web": [_http("c")],
}
DESIRED = {
    "acme/ios": {"sources": [_http("a", name="renamed")]},
    "acme/android": {"sources": [_http("b")]},
    "beta/web": {"sources": [_http("c", name="renamed")]},
}


@pytest.fixture
def emu():
    with running_emulator(state=state_doc(REMOTE)) as handle:
        yield handle


@pytest.fixture
def configs(tmp_path: Path) -> Path:
    return write_tree(tmp_path, DESIRED)


def _env(url: str, **extra: str) -> dict[str, str]:
    return clean_env(SENTRY_URL=url, SENTRY_AUTH_TOKEN=EMULATOR_TOKEN, **extra)


def test_project_globs_select_projects_and_a_glob_matching_nothing_is_an_error(emu, configs):
    run = symsync(
        "plan", "--config-dir", str(configs), "--project", "acme/*", "--format", "json",
        env=_env(emu.url),
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    keys = [f"{p['organization']}/{p['project']}" for p in json.loads(run.stdout)["projects"]]
    assert keys == ["acme/android", "acme/ios"]
    assert sorted(k for _, k, _ in api_requests(emu.requests())) == ["acme/android", "acme/ios"]

    run = symsync(
        "plan", "--config-dir", str(configs), "--project", "beta/web", "--project", "nope/*",
        env=_env(emu.url),
    )  # fmt: skip
    assert run.returncode == 1
    assert "'nope/*' matches no project" in run.stderr
    assert "Traceback" not in run.stderr
    assert len(api_requests(emu.requests())) == 2  # nothing more was read


def test_detailed_exitcode_and_formats(emu, configs):
    base = ("plan", "--config-dir", str(configs))
    assert symsync(*base, env=_env(emu.url)).returncode == 0
    run = symsync(*base, "--detailed-exitcode", env=_env(emu.url))
    assert run.returncode == 2
    assert "~ update a (http)" in run.stdout
    assert 'name: "a" -> "renamed"' in run.stdout
    assert run.stdout.rstrip().endswith("Plan: 0 to create, 2 to update, 0 to delete, 1 unchanged.")
    assert not ANSI.search(run.stdout)  # piped: no colour
    md = symsync(*base, "--format", "markdown", env=_env(emu.url))
    assert md.returncode == 0
    assert "| `acme/ios` | 0 | 1 | 0 | 0 | 0 | changes pending |" in md.stdout
    assert "<details>" in md.stdout


def test_a_project_whose_read_fails_is_reported_and_the_others_planned(emu, tmp_path):
    configs = write_tree(tmp_path, {**DESIRED, "acme/missing": {"sources": [_http("x")]}})
    run = symsync("plan", "--config-dir", str(configs), "--format", "json", env=_env(emu.url))
    assert run.returncode == 1
    plan = json.loads(run.stdout)
    by_key = {f"{p['organization']}/{p['project']}": p for p in plan["projects"]}
    assert "error" in by_key["acme/missing"]
    assert "acme/missing" in run.stderr
    assert [c["source_id"] for c in by_key["acme/ios"]["changes"]] == ["a"]
    assert plan["summary"]["errors"] == 1


def test_apply_without_terminal_needs_yes(emu, configs):
    run = symsync("apply", "--config-dir", str(configs), env=_env(emu.url))
    assert run.returncode == 1
    assert "--yes" in run.stderr
    assert "Traceback" not in run.stderr
    assert [m for m, _, _ in api_requests(emu.requests())] == ["GET"] * 3  # planned, not applied
    assert sources_in(emu.state(), "acme/ios")[0]["name"] == "a"


def test_apply_with_nothing_to_do_needs_no_confirmation(emu, tmp_path):
    configs = write_tree(tmp_path, {"acme/android": DESIRED["acme/android"]})
    run = symsync("apply", "--config-dir", str(configs), env=_env(emu.url))
    assert run.returncode == 0, run.stderr
    assert "No changes." in run.stdout
    assert [m for m, _, _ in api_requests(emu.requests())] == ["GET"]


def _apply_on_a_terminal(configs: Path, env: dict[str, str], answer: str) -> tuple[int, str]:
    leader, follower = pty.openpty()
    try:
        process = subprocess.Popen(
            [sys.executable, "-m", "reconciler", "apply", "--config-dir", str(configs)],
            stdin=follower,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
        )
        os.write(leader, answer.encode() + b"\n")
        out, err = process.communicate(timeout=60)
    finally:
        os.close(leader)
        os.close(follower)
    return process.returncode, out.decode() + err.decode()


def test_apply_asks_on_a_terminal(emu, configs):
    code, text = _apply_on_a_terminal(configs, _env(emu.url), "n")
    assert code == 1
    assert "Apply these changes to Sentry?" in text
    assert "nothing was written" in text
    assert sources_in(emu.state(), "acme/ios")[0]["name"] == "a"
    code, text = _apply_on_a_terminal(configs, _env(emu.url), "y")
    assert code == 0, text
    assert sources_in(emu.state(), "acme/ios")[0]["name"] == "renamed"


def test_saved_plan_with_project_filter_and_bad_plan_files(emu, configs, tmp_path):
    saved = tmp_path / "plan.json"
    assert (
        symsync(
            "plan", "--config-dir", str(configs), "--out", str(saved), env=_env(emu.url)
        ).returncode
        == 0
    )
    before = len(emu.requests())
    run = symsync(
        "apply", str(saved), "--config-dir", str(configs), "--project", "beta/*", "--yes",
        env=_env(emu.url),
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    sent = api_requests(emu.requests(), before)
    # Read against its file, read again just before the write, written.
    assert sent == [("GET", "beta/web", ""), ("GET", "beta/web", ""), ("PUT", "beta/web", "id=c")]
    assert sources_in(emu.state(), "acme/ios")[0]["name"] == "a"

    broken = tmp_path / "broken.json"
    broken.write_text('{"format_version": 1, "projects": [{"organization": 5}]}')
    for path, message in [
        (broken, "not a valid symsync plan"),
        (tmp_path / "absent.json", "no such plan file"),
    ]:
        run = symsync("apply", str(path), "--yes", env=_env(emu.url))
        assert run.returncode == 1
        assert message in run.stderr
        assert "Traceback" not in run.stderr


def test_missing_token_is_a_clear_error(configs):
    run = symsync("plan", "--config-dir", str(configs), env=clean_env())
    assert run.returncode == 1
    assert "SENTRY_AUTH_TOKEN" in run.stderr
    assert "Traceback" not in run.stderr


def test_out_is_written_atomically_and_unwritable_out_is_an_error(emu, configs, tmp_path):
    target = tmp_path / "plan.json"
    run = symsync("plan", "--config-dir", str(configs), "--out", str(target), env=_env(emu.url))
    assert run.returncode == 0
    assert json.loads(target.read_text())["format_version"] == 1
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".plan.json")] == []
    run = symsync(
        "plan", "--config-dir", str(configs), "--out", str(tmp_path / "no" / "dir" / "p.json"),
        env=_env(emu.url),
    )  # fmt: skip
    assert run.returncode == 1
    assert "cannot write the plan" in run.stderr


def _plan_on_a_terminal(configs: Path, env: dict[str, str]) -> str:
    code, shown = on_a_terminal("plan", "--config-dir", str(configs), env=env, stream="stdout")
    assert code == 0
    return shown


def test_colour_on_a_terminal_unless_no_color(emu, configs):
    coloured = _plan_on_a_terminal(configs, _env(emu.url))
    assert ANSI.search(coloured)
    assert "update a (http)" in coloured
    plain = _plan_on_a_terminal(configs, _env(emu.url, NO_COLOR="1"))
    assert not ANSI.search(plain)
    assert "~ update a (http)" in plain
