"""End to end: delete limits refuse a run before any write, and the flag or key allows it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from reconciler.emulator.testing import running_emulator
from tests.support.e2e_helpers import (
    EMULATOR_TOKEN,
    clean_env,
    result_row,
    sources_in,
    state_doc,
    symsync,
    write_tree,
)
from tests.support.plan_helpers import http

pytestmark = [pytest.mark.e2e, pytest.mark.parametrize("generation", ["a", "b"])]

WRITES = ("POST", "PUT", "DELETE")


def _env(url: str) -> dict[str, str]:
    return clean_env(SENTRY_URL=url, SENTRY_AUTH_TOKEN=EMULATOR_TOKEN)


def _writes(log: list[dict]) -> list[tuple[str, str]]:
    return [(e["method"], e["path"]) for e in log if e["method"] in WRITES]


def _emptied(ids: list[str], keep: int) -> dict:
    """A file that keeps the first ``keep`` sources and deletes the rest by `state: absent`."""
    return {
        "sources": [http(i) for i in ids[:keep]]
        + [{"id": i, "state": "absent"} for i in ids[keep:]]
    }


def test_half_rule_refuses_and_the_file_key_allows(generation, tmp_path: Path):
    ids = [f"s{i}" for i in range(6)]
    remote = {"acme/ios": [http(i) for i in ids], "acme/web": [http("w")]}
    files = {"acme/ios": _emptied(ids, 2), "acme/web": {"sources": [http("w"), http("new")]}}
    write_tree(tmp_path, files)
    with running_emulator("--api-generation", generation, state=state_doc(remote)) as emu:
        env = _env(emu.url)
        plan = symsync("plan", "--format", "json", env=env, cwd=tmp_path)
        assert plan.returncode == 0, plan.stderr  # plan's own exit code does not change
        limits = json.loads(plan.stdout)["limits"]
        assert limits["refused"] is True
        assert limits["breaches"][0]["message"] == (
            "acme/ios: 4 of its 6 sources deleted, more than half"
        )
        assert limits["breaches"][0]["allow"] == "max_deletes: 4 in configs/acme/ios.yaml"

        apply = symsync("apply", "--config-dir", "configs", "--yes", env=env, cwd=tmp_path)
        assert apply.returncode == 3, apply.stderr
        assert "refused" in result_row(apply.stderr, "acme/ios")
        assert "refused" in result_row(apply.stderr, "acme/web")  # nothing written anywhere
        assert _writes(emu.requests()) == []

        # --max-deletes raises only the run total, not the project's half rule
        apply = symsync(
            "apply",
            "--config-dir",
            "configs",
            "--yes",
            "--max-deletes",
            "100",
            env=env,
            cwd=tmp_path,
        )
        assert apply.returncode == 3, apply.stderr
        assert _writes(emu.requests()) == []

        files["acme/ios"]["max_deletes"] = 4
        write_tree(tmp_path, files)
        apply = symsync("apply", "--config-dir", "configs", "--yes", env=env, cwd=tmp_path)
        assert apply.returncode == 0, apply.stderr
        state = emu.state()
    assert [s["id"] for s in sources_in(state, "acme/ios")] == ["s0", "s1"]
    assert [s["id"] for s in sources_in(state, "acme/web")] == ["w", "new"]


def test_run_total_refuses_a_saved_plan_and_the_flag_allows(generation, tmp_path: Path):
    # 3 projects deleting 4 of 10 sources each: under half everywhere, 12 in total
    remote, files = {}, {}
    for name in ("a", "b", "c"):
        ids = [f"{name}{i}" for i in range(10)]
        remote[f"acme/{name}"] = [http(i) for i in ids]
        files[f"acme/{name}"] = _emptied(ids, 6)
    write_tree(tmp_path, files)
    saved = tmp_path / "plan.json"
    with running_emulator("--api-generation", generation, state=state_doc(remote)) as emu:
        env = _env(emu.url)
        plan = symsync(
            "plan", "--config-dir", "configs", "--out", str(saved), "--detailed-exitcode",
            env=env, cwd=tmp_path,
        )  # fmt: skip
        assert plan.returncode == 2, plan.stderr
        assert (
            "apply would refuse: 12 deletes, more than --max-deletes 10 "
            "(to allow it: --max-deletes 12, or max_deletes: 12 in configs/symsync.yaml)"
        ) in plan.stdout
        assert json.loads(saved.read_text())["limits"]["breaches"][0]["allow"] == (
            "--max-deletes 12, or max_deletes: 12 in configs/symsync.yaml"
        )

        apply = symsync("apply", str(saved), "--yes", env=env, cwd=tmp_path)
        assert apply.returncode == 3, apply.stderr
        assert "12 deletes, more than --max-deletes 10" in apply.stderr
        assert _writes(emu.requests()) == []
        apply = symsync("apply", str(saved), "--yes", "--max-deletes", "11", env=env, cwd=tmp_path)
        assert apply.returncode == 3, apply.stderr
        assert _writes(emu.requests()) == []

        apply = symsync("apply", str(saved), "--yes", "--max-deletes", "12", env=env, cwd=tmp_path)
        assert apply.returncode == 0, apply.stderr
        assert len(_writes(emu.requests())) == 12
        state = emu.state()
    for name in ("a", "b", "c"):
        assert len(sources_in(state, f"acme/{name}")) == 6


def test_file_key_written_as_an_integral_float_is_its_int(generation, tmp_path: Path):
    """`max_deletes: 1.0` is what the schema's `integer` allows: the file validates, and the
    plan and apply work with the int 1."""
    ids = ["s0", "s1", "s2"]
    remote = {"acme/ios": [http(i) for i in ids]}
    configs = write_tree(tmp_path, {"acme/ios": {"max_deletes": 1.0, **_emptied(ids, 1)}})
    assert "max_deletes: 1.0\n" in (configs / "acme" / "ios.yaml").read_text()
    with running_emulator("--api-generation", generation, state=state_doc(remote)) as emu:
        env = _env(emu.url)
        validate = symsync("validate", env=env, cwd=tmp_path)
        assert validate.returncode == 0, validate.stderr
        plan = symsync("plan", "--format", "json", env=env, cwd=tmp_path)
        assert plan.returncode == 0, plan.stderr
        (breach,) = json.loads(plan.stdout)["limits"]["breaches"]
        assert (breach["rule"], breach["limit"], breach["deletes"]) == ("file", 1, 2)
        assert breach["message"] == "acme/ios: 2 deletes, more than its max_deletes 1"
        assert breach["allow"] == "max_deletes: 2 in configs/acme/ios.yaml"
        apply = symsync("apply", "--config-dir", "configs", "--yes", env=env, cwd=tmp_path)
        assert apply.returncode == 3, apply.stderr
        assert _writes(emu.requests()) == []

        write_tree(tmp_path, {"acme/ios": {"max_deletes": 2.0, **_emptied(ids, 1)}})
        apply = symsync("apply", "--config-dir", "configs", "--yes", env=env, cwd=tmp_path)
        assert apply.returncode == 0, apply.stderr
        state = emu.state()
    assert [s["id"] for s in sources_in(state, "acme/ios")] == ["s0"]
