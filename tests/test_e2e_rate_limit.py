"""End to end: apply against the emulator at `--rate-limit 10/1 --concurrent-limit 5` with 32
threads, on 20 projects of one organization and on 32 projects of four (the emulator limits
per token, as Sentry does for a user token: one window for every organization). The client
paces itself from Sentry's headers: few 429s, no project fails, and Sentry ends up holding
exactly the files."""

from __future__ import annotations

import pytest

from reconciler.emulator.testing import running_emulator
from tests.e2e_helpers import (
    EMULATOR_TOKEN,
    clean_env,
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


def test_apply_at_the_rate_limit_paces_itself_and_converges(tmp_path):
    configs = write_tree(tmp_path, {key: {"sources": [_source(key)]} for key in PROJECTS})
    remote = state_doc({key: [] for key in PROJECTS})
    limits = ("--rate-limit", "10/1", "--concurrent-limit", "5")
    with running_emulator(*limits, state=remote) as emulator:
        env = clean_env(SENTRY_URL=emulator.url, SENTRY_AUTH_TOKEN=EMULATOR_TOKEN)
        run = symsync(
            "apply", "--config-dir", str(configs), "--yes", "--parallelism", "32",
            env=env, timeout=60,
        )  # fmt: skip
        log = emulator.requests()
        state = emulator.state()
    assert run.returncode == 0, run.stderr
    assert "20 applied, 0 unchanged, 0 failed" in run.stderr
    statuses = [entry["status"] for entry in log]
    # One read and one create per project; a 429 costs one more request.
    assert statuses.count(200) == 20 and statuses.count(201) == 20
    assert statuses.count(429) <= 1, statuses
    for key in PROJECTS:
        assert sources_in(state, key) == [_source(key)]


def test_several_organizations_sharing_the_tokens_limit_pace_themselves_as_one(tmp_path):
    """The emulator, like Sentry for a user token, counts every organization's requests in
    one window: apply on 4 organizations at `--rate-limit 10/1 --concurrent-limit 5` with
    32 threads keeps the organizations together inside it, and converges."""
    configs = write_tree(tmp_path, {key: {"sources": [_source(key)]} for key in MULTI})
    remote = state_doc({key: [] for key in MULTI})
    limits = ("--rate-limit", "10/1", "--concurrent-limit", "5")
    with running_emulator(*limits, state=remote) as emulator:
        env = clean_env(SENTRY_URL=emulator.url, SENTRY_AUTH_TOKEN=EMULATOR_TOKEN)
        apply = symsync(
            "apply", "--config-dir", str(configs), "--yes", "--parallelism", "32",
            env=env, timeout=60,
        )  # fmt: skip
        applied = len(emulator.requests())
        plan = symsync(
            "plan", "--config-dir", str(configs), "--detailed-exitcode", "--parallelism", "32",
            env=env, timeout=60,
        )  # fmt: skip
        log = emulator.requests()
        state = emulator.state()
    assert apply.returncode == 0, apply.stderr
    assert f"{len(MULTI)} applied, 0 unchanged, 0 failed" in apply.stderr
    assert plan.returncode == 0, plan.stdout + plan.stderr  # no changes left
    statuses = [entry["status"] for entry in log[:applied]]
    assert statuses.count(200) == len(MULTI) and statuses.count(201) == len(MULTI)
    # The probe of a second organization can find the window used up, before the answers
    # show that the organizations share it; nothing more.
    assert statuses.count(429) <= 1, statuses
    assert [entry["status"] for entry in log[applied:]].count(429) <= 1
    for key in MULTI:
        assert sources_in(state, key) == [_source(key)]
