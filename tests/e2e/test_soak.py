"""Soak suites (``make soak``, ``SYMSYNC_SOAK_SEEDS`` seeds each): faults, kills, hostile answers.

- **fault**: apply under the emulator's ``--fault-rate`` (500 before or after the write, 502/503,
  dropped connections) converges, re-run as a CI job would, with no duplicate and no lost
  source, and a fault-free plan of the result is empty.
- **kill**: apply SIGKILLed at a random moment (planning, between writes, mid-write), then run
  again, converges the same way.
- **fuzz**: hostile answers drawn at random (statuses, shapes, truncations, echoes, hangs,
  trickles) for plan, apply and import: never a traceback, never a token or secret value in
  any output.

Each suite adds to the counts that tests/conftest.py prints: inputs tried, faults injected,
kills, sources lost (must be 0), leaks (must be 0).
"""

from __future__ import annotations

import json
import random
import secrets
from pathlib import Path
from typing import Any

import pytest

from reconciler.emulator.server import DEFAULT_SCOPES
from reconciler.emulator.testing import serving_emulator
from tests.support.e2e_helpers import clean_env, sources_in, state_doc, symsync, write_tree
from tests.support.hostile_sentry import (
    Behaviour,
    HostileSentry,
    Rule,
    cut_reply,
    echo_reply,
    hang,
    html_reply,
    json_reply,
    raw_reply,
    redirect_to,
    trickle,
)
from tests.support.soak_support import (
    FAULTS,
    INPUTS,
    LOST,
    leaks_in,
    run_and_kill,
    seeds,
)
from tests.support.soak_support import (
    count as add,
)

pytestmark = [pytest.mark.soak, pytest.mark.e2e]

TAG = secrets.token_hex(6)
TOKEN = f"soak-token-{TAG}"
ENV_SECRETS = {"SOAK_PW": f"soak-pw-{TAG}", "SOAK_S3": f"soak-s3-{TAG}"}
STORED_PW = f"soak-stored-{TAG}"
SENTINELS = (TOKEN, STORED_PW, *ENV_SECRETS.values())


def _http(sid: str, **extra: Any) -> dict[str, Any]:
    return {"id": sid, "type": "http", "name": f"{sid} server", "url": f"https://{sid}.example/",
            "layout": {"type": "native", "casing": "default"}, **extra}  # fmt: skip


def _s3(sid: str, secret: Any) -> dict[str, Any]:
    return {"id": sid, "type": "s3", "name": sid, "bucket": f"{sid}-b", "region": "us-east-1",
            "access_key": "AKIAEXAMPLE", "secret_key": secret,
            "layout": {"type": "unified", "casing": "default"}}  # fmt: skip


# A general plan: creates (with and without secrets), updates (a secret kept, one newly sent),
# deletes, and sources the files do not name (kept, or deleted by `unmanaged: delete`).
REMOTE = {
    "acme/ios": [
        _http("kept-secret", password=STORED_PW, url="https://old.example/"),
        _http("gets-secret"),
        _http("old-server"),
        _http("hand-made", password=STORED_PW),
    ],
    "acme/android": [_http("same"), _http("stray"), _http("stray-2")],
    "acme/web": [_http("w0", name="old name")],
}
DESIRED = {
    "acme/ios": {"sources": [
        _http("kept-secret", password={"env": "SOAK_PW"}),
        _http("gets-secret", password={"env": "SOAK_PW"}),
        {"id": "old-server", "state": "absent"},
        _s3("releases", {"env": "SOAK_S3"}),
        _http("nightly", password={"env": "SOAK_PW"}),
    ]},
    "acme/android": {"unmanaged": "delete", "sources": [_http("same"), _http("new")]},
    "acme/web": {"sources": [_http(f"w{i}") for i in range(6)]},
}  # fmt: skip
# What Sentry must hold once apply converged: ids in order, and each secret's clear value.
EXPECTED_IDS = {
    "acme/ios": ["kept-secret", "gets-secret", "hand-made", "releases", "nightly"],
    "acme/android": ["same", "new"],
    "acme/web": [f"w{i}" for i in range(6)],
}
EXPECTED_SECRETS = {
    ("acme/ios", "kept-secret", "password"): STORED_PW,  # kept: the placeholder was sent
    ("acme/ios", "gets-secret", "password"): ENV_SECRETS["SOAK_PW"],
    ("acme/ios", "hand-made", "password"): STORED_PW,  # unmanaged, kept
    ("acme/ios", "releases", "secret_key"): ENV_SECRETS["SOAK_S3"],
    ("acme/ios", "nightly", "password"): ENV_SECRETS["SOAK_PW"],
}
MAX_RUNS = 5  # a CI job re-run this many times at most


def _env(url: str) -> dict[str, str]:
    return clean_env(SENTRY_URL=url, SENTRY_AUTH_TOKEN=TOKEN, **ENV_SECRETS)


def _emulator(state: dict[str, Any], **settings: Any) -> Any:
    return serving_emulator(state, tokens={TOKEN: DEFAULT_SCOPES}, **settings)


def _check_converged(state: dict[str, Any], configs: Path, outputs: list[str]) -> None:
    """Every expected source exactly once, secrets right, and a fault-free plan is empty."""
    for key, expected in EXPECTED_IDS.items():
        ids = [s["id"] for s in sources_in(state, key)]
        lost = [i for i in expected if i not in ids]
        add(LOST, len(lost))
        assert not lost, f"{key}: sources lost: {lost}"
        assert len(ids) == len(set(ids)), f"{key}: duplicates: {ids}"
        assert sorted(ids) == sorted(expected), f"{key}: {ids}"
    for (key, sid, field), value in EXPECTED_SECRETS.items():
        (source,) = [s for s in sources_in(state, key) if s["id"] == sid]
        assert source.get(field) == value, f"{key} {sid}: {field} is not what was sent"
    with _emulator(state) as clean:
        plan = symsync(
            "plan", "--config-dir", str(configs), "--detailed-exitcode", "--format", "json",
            env=_env(clean.url),
        )  # fmt: skip
    outputs += [plan.stdout, plan.stderr]
    assert plan.returncode == 0, plan.stdout + plan.stderr


@pytest.fixture
def configs(tmp_path: Path) -> Path:
    return write_tree(tmp_path, DESIRED)


@pytest.mark.parametrize("seed", seeds(salt=1))
def test_fault_suite_apply_converges_under_faults(seed: int, configs: Path) -> None:
    outputs: list[str] = []
    with _emulator(state_doc(REMOTE), fault_rate=0.3, fault_seed=seed) as emu:
        for _ in range(MAX_RUNS):
            add(INPUTS)
            run = symsync("apply", "--yes", "--config-dir", str(configs), env=_env(emu.url))
            outputs += [run.stdout, run.stderr]
            assert "Traceback" not in run.stderr, run.stderr
            assert run.returncode in (0, 1), run.stderr
            if run.returncode == 0:
                break
        add(FAULTS, sum(1 for e in emu.requests() if e.get("fault")))
        state = emu.state()
    assert run.returncode == 0, f"not converged after {MAX_RUNS} runs:\n{run.stderr}"
    _check_converged(state, configs, outputs)
    assert not leaks_in(outputs, SENTINELS)


@pytest.mark.parametrize("seed", seeds(salt=2))
def test_kill_suite_apply_killed_at_random_then_rerun_converges(seed: int, configs: Path) -> None:
    rng = random.Random(seed)
    outputs: list[str] = []
    # Each answer takes 40 ms: a whole apply takes a second or more, so a kill lands anywhere in
    # it (start-up, planning, between writes, or while a write is in flight).
    with _emulator(state_doc(REMOTE), latency_ms=40) as emu:
        add(INPUTS)
        killed = run_and_kill(
            ["apply", "--yes", "--config-dir", str(configs)],
            env=_env(emu.url),
            after=rng.uniform(0.1, 1.5),
        )
        outputs.append(killed.stderr)
        run = symsync("apply", "--yes", "--config-dir", str(configs), env=_env(emu.url))
        outputs += [run.stdout, run.stderr]
        assert run.returncode == 0, run.stderr
        state = emu.state()
    _check_converged(state, configs, outputs)
    assert not leaks_in(outputs, SENTINELS)


# ------------------------------------------------------------------------------------- fuzz


def _random_json(rng: random.Random, depth: int = 0) -> Any:
    kinds = ["str", "int", "none", "bool", "list", "dict"] if depth < 3 else ["str", "int"]
    kind = rng.choice(kinds)
    if kind == "str":
        return rng.choice(["", "x", "http", "s3", "sentry:x", "ü", "a" * rng.randint(1, 300)])
    if kind == "int":
        return rng.choice([0, -1, 2**63, 1.5])
    if kind == "none":
        return None
    if kind == "bool":
        return rng.random() < 0.5
    if kind == "list":
        return [_random_json(rng, depth + 1) for _ in range(rng.randint(0, 4))]
    keys = ["id", "type", "name", "url", "layout", "password", "detail", "error", "slug"]
    return {rng.choice(keys): _random_json(rng, depth + 1) for _ in range(rng.randint(0, 5))}


