"""The GitHub workflows and action.yml: least privilege (each job asks only for the permissions
it uses), every step calling symsync, and actionlint on the action's steps (the Makefile's lint
target runs actionlint on the workflows and zizmor on both)."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import click
import pytest
import yaml

from reconciler.cli import cli

ROOT = Path(__file__).resolve().parent.parent
WORKFLOWS = ROOT / ".github" / "workflows"
ACTION = ROOT / "action.yml"
BIN = Path(sys.executable).parent
PINNED = re.compile(r"^\s*(?:-\s+)?uses:\s+([\w.-]+/[\w./-]+)@([0-9a-f]{40}) # v\d+(\.\d+)*\s*$")


def load(path: Path) -> dict[Any, Any]:
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(doc, dict)
    return doc


def triggers(doc: dict[Any, Any]) -> dict[str, Any]:
    on = doc.get("on", doc.get(True))  # YAML 1.1 reads a bare `on` as true
    return on if isinstance(on, dict) else {name: None for name in on}


def workflow(name: str) -> dict[Any, Any]:
    return load(WORKFLOWS / name)


def all_files() -> list[Path]:
    return [*sorted(WORKFLOWS.glob("*.yml")), ACTION]


def test_the_three_workflows_and_ci_exist() -> None:
    names = {p.name for p in WORKFLOWS.glob("*.yml")}
    assert {"ci.yml", "symsync-plan.yml", "symsync-apply.yml", "symsync-drift.yml"} <= names
    assert not (ROOT / "examples" / "github-actions" / "symsync.yml").exists()


@pytest.mark.parametrize("path", sorted(WORKFLOWS.glob("*.yml")), ids=lambda p: p.name)
def test_every_job_states_its_permissions_and_no_pull_request_target(path: Path) -> None:
    doc = load(path)
    assert doc.get("permissions") == {}, "the workflow grants nothing by default"
    for name, job in doc["jobs"].items():
        assert isinstance(job.get("permissions"), dict), f"job {name} has no permissions:"
        assert "write-all" not in str(job["permissions"])
    assert "pull_request_target" not in triggers(doc)


@pytest.mark.parametrize("path", all_files(), ids=lambda p: p.name)
def test_actions_are_pinned_by_sha_with_their_version(path: Path) -> None:
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if re.match(r"^\s*(-\s+)?uses:", line) and line.split("uses:")[1].strip() != "./":
            assert PINNED.match(line), f"{path.name}:{number}: not pinned by SHA: {line.strip()}"


def _walk(node: Any, where: tuple[Any, ...] = ()) -> list[tuple[tuple[Any, ...], str]]:
    if isinstance(node, dict):
        return [x for k, v in node.items() for x in _walk(v, (*where, k))]
    if isinstance(node, list):
        return [x for i, v in enumerate(node) for x in _walk(v, (*where, i))]
    return [(where, node)] if isinstance(node, str) else []


@pytest.mark.parametrize("path", all_files(), ids=lambda p: p.name)
def test_secrets_only_as_action_inputs_and_no_expression_in_a_script(path: Path) -> None:
    for where, value in _walk(load(path)):
        if "secrets." in value:
            # `with:` of the action step: never a step's `env:`, which every step of the
            # composite action would inherit.
            assert len(where) >= 2 and where[-2] == "with", f"{path.name}: secret at {where}"
        if where and where[-1] == "run":
            assert "${{" not in value, f"{path.name}: an expression inside a script at {where}"


def test_plan_runs_on_pull_requests_with_the_read_token_one_run_per_pull_request() -> None:
    doc = workflow("symsync-plan.yml")
    assert triggers(doc) == {"pull_request": {"paths": ["configs/**"]}}
    assert "github.event.pull_request.number" in doc["concurrency"]["group"]
    assert doc["concurrency"]["cancel-in-progress"] is True
    (job,) = doc["jobs"].values()
    assert job["permissions"] == {"contents": "read", "pull-requests": "write"}
    step = _action_step(job)
    assert step["with"]["command"] == "plan"
    assert step["with"]["sentry-token"] == "${{ secrets.SENTRY_READ_TOKEN }}"
    assert "env" not in step and "symsync-secrets" not in step["with"]
    assert "environment" not in job
    assert job["steps"][0]["with"]["fetch-depth"] == 0  # --base: the pull request's base


def test_apply_runs_the_default_branch_one_at_a_time_with_the_write_token() -> None:
    doc = workflow("symsync-apply.yml")
    on = triggers(doc)
    assert on["push"] == {"branches": ["main"], "paths": ["configs/**"]}
    assert "workflow_dispatch" in on
    assert doc["concurrency"]["cancel-in-progress"] is False
    (job,) = doc["jobs"].values()
    assert "default_branch" in job["if"]
    assert job["environment"] == "sentry"
    assert job["permissions"] == {
        "contents": "read", "actions": "read", "pull-requests": "write"
    }  # fmt: skip
    step = _action_step(job)
    assert step["with"]["command"] == "apply"
    assert step["with"]["sentry-token"] == "${{ secrets.SENTRY_AUTH_TOKEN }}"
    assert step["with"]["symsync-secrets"] == "${{ secrets.SYMSYNC_SECRETS }}"
    assert "env" not in step
    checkout = job["steps"][0]
    assert checkout["with"]["fetch-depth"] == 0  # --base needs the commit before the push


def test_drift_runs_on_a_schedule_with_the_read_token() -> None:
    doc = workflow("symsync-drift.yml")
    assert set(triggers(doc)) == {"schedule", "workflow_dispatch"}
    (job,) = doc["jobs"].values()
    assert job["permissions"] == {"contents": "read", "issues": "write"}
    step = _action_step(job)
    assert step["with"]["command"] == "drift"
    assert step["with"]["sentry-token"] == "${{ secrets.SENTRY_READ_TOKEN }}"
    assert "env" not in step


def test_only_apply_sees_the_write_token() -> None:
    for path in WORKFLOWS.glob("*.yml"):
        text = path.read_text(encoding="utf-8")
        if path.name != "symsync-apply.yml":
            assert "SENTRY_AUTH_TOKEN }}" not in text and "SYMSYNC_SECRETS }}" not in text


def test_ci_runs_the_ci_script() -> None:
    (job,) = workflow("ci.yml")["jobs"].values()
    assert [s["run"] for s in job["steps"] if "run" in s] == ["bash .ci/run"]


def test_checkouts_keep_no_credentials() -> None:
    for path in WORKFLOWS.glob("*.yml"):
        for job in load(path)["jobs"].values():
            for step in job["steps"]:
                if str(step.get("uses", "")).startswith("actions/checkout@"):
                    assert step["with"]["persist-credentials"] is False, path.name


def _action_step(job: dict[str, Any]) -> dict[str, Any]:
    (step,) = [s for s in job["steps"] if s.get("uses") == "./"]
    return step


# -- action.yml -----------------------------------------------------------------------------


def test_the_action_is_composite_and_each_step_calls_symsync() -> None:
    action = load(ACTION)
    assert action["runs"]["using"] == "composite"
    inputs = {"command", "config-dir", "sentry-url", "sentry-token", "sentry-tokens"}
    assert inputs | {"symsync-secrets", "plan-file"} <= set(action["inputs"])
    for step in action["runs"]["steps"]:
        if "run" in step:
            assert step["shell"] == "bash"
            script = " ".join(step["run"].split())
            assert script.startswith(("symsync ", "python -m pip install --disable-pip-version")), (
                f"step {step['name']!r} runs more than symsync: {script}"
            )
            assert ";" not in script and "&&" not in script and "|" not in script
        env = step.get("env", {})
        if "SENTRY_AUTH_TOKEN" in env:  # each organization's own token goes along
            tokens = "${{ inputs.sentry-tokens }}"
            assert env.get("SENTRY_AUTH_TOKENS") == tokens, step["name"]


SENTRY_INPUTS = ("inputs.sentry-token", "inputs.sentry-tokens", "inputs.symsync-secrets")


def _talks_to_sentry(script: str) -> bool:
    words = script.split()
    return words[:2] in (["symsync", "plan"],) or words[:3] in (
        ["symsync", "github", "plan"],
        ["symsync", "github", "apply"],
    )


def test_only_the_steps_that_talk_to_sentry_get_its_secrets() -> None:
    steps = load(ACTION)["runs"]["steps"]
    for step in steps:
        values = [*step.get("env", {}).values(), *step.get("with", {}).values()]
        text = " ".join(
            v
            for v in map(str, values)
            if v.startswith(("${{ inputs.sentry-token }}", "${{ inputs.sentry-tokens }}"))
            or v.startswith("${{ inputs.symsync-secrets }}")
        )
        script = " ".join(str(step.get("run", "")).split())
        if any(name in text for name in SENTRY_INPUTS):
            assert _talks_to_sentry(script), f"step {step['name']!r} gets a Sentry secret"
        if "symsync-secrets" in text:  # the values for {env: NAME}: apply only
            assert script.startswith("symsync github apply"), step["name"]
            assert step["env"]["SYMSYNC_SECRETS_ONLY"] == "true"
    installs = [s for s in steps if "pip install" in str(s.get("run", ""))]
    assert len(installs) == 2
    for step in installs:
        assert set(step["env"]) <= {"REQUIREMENTS", "ACTION_PATH"}, step["name"]
    assert "--require-hashes" in installs[0]["run"] and "--no-deps" in installs[1]["run"]


SAMPLES = {
    "COMMAND": "plan", "PULL_REQUEST": "12", "BASE": "abc123", "GIVEN": "true",
    "COMMENT": "true", "PULL_REQUESTS": "12", "UNREVIEWED": "13",
}  # fmt: skip


def _action_command_lines() -> list[list[str]]:
    lines = []
    for step in load(ACTION)["runs"]["steps"]:
        script = " ".join(step.get("run", "").split())
        if script.startswith("symsync "):
            script = script.split(" > ")[0]
            for name in re.findall(r"\$(\w+)", script):
                script = script.replace(f'"${name}"', SAMPLES.get(name, f"/tmp/{name.lower()}"))
            lines.append(shlex.split(script)[1:])
    return lines


@pytest.mark.parametrize("args", _action_command_lines(), ids=lambda a: " ".join(a[:2]))
def test_each_command_line_of_the_action_parses(args: list[str]) -> None:
    command = cli.get_command(click.Context(cli), args[0])
    assert command is not None
    rest = args[1:]
    if isinstance(command, click.Group):
        command = command.get_command(click.Context(command), rest[0])
        assert command is not None, args
        rest = rest[1:]
    with command.make_context("symsync", rest) as ctx:
        assert ctx.command is command


def test_actionlint_passes_the_actions_steps(tmp_path: Path) -> None:
    """actionlint reads workflows only: the action's steps go into a reusable workflow whose
    inputs are the action's, and actionlint (with shellcheck) checks that."""
    actionlint = shutil.which("actionlint", path=str(BIN))
    assert actionlint, "actionlint is not installed: `make venv` installs the dev extras"
    action = load(ACTION)
    inputs = {
        name: {"type": "string", "required": bool(spec.get("required", False))}
        for name, spec in action["inputs"].items()
    }
    as_workflow = {
        "name": "action.yml as a workflow",
        "on": {"workflow_call": {"inputs": inputs}},
        "permissions": {},
        "jobs": {
            "action": {
                "runs-on": "ubuntu-latest",
                "permissions": {},
                "steps": action["runs"]["steps"],
            }
        },
    }
    path = tmp_path / "action-steps.yml"
    path.write_text(yaml.safe_dump(as_workflow, sort_keys=False), encoding="utf-8")
    run = subprocess.run(
        [actionlint, "-no-color", str(path)],
        cwd=tmp_path,
        env={**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr
