"""The plan a merged pull request was reviewed with, fetched for ``apply --expect``.

For the pushed commit: the pull request that it merged (GitHub's "pull requests of a commit"),
then the newest successful run of the plan workflow for that pull request's head commit, then
that run's plan artifact (a zip, which GitHub hands out through a redirect to its storage:
``requests`` drops the Authorization header when the redirect leaves the API's host), and in it
the one JSON plan. Every step that finds nothing is a clear error: apply then runs nothing, as
nothing was reviewed.
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any, Final

from reconciler.github.rest import GitHubAPI, GitHubEnv, GitHubError

# A plan of 10,000 projects is a few MiB; anything past these is not a plan artifact.
MAX_ZIP_BYTES: Final = 64 * 1024 * 1024
MAX_PLAN_BYTES: Final = 256 * 1024 * 1024


@dataclass(frozen=True)
class ReviewedPlan:
    pull_request: int
    head_sha: str
    run_id: int
    run_url: str | None
    plan_text: str


def merged_pull_request(api: GitHubAPI, sha: str) -> dict[str, Any]:
    """The merged pull request whose merge produced ``sha``."""
    pulls = list(api.paginate(f"{api.repo_path}/commits/{sha}/pulls"))
    merged = [p for p in pulls if p.get("merged_at") and isinstance(p.get("number"), int)]
    exact = [p for p in merged if p.get("merge_commit_sha") == sha]
    if exact:
        return exact[0]
    if len(merged) == 1:
        return merged[0]
    if not merged:
        raise GitHubError(
            f"commit {sha[:12]} is not the merge of a pull request: apply runs only a plan that "
            "was reviewed in a pull request; merge the change through one"
        )
    numbers = ", ".join(f"#{p['number']}" for p in merged)
    raise GitHubError(
        f"commit {sha[:12]} belongs to several merged pull requests ({numbers}) and is the "
        "merge of none of them: push each change through its own pull request"
    )


def newest_plan_run(api: GitHubAPI, workflow: str, head_sha: str) -> dict[str, Any]:
    """The newest successful run of ``workflow`` (a file name like ``symsync-plan.yml``, or an
    id) for ``head_sha``."""
    runs = [
        run
        for run in api.paginate(
            f"{api.repo_path}/actions/workflows/{workflow}/runs",
            params={"head_sha": head_sha, "status": "success"},
            key="workflow_runs",
        )
        if isinstance(run.get("id"), int) and run.get("conclusion", "success") == "success"
    ]
    if not runs:
        raise GitHubError(
            f"no successful run of {workflow} for commit {head_sha[:12]}, the pull request's "
            "last commit: the plan was not made or failed, so there is nothing reviewed to apply"
        )
    return max(runs, key=lambda run: (str(run.get("created_at", "")), int(run["id"])))


def plan_artifact(api: GitHubAPI, run_id: int, name: str) -> dict[str, Any]:
    artifacts = [
        a
        for a in api.paginate(
            f"{api.repo_path}/actions/runs/{run_id}/artifacts",
            params={"name": name},
            key="artifacts",
        )
        if a.get("name") == name and isinstance(a.get("id"), int)
    ]
    if not artifacts:
        raise GitHubError(f"run {run_id} has no artifact named {name}")
    artifact = max(artifacts, key=lambda a: int(a["id"]))
    if artifact.get("expired"):
        raise GitHubError(
            f"the artifact {name} of run {run_id} has expired: re-run the plan workflow on the "
            "pull request's last commit, then this one"
        )
    return artifact


def download_zip(api: GitHubAPI, artifact_id: int) -> bytes:
    response = api.request(
        "GET", f"{api.repo_path}/actions/artifacts/{artifact_id}/zip", stream=True
    )
    data = bytearray()
    for chunk in response.iter_content(chunk_size=1024 * 1024):
        data += chunk
        if len(data) > MAX_ZIP_BYTES:
            response.close()
            raise GitHubError(
                f"the artifact {artifact_id} is larger than {MAX_ZIP_BYTES // 2**20} MiB: "
                "not a plan"
            )
    return bytes(data)


def plan_from_zip(data: bytes, *, where: str) -> str:
    """The one ``.json`` file in the artifact's zip, as text."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        raise GitHubError(f"{where} is not a zip archive") from None
    with archive:
        members = [
            info
            for info in archive.infolist()
            if not info.is_dir() and PurePosixPath(info.filename).suffix == ".json"
        ]
        if len(members) != 1:
            found = ", ".join(i.filename for i in members) or "none"
            raise GitHubError(f"{where} should hold one JSON plan; it holds: {found}")
        info = members[0]
        if info.file_size > MAX_PLAN_BYTES:
            raise GitHubError(f"{where}: {info.filename} is too large to be a plan")
        with archive.open(info) as handle:
            raw = handle.read(MAX_PLAN_BYTES + 1)
    if len(raw) > MAX_PLAN_BYTES:
        raise GitHubError(f"{where}: {info.filename} is too large to be a plan")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise GitHubError(f"{where}: {info.filename} is not UTF-8 text") from None


