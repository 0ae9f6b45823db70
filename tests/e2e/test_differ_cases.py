"""End to end: the differ's cases the mixed scenario does not cover, and convergence under
faults with more seeds, against both API generations.

Normalisation (key order, casing absent, empty collections on either side), a secret the file
drops, a type change under the same id, fields the file format lacks, an absent entry that is
already absent, and an order warning (on stderr too, while stdout holds only the plan).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from reconciler.emulator.testing import running_emulator
from tests.support.e2e_helpers import (
    EMULATOR_TOKEN,
    api_requests,
    clean_env,
    sources_in,
    state_doc,
    symsync,
    write_tree,
)

pytestmark = [pytest.mark.e2e]

S3_SECRET = "type-change-secret-from-env"
GCS_KEY = "new-gcs-key-from-env"


def _http(sid: str, **extra):
    return {"id": sid, "type": "http", "name": sid, "url": f"https://{sid}.example/",
            "layout": {"type": "native"}, **extra}  # fmt: skip


REMOTE = {
    "acme/ios": [
        # key order differs, casing absent, empty filters: the same as the file says
        {"url": "https://norm.example/", "layout": {"type": "native"}, "name": "norm",
         "type": "http", "id": "norm", "filters": {}},
        _http("norm2", layout={"casing": "default", "type": "native"},
              filters={"filetypes": []}),
        _http("kept-secret", password="stored-and-kept"),
        _http("dropped-secret", password="stored-then-removed"),
        _http("retyped", password="old-http-password"),
        _http("public", is_public=False, platforms=["ios"]),
        _http("late"),
        _http("early"),
    ],
}  # fmt: skip
DESIRED = {
    "acme/ios": {
        "sources": [
            _http("norm", layout={"type": "native", "casing": "default"}),
            _http("norm2", filters={"filetypes": [], "path_patterns": []}),
            _http("kept-secret", password={"env": "E2E_KEPT_PW"}),
            _http("dropped-secret"),
            {"id": "retyped", "type": "s3", "name": "retyped", "bucket": "b",
             "region": "us-east-1", "access_key": "AKIAEXAMPLE",
             "secret_key": {"env": "E2E_S3_SECRET"}, "layout": {"type": "unified"}},
            _http("public"),
            {"id": "never-existed", "state": "absent"},
            _http("early"),
            _http("late"),
            {"id": "created", "type": "gcs", "name": "created", "bucket": "g",
             "client_email": "x@y.iam.gserviceaccount.com",
             "private_key": {"env": "E2E_GCS_KEY"}, "layout": {"type": "native"}},
        ]
    }
}  # fmt: skip


def _env(url: str, **extra: str) -> dict[str, str]:
    return clean_env(SENTRY_URL=url, SENTRY_AUTH_TOKEN=EMULATOR_TOKEN, **extra)


@pytest.mark.parametrize("generation", ["a", "b"])
def test_differ_cases_plan_apply_and_converge(generation, tmp_path: Path):
    configs = write_tree(tmp_path, DESIRED)
    with running_emulator("--api-generation", generation, state=state_doc(REMOTE)) as emu:
        # plan needs no secret variable
        run = symsync("plan", "--config-dir", str(configs), "--format", "json",
                      "--detailed-exitcode", env=_env(emu.url))  # fmt: skip
        assert run.returncode == 2, run.stderr
        plan = json.loads(run.stdout)  # stdout holds the plan and nothing else
        (project,) = plan["projects"]
        # the order warning is in the plan, and printed once: not again on stderr
        (warning,) = project["warnings"]
        assert warning["message"].startswith("source order differs")
        assert "source order differs" not in run.stderr
        before = len(emu.requests())
        secrets = {"E2E_S3_SECRET": S3_SECRET, "E2E_GCS_KEY": GCS_KEY}
        applied = symsync(
            "apply", "--config-dir", str(configs), "--yes", env=_env(emu.url, **secrets)
        )
        assert applied.returncode == 0, applied.stdout + applied.stderr
        sent = api_requests(emu.requests(), before)
        state = emu.state()
        again = symsync("plan", "--config-dir", str(configs), "--detailed-exitcode",
                        "--format", "json", env=_env(emu.url))  # fmt: skip

    changes = {c["source_id"]: c for c in project["changes"]}
    assert [(c["action"], c["source_id"]) for c in project["changes"]] == [
        ("create", "created"),
        ("update", "dropped-secret"),
        ("update", "retyped"),
        ("update", "public"),
    ]
    assert project["unchanged"] == ["norm", "norm2", "kept-secret", "early", "late"]
    assert plan["summary"]["unchanged"] == 5
    assert changes["dropped-secret"]["fields"] == {
        "password": {"before": "(set)", "after": "(not set)", "secret": True}
    }
    assert changes["dropped-secret"]["secrets"] == {}
    retyped = changes["retyped"]
    assert retyped["fields"]["type"] == {"before": "http", "after": "s3"}
    assert retyped["fields"]["password"]["after"] == "(not set)"
    assert retyped["secrets"] == {"secret_key": "send"}  # no placeholder across types
    assert changes["public"]["fields"] == {
        "is_public": {"before": False, "after": None},
        "platforms": {"before": ["ios"], "after": None},
    }
    assert project["unmanaged"] == []

    # exactly one GET and one write per change; E2E_KEPT_PW was never needed
    assert sent == [
        ("GET", "acme/ios", ""),
        ("POST", "acme/ios", ""),
        ("PUT", "acme/ios", "id=dropped-secret"),
        ("PUT", "acme/ios", "id=retyped"),
        ("PUT", "acme/ios", "id=public"),
    ]
    stored = {s["id"]: s for s in sources_in(state, "acme/ios")}
    assert list(stored) == [
        "norm", "norm2", "kept-secret", "dropped-secret", "retyped", "public", "late", "early",
        "created",
    ]  # fmt: skip
    assert stored["kept-secret"]["password"] == "stored-and-kept"
    assert "password" not in stored["dropped-secret"]  # a PUT without it removed it
    assert stored["retyped"]["type"] == "s3"
    assert stored["retyped"]["secret_key"] == S3_SECRET
    assert "password" not in stored["retyped"] and "url" not in stored["retyped"]
    assert "is_public" not in stored["public"] and "platforms" not in stored["public"]
    assert stored["created"]["private_key"] == GCS_KEY
    assert again.returncode == 0, again.stdout + again.stderr
    assert json.loads(again.stdout)["projects"][0]["changes"] == []


FAULT_REMOTE = {
    "acme/ios": [_http("a", password="kept-pw"), _http("b"), _http("gone")],
    "acme/android": [_http("c"), _http("stray")],
    "acme/web": [],
}
FAULT_DESIRED = {
    "acme/ios": {"sources": [
        _http("a", name="renamed", password={"env": "E2E_PW"}),
        _http("b", password={"env": "E2E_PW"}),
        {"id": "gone", "state": "absent"},
        _http("new-ios", password={"env": "E2E_PW"}),
    ]},
    "acme/android": {"unmanaged": "delete", "sources": [_http("c", url="https://c2.example/")]},
    "acme/web": {"sources": [_http("w1"), _http("w2", password={"env": "E2E_PW"})]},
}  # fmt: skip


@pytest.mark.parametrize(("generation", "seed"), [("a", 8), ("b", 6)])
def test_apply_converges_under_faults_with_other_seeds(generation, seed, tmp_path: Path):
    # Projects in parallel (the default): the faults land differently on every run; whatever
    # they hit, apply must converge without duplicates and keep the stored secret.
    configs = write_tree(tmp_path, FAULT_DESIRED)
    with running_emulator(
        "--api-generation", generation, "--fault-rate", "0.3", "--fault-seed", str(seed),
        state=state_doc(FAULT_REMOTE),
    ) as emu:  # fmt: skip
        run = symsync("apply", "--config-dir", str(configs), "--yes",
                      env=_env(emu.url, E2E_PW="pw-from-env"))  # fmt: skip
        assert run.returncode == 0, run.stdout + run.stderr
        again = symsync("plan", "--config-dir", str(configs), "--detailed-exitcode",
                        env=_env(emu.url))  # fmt: skip
        state = emu.state()
        log = emu.requests()

    assert again.returncode == 0, again.stdout + again.stderr
    assert any(e.get("fault") for e in log)
    ios = {s["id"]: s for s in sources_in(state, "acme/ios")}
    assert [s["id"] for s in sources_in(state, "acme/ios")] == ["a", "b", "new-ios"]
    assert ios["a"]["password"] == "kept-pw" and ios["a"]["name"] == "renamed"
    assert ios["b"]["password"] == ios["new-ios"]["password"] == "pw-from-env"
    assert [s["id"] for s in sources_in(state, "acme/android")] == ["c"]
    assert [s["id"] for s in sources_in(state, "acme/web")] == ["w1", "w2"]
