"""End to end: the real CLI (a subprocess) against the real emulator, both API generations."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import requests

from reconciler.emulator.testing import running_emulator
from tests.support.e2e_helpers import (
    EMULATOR_TOKEN,
    api_requests,
    clean_env,
    result_row,
    sources_in,
    state_doc,
    symsync,
    write_tree,
)

pytestmark = [pytest.mark.e2e, pytest.mark.parametrize("generation", ["a", "b"])]

STORED_PW = "stored-password-kept-by-sentry"
NIGHTLY_PW = "nightly-password-from-env"
S3_SECRET = "s3-secret-from-env"
SECRETS = {"E2E_SYMBOLS_PW": "unused-because-kept", "E2E_NIGHTLY_PW": NIGHTLY_PW,
           "E2E_S3_SECRET": S3_SECRET}  # fmt: skip


def _http(sid: str, **extra):
    return {
        "id": sid,
        "type": "http",
        "name": f"{sid} server",
        "url": f"https://{sid}.example/",
        "layout": {"type": "native", "casing": "default"},
        **extra,
    }


REMOTE = {
    "acme/ios": [
        _http("symbols", password=STORED_PW, url="https://old.example/"),
        _http("nightly"),
        _http("old-server"),
        _http("hand-made"),
    ],
    "acme/android": [_http("same"), _http("stray")],
    "acme/web": [_http("web")],
    "acme/no-file": [_http("untouched")],
}

DESIRED = {
    "acme/ios": {
        "sources": [
            _http("symbols", password={"env": "E2E_SYMBOLS_PW"}),
            _http("nightly", password={"env": "E2E_NIGHTLY_PW"}),
            {"id": "old-server", "state": "absent"},
            {
                "id": "releases",
                "type": "s3",
                "name": "Release builds",
                "bucket": "acme-releases",
                "region": "us-east-1",
                "access_key": "AKIAEXAMPLE",
                "secret_key": {"env": "E2E_S3_SECRET"},
                "layout": {"type": "unified"},
            },
        ]
    },
    "acme/android": {"unmanaged": "delete", "sources": [_http("same")]},
    "acme/web": {"sources": [_http("web")]},
}


@pytest.fixture
def configs(tmp_path: Path) -> Path:
    return write_tree(tmp_path, DESIRED)


def _env(url: str, **extra: str) -> dict[str, str]:
    return clean_env(SENTRY_URL=url, SENTRY_AUTH_TOKEN=EMULATOR_TOKEN, **extra)


def _changes(project: dict) -> list[tuple[str, str]]:
    return [(c["action"], c["source_id"]) for c in project["changes"]]


def test_plan_of_a_mixed_scenario(generation, configs, tmp_path):
    with running_emulator("--api-generation", generation, state=state_doc(REMOTE)) as emu:
        out = tmp_path / "saved.plan.json"
        run = symsync(
            "plan", "--config-dir", str(configs), "--format", "json", "--out", str(out),
            "--detailed-exitcode", env=_env(emu.url),
        )  # fmt: skip
        assert run.returncode == 2, run.stderr
        plan = json.loads(run.stdout)
        assert json.loads(out.read_text()) == plan
        log = emu.requests()

    assert plan["format_version"] == 1
    by_key = {f"{p['organization']}/{p['project']}": p for p in plan["projects"]}
    assert list(by_key) == ["acme/android", "acme/ios", "acme/web"]
    ios = by_key["acme/ios"]
    assert _changes(ios) == [
        ("create", "releases"),
        ("update", "symbols"),
        ("update", "nightly"),
        ("delete", "old-server"),
    ]
    symbols = ios["changes"][1]
    assert symbols["fields"] == {
        "url": {"before": "https://old.example/", "after": "https://symbols.example/"}
    }
    nightly = ios["changes"][2]
    assert nightly["fields"] == {
        "password": {"before": "(not set)", "after": "(set)", "secret": True}
    }
    assert ios["changes"][0]["fields"]["secret_key"]["after"] == "(set)"
    assert ios["unmanaged"] == ["hand-made"]
    assert ios["fingerprint"].startswith("sha256:")
    assert _changes(by_key["acme/android"]) == [("delete", "stray")]
    assert by_key["acme/android"]["unmanaged"] == []
    assert _changes(by_key["acme/web"]) == []
    assert plan["summary"] == {
        "create": 1, "update": 2, "delete": 2, "move": 0, "unchanged": 2, "unmanaged": 1,
        "errors": 0, "reported": 0, "unfiled": 0, "unfiled_unreadable": 0, "builtin": 0,
    }  # fmt: skip
    assert "error" not in json.dumps(plan["projects"])
    # one GET per managed project, nothing else; the project without a file is never read
    assert sorted(api_requests(log)) == [
        ("GET", "acme/android", ""),
        ("GET", "acme/ios", ""),
        ("GET", "acme/web", ""),
    ]


def test_apply_sends_only_the_needed_requests_and_converges(generation, configs):
    with running_emulator("--api-generation", generation, state=state_doc(REMOTE)) as emu:
        env = _env(emu.url, **SECRETS)
        run = symsync("apply", "--config-dir", str(configs), "--yes", env=env)
        assert run.returncode == 0, run.stderr
        log = emu.requests()
        state = emu.state()
        # The emulator saves its --state file after every write (read while the
        # emulator still runs, the moment apply is done).
        assert json.loads(emu.state_path.read_text(encoding="utf-8")) == state
        again = symsync(
            "plan", "--config-dir", str(configs), "--detailed-exitcode", "--format", "json",
            env=_env(emu.url),
        )  # fmt: skip
        assert again.returncode == 0, again.stdout + again.stderr
        second = json.loads(again.stdout)

    sent = api_requests(log)
    per_project = {
        key: [(m, q) for m, k, q in sent if k == key] for key in ("acme/ios", "acme/android")
    }
    assert per_project["acme/ios"] == [
        ("GET", ""),
        ("POST", ""),
        ("PUT", "id=symbols"),
        ("PUT", "id=nightly"),
        ("DELETE", "id=old-server"),
    ]
    assert per_project["acme/android"] == [("GET", ""), ("DELETE", "id=stray")]
    assert [(m, k) for m, k, _ in sent if k == "acme/web"] == [("GET", "acme/web")]
    assert not [r for r in sent if r[1] == "acme/no-file"]
    assert len(sent) == 8  # 3 GETs, 5 writes
    assert all(200 <= e["status"] < 300 for e in log)

    ios = {s["id"]: s for s in sources_in(state, "acme/ios")}
    assert list(ios) == ["symbols", "nightly", "hand-made", "releases"]
    assert ios["symbols"]["password"] == STORED_PW  # kept through the placeholder
    assert ios["symbols"]["url"] == "https://symbols.example/"
    assert ios["nightly"]["password"] == NIGHTLY_PW  # newly added: from the environment
    assert ios["releases"]["secret_key"] == S3_SECRET  # created: from the environment
    assert ios["releases"]["layout"] == {"type": "unified", "casing": "default"}
    assert [s["id"] for s in sources_in(state, "acme/android")] == ["same"]
    assert sources_in(state, "acme/no-file") == REMOTE["acme/no-file"]

    assert second["summary"]["create"] + second["summary"]["update"] == 0
    assert second["summary"]["delete"] == 0
    assert all(p["changes"] == [] for p in second["projects"])
    assert "applied" in run.stderr and "acme/ios" in run.stderr


def test_stale_saved_plan_is_refused_and_nothing_written(generation, configs, tmp_path):
    saved = tmp_path / "saved.plan.json"
    with running_emulator("--api-generation", generation, state=state_doc(REMOTE)) as emu:
        env = _env(emu.url, **SECRETS)
        made = symsync("plan", "--config-dir", str(configs), "--out", str(saved), env=env)
        assert made.returncode == 0, made.stderr
        # someone changes acme/ios by hand between plan and apply
        sneaky = _http("sneaky")
        answer = requests.post(
            f"{emu.url}/api/0/projects/acme/ios/symbol-sources/",
            json=sneaky,
            headers={"Authorization": f"Bearer {EMULATOR_TOKEN}"},
            timeout=10,
        )
        assert answer.status_code == 201
        before = len(emu.requests())
        run = symsync("apply", str(saved), "--config-dir", str(configs), "--yes", env=env)
        log = emu.requests()
        state = emu.state()

    assert run.returncode == 3, run.stdout + run.stderr
    assert "refused" in run.stderr
    assert "added `sneaky`" in run.stderr
    sent = api_requests(log, before)
    assert [(m, q) for m, k, q in sent if k == "acme/ios"] == [("GET", ""), ("GET", "")]
    assert [(m, q) for m, k, q in sent if k == "acme/android"] == [
        ("GET", ""),
        ("GET", ""),
        ("DELETE", "id=stray"),
    ]
    assert [s["id"] for s in sources_in(state, "acme/ios")] == [
        s["id"] for s in REMOTE["acme/ios"]
    ] + ["sneaky"]
    assert [s["id"] for s in sources_in(state, "acme/android")] == ["same"]


def test_saved_plan_is_refused_against_another_sentry(generation, configs, tmp_path):
    # A plan saved against one Sentry (say staging) must not be carried out against another
    # (production) whose state it never saw, even where the two happen to look alike.
    saved = tmp_path / "saved.plan.json"
    args = ("--api-generation", generation)
    with (
        running_emulator(*args, state=state_doc(REMOTE)) as planned_on,
        running_emulator(*args, state=state_doc(REMOTE)) as other,
    ):
        made = symsync(
            "plan", "--config-dir", str(configs), "--out", str(saved), env=_env(planned_on.url)
        )
        assert made.returncode == 0, made.stderr
        assert json.loads(saved.read_text())["sentry_url"] == planned_on.url
        tree = ("--config-dir", str(configs))
        run = symsync("apply", str(saved), *tree, "--yes", env=_env(other.url, **SECRETS))
        other_log, other_state = other.requests(), other.state()
        applied = symsync("apply", str(saved), *tree, "--yes", env=_env(planned_on.url, **SECRETS))

    assert run.returncode == 3, run.stdout + run.stderr
    assert f"planned against {planned_on.url}, not {other.url}" in run.stderr
    assert other_log == []
    assert other_state == state_doc(REMOTE)
    assert applied.returncode == 0, applied.stdout + applied.stderr


def test_one_failing_project_leaves_the_others_applied(generation, tmp_path):
    # (a missing secret variable is not a project's failure: it stops the whole apply before
    # any write, see tests/e2e/test_secrets.py)
    remote = {"team/one": [], "team/two": [_http("doomed")]}
    desired = {
        "team/one": {"sources": [_http("new-one")]},
        "team/two": {"sources": [{"id": "doomed", "state": "absent"}]},
        "team/four": {"sources": [_http("x")]},  # no such project in Sentry
    }
    configs = write_tree(tmp_path, desired)
    # a token that may write but not delete (DELETE needs project:admin)
    with running_emulator(
        "--api-generation", generation, "--token", "writer=project:write", state=state_doc(remote)
    ) as emu:
        env = clean_env(SENTRY_URL=emu.url, SENTRY_AUTH_TOKEN="writer")
        run = symsync("apply", "--config-dir", str(configs), "--yes", env=env)
        state = emu.state()

    assert run.returncode == 1, run.stdout + run.stderr
    assert [s["id"] for s in sources_in(state, "team/one")] == ["new-one"]
    assert [s["id"] for s in sources_in(state, "team/two")] == ["doomed"]
    assert result_row(run.stderr, "team/one")[:2] == ["team/one", "applied"]
    assert result_row(run.stderr, "team/two")[:2] == ["team/two", "failed"]
    assert result_row(run.stderr, "team/four")[:2] == ["team/four", "failed"]
    assert "project:admin" in run.stderr


def test_apply_converges_under_faults(generation, configs):
    # One project at a time, so the same seed gives the same faults on every run: with seed 10
    # they include a dropped connection, a 500 after a committed PUT, a 502 and a 503.
    with running_emulator(
        "--api-generation", generation, "--fault-rate", "0.3", "--fault-seed", "10",
        state=state_doc(REMOTE),
    ) as emu:  # fmt: skip
        env = _env(emu.url, **SECRETS)
        run = symsync("apply", "--config-dir", str(configs), "--yes", "--parallelism", "1", env=env)
        assert run.returncode == 0, run.stdout + run.stderr
        again = symsync(
            "plan", "--config-dir", str(configs), "--detailed-exitcode", env=_env(emu.url)
        )
        assert again.returncode == 0, again.stdout + again.stderr
        state = emu.state()
        log = emu.requests()

    faults = {e["fault"] for e in log if e.get("fault")}
    assert len(faults) >= 2, f"too few kinds of faults to prove anything: {faults}"
    ios = {s["id"]: s for s in sources_in(state, "acme/ios")}
    assert sorted(ios) == ["hand-made", "nightly", "releases", "symbols"]
    assert ios["symbols"]["password"] == STORED_PW
    assert ios["nightly"]["password"] == NIGHTLY_PW
    assert ios["releases"]["secret_key"] == S3_SECRET
    assert [s["id"] for s in sources_in(state, "acme/android")] == ["same"]
