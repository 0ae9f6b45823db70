"""End to end: apply --expect applies a fresh plan only when it makes the reviewed changes."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests

from reconciler.emulator.testing import running_emulator
from tests.support.e2e_helpers import (
    EMULATOR_TOKEN,
    clean_env,
    sources_in,
    state_doc,
    symsync,
    write_tree,
)
from tests.support.plan_helpers import http

pytestmark = [pytest.mark.e2e, pytest.mark.parametrize("generation", ["a", "b"])]

WRITES = ("POST", "PUT", "DELETE")


def _writes(log: list[dict], since: int) -> list[tuple[str, str]]:
    return [(e["method"], e.get("query") or "") for e in log[since:] if e["method"] in WRITES]


def test_expect_equal_applies_and_different_refuses(generation, tmp_path: Path):
    write_tree(tmp_path, {
        "acme/ios": {"sources": [http("a", name="reviewed name"), http("b")]},
        "acme/web": {"sources": [http("w", name="web renamed")]},
    })  # fmt: skip
    remote = {"acme/ios": [http("a")], "acme/web": [http("w")]}
    with running_emulator("--api-generation", generation, state=state_doc(remote)) as emu:
        env = clean_env(SENTRY_URL=emu.url, SENTRY_AUTH_TOKEN=EMULATOR_TOKEN)
        plan = symsync("plan", "--out", "reviewed.json", env=env, cwd=tmp_path)
        assert plan.returncode == 0, plan.stderr

        # someone edits a source in Sentry after the review: refused, nothing written anywhere
        api = f"{emu.url}/api/0/projects/acme/ios/symbol-sources/"
        auth = {"Authorization": f"Bearer {EMULATOR_TOKEN}"}
        changed = requests.put(api, params={"id": "a"}, headers=auth, timeout=10,
                               json=http("a", url="https://elsewhere.example/"))  # fmt: skip
        assert changed.status_code == 200
        mark = len(emu.requests())
        run = symsync("apply", "--expect", "reviewed.json", "--yes", env=env, cwd=tmp_path)
        assert run.returncode == 3, run.stderr
        assert "the fresh plan differs from reviewed.json; nothing was written" in run.stderr
        assert "acme/ios: update `a` field `url`: reviewed no change; now " in run.stderr
        assert _writes(emu.requests(), mark) == []

        # put back as reviewed, plus a hand-made source kept unmanaged: not a change
        for body in (http("a"), http("hand")):
            reply = requests.request(
                "PUT" if body["id"] == "a" else "POST", api, headers=auth, timeout=10,
                params={"id": "a"} if body["id"] == "a" else None, json=body,
            )  # fmt: skip
            assert reply.status_code in (200, 201)
        mark = len(emu.requests())
        run = symsync("apply", "--expect", "reviewed.json", "--yes", env=env, cwd=tmp_path)
        assert run.returncode == 0, run.stderr
        assert sorted(_writes(emu.requests(), mark)) == [
            ("POST", ""), ("PUT", "id=a"), ("PUT", "id=w"),
        ]  # fmt: skip
        state = emu.state()
        assert [s["id"] for s in sources_in(state, "acme/ios")] == ["a", "hand", "b"]

        # the reviewed plan is done: applying it again now differs (nothing left to do)
        run = symsync("apply", "--expect", "reviewed.json", "--yes", env=env, cwd=tmp_path)
        assert run.returncode == 3
        assert "acme/ios: create `b`: in the reviewed plan, not in the fresh one" in run.stderr
        both = symsync("apply", "reviewed.json", "--expect", "reviewed.json", env=env, cwd=tmp_path)
        assert both.returncode == 1 and "not both" in both.stderr


def test_a_project_the_fresh_plan_cannot_read_is_an_error_not_a_difference(
    generation, tmp_path: Path
):
    # acme/ios makes exactly the reviewed change, but acme/gone's project does not answer:
    # its changes are unknown, so nothing can be compared; an API failure is exit 1, not 3
    write_tree(tmp_path, {
        "acme/ios": {"sources": [http("a", name="reviewed name")]},
        "acme/gone": {"sources": [http("g")]},
    })  # fmt: skip
    remote = state_doc({"acme/ios": [http("a")]})
    with running_emulator("--api-generation", generation, state=remote) as emu:
        env = clean_env(SENTRY_URL=emu.url, SENTRY_AUTH_TOKEN=EMULATOR_TOKEN)
        plan = symsync("plan", "--out", "reviewed.json", env=env, cwd=tmp_path)
        assert plan.returncode == 1, plan.stderr  # acme/gone could not be planned
        mark = len(emu.requests())
        run = symsync("apply", "--expect", "reviewed.json", "--yes", env=env, cwd=tmp_path)
        assert run.returncode == 1, run.stderr
        assert "could not read 1 project(s), so it cannot be compared with reviewed.json" in (
            run.stderr
        )
        assert "nothing was written anywhere" in run.stderr
        assert "  acme/gone: " in run.stderr
        assert "differs" not in run.stderr
        assert _writes(emu.requests(), mark) == []
        assert [s.get("name") for s in sources_in(emu.state(), "acme/ios")] == ["a server"]
