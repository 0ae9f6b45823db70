"""End to end: `order: enforce` converges to the file's order in one apply, with the fewest writes.

Seeded random permutations (with and without secrets, unmanaged sources between, sources to
create and to update) run through the library against an in-process emulator, both API
generations; a handful run through the real CLI; and apply killed with SIGKILL at random points
then run again loses and duplicates nothing.

Seed counts: ``SYMSYNC_ORDER_SEEDS`` (default 120 per generation) and
``SYMSYNC_ORDER_KILL_SEEDS`` (default 1 per generation); ``make soak`` runs the ``soak`` tests,
with ``SYMSYNC_SOAK_ORDER_SEEDS`` (default 3000) and ``SYMSYNC_SOAK_KILL_SEEDS`` (default 60).
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from reconciler.apply.applier import apply_plan
from reconciler.emulator.testing import EmulatorHandle, running_emulator, serving_emulator
from reconciler.plan.planner import make_plan
from reconciler.sentry.client import SentryClient
from tests.support.e2e_helpers import (
    EMULATOR_TOKEN,
    clean_env,
    sources_in,
    state_doc,
    symsync,
    write_tree,
)
from tests.support.plan_helpers import project

pytestmark = pytest.mark.e2e
WRITES = ("POST", "PUT", "DELETE")


def _seeds(variable: str, default: int) -> int:
    return int(os.environ.get(variable, default))


@dataclass
class Scenario:
    """One project: what Sentry holds (secrets in clear), what the file says, what apply needs."""

    key: str
    remote: list[dict[str, Any]]
    desired: list[dict[str, Any]]  # file entries, in file order
    unmanaged: list[str]
    env: dict[str, str] = field(default_factory=dict)

    @property
    def order(self) -> list[str]:
        return [s["id"] for s in self.desired]

    def kept(self) -> int:
        """Counted independently of reconciler.plan.ordering: the longest prefix of the file's order
        whose sources Sentry holds, in that order."""
        remote_ids = [s["id"] for s in self.remote]
        keep = 0
        for k in range(len(self.order) + 1):
            head = self.order[:k]
            if (
                all(i in remote_ids for i in head)
                and [i for i in remote_ids if i in set(head)] == head
            ):
                keep = k
        return keep

    def moved(self) -> list[str]:
        remote_ids = {s["id"] for s in self.remote}
        return [sid for sid in self.order[self.kept() :] if sid in remote_ids]

    def expected_writes(self) -> int:
        """The prefix stays (a PUT where its fields change); every other source is written."""
        keep = self.kept()
        order = self.order
        remote_by_id = {s["id"]: s for s in self.remote}
        writes = 0
        for position, sid in enumerate(order):
            if sid not in remote_by_id:
                writes += 1  # POST
            elif position >= keep:
                writes += 2  # DELETE + POST
            elif remote_by_id[sid]["name"] != _by_id(self.desired, sid)["name"]:
                writes += 1  # PUT in place
        return writes


def _by_id(sources: list[dict[str, Any]], sid: str) -> dict[str, Any]:
    return next(s for s in sources if s["id"] == sid)


def scenario(seed: int, key: str, *, secrets: bool) -> Scenario:
    rng = random.Random(seed)
    n = rng.randint(2, 7)
    ids = [f"src{i}" for i in range(n)]
    remote: list[dict[str, Any]] = []
    desired: list[dict[str, Any]] = []
    env: dict[str, str] = {}
    for i, sid in enumerate(ids):
        kind = rng.choice(["http", "s3", "http-pw"]) if secrets else "http"
        name = f"{sid} name"
        base: dict[str, Any]
        variable = f"ORDER_SECRET_{seed}_{i}"
        value = f"value-{seed}-{i}"
        if kind == "s3":
            base = {"id": sid, "type": "s3", "name": name, "bucket": f"b-{sid}",
                    "region": "us-east-1", "access_key": "AKIAEXAMPLE",
                    "layout": {"type": "unified", "casing": "default"}}  # fmt: skip
            secret_field = "secret_key"
        else:
            base = {"id": sid, "type": "http", "name": name, "url": f"https://{sid}.example/",
                    "layout": {"type": "native", "casing": "default"}}  # fmt: skip
            secret_field = "password" if kind == "http-pw" else None
        file_entry = dict(base)
        remote_entry = dict(base)
        if secret_field is not None:
            env[variable] = value
            file_entry[secret_field] = {"env": variable}
            remote_entry[secret_field] = value
        if rng.random() < 0.2:
            file_entry["name"] = f"{sid} renamed"
        desired.append(file_entry)
        if rng.random() >= 0.15:  # else: Sentry does not have it yet
            remote.append(remote_entry)
    rng.shuffle(remote)
    unmanaged = [f"hand{j}" for j in range(rng.randint(0, 2))]
    for uid in unmanaged:
        remote.insert(
            rng.randint(0, len(remote)),
            {"id": uid, "type": "http", "name": uid, "url": f"https://{uid}.example/",
             "layout": {"type": "native", "casing": "default"}},
        )  # fmt: skip
    rng.shuffle(desired)
    return Scenario(key, remote, desired, unmanaged, env)


def _writes(log: list[dict[str, Any]], key: str) -> list[tuple[str, str]]:
    org, name = key.split("/")
    prefix = f"/api/0/projects/{org}/{name}/"
    return [(e["method"], e.get("query") or "") for e in log
            if e["method"] in WRITES and e["path"].startswith(prefix)]  # fmt: skip


def check_converged(state: dict[str, Any], s: Scenario) -> None:
    stored = sources_in(state, s.key)
    ids = [x["id"] for x in stored]
    assert len(ids) == len(set(ids)), f"duplicated source in {s.key}: {ids}"
    assert [i for i in ids if i not in s.unmanaged] == s.order, (s.key, ids, s.order)
    assert [i for i in ids if i in s.unmanaged] == [
        x["id"] for x in s.remote if x["id"] in s.unmanaged
    ], "unmanaged sources were moved or deleted"
    for entry in s.desired:  # every secret holds the variable's value
        got = _by_id(stored, entry["id"])
        assert got["name"] == entry["name"]
        for name in ("password", "secret_key"):
            if name in entry:
                assert got[name] == s.env[entry[name]["env"]]


def _config(s: Scenario):
    org, name = s.key.split("/")
    return project(org, name, s.desired, order="enforce")


def run_permutations(generation: str, seeds: range) -> int:
    """Plan and apply every seed's scenario (one project each) in one run; check each one's
    writes and order, and that a second plan is empty. Returns the writes made."""
    scenarios = [scenario(seed, f"perm/p{seed}", secrets=seed % 2 == 0) for seed in seeds]
    env = {k: v for s in scenarios for k, v in s.env.items()}
    state = state_doc({s.key: s.remote for s in scenarios})
    total_writes = 0
    with serving_emulator(state, generation=generation) as emu:
        client = SentryClient(emu.url, EMULATOR_TOKEN)
        configs = [_config(s) for s in scenarios]
        plan = make_plan(client, configs, max_deletes=0)
        assert all(p.error is None and not p.warnings for p in plan.projects)
        before = len(emu.requests())
        result = apply_plan(plan, client, verify=False, env=env, max_deletes=0)
        assert result.exit_code == 0, [p.message for p in result.projects]
        log = emu.requests()[before:]
        state = emu.state()
        for s in scenarios:
            writes = _writes(log, s.key)
            assert len(writes) == s.expected_writes(), (s.key, writes)
            total_writes += len(writes)
            check_converged(state, s)
        again = make_plan(client, configs)
        assert not again.has_changes
        assert all(not p.warnings for p in again.projects)
        client.close()
    return total_writes


@pytest.mark.parametrize("generation", ["a", "b"])
def test_random_permutations_converge_in_one_apply_with_fewest_writes(generation):
    seeds = range(_seeds("SYMSYNC_ORDER_SEEDS", 120))
    assert run_permutations(generation, seeds) > len(seeds)  # the scenarios did reorder


@pytest.mark.soak
@pytest.mark.parametrize("generation", ["a", "b"])
def test_soak_random_permutations(generation):
    seeds = range(10_000, 10_000 + _seeds("SYMSYNC_SOAK_ORDER_SEEDS", 3000))
    assert run_permutations(generation, seeds) > len(seeds)


def _env(url: str, extra: dict[str, str]) -> dict[str, str]:
    return clean_env(SENTRY_URL=url, SENTRY_AUTH_TOKEN=EMULATOR_TOKEN, **extra)


def _tree(root: Path, scenarios: list[Scenario]) -> None:
    write_tree(root, {s.key: {"order": "enforce", "sources": s.desired} for s in scenarios})


@pytest.mark.parametrize("generation", ["a", "b"])
def test_permutations_through_the_cli(generation, tmp_path: Path):
    scenarios = [scenario(1000 + seed, f"cli/p{seed}", secrets=True) for seed in range(4)]
    env_vars = {k: v for s in scenarios for k, v in s.env.items()}
    _tree(tmp_path, scenarios)
    state = state_doc({s.key: s.remote for s in scenarios})
    with running_emulator("--api-generation", generation, state=state) as emu:
        env = _env(emu.url, env_vars)
        plan = symsync("plan", "--format", "json", env=env, cwd=tmp_path)
        assert plan.returncode == 0, plan.stderr
        assert '"action": "move"' in plan.stdout
        run = symsync("apply", "--yes", env=env, cwd=tmp_path)
        assert run.returncode == 0, run.stderr
        log = emu.requests()
        state = emu.state()
        for s in scenarios:
            assert len(_writes(log, s.key)) == s.expected_writes()
            check_converged(state, s)
        again = symsync("plan", "--detailed-exitcode", env=env, cwd=tmp_path)
        assert again.returncode == 0, again.stdout + again.stderr
        assert "warning" not in again.stderr


def _kill_when(
    emu: EmulatorHandle,
    key: str,
    cwd: Path,
    env: dict[str, str],
    when: Callable[[list[tuple[str, str]]], bool],
) -> list[tuple[str, str]]:
    """Start `symsync apply --yes` and SIGKILL it as soon as the writes Sentry received so far
    satisfy ``when``; the writes received by then."""
    process = subprocess.Popen(
        [sys.executable, "-m", "reconciler", "apply", "--yes"],
        cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while process.poll() is None and time.monotonic() < deadline:
            if when(_writes(emu.requests(), key)):
                process.send_signal(signal.SIGKILL)
                break
            time.sleep(0.005)
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()
    return _writes(emu.requests(), key)


class MoveGate:
    """Holds the first POST that follows a DELETE in one project (the second half of a move)
    until the test has killed apply, then drops it unanswered: a kill exactly between a move's
    DELETE and its POST, whatever the machine's load."""

    def __init__(self, key: str) -> None:
        org, name = key.split("/")
        self.prefix = f"/api/0/projects/{org}/{name}/"
        self.deleted = False
        self.reached = threading.Event()
        self.release = threading.Event()

    @contextmanager
    def installed(self) -> Iterator[MoveGate]:
        from reconciler.emulator import server

        original = server.Emulator.serve_api
        gate = self

        def serve_api(emulator: Any, method: str, path: str, *args: Any) -> Any:
            if path.startswith(gate.prefix) and not gate.reached.is_set():
                if method == "POST" and gate.deleted:
                    gate.reached.set()
                    gate.release.wait(60)
                    return server.DROP, None
                answer = original(emulator, method, path, *args)
                gate.deleted = gate.deleted or method == "DELETE"
                return answer
            return original(emulator, method, path, *args)

        server.Emulator.serve_api = serve_api  # type: ignore[method-assign]
        try:
            yield self
        finally:
            self.release.set()
            server.Emulator.serve_api = original  # type: ignore[method-assign]


