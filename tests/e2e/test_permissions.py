"""Sentry's permission model end to end: a Member's token, an organization auth token, and an
organization whose project list the token may not read, each explained by symsync and, for
the last, kept to that organization."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from reconciler.emulator.testing import running_emulator
from tests.support.e2e_helpers import clean_env, sources_in, state_doc, symsync, write_tree

pytestmark = pytest.mark.e2e

SOURCE = {
    "id": "symbols",
    "type": "http",
    "name": "Symbols",
    "url": "https://symbols.example/",
    "layout": {"type": "native", "casing": "default"},
}
MEMBER_TOKEN = "member-TOKEN-SENTINEL"
ORG_TOKEN = "sntrys_ORG-TOKEN-SENTINEL"


def test_a_members_write_is_refused_by_sentry_and_explained(tmp_path: Path) -> None:
    configs = write_tree(tmp_path, {"acme/ios": {"sources": [SOURCE]}})
    with running_emulator(
        "--token",
        f"{MEMBER_TOKEN}=project:admin,org:read@member",
        state=state_doc({"acme/ios": []}),
    ) as emulator:
        env = clean_env(SENTRY_URL=emulator.url, SENTRY_AUTH_TOKEN=MEMBER_TOKEN)
        planned = symsync("plan", "--config-dir", str(configs), env=env)
        run = symsync("apply", "--config-dir", str(configs), "--yes", env=env)
        stored = sources_in(emulator.state(), "acme/ios")
    assert planned.returncode == 0  # a Member may read
    assert run.returncode == 1
    assert stored == []
    # The result table wraps its cells: read it as one line of words.
    output = " ".join(re.sub("[\u2502\u2503]", " ", run.stdout + run.stderr).split())
    assert "POST needs the `project:write` scope on acme/ios" in output
    assert "if the token has `project:write`, the role of its user in organization `acme`" in (
        output
    )
    assert MEMBER_TOKEN not in output


def test_an_organization_auth_token_is_refused_and_named(tmp_path: Path) -> None:
    configs = write_tree(tmp_path, {"acme/ios": {"sources": [SOURCE]}})
    with running_emulator("--token", ORG_TOKEN, state=state_doc({"acme/ios": []})) as emulator:
        env = clean_env(SENTRY_URL=emulator.url, SENTRY_AUTH_TOKEN=ORG_TOKEN)
        run = symsync("plan", "--config-dir", str(configs), env=env)
        statuses = [entry["status"] for entry in emulator.requests()]
    assert run.returncode == 1
    assert statuses and set(statuses) == {403}
    output = run.stdout + run.stderr
    assert output.count("SENTRY_AUTH_TOKEN is an organization auth token (sntrys_...)") == 1
    assert ORG_TOKEN not in output


def test_a_403_on_one_organizations_project_list_leaves_the_others_plan_and_report(
    tmp_path: Path,
) -> None:
    configs = write_tree(
        tmp_path, {"acme/ios": {"sources": [SOURCE]}, "globex/web": {"sources": [SOURCE]}}
    )
    state = state_doc({"acme/ios": [], "acme/unfiled": [SOURCE], "globex/web": []})
    # An internal integration of acme: globex answers it 403, as Sentry does.
    with running_emulator("--org-token", "acme=acme-int-SENTINEL", state=state) as emulator:
        env = clean_env(SENTRY_URL=emulator.url, SENTRY_AUTH_TOKEN="acme-int-SENTINEL")
        run = symsync(
            "plan", "--config-dir", str(configs), "--report-unfiled", "--format", "json", env=env
        )
    assert run.returncode == 1  # the failure shows in the exit code, at the end
    plan = json.loads(run.stdout)
    projects = {f"{p['organization']}/{p['project']}": p for p in plan["projects"]}
    assert [c["action"] for c in projects["acme/ios"]["changes"]] == ["create"]
    assert "error" not in projects["acme/ios"]
    assert "error" in projects["globex/web"]
    assert plan["unfiled"] == ["acme/unfiled", "globex/*"]
    assert "globex" in plan["unfiled_errors"]["globex/*"]
    assert "org:read" in plan["unfiled_errors"]["globex/*"]
    assert "acme-int-SENTINEL" not in run.stdout + run.stderr


def test_import_of_an_organization_the_token_may_not_read_is_its_error_only(
    tmp_path: Path,
) -> None:
    state = state_doc({"acme/ios": [SOURCE], "globex/web": [SOURCE]})
    configs = tmp_path / "c"
    with running_emulator("--org-token", "acme=acme-int-SENTINEL", state=state) as emulator:
        env = clean_env(SENTRY_URL=emulator.url, SENTRY_AUTH_TOKEN="acme-int-SENTINEL")
        run = symsync(
            "import", "--project", "globex/*", "--project", "acme/*",
            "--config-dir", str(configs), env=env,
        )  # fmt: skip
    assert run.returncode == 1  # the failure shows in the exit code, at the end
    assert "error: globex/*: could not list its projects: " in run.stderr
    assert "organization `globex`" in run.stderr and "org:read" in run.stderr
    assert "symsync import --org globex" in run.stderr
    assert "Traceback" not in run.stderr and "acme-int-SENTINEL" not in run.stderr
    assert (configs / "acme" / "ios.yaml").exists()  # the other organization is imported
    assert not (configs / "globex").exists()