def _random_source(rng: random.Random) -> dict[str, Any]:
    """Something close to a source, with one part broken or odd."""
    source: dict[str, Any] = _http(rng.choice(["w0", "same", "x", "kept-secret"]))
    broken = rng.choice(["drop", "retype", "placeholder", "extra", "none"])
    key = rng.choice(sorted(source))
    if broken == "drop":
        source.pop(key)
    elif broken == "retype":
        source[key] = _random_json(rng, 2)
    elif broken == "placeholder":
        source["password"] = {"hidden-secret": rng.choice([True, 1, "yes"])}
    elif broken == "extra":
        source[rng.choice(["filters", "zzz", "secret_key"])] = _random_json(rng, 2)
    return source


def _random_answer(rng: random.Random) -> Behaviour:
    status = rng.choice([200, 200, 200, 201, 204, 301, 302, 400, 401, 403, 404, 405, 409, 422,
                         429, 500, 502, 503])  # fmt: skip
    shape = rng.choice(["json", "sources", "truncated", "html", "empty", "bytes", "echo",
                        "cut", "hang", "trickle"])  # fmt: skip
    if shape == "cut":
        return cut_reply(status)
    if shape == "hang":
        return hang
    if shape == "trickle":
        return trickle(0.3, status)
    if status in (301, 302) and rng.random() < 0.7:
        return redirect_to(rng.choice(["http://localhost:9", "https://elsewhere.invalid"]), status)
    if shape == "json":
        return json_reply(status, _random_json(rng))
    if shape == "sources":
        return json_reply(status, [_random_source(rng) for _ in range(rng.randint(0, 4))])
    if shape == "truncated":
        text = json.dumps([_random_source(rng) for _ in range(2)]).encode()
        return raw_reply(status, text[: rng.randint(0, len(text) - 1)])
    if shape == "html":
        return html_reply(status)
    if shape == "empty":
        return raw_reply(status, b"", rng.choice(["application/json", "text/plain"]))
    if shape == "bytes":
        return raw_reply(status, bytes(rng.randrange(256) for _ in range(rng.randint(1, 64))))
    return echo_reply(status if status >= 400 else 400)


@pytest.mark.parametrize("seed", seeds(salt=3))
def test_fuzz_suite_hostile_answers_never_leak_or_crash(seed: int, tmp_path: Path) -> None:
    rng = random.Random(seed)
    configs = write_tree(tmp_path, DESIRED)
    projects = sorted(DESIRED)
    # Every project's reads and writes get their own random answer; the organization's
    # project list (import) gets one too.
    rules: list[Rule] = [
        Rule("GET", r"/organizations/acme/projects/$", _random_answer(rng)),
    ]
    for key in projects:
        path = f"/api/0/projects/{key}/symbol-sources/$"
        rules.append(Rule("GET", path, _random_answer(rng)))
        rules.append(Rule("*", path, _random_answer(rng)))
    outputs: list[str] = []
    with HostileSentry(rules) as server:
        env = _env(server.url)
        for args in (
            ["plan", "--config-dir", str(configs)],
            ["apply", "--yes", "--config-dir", str(configs)],
            ["import", "--org", "acme", "--config-dir", str(tmp_path / "imported")],
        ):
            # Hangs, trickles, 5xx and 429 forever are bounded by these.
            args += ["--timeout", "0.5", "--retry-budget", "1"]
            run = symsync(*args, env=env, timeout=120)
            outputs += [run.stdout, run.stderr]
            label = f"{args[0]} (seed {seed})"
            assert "Traceback" not in run.stderr, f"{label}:\n{run.stderr}"
            assert "internal error" not in run.stderr, f"{label}:\n{run.stderr}"
            assert run.returncode in (0, 1, 2, 3), f"{label}:\n{run.stderr}"
        add(INPUTS, len(server.requests()))
        add(FAULTS, len(server.requests()))
    imported = tmp_path / "imported"
    outputs += [p.read_text() for p in imported.rglob("*") if p.is_file()]
    found = leaks_in(outputs, SENTINELS)
    assert not found, f"seed {seed}: leaked {found}"
