"""End to end: adopting an organization (import, then plan), the real CLI against the emulator."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import requests

from reconciler.emulator.testing import running_emulator
from tests.support.e2e_helpers import EMULATOR_TOKEN, clean_env, state_doc, symsync, write_tree

pytestmark = [pytest.mark.e2e, pytest.mark.parametrize("generation", ["a", "b"])]


def _http(sid: str, **extra):
    return {"id": sid, "type": "http", "name": f"{sid} server", "url": f"https://{sid}.example/",
            "layout": {"type": "native"}, **extra}  # fmt: skip


def test_report_unfiled_lists_projects_with_sources_and_no_file(tmp_path: Path, generation):
    state = state_doc(
        {
            "acme/ios": [_http("a")],
            "acme/new": [_http("b")],
            "acme/empty": [],
            "globex/api": [_http("c")],  # no folder for globex: not looked at
        }
    )
    write_tree(tmp_path, {"acme/ios": {"sources": [_http("a")]}})
    with running_emulator("--api-generation", generation, state=state) as emulator:
        env = clean_env(SENTRY_AUTH_TOKEN=EMULATOR_TOKEN, SENTRY_URL=emulator.url)
        plain = symsync("plan", "--detailed-exitcode", env=env, cwd=tmp_path)
        proc = symsync(
            "plan", "--report-unfiled", "--detailed-exitcode", "--format", "json",
            env=env, cwd=tmp_path,
        )  # fmt: skip
        text = symsync("plan", "--report-unfiled", env=env, cwd=tmp_path)
    assert plain.returncode == 0, plain.stdout + plain.stderr
    assert proc.returncode == 2, proc.stdout + proc.stderr
    document = json.loads(proc.stdout)
    assert document["unfiled"] == ["acme/new"]
    assert document["summary"]["unfiled"] == 1
    assert "  ? acme/new\n" in text.stdout
    assert text.returncode == 0


def _organization(projects: int = 40, broken: str = "p13") -> dict:
    """``projects`` projects of every source type and field; ``broken``'s stored list is not
    JSON: Sentry cannot read it, so both generations fail every request on it with a 500."""
    remote = {}
    for i in range(1, projects + 1):
        slug = f"p{i:02d}"
        sources = [
            _http(
                f"{slug}-http",
                password="PW-SENTINEL",
                is_public=i % 2 == 0,
                filters={"filetypes": ["pdb", "pe"], "path_patterns": ["*.dll"]},
            )
        ]
        if i % 3 == 0:
            sources.append(
                {
                    "id": f"{slug}-s3",
                    "type": "s3",
                    "name": "",
                    "bucket": "b",
                    "region": "ap-southeast-4",
                    "access_key": "AKIA",
                    "secret_key": "S3-SENTINEL",
                    "layout": {"type": "unified"},
                    "platforms": ["ios", "yes"],
                    "has_index": True,
                }
            )
        if i % 4 == 0:
            sources.append(
                {
                    "id": f"{slug}-gcs",
                    "type": "gcs",
                    "bucket": "g",
                    "client_email": "e@x",
                    "private_key": "GCS-SENTINEL",
                    "layout": {"type": "symstore", "casing": "uppercase"},
                }
            )
        remote[f"acme/{slug}"] = sources
    state = state_doc(remote)
    state["organizations"]["acme"]["projects"][broken]["symbol_sources"] = "[{corrupt"
    return state  # fmt: skip


def test_adopting_an_organization_with_a_broken_project(tmp_path: Path, generation):
    """Adopting an organization: import writes the 39 readable projects and exits 1;
    the plan right after is empty; a source added by hand is drift that the plan shows; a new
    project with sources and no file is listed by --report-unfiled. Each read of the broken
    project retries its 500s for the retry budget: a short one keeps the test fast."""
    fast = ("--retry-budget", "1")
    state = _organization()
    with running_emulator("--api-generation", generation, state=state) as emulator:
        env = clean_env(SENTRY_AUTH_TOKEN=EMULATOR_TOKEN, SENTRY_URL=emulator.url)
        imported = symsync("import", "--org", "acme", *fast, env=env, cwd=tmp_path, timeout=120)
        assert imported.returncode == 1, imported.stderr
        files = sorted(p.stem for p in (tmp_path / "configs/acme").glob("*.yaml"))
        assert len(files) == 39 and "p13" not in files
        assert "error: acme/p13: could not read its sources: Sentry failed with 500" in (
            imported.stderr
        )
        assert "imported 39 of 40 project(s); 1 could not be read" in imported.stderr
        assert "warning" not in imported.stderr

        clean = symsync("plan", "--detailed-exitcode", *fast, env=env, cwd=tmp_path)
        assert clean.returncode == 0, clean.stdout + clean.stderr
        assert "warning" not in clean.stdout + clean.stderr

        added = requests.post(
            f"{emulator.url}/api/0/projects/acme/p05/symbol-sources/",
            json=_http("hand-made"),
            headers={"Authorization": f"Bearer {EMULATOR_TOKEN}"},
            timeout=10,
        )
        assert added.status_code == 201
        drift = symsync("plan", "--detailed-exitcode", *fast, env=env, cwd=tmp_path)
        assert drift.returncode == 2, drift.stdout + drift.stderr
        assert "acme/p05 (configs/acme/p05.yaml)\n" in drift.stdout
        assert "  ? not in the file (unmanaged: report), kept: hand-made\n" in drift.stdout
        writes = [r for r in emulator.requests() if r["method"] != "GET"]
        assert len(writes) == 1  # the hand-made POST: plan never writes
        later = emulator.state()

    later["organizations"]["acme"]["projects"]["p41"] = {"symbol_sources": [_http("fresh")]}
    later["organizations"]["acme"]["projects"]["p42"] = {"symbol_sources": []}
    with running_emulator("--api-generation", generation, state=later) as emulator:
        env = clean_env(SENTRY_AUTH_TOKEN=EMULATOR_TOKEN, SENTRY_URL=emulator.url)
        unfiled = symsync(
            "plan", "--report-unfiled", "--detailed-exitcode", "--format", "json",
            "--project", "acme/p1*", *fast, env=env, cwd=tmp_path, timeout=120,
        )  # fmt: skip
        new_only = symsync(
            "plan", "--report-unfiled", "--detailed-exitcode", "--project", "acme/p4*", *fast,
            env=env, cwd=tmp_path,
        )  # fmt: skip
    # p13 cannot be read: listed with its error, exit 1 (and --project narrows the search)
    assert unfiled.returncode == 1, unfiled.stderr
    document = json.loads(unfiled.stdout)
    assert document["unfiled"] == ["acme/p13"]
    assert "Sentry failed with 500" in document["unfiled_errors"]["acme/p13"]
    assert new_only.returncode == 2, new_only.stdout + new_only.stderr
    assert "  ? acme/p41\n" in new_only.stdout
    assert "p42" not in new_only.stdout
    output = imported.stderr + clean.stdout + drift.stdout + unfiled.stdout + new_only.stdout
    for sentinel in ("PW-SENTINEL", "S3-SENTINEL", "GCS-SENTINEL"):
        assert sentinel not in output


def test_an_account_wide_failure_is_one_message_and_writes_nothing(tmp_path: Path, generation):
    import socket

    state = _organization(broken="p40")
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}"
    with running_emulator("--api-generation", generation, state=state) as emulator:
        runs = {
            "401": symsync(
                "import",
                "--org",
                "acme",
                cwd=tmp_path,
                env=clean_env(SENTRY_AUTH_TOKEN="not-the-token", SENTRY_URL=emulator.url),
            ),
        }
        if generation == "a":  # nothing answers there: the same for both generations
            runs["refused"] = symsync(
                "import",
                "--org",
                "acme",
                cwd=tmp_path,
                env=clean_env(SENTRY_AUTH_TOKEN=EMULATOR_TOKEN, SENTRY_URL=closed),
            )
        served = [r for r in emulator.requests() if "/symbol-sources/" in r["path"]]
    assert served == []  # the first failure stopped the run before any project was read
    for name, run in runs.items():
        assert run.returncode == 1, (name, run.stderr)
        assert run.stdout == ""
        errors = [line for line in run.stderr.splitlines() if line.startswith("error:")]
        assert len(errors) == 1, (name, run.stderr)
        assert "Traceback" not in run.stderr
    assert "invalid or expired" in runs["401"].stderr
    assert generation == "b" or "could not connect" in runs["refused"].stderr
    assert not (tmp_path / "configs").exists()
