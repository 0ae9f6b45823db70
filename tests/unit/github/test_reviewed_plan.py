"""`symsync github merged-plan`: the plan reviewed on the merged pull request, fetched from the
fake GitHub API as the apply workflow fetches it."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any

import pytest

from reconciler.github.reviewed_plan import plan_from_zip
from tests.support.fake_github import FakeGitHub, running_fake_github
from tests.unit.github.test_rest import TOKEN, gh_env, github_cli

MERGE = "a" * 40
HEAD = "b" * 40
PARENT = "c" * 40
PLAN = {"format_version": 1, "projects": [], "summary": {}}


def zipped(files: dict[str, str | bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return buffer.getvalue()


@pytest.fixture
def github():
    with running_fake_github(TOKEN) as fake:
        fake.commit_pulls[MERGE] = [
            {"number": 3, "merged_at": None, "merge_commit_sha": "d" * 40, "head": {"sha": "e"}},
            {"number": 12, "merged_at": "2026-01-02T00:00:00Z", "merge_commit_sha": MERGE,
             "head": {"sha": HEAD}},
        ]  # fmt: skip
        fake.commits[MERGE] = {"sha": MERGE, "parents": [{"sha": PARENT}, {"sha": HEAD}]}
        fake.runs["symsync-plan.yml"] = [
            {"id": 5, "head_sha": HEAD, "conclusion": "success", "created_at": "2026-01-01T10:00Z",
             "html_url": "https://github.example/acme/configs/actions/runs/5"},
            {"id": 9, "head_sha": HEAD, "conclusion": "success", "created_at": "2026-01-01T12:00Z",
             "html_url": "https://github.example/acme/configs/actions/runs/9"},
            {"id": 11, "head_sha": HEAD, "conclusion": "failure",
             "created_at": "2026-01-01T13:00Z"},
            {"id": 4, "head_sha": "f" * 40, "conclusion": "success", "created_at": "2026-01-02"},
        ]  # fmt: skip
        fake.artifacts[5] = [{"id": 50, "name": "symsync-plan", "expired": False}]
        fake.artifacts[9] = [
            {"id": 90, "name": "other", "expired": False},
            {"id": 91, "name": "symsync-plan", "expired": False},
        ]
        fake.blobs[50] = zipped({"plan.json": json.dumps({**PLAN, "run": 5})})
        fake.blobs[91] = zipped({"plan.json": json.dumps({**PLAN, "run": 9})})
        yield fake


def outputs(tmp_path: Path) -> dict[str, str]:
    text = (tmp_path / "output").read_text(encoding="utf-8")
    return dict(line.split("=", 1) for line in text.splitlines())


def fetch(fake: FakeGitHub, tmp_path: Path, *args: str, event: dict[str, Any] | None = None,
          **env: str) -> Any:  # fmt: skip
    return github_cli(
        "merged-plan", "--out", str(tmp_path / "reviewed.json"), *args,
        env=gh_env(fake, tmp_path, event=event or {}, GITHUB_SHA=MERGE, **env),
    )  # fmt: skip


def test_the_newest_successful_plan_of_the_merged_pull_request(github, tmp_path: Path) -> None:
    run = fetch(github, tmp_path)
    assert run.returncode == 0, run.stderr
    saved = json.loads((tmp_path / "reviewed.json").read_text(encoding="utf-8"))
    assert saved["run"] == 9
    assert outputs(tmp_path) == {
        "pull-request": "12",
        "plan-run-id": "9",
        "plan-run-url": "https://github.example/acme/configs/actions/runs/9",
        "base": PARENT,  # a manual run: the merge's first parent
    }
    assert "pull request #12: saved the plan of run 9" in run.stderr
    # The storage the artifact redirects to never sees the token.
    (blob,) = [r for r in github.requests if r.path.startswith("/_blob/")]
    assert blob.authorization is None
    assert all(r.authorized for r in github.requests if not r.path.startswith("/_blob/"))
    runs = next(r for r in github.requests if r.path.endswith("/runs"))
    assert runs.query["head_sha"] == HEAD and runs.query["status"] == "success"


def test_a_push_passes_the_commit_before_it_as_base(github, tmp_path: Path) -> None:
    run = fetch(github, tmp_path, event={"before": "1" * 40, "after": MERGE})
    assert run.returncode == 0, run.stderr
    assert outputs(tmp_path)["base"] == "1" * 40


def test_a_commit_that_merged_no_pull_request_applies_nothing(github, tmp_path: Path) -> None:
    github.commit_pulls[MERGE] = []
    run = fetch(github, tmp_path)
    assert run.returncode == 1
    assert "is not the merge of a pull request" in run.stderr
    assert not (tmp_path / "reviewed.json").exists()


def test_no_successful_plan_run_is_a_clear_error(github, tmp_path: Path) -> None:
    run = fetch(github, tmp_path, "--workflow", "renamed.yml")
    assert run.returncode == 1
    assert "no successful run of renamed.yml for commit bbbbbbbbbbbb" in run.stderr


def test_an_expired_artifact_says_to_plan_again(github, tmp_path: Path) -> None:
    github.artifacts[9][1]["expired"] = True
    run = fetch(github, tmp_path)
    assert run.returncode == 1
    assert "has expired: re-run the plan workflow" in run.stderr


def test_a_missing_artifact_is_a_clear_error(github, tmp_path: Path) -> None:
    run = fetch(github, tmp_path, "--artifact", "plans")
    assert run.returncode == 1 and "run 9 has no artifact named plans" in run.stderr


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"not a zip", "is not a zip archive"),
        (zipped({"a.json": "{}", "b.json": "{}"}), "should hold one JSON plan; it holds: a.json"),
        (zipped({"readme.txt": "x"}), "it holds: none"),
        (zipped({"plan.json": b"\xff\xfe{}"}), "not UTF-8 text"),
    ],
)  # fmt: skip
def test_an_artifact_that_is_not_one_plan_is_refused(data: bytes, expected: str) -> None:
    from reconciler.github.rest import GitHubError

    with pytest.raises(GitHubError, match=expected):
        plan_from_zip(data, where="artifact")
