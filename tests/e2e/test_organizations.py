"""End to end: two organizations, each in its own region with its own token.

Three emulators over loopback stand for sentry.io: a control URL (the configured `SENTRY_URL`)
that only answers the organizations' details, naming each one's region with `--region-url`,
and one emulator per region. Every token is an internal integration's (`--org-token`), bound to
its organization: another organization's token is refused there. The real CLI runs against
them."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from reconciler.emulator.testing import EmulatorHandle, running_emulator
from tests.support.e2e_helpers import (
    clean_env,
    is_organization_lookup,
    organization_lookups,
    sources_in,
    state_doc,
    symsync,
    write_tree,
)

pytestmark = pytest.mark.e2e

TOKEN_A = "acme-integration-SENTINEL-a1b2c3"
TOKEN_B = "beta-integration-SENTINEL-d4e5f6"
# Internal integrations' tokens: each bound to its organization, 403 in any other.
ACME_TOKEN = ("--org-token", f"acme={TOKEN_A}")
BETA_TOKEN = ("--org-token", f"beta={TOKEN_B}")
ACME = ["acme/ios", "acme/android"]
BETA = ["beta/web", "beta/backend"]


def _source(key: str) -> dict[str, Any]:
    return {
        "id": "symbols",
        "type": "http",
        "name": f"{key} symbols",
        "url": f"https://symbols.example/{key}/",
        "layout": {"type": "native", "casing": "default"},
    }


@dataclass
class Regions:
    control: EmulatorHandle
    acme: EmulatorHandle
    beta: EmulatorHandle
    configs: Path


@contextlib.contextmanager
def _regions(tmp_path: Path, *, beta_region: str | None = None) -> Iterator[Regions]:
    """The control URL and the two regions; ``beta_region`` replaces the region the control
    URL names for beta."""
    configs = write_tree(tmp_path, {key: {"sources": [_source(key)]} for key in ACME + BETA})
    with (
        running_emulator(*ACME_TOKEN, state=state_doc({k: [] for k in ACME})) as acme,
        running_emulator(*BETA_TOKEN, state=state_doc({k: [] for k in BETA})) as beta,
    ):
        orgs = {"organizations": {"acme": {"projects": {}}, "beta": {"projects": {}}}}
        regions = ("--region-url", f"acme={acme.url}")
        regions += ("--region-url", f"beta={beta_region or beta.url}")
        tokens = (*ACME_TOKEN, *BETA_TOKEN)
        with running_emulator(*tokens, *regions, state=orgs) as control:
            yield Regions(control, acme, beta, configs)


def _env(regions: Regions, **tokens: str) -> dict[str, str]:
    own = json.dumps(tokens or {"acme": TOKEN_A, "beta": TOKEN_B})
    return clean_env(SENTRY_URL=regions.control.url, SENTRY_AUTH_TOKENS=own)


def _paths(handle: EmulatorHandle) -> set[str]:
    return {entry["path"] for entry in handle.requests() if not is_organization_lookup(entry)}


def _no_token_in(*texts: str) -> None:
    for text in texts:
        assert "SENTINEL" not in text


def test_each_organization_is_planned_and_applied_at_its_region_with_its_own_token(tmp_path):
    with _regions(tmp_path) as r:
        env = _env(r)
        planned = symsync("plan", "--config-dir", str(r.configs), "--format", "json", env=env)
        text = symsync("plan", "--config-dir", str(r.configs), "-v", env=env)
        applied = symsync("apply", "--config-dir", str(r.configs), "--yes", "-v", env=env)
        again = symsync("plan", "--config-dir", str(r.configs), "--detailed-exitcode", env=env)
        control_log, acme_log, beta_log = r.control.requests(), r.acme.requests(), r.beta.requests()
        acme_state, beta_state = r.acme.state(), r.beta.state()
    assert planned.returncode == 0, planned.stderr
    assert applied.returncode == 0, applied.stderr
    assert again.returncode == 0, again.stdout + again.stderr  # nothing left to do
    for key in ACME:
        assert sources_in(acme_state, key) == [_source(key)]
    for key in BETA:
        assert sources_in(beta_state, key) == [_source(key)]
    # The control URL answered the organizations' details, once per organization per run, and
    # nothing else; each region only its own organization's requests, with its token (another
    # organization's would be refused: no 401 or 403 anywhere).
    assert {e["path"] for e in control_log} == {
        "/api/0/organizations/acme/",
        "/api/0/organizations/beta/",
    }
    assert sorted(organization_lookups(control_log)) == sorted(["acme", "beta"] * 4)
    assert all(e["path"].startswith("/api/0/projects/acme/") for e in acme_log)
    assert all(e["path"].startswith("/api/0/projects/beta/") for e in beta_log)
    assert all(e["status"] not in (401, 403) for e in control_log + acme_log + beta_log)
    assert {e["method"] for e in acme_log} == {"GET", "POST"}
    # Which URL served each organization: the JSON plan, the text plan, and -v.
    document = json.loads(planned.stdout)
    assert document["sentry_url"] == r.control.url
    served = {p["organization"]: p["sentry_url"] for p in document["projects"]}
    assert served == {"acme": r.acme.url, "beta": r.beta.url}
    assert f"Served by: acme at {r.acme.url}, beta at {r.beta.url}" in text.stdout
    assert f"acme: served by {r.acme.url}" in text.stderr
    assert f"beta: served by {r.beta.url}" in applied.stderr
    _no_token_in(planned.stdout, planned.stderr, text.stdout, text.stderr)
    _no_token_in(applied.stdout, applied.stderr, again.stdout, again.stderr)


def test_a_region_on_another_host_is_refused_and_receives_nothing(tmp_path):
    with running_emulator(*BETA_TOKEN, state=state_doc({k: [] for k in BETA})) as rogue:
        # The same server by another name: not the configured host, nor in its domain.
        rogue_url = rogue.url.replace("127.0.0.1", "localhost")
        with _regions(tmp_path, beta_region=rogue_url) as r:
            args = ("--config-dir", str(r.configs))
            plan = symsync("plan", *args, "--format", "json", env=_env(r), timeout=60)
            run = symsync("apply", *args, "--yes", env=_env(r), timeout=60)
            acme_state = r.acme.state()
        rogue_log = rogue.requests()
    assert rogue_log == []
    assert plan.returncode == run.returncode == 1
    for key in ACME:  # the other organization went on
        assert sources_in(acme_state, key) == [_source(key)]
    projects = {p["project"]: p for p in json.loads(plan.stdout)["projects"]}
    for name in ("web", "backend"):
        error = projects[name]["error"]
        assert "organization `beta`: its details name the region URL http://localhost:" in error
        assert "no request or token was sent there" in error
        assert "sentry_url" not in projects[name]
    assert "error: beta/web: could not read the remote sources: organization `beta`" in (
        plan.stderr
    )
    assert "2 applied, 0 unchanged, 2 failed" in run.stderr
    assert "Traceback" not in plan.stderr + run.stderr
    _no_token_in(plan.stdout, plan.stderr, run.stdout, run.stderr)


MALFORMED = [
    '{"acme": "acme-SENTINEL-1", "beta": }',
    '["acme-SENTINEL-1"]',
    '{"Acme-SENTINEL": "x1234567"}',
    '{"acme": "two SENTINEL words"}',
    '{"acme": 12345678}',
]


@pytest.mark.parametrize("value", MALFORMED)
def test_a_malformed_tokens_variable_stops_the_run_before_any_request(tmp_path, value):
    with _regions(tmp_path) as r:
        env = clean_env(
            SENTRY_URL=r.control.url,
            SENTRY_AUTH_TOKEN="default-SENTINEL-token",
            SENTRY_AUTH_TOKENS=value,
        )
        runs = [
            symsync("plan", "--config-dir", str(r.configs), "-v", env=env),
            symsync("apply", "--config-dir", str(r.configs), "--yes", "-v", env=env),
            symsync("import", "--org", "acme", "--config-dir", str(tmp_path / "new"), env=env),
        ]
        logs = r.control.requests() + r.acme.requests() + r.beta.requests()
    assert logs == []
    for run in runs:
        assert run.returncode == 1
        assert "error: SENTRY_AUTH_TOKENS is malformed" in run.stderr
        assert "Traceback" not in run.stderr
        _no_token_in(run.stdout, run.stderr)
        assert value not in run.stderr


def test_an_organization_without_a_token_fails_alone(tmp_path):
    with _regions(tmp_path) as r:
        env = _env(r, acme=TOKEN_A)  # and no SENTRY_AUTH_TOKEN
        run = symsync("plan", "--config-dir", str(r.configs), "--format", "json", env=env)
        control_log, beta_log = r.control.requests(), r.beta.requests()
    assert run.returncode == 1
    plan = {f"{p['organization']}/{p['project']}": p for p in json.loads(run.stdout)["projects"]}
    for key in ACME:
        assert "error" not in plan[key] and plan[key]["changes"]
    for key in BETA:
        assert "organization `beta` has no token" in plan[key]["error"]
        assert "SENTRY_AUTH_TOKENS" in plan[key]["error"]
    assert beta_log == []
    assert organization_lookups(control_log) == ["acme"]
    _no_token_in(run.stdout, run.stderr)


def test_an_organizations_own_token_refused_fails_it_alone(tmp_path):
    with _regions(tmp_path) as r:
        env = _env(r, acme=TOKEN_A, beta="beta-wrong-SENTINEL-token")
        run = symsync("plan", "--config-dir", str(r.configs), "--format", "json", env=env)
    assert run.returncode == 1
    plan = {f"{p['organization']}/{p['project']}": p for p in json.loads(run.stdout)["projects"]}
    assert all("error" not in plan[key] for key in ACME)
    assert all("the token is invalid or expired" in plan[key]["error"] for key in BETA)
    _no_token_in(run.stdout, run.stderr)


def test_the_default_token_serves_the_organizations_not_named(tmp_path):
    with _regions(tmp_path) as r:
        env = _env(r, beta=TOKEN_B)
        env["SENTRY_AUTH_TOKEN"] = TOKEN_A
        run = symsync("plan", "--config-dir", str(r.configs), env=env)
    assert run.returncode == 0, run.stderr
    assert "Plan: 4 to create" in run.stdout


def test_a_saved_plan_is_refused_against_another_region(tmp_path):
    planfile = tmp_path / "plan.json"
    with _regions(tmp_path) as r:
        made = symsync("plan", "--config-dir", str(r.configs), "--out", str(planfile), env=_env(r))
        assert made.returncode == 0, made.stderr
        # acme moved to another region (holding the same state), and the control URL says so.
        orgs = {"organizations": {"acme": {"projects": {}}, "beta": {"projects": {}}}}
        tokens = (*ACME_TOKEN, *BETA_TOKEN)
        regions = ("--region-url", f"beta={r.beta.url}")
        with (
            running_emulator(*tokens, state=r.acme.state()) as elsewhere,
            running_emulator(
                *tokens, *regions, "--region-url", f"acme={elsewhere.url}", state=orgs
            ) as control,
        ):
            env = clean_env(
                SENTRY_URL=control.url,
                SENTRY_AUTH_TOKENS=json.dumps({"acme": TOKEN_A, "beta": TOKEN_B}),
            )
            plan = json.loads(planfile.read_text())
            plan["sentry_url"] = control.url  # the same control URL by another port
            planfile.write_text(json.dumps(plan))
            applied = symsync("apply", str(planfile), "--yes", env=env)
            expect = symsync(
                "apply", "--config-dir", str(r.configs), "--expect", str(planfile), "--yes",
                env=env,
            )  # fmt: skip
            moved_log = elsewhere.requests()
        writes = [e for e in r.acme.requests() + r.beta.requests() if e["method"] != "GET"]
    assert writes == []
    assert all(e["method"] == "GET" for e in moved_log)
    for run in (applied, expect):
        assert run.returncode == 3, run.stderr
        assert "was planned against another region" in run.stderr
        assert f"organization `acme` was planned at {r.acme.url}" in run.stderr
        assert "nothing was written" in run.stderr


def test_no_region_discovery_sends_everything_to_the_configured_url(tmp_path):
    configs = write_tree(tmp_path, {key: {"sources": [_source(key)]} for key in ACME})
    with running_emulator(state=state_doc({k: [] for k in ACME})) as emulator:
        env = clean_env(SENTRY_URL=emulator.url, SENTRY_AUTH_TOKEN="symsync-emulator")
        run = symsync(
            "plan", "--config-dir", str(configs), "--no-region-discovery", "--format", "json",
            env=env,
        )  # fmt: skip
        log = emulator.requests()
    assert run.returncode == 0, run.stderr
    assert organization_lookups(log) == []
    assert len(log) == len(ACME)
    assert {p["sentry_url"] for p in json.loads(run.stdout)["projects"]} == {emulator.url}


def test_a_token_without_org_read_is_warned_and_served_at_the_configured_url(tmp_path):
    configs = write_tree(tmp_path, {key: {"sources": [_source(key)]} for key in ACME})
    state = state_doc({k: [] for k in ACME})
    with running_emulator("--token", "reader-SENTINEL=project:read", state=state) as emulator:
        env = clean_env(SENTRY_URL=emulator.url, SENTRY_AUTH_TOKEN="reader-SENTINEL")
        run = symsync("plan", "--config-dir", str(configs), "--format", "json", env=env)
        log = emulator.requests()
    assert run.returncode == 0, run.stderr
    assert "warning: acme: the token may not read the organization's details" in run.stderr
    assert "needs org:read" in run.stderr
    assert [e["status"] for e in log if is_organization_lookup(e)] == [403]
    assert {p["sentry_url"] for p in json.loads(run.stdout)["projects"]} == {emulator.url}
    _no_token_in(run.stdout, run.stderr)


def test_one_organizations_integration_token_for_all_fails_the_other_alone(tmp_path):
    """SENTRY_AUTH_TOKEN is acme's integration token and beta has none of its own: Sentry
    refuses it for beta (403). beta's projects fail with it; acme is planned at its region."""
    with _regions(tmp_path) as r:
        env = clean_env(SENTRY_URL=r.control.url, SENTRY_AUTH_TOKEN=TOKEN_A)
        run = symsync("plan", "--config-dir", str(r.configs), "--format", "json", env=env)
        acme_log, beta_log = r.acme.requests(), r.beta.requests()
    assert run.returncode == 1
    plan = {f"{p['organization']}/{p['project']}": p for p in json.loads(run.stdout)["projects"]}
    for key in ACME:
        assert "error" not in plan[key] and plan[key]["sentry_url"] == r.acme.url
    for key in BETA:
        assert "error" in plan[key]
    assert "warning: beta: the token may not read the organization's details" in run.stderr
    assert len(acme_log) == len(ACME) and beta_log == []
    _no_token_in(run.stdout, run.stderr)