def reviewed_plan(api: GitHubAPI, sha: str, *, workflow: str, artifact: str) -> ReviewedPlan:
    """The plan reviewed on the pull request that ``sha`` merged."""
    pull = merged_pull_request(api, sha)
    head = pull.get("head")
    head_sha = head.get("sha") if isinstance(head, dict) else None
    if not isinstance(head_sha, str) or not head_sha:
        raise GitHubError(f"pull request #{pull['number']} has no head commit in GitHub's answer")
    run = newest_plan_run(api, workflow, head_sha)
    found = plan_artifact(api, int(run["id"]), artifact)
    text = plan_from_zip(
        download_zip(api, int(found["id"])), where=f"artifact {artifact} of run {run['id']}"
    )
    run_url = run.get("html_url")
    return ReviewedPlan(
        pull_request=int(pull["number"]),
        head_sha=head_sha,
        run_id=int(run["id"]),
        run_url=run_url if isinstance(run_url, str) else None,
        plan_text=text,
    )


def base_revision(api: GitHubAPI, env: GitHubEnv, sha: str) -> str | None:
    """The commit before the merge: the push event's ``before`` when the push ended at ``sha``,
    else ``sha``'s first parent (a manual run)."""
    event: dict[str, Any] = {}
    if env.event_path is not None:
        try:
            event = env.event()
        except GitHubError:
            event = {}
    before = event.get("before")
    if isinstance(before, str) and before.strip("0") and event.get("after") == sha:
        return before
    commit = api.json("GET", f"{api.repo_path}/commits/{sha}")
    parents = commit.get("parents") if isinstance(commit, dict) else None
    if isinstance(parents, list) and parents and isinstance(parents[0], dict):
        parent = parents[0].get("sha")
        return parent if isinstance(parent, str) else None
    return None


# -- every pull request merged since the last apply that succeeded ----------------------------


@dataclass(frozen=True)
class MergedPull:
    """A pull request merged in the range, with its reviewed plan, or why it has none."""

    number: int
    merge_sha: str
    plan: ReviewedPlan | None
    missing: str | None  # why there is no reviewed plan (a fork's pull request, a failed run)
    fork: bool


@dataclass(frozen=True)
class ReviewedSince:
    """What the push apply checks against: the revision the range starts at (the last commit
    applied, the rotation base), and the pull requests merged after it, oldest first."""

    base: str | None
    base_is_last_apply: bool
    pulls: tuple[MergedPull, ...]


def last_applied(api: GitHubAPI, workflow: str, branch: str, sha: str) -> str | None:
    """The commit of the newest successful run of the apply ``workflow`` on ``branch`` (pushed
    or started by hand, never a pull request's run) that ``sha`` descends from."""
    runs = [
        run
        for run in api.paginate(
            f"{api.repo_path}/actions/workflows/{workflow}/runs",
            params={"branch": branch, "status": "success"},
            key="workflow_runs",
        )
        if run.get("conclusion") == "success"
        and run.get("event") in ("push", "workflow_dispatch")
        and run.get("head_branch") == branch
        and isinstance(run.get("head_sha"), str)
    ]
    runs.sort(key=lambda run: (str(run.get("created_at", "")), int(run.get("id", 0))), reverse=True)
    for run in runs:
        head = str(run["head_sha"])
        if head == sha or _descends(api, head, sha):
            return head
    return None


