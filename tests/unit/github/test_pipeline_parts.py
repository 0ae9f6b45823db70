"""The parts of the pipeline below the workflows: the drift issue reopened, the masks, the
fake GitHub's permissions and concurrency groups, the plan comment's wording."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
import requests

from reconciler.apply.secrets import SecretResolver, mask_commands, secrets_only
from reconciler.github.comment import failure_comment, plan_comment
from reconciler.github.drift import DRIFT_LABEL, sync_drift_issue
from reconciler.github.plan_run import annotations_as_lines
from reconciler.github.rest import GitHubAPI, GitHubEnv
from tests.support.fake_github import ConcurrencyGroups, QueuedRun, running_fake_github

TOKEN = "ghs_owner_token"
DRIFT_PLAN: dict[str, Any] = {
    "projects": [{"organization": "acme", "project": "ios", "changes": [{"action": "create"}]}]
}
CLEAN_PLAN: dict[str, Any] = {"projects": []}


def _api(fake: Any) -> GitHubAPI:
    env = GitHubEnv.from_environ(
        {"GITHUB_API_URL": fake.api_url, "GITHUB_REPOSITORY": "acme/configs",
         "GITHUB_TOKEN": TOKEN, "GITHUB_RUN_ID": "9"}
    )  # fmt: skip
    return GitHubAPI(env)


def test_drift_after_the_issue_was_closed_reopens_it_never_two_open() -> None:
    with running_fake_github(TOKEN) as fake, _api(fake) as api:
        assert sync_drift_issue(api, DRIFT_PLAN, "plan") == ("opened", 1)
        assert sync_drift_issue(api, CLEAN_PLAN, "clean") == ("closed", 1)
        done = sync_drift_issue(api, DRIFT_PLAN, "plan", artifact_url="https://x.example/a/1")
        assert done == ("reopened", 1)
        (issue,) = fake.issues
        assert issue["state"] == "open" and "https://x.example/a/1" in issue["body"]
        assert fake.comments[1][-1]["body"].startswith("Sentry differs from `configs/` again")
        assert sync_drift_issue(api, DRIFT_PLAN, "plan") == ("updated", 1)
        assert "artifact" not in fake.issues[0]["body"]  # linked only when one was uploaded
        assert len(fake.issues) == 1


def test_a_pull_request_with_the_label_is_not_reopened() -> None:
    with running_fake_github(TOKEN) as fake, _api(fake) as api:
        fake.add_issue(state="closed", labels=[DRIFT_LABEL], pull_request={"url": "x"})
        assert sync_drift_issue(api, DRIFT_PLAN, "plan") == ("opened", 2)


def test_every_value_of_symsync_secrets_is_masked_line_by_line() -> None:
    bundle = json.dumps({"A": "one", "B": "two\nlines", "C": "one", "D": ""})
    assert mask_commands({"SYMSYNC_SECRETS": bundle}) == [
        "::add-mask::one", "::add-mask::two", "::add-mask::lines",
    ]  # fmt: skip
    assert mask_commands({}) == []
    # Broken JSON: what looks like its values is masked all the same.
    assert mask_commands({"SYMSYNC_SECRETS": '{"A": "secret" "B"}'}) == [
        "::add-mask::secret", "::add-mask::B",
    ]  # fmt: skip


def test_secrets_only_mode_never_reads_the_environment() -> None:
    env = {"HOME": "/root", "SYMSYNC_SECRETS": json.dumps({"MINE": "v"})}
    assert SecretResolver(env).lookup("HOME") == "/root"
    only = {**env, "SYMSYNC_SECRETS_ONLY": "true"}
    assert secrets_only(only) and SecretResolver(only).lookup("HOME") is None
    assert SecretResolver(only).lookup("MINE") == "v"


def test_the_fake_github_enforces_a_jobs_permissions() -> None:
    with running_fake_github(TOKEN) as fake:
        token = fake.mint({"contents": "read", "issues": "read"})
        headers = {"Authorization": f"Bearer {token}"}
        base = f"{fake.api_url}/repos/acme/configs"
        assert requests.get(f"{base}/issues", headers=headers, timeout=5).status_code == 200
        posted = requests.post(f"{base}/issues", json={"title": "t"}, headers=headers, timeout=5)
        assert posted.status_code == 403
        assert posted.json()["message"] == "Resource not accessible by integration"
        runs = requests.get(f"{base}/actions/workflows/x.yml/runs", headers=headers, timeout=5)
        assert runs.status_code == 403
        assert [r.path for r in fake.denied] == [
            "/repos/acme/configs/issues", "/repos/acme/configs/actions/workflows/x.yml/runs",
        ]  # fmt: skip


def test_one_pending_run_per_concurrency_group() -> None:
    ran: list[str] = []
    groups = ConcurrencyGroups()
    runs = [QueuedRun(name, lambda n=name: ran.append(n)) for name in ("a", "b", "c")]
    for run in runs:
        groups.submit("apply", run)
    assert [r.state for r in runs] == ["in_progress", "cancelled", "pending"]
    groups.drain()
    assert ran == ["a", "c"]
    newer = [QueuedRun(name, lambda n=name: ran.append(n)) for name in ("p1", "p2")]
    for run in newer:
        groups.submit("plan-1", run, cancel_in_progress=True)
    assert [r.state for r in newer] == ["cancelled", "in_progress"]


def test_the_plan_comment_names_the_commit_and_time_and_a_failure_replaces_the_plan() -> None:
    when = datetime(2026, 12, 6, 22, 55, tzinfo=UTC)
    text = plan_comment("### symsync plan\n", commit="0123456789ab", when=when, run_url=None)
    assert text.startswith("Planned commit `0123456` · 2026-12-06 22:55 UTC")
    log = "progress\nconfigs/acme/ios.yaml:3:5: bad\n1 error in 1 file\n"
    failed = failure_comment("the files do not validate", log, commit="abc", when=when,
                             run_url="https://r.example/1")  # fmt: skip
    assert "### symsync plan: the files do not validate" in failed
    assert "configs/acme/ios.yaml:3:5: bad" in failed and "progress" not in failed
    assert "[run](https://r.example/1)" in failed


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("::error file=configs/a.yaml,line=3,col=5::bad%0Anews", "configs/a.yaml:3:5: bad\nnews"),
        ("::warning file=a%2Cb.yaml,line=1,col=1::w", "a,b.yaml:1:1: warning: w"),
        ("not an annotation", ""),
    ],
)
def test_annotations_become_lines(line: str, expected: str) -> None:
    assert annotations_as_lines(line) == (expected + "\n" if expected else "")
