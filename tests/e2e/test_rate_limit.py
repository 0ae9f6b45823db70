"""End to end: apply against the emulator at `--rate-limit 10/1 --concurrent-limit 5` with 32
threads, on 20 projects of one organization and on 32 projects of four (the emulator limits
per token, as Sentry does for a user token: one window for every organization). The client
paces itself from Sentry's headers: few 429s, no project fails, and Sentry ends up holding
exactly the files."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from reconciler.emulator.testing import running_emulator
from tests.support.e2e_helpers import (
    EMULATOR_TOKEN,
    clean_env,
    is_organization_lookup,
    organization_lookups,
    sources_in,
    state_doc,
    symsync,
    write_tree,
)

pytestmark = pytest.mark.e2e

PROJECTS = [f"acme/p{i:02d}" for i in range(20)]
ORGS = ["acme", "globex", "initech", "umbrella"]
MULTI = [f"{org}/p{i:02d}" for org in ORGS for i in range(8)]


def _source(key: str) -> dict:
    return {
        "id": "symbols",
        "type": "http",
        "name": f"{key} symbols",
        "url": f"https://symbols.example/{key}/",
        "layout": {"type": "native", "casing": "default"},
    }


# Each run: the command's arguments after `symsync` and `--config-dir DIR`.
APPLY = ("apply", "--yes", "--parallelism", "32")
PLAN = ("plan", "--detailed-exitcode", "--parallelism", "32")


def _at_the_limit(
    tmp_path: Path, keys: list[str], *runs: tuple[str, ...]
) -> tuple[list[subprocess.CompletedProcess[str]], list[list[dict]], dict]:
    """Runs the commands one after the other against one emulator at `--rate-limit 10/1
    --concurrent-limit 5`, holding the keys' projects with no source, the tree giving each one
    source: each run, the requests the emulator saw during it, and the state at the end."""
    configs = write_tree(tmp_path, {key: {"sources": [_source(key)]} for key in keys})
    limits = ("--rate-limit", "10/1", "--concurrent-limit", "5")
    done, logs = [], []
    with running_emulator(*limits, state=state_doc({key: [] for key in keys})) as emulator:
        env = clean_env(SENTRY_URL=emulator.url, SENTRY_AUTH_TOKEN=EMULATOR_TOKEN)
        for verb, *args in runs:
            before = len(emulator.requests())
            done.append(symsync(verb, "--config-dir", str(configs), *args, env=env, timeout=60))
            logs.append(emulator.requests()[before:])
        state = emulator.state()
    return done, logs, state


def test_apply_at_the_rate_limit_paces_itself_and_converges(tmp_path):
    (run,), (log,), state = _at_the_limit(tmp_path, PROJECTS, APPLY)
    assert run.returncode == 0, run.stderr
    assert "20 applied, 0 unchanged, 0 failed" in run.stderr
    # 40 requests at 10 a second: some of them waited for a window the headers showed used up.
    waited = re.search(r"([0-9.]+) s waiting for the rate limit", run.stderr)
    assert waited is not None and float(waited.group(1)) > 0, run.stderr
    statuses = [entry["status"] for entry in log if not is_organization_lookup(entry)]
    # The organization's region looked up once; one read and one create per project; a 429
    # costs one more request.
    assert organization_lookups(log) == ["acme"]
    assert statuses.count(200) == 20 and statuses.count(201) == 20
    assert statuses.count(429) <= 1, statuses
    for key in PROJECTS:
        assert sources_in(state, key) == [_source(key)]


def test_several_organizations_sharing_the_tokens_limit_pace_themselves_as_one(tmp_path):
    """The emulator, like Sentry for a user token, counts every organization's requests in
    one window: apply on 4 organizations at `--rate-limit 10/1 --concurrent-limit 5` with
    32 threads keeps the organizations together inside it, and converges."""
    (apply, plan), (applied, planned), state = _at_the_limit(tmp_path, MULTI, APPLY, PLAN)
    assert apply.returncode == 0, apply.stderr
    assert f"{len(MULTI)} applied, 0 unchanged, 0 failed" in apply.stderr
    assert plan.returncode == 0, plan.stdout + plan.stderr  # no changes left
    statuses = [entry["status"] for entry in applied if not is_organization_lookup(entry)]
    assert sorted(organization_lookups(applied)) == ORGS  # each once, before its first read
    assert statuses.count(200) == len(MULTI) and statuses.count(201) == len(MULTI)
    # Each organization's first request goes out before any answer can show that the windows
    # are one, so each organization but the first can find the window used up once (how many
    # do depends only on which answers come back first); that 429 shows the sharing, and from
    # then on they are paced as one: nothing more. (Paced apart, the four organizations offer
    # four times the limit, and a 429 follows in nearly every window.)
    probes = len(ORGS) - 1
    assert statuses.count(429) <= probes, statuses
    assert [entry["status"] for entry in planned].count(429) <= probes
    for key in MULTI:
        assert sources_in(state, key) == [_source(key)]


def test_against_a_sentry_without_limits_nothing_is_waiting_for_the_rate_limit(tmp_path):
    """No rate-limit header and no 429: the figure is 0.0, however slowly the first answer of
    the organization (which the others wait for, to learn the limits) comes."""
    keys = PROJECTS[:12]
    configs = write_tree(tmp_path, {key: {"sources": [_source(key)]} for key in keys})
    state = state_doc({key: [_source(key)] for key in keys})
    with running_emulator("--latency-ms", "300", state=state) as emulator:
        env = clean_env(SENTRY_URL=emulator.url, SENTRY_AUTH_TOKEN=EMULATOR_TOKEN)
        run = symsync(*PLAN, "--config-dir", str(configs), env=env)
        applied = symsync("apply", "--yes", "--config-dir", str(configs), env=env)
    assert run.returncode == 0, run.stderr
    # The organization's details (its region), then one read per project.
    assert "plan: 12 projects, 13 requests, 0 answered 429, 0.0 s waiting for the rate limit" in (
        run.stderr
    )
    assert applied.returncode == 0, applied.stderr
    assert "0 answered 429, 0.0 s waiting for the rate limit" in applied.stderr