def _descends(api: GitHubAPI, base: str, head: str) -> bool:
    try:
        found = api.json("GET", f"{api.repo_path}/compare/{base}...{head}", params={"per_page": 1})
    except GitHubError:
        return False
    return isinstance(found, dict) and found.get("status") in ("ahead", "identical")


def commits_between(api: GitHubAPI, base: str, head: str) -> list[str]:
    """The commits after ``base`` up to ``head``, oldest first."""
    shas: list[str] = []
    page = 1
    while True:
        found = api.json(
            "GET",
            f"{api.repo_path}/compare/{base}...{head}",
            params={"per_page": 100, "page": page},
        )
        commits = found.get("commits") if isinstance(found, dict) else None
        if not isinstance(commits, list):
            raise GitHubError(f"GitHub's comparison of {base[:12]}...{head[:12]} has no commits")
        shas += [c["sha"] for c in commits if isinstance(c, dict) and isinstance(c.get("sha"), str)]
        total = found.get("total_commits")
        if not commits or not isinstance(total, int) or len(shas) >= total or page >= 100:
            return shas
        page += 1


def _merged_at(api: GitHubAPI, commit: str) -> list[dict[str, Any]]:
    """The pull requests whose merge made ``commit``."""
    return [
        p
        for p in api.paginate(f"{api.repo_path}/commits/{commit}/pulls")
        if p.get("merged_at")
        and p.get("merge_commit_sha") == commit
        and isinstance(p.get("number"), int)
    ]


def _plan_of(api: GitHubAPI, pull: dict[str, Any], workflow: str, artifact: str) -> MergedPull:
    number = int(pull["number"])
    head: dict[str, Any] = pull["head"] if isinstance(pull.get("head"), dict) else {}
    repo: dict[str, Any] = head["repo"] if isinstance(head.get("repo"), dict) else {}
    fork = bool(repo.get("fork")) or (
        isinstance(repo.get("full_name"), str) and repo.get("full_name") != api.env.repository
    )
    head_sha = head.get("sha")
    merge_sha = str(pull.get("merge_commit_sha"))
    if fork:
        why = "it came from a fork, whose plan runs without Sentry's token: nothing was planned"
        return MergedPull(number, merge_sha, None, why, True)
    if not isinstance(head_sha, str) or not head_sha:
        return MergedPull(number, merge_sha, None, "GitHub gave no head commit for it", False)
    try:
        run = newest_plan_run(api, workflow, head_sha)
        found = plan_artifact(api, int(run["id"]), artifact)
        text = plan_from_zip(
            download_zip(api, int(found["id"])), where=f"artifact {artifact} of run {run['id']}"
        )
    except GitHubError as exc:
        return MergedPull(number, merge_sha, None, str(exc), False)
    run_url = run.get("html_url")
    plan = ReviewedPlan(
        pull_request=number,
        head_sha=head_sha,
        run_id=int(run["id"]),
        run_url=run_url if isinstance(run_url, str) else None,
        plan_text=text,
    )
    return MergedPull(number, merge_sha, plan, None, False)


def reviewed_since(
    api: GitHubAPI,
    env: GitHubEnv,
    sha: str,
    *,
    branch: str,
    plan_workflow: str,
    apply_workflow: str,
    artifact: str,
) -> ReviewedSince:
    """The pull requests merged into ``branch`` since the last successful apply (or, before
    any, since the push's ``before``), up to ``sha``, each with its reviewed plan if it has one.

    The range is taken from runs of the apply workflow on ``branch`` only: a pull request's own
    runs (which its author controls) never move it.
    """
    base = last_applied(api, apply_workflow, branch, sha)
    from_apply = base is not None
    if base is None:
        base = base_revision(api, env, sha)
    if base is None or base == sha:
        return ReviewedSince(base, from_apply, ())
    pulls: dict[int, MergedPull] = {}
    for commit in commits_between(api, base, sha):
        for pull in _merged_at(api, commit):
            if int(pull["number"]) not in pulls:
                pulls[int(pull["number"])] = _plan_of(api, pull, plan_workflow, artifact)
    return ReviewedSince(base, from_apply, tuple(pulls.values()))
