"""`symsync github apply`: apply the reviewed plan and report the outcome on its pull request."""

from __future__ import annotations

import sys
from pathlib import Path

import click
import pytest

from reconciler.cli import cli
from reconciler.emulator.testing import running_emulator
from reconciler.github.apply_run import ApplyRun, apply_command, report, run_apply
from reconciler.github.comment import marker
from tests.support.e2e_helpers import EMULATOR_TOKEN, state_doc, symsync, write_tree
from tests.support.fake_github import running_fake_github
from tests.unit.github.test_rest import TOKEN, gh_env, github_cli

APPLY_MARKER = marker("apply")


def test_the_apply_command_line_is_the_one_the_issue_names() -> None:
    args = apply_command("plan.json", base="abc123", config_dir="configs", url=None)
    assert args[1:] == ["-m", "reconciler", "apply", "--expect", "plan.json", "--base", "abc123",
                        "--yes", "--format", "markdown", "--config-dir", "configs"]  # fmt: skip
    assert "--base" not in apply_command("p.json", base=None, config_dir=None, url="http://x")
    apply = cli.get_command(click.Context(cli), "apply")
    assert apply is not None
    with apply.make_context("symsync apply", args[4:]) as ctx:  # symsync accepts it
        assert ctx.params["expect"] is not None and ctx.params["yes"] is True


def test_apply_runs_without_the_github_token_and_its_stderr_is_shown_and_kept(
    monkeypatch, capsys
) -> None:
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    script = (
        "import os, sys\n"
        "print('### symsync plan')\n"
        "print('token' if 'GITHUB_TOKEN' in os.environ else 'no token', file=sys.stderr)\n"
        "print('refused: acme/ios differs', file=sys.stderr)\n"
        "sys.exit(3)\n"
    )
    run = run_apply([sys.executable, "-c", script])
    assert run == ApplyRun(3, "### symsync plan\n", "no token\nrefused: acme/ios differs\n")
    assert capsys.readouterr().err == "no token\nrefused: acme/ios differs\n"


def test_the_report_says_the_outcome_first_then_the_log_then_the_plan() -> None:
    refused = ApplyRun(3, "### symsync plan\n\nbody\n", "acme/ios: source `a`: url differs\n")
    text = report(
        refused, sha="f" * 40, run_url="https://gh/run/1", plan_run_url="https://gh/run/0"
    )
    lines = text.splitlines()
    assert lines[0].startswith("### symsync apply: refused: nothing was written")
    assert (
        "merged commit `ffffffffffff`" in lines[2] and "[apply run](https://gh/run/1)" in lines[2]
    )
    assert "[plan run reviewed](https://gh/run/0)" in lines[2] and "exit code 3" in lines[2]
    assert "```text\nacme/ios: source `a`: url differs\n```" in text
    assert text.endswith("### symsync plan\n\nbody\n")
    assert report(ApplyRun(0, "", ""), sha=None, run_url=None, plan_run_url=None).startswith(
        "### symsync apply: applied\n"
    )
    # exit 1 may mean nothing was written (a project --expect could not plan, a missing
    # secret): the first line does not claim that other projects were applied
    failed = report(ApplyRun(1, "", ""), sha=None, run_url=None, plan_run_url=None)
    assert failed.startswith("### symsync apply: failed: the log below says what was written")
    assert "were applied" not in failed.splitlines()[0]


def test_a_long_log_keeps_its_end_and_a_log_with_fences_stays_in_its_block() -> None:
    log = "".join(f"line {i}\n" for i in range(10_000)) + "```\nsummary: 1 failed\n"
    text = report(ApplyRun(1, "", log), sha=None, run_url=None, plan_run_url=None)
    assert len(text.encode("utf-8")) < 25_000
    assert "bytes of the log left out" in text and "summary: 1 failed" in text
    assert "line 0\n" not in text
    assert "````text\n" in text  # a fence longer than any run of backticks in the log


def _apply_has_expect() -> bool:
    command = cli.get_command(click.Context(cli), "apply")
    return command is not None and any(p.name == "expect" for p in command.params)


@pytest.mark.e2e
@pytest.mark.skipif(not _apply_has_expect(), reason="symsync apply has no --expect yet")
def test_the_reviewed_plan_is_applied_and_the_outcome_posted(tmp_path: Path) -> None:
    source = {"id": "a", "type": "http", "name": "old", "url": "https://a.example/",
              "layout": {"type": "native"}}  # fmt: skip
    with (
        running_emulator(state=state_doc({"acme/ios": [source]})) as emu,
        running_fake_github(TOKEN) as github,
    ):
        configs = write_tree(tmp_path, {"acme/ios": {"sources": [{**source, "name": "new"}]}})
        env = gh_env(github, tmp_path, SENTRY_URL=emu.url, SENTRY_AUTH_TOKEN=EMULATOR_TOKEN)
        planned = symsync("plan", "--config-dir", str(configs), "--out", str(tmp_path / "p.json"),
                          env=env)  # fmt: skip
        assert planned.returncode == 0, planned.stderr
        run = github_cli("apply", "--plan", str(tmp_path / "p.json"), "--pull-request", "12",
                         "--config-dir", str(configs), env=env, subprocess_=True)  # fmt: skip
        assert run.returncode == 0, run.stderr
        assert (
            emu.state()["organizations"]["acme"]["projects"]["ios"]["symbol_sources"][0]["name"]
            == "new"
        )
        (comment,) = github.comments[12]
        assert comment["body"].startswith(f"{APPLY_MARKER}\n### symsync apply: applied\n")

        # The files moved past the reviewed plan: refused, the refusal posted in place.
        write_tree(tmp_path, {"acme/ios": {"sources": [{**source, "name": "newer"}]}})
        run = github_cli("apply", "--plan", str(tmp_path / "p.json"), "--pull-request", "12",
                         "--config-dir", str(configs), env=env, subprocess_=True)  # fmt: skip
        assert run.returncode == 3, run.stderr
        (comment,) = github.comments[12]
        assert comment["body"].startswith(f"{APPLY_MARKER}\n### symsync apply: refused")
        assert (
            emu.state()["organizations"]["acme"]["projects"]["ios"]["symbol_sources"][0]["name"]
            == "new"
        )