def run_kill_case(seed: int, generation: str, root: Path) -> tuple[int, bool]:
    """Kill apply at a random point of one scenario's writes (even seeds: between a move's
    DELETE and its POST, held there by ``MoveGate``), apply again, and check that no source
    was lost or doubled.

    Returns the writes done before the kill, and whether a source was missing after it."""
    rng = random.Random(seed)
    s = scenario(seed, f"kill/p{seed}", secrets=True)
    while not s.moved():
        seed += 10_000
        s = scenario(seed, f"kill/p{seed}", secrets=True)
    _tree(root, [s])
    gate = MoveGate(s.key)
    if seed % 2:
        point = rng.randint(1, s.expected_writes())

        def when(writes: list[tuple[str, str]]) -> bool:
            return len(writes) >= point
    else:

        def when(writes: list[tuple[str, str]]) -> bool:
            return gate.reached.is_set()

    # Requests take a while, so a kill after the k-th write lands close to it.
    with contextlib.ExitStack() as stack:
        if not seed % 2:
            stack.enter_context(gate.installed())
        emu = stack.enter_context(
            serving_emulator(
                state_doc({s.key: s.remote}), generation=generation, latency_ms=20 * (seed % 2)
            )
        )
        env = _env(emu.url, s.env)
        done = _kill_when(emu, s.key, root, env, when)
        gate.release.set()
        held = {x["id"] for x in sources_in(emu.state(), s.key)}
        missing = any(x["id"] not in held for x in s.remote)
        run = symsync("apply", "--yes", env=env, cwd=root)
        assert run.returncode == 0, run.stderr
        check_converged(emu.state(), s)
        again = symsync("plan", "--detailed-exitcode", env=env, cwd=root)
        assert again.returncode == 0, again.stdout + again.stderr
    return len(done), missing


@pytest.mark.parametrize("generation", ["a", "b"])
def test_apply_killed_at_random_points_then_run_again_loses_nothing(generation, tmp_path):
    # By default one case per generation: Gen A killed right after a move's DELETE (even
    # seed), Gen B at a random write (odd seed).
    first = 3000 if generation == "a" else 3001
    outcomes = []
    for seed in range(first, first + 2 * _seeds("SYMSYNC_ORDER_KILL_SEEDS", 1), 2):
        root = tmp_path / f"seed{seed}"
        root.mkdir()
        outcomes.append(run_kill_case(seed, generation, root))
    if generation == "a":
        assert all(missing for _, missing in outcomes)  # a source was gone, then restored


@pytest.mark.soak
@pytest.mark.parametrize("generation", ["a", "b"])
def test_soak_apply_killed_at_random_points(generation, tmp_path):
    seeds = _seeds("SYMSYNC_SOAK_KILL_SEEDS", 60)
    outcomes = []
    for seed in range(seeds):
        root = tmp_path / f"seed{seed}"
        root.mkdir()
        outcomes.append(run_kill_case(20_000 + seed, generation, root))
    # every even seed was killed between a move's DELETE and its POST
    assert all(missing for _, missing in outcomes[::2])
