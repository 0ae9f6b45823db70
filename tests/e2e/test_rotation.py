"""End to end: rotation declared in git (--base) and forced (--rotate) sends a value once."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from reconciler.emulator.testing import running_emulator
from tests.support.e2e_helpers import (
    EMULATOR_TOKEN,
    clean_env,
    sources_in,
    state_doc,
    symsync,
    write_tree,
)
from tests.support.plan_helpers import http, s3

pytestmark = pytest.mark.e2e

WRITES = ("POST", "PUT", "DELETE")
OLD_PW, NEW_PW = "old-password-sentinel", "new-password-sentinel"
OLD_S3, NEW_S3 = "old-s3-sentinel", "new-s3-sentinel"


def _git(repo: Path, *args: str) -> str:
    env = clean_env(
        GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@example.invalid",
        GIT_COMMITTER_NAME="t", GIT_COMMITTER_EMAIL="t@example.invalid", HOME=str(repo),
    )  # fmt: skip
    done = subprocess.run(["git", *args], cwd=repo, env=env, check=True, capture_output=True)
    return done.stdout.decode().strip()


def _file(version: int, s3_variable: str = "ROT_S3") -> dict:
    return {
        "sources": [
            http("sym", password={"env": "ROT_PW", "version": version}),
            s3("bucket", secret_key={"env": s3_variable}),
        ]
    }


def _writes(log: list[dict], since: int) -> list[tuple[str, str]]:
    return [(e["method"], e.get("query") or "") for e in log[since:] if e["method"] in WRITES]


def _stored(state: dict, sid: str, field: str) -> str:
    return next(s for s in sources_in(state, "acme/ios") if s["id"] == sid)[field]


@pytest.mark.parametrize("generation", ["a", "b"])
def test_rotation_via_base_and_rotate_sends_each_value_once(generation, tmp_path: Path):
    repo = tmp_path
    _git(repo, "init", "-q")
    write_tree(repo, {"acme/ios": _file(1)})
    _git(repo, "add", ".")
    _git(repo, "commit", "-qm", "version 1")
    first = _git(repo, "rev-parse", "HEAD")
    write_tree(repo, {"acme/ios": _file(2)})
    _git(repo, "commit", "-qam", "rotate the password")

    remote = {"acme/ios": [http("sym", password=OLD_PW), s3("bucket", secret_key=OLD_S3)]}
    with running_emulator("--api-generation", generation, state=state_doc(remote)) as emu:
        env = clean_env(
            SENTRY_URL=emu.url, SENTRY_AUTH_TOKEN=EMULATOR_TOKEN, ROT_PW=NEW_PW, ROT_S3=NEW_S3
        )

        def run(*args: str) -> subprocess.CompletedProcess[str]:
            return symsync(*args, env=env, cwd=repo)

        plan = run("plan", "--base", first, "--detailed-exitcode")
        assert plan.returncode == 2, plan.stderr
        assert "rotate password (version 1 -> 2)" in plan.stdout
        assert NEW_PW not in plan.stdout + plan.stderr
        # without --base the version means nothing
        assert run("plan", "--detailed-exitcode").returncode == 0

        mark = len(emu.requests())
        apply = run("apply", "--base", first, "--yes")
        assert apply.returncode == 0, apply.stderr
        assert _writes(emu.requests(), mark) == [("PUT", "id=sym")]
        state = emu.state()
        assert _stored(state, "sym", "password") == NEW_PW
        assert _stored(state, "bucket", "secret_key") == OLD_S3

        # sent exactly once: nothing again without --base, or with one where it is unchanged
        for args in (("apply", "--yes"), ("apply", "--base", "HEAD", "--yes")):
            mark = len(emu.requests())
            again = run(*args)
            assert again.returncode == 0, again.stderr
            assert _writes(emu.requests(), mark) == []

        # forced, without git
        mark = len(emu.requests())
        forced = run("apply", "--rotate", "acme/*/buck*", "--yes")
        assert forced.returncode == 0, forced.stderr
        assert "rotate secret_key (forced by --rotate)" in forced.stdout
        assert _writes(emu.requests(), mark) == [("PUT", "id=bucket")]
        assert _stored(emu.state(), "bucket", "secret_key") == NEW_S3
        mark = len(emu.requests())
        assert run("apply", "--yes").returncode == 0
        assert _writes(emu.requests(), mark) == []

        # a changed variable name is a rotation too
        write_tree(repo, {"acme/ios": _file(2, "ROT_S3_NEXT")})
        env["ROT_S3_NEXT"] = "next-s3-sentinel"
        plan = run("plan", "--base", "HEAD")
        assert "rotate secret_key (variable ROT_S3 -> ROT_S3_NEXT)" in plan.stdout


def test_bad_base_or_rotate_is_a_clear_error_before_any_request(tmp_path: Path):
    repo = tmp_path / "repo"
    repo.mkdir()
    _git(repo, "init", "-q")
    write_tree(repo, {"acme/ios": _file(1)})
    _git(repo, "add", ".")
    _git(repo, "commit", "-qm", "one")
    outside = tmp_path / "outside"
    write_tree(outside, {"acme/ios": _file(1)})
    with running_emulator() as emu:  # the API generation plays no part: no request is made
        env = clean_env(SENTRY_URL=emu.url, SENTRY_AUTH_TOKEN=EMULATOR_TOKEN)
        bad = symsync("apply", "--base", "no-such-rev", "--yes", env=env, cwd=repo)
        assert bad.returncode == 1
        assert "--base no-such-rev: no such commit" in bad.stderr
        miss = symsync("apply", "--rotate", "acme/ios/nothing-like-it", "--yes", env=env, cwd=repo)
        assert miss.returncode == 1
        assert "matches no source that holds a secret" in miss.stderr
        no_git = symsync("plan", "--base", "HEAD", env=env, cwd=outside)
        assert no_git.returncode == 1
        assert "is not in a git repository" in no_git.stderr
        assert "Traceback" not in bad.stderr + miss.stderr + no_git.stderr
        assert emu.requests() == []
