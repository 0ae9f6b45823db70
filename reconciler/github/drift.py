"""The drift issue: one open issue labelled ``symsync-drift`` that says how Sentry differs.

``sync_drift_issue`` opens it when a plan shows drift, edits its body to each new plan, and
closes it with a comment once the plan is clean. Drift after the issue was closed reopens the
last one closed (with a comment saying so) rather than opening another: never two open. Pull
requests carrying the label (the issues API lists them too) are left alone.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final, Literal

from reconciler.core.redact import redact_known
from reconciler.github.comment import BODY_LIMIT, fit_body, marker
from reconciler.github.rest import GitHubAPI

DRIFT_LABEL: Final = "symsync-drift"
DRIFT_TITLE: Final = "symsync: Sentry differs from configs/"


def drift_reasons(plan: Mapping[str, Any]) -> list[str]:
    """Why a JSON plan shows drift, in words; empty when it is clean.

    Read defensively, so plans of any symsync version count the same: changes, sources that
    ``unmanaged: report`` lists, projects with sources and no file, and projects that could not
    be planned.
    """
    reasons: list[str] = []
    changes = reported = errors = 0
    projects = plan.get("projects")
    for project in projects if isinstance(projects, list) else []:
        if not isinstance(project, dict):
            continue
        if isinstance(project.get("changes"), list):
            changes += len(project["changes"])
        for key in ("report", "reported", "unmanaged_report"):
            if isinstance(project.get(key), list):
                reported += len(project[key])
        if project.get("error"):
            errors += 1
    unreadable = plan.get("unfiled_errors")  # projects whose sources could not be read
    unreadable = unreadable if isinstance(unreadable, list | dict) else []
    errors += len(unreadable)
    unfiled = plan.get("unfiled")
    # The projects found with sources, apart from those that could not be read.
    unfiled = unfiled if isinstance(unfiled, list | dict) else []
    unfiled_count = sum(1 for key in unfiled if key not in unreadable)
    if changes:
        reasons.append(f"{changes} pending change{'s' if changes != 1 else ''}")
    if reported:
        reasons.append(f"{reported} unlisted source{'s' if reported != 1 else ''} reported")
    if unfiled_count:
        reasons.append(
            f"{unfiled_count} project{'s' if unfiled_count != 1 else ''} with sources and no file"
        )
    if errors:
        reasons.append(f"{errors} project{'s' if errors != 1 else ''} could not be planned")
    return reasons


DriftAction = Literal["opened", "reopened", "updated", "closed", "none"]


def open_drift_issue(api: GitHubAPI) -> dict[str, Any] | None:
    """The oldest open issue labelled ``symsync-drift``; pull requests with the label are not
    issues and are skipped."""
    for issue in api.paginate(
        f"{api.repo_path}/issues",
        params={"state": "open", "labels": DRIFT_LABEL, "sort": "created", "direction": "asc"},
    ):
        if "pull_request" in issue or not isinstance(issue.get("number"), int):
            continue
        return issue
    return None


def last_closed_drift_issue(api: GitHubAPI) -> dict[str, Any] | None:
    """The drift issue closed most recently, if any (pull requests skipped)."""
    closed = [
        issue
        for issue in api.paginate(
            f"{api.repo_path}/issues",
            params={
                "state": "closed",
                "labels": DRIFT_LABEL,
                "sort": "updated",
                "direction": "desc",
            },
        )
        if "pull_request" not in issue and isinstance(issue.get("number"), int)
    ]
    if not closed:
        return None
    return max(closed, key=lambda i: (str(i.get("closed_at") or ""), int(i["number"])))


def drift_issue_body(
    markdown: str, reasons: list[str], run_url: str | None, artifact_url: str | None = None
) -> str:
    run = f" ([run]({run_url}))" if run_url else ""
    if artifact_url:
        run += f"; the JSON plan is [this run's artifact]({artifact_url})"
    head = (
        f"{marker('drift')}\n"
        f"The latest scheduled plan{run} shows that Sentry differs from `configs/`: "
        f"{', '.join(reasons)}.\n\n"
        "Change the files (or Sentry) until `symsync plan` shows nothing; this issue is closed "
        "by the first clean run.\n\n"
    )
    markdown = redact_known(markdown)
    return head + fit_body(markdown, run_url, limit=BODY_LIMIT - len(head.encode("utf-8")))


def sync_drift_issue(
    api: GitHubAPI, plan: Mapping[str, Any], markdown: str, *, artifact_url: str | None = None
) -> tuple[DriftAction, int | None]:
    """Open, update or close the drift issue to match ``plan``; returns what was done and the
    issue's number. ``artifact_url`` (the JSON plan this run uploaded) is linked when given."""
    reasons = drift_reasons(plan)
    issue = open_drift_issue(api)
    run_url = api.env.run_url
    if reasons:
        body = drift_issue_body(markdown, reasons, run_url, artifact_url)
        if issue is None:
            closed = last_closed_drift_issue(api)
            if closed is not None:
                return "reopened", _reopen(api, int(closed["number"]), body, run_url)
            made = api.json(
                "POST",
                f"{api.repo_path}/issues",
                json_body={"title": DRIFT_TITLE, "body": body, "labels": [DRIFT_LABEL]},
            )
            number = made.get("number") if isinstance(made, dict) else None
            return "opened", number if isinstance(number, int) else None
        api.json("PATCH", f"{api.repo_path}/issues/{issue['number']}", json_body={"body": body})
        return "updated", int(issue["number"])
    if issue is None:
        return "none", None
    run = f" ([run]({run_url}))" if run_url else ""
    api.json(
        "POST",
        f"{api.repo_path}/issues/{issue['number']}/comments",
        json_body={
            "body": f"The latest plan{run} shows no drift: Sentry matches `configs/`. Closing."
        },
    )
    api.json(
        "PATCH",
        f"{api.repo_path}/issues/{issue['number']}",
        json_body={"state": "closed", "state_reason": "completed"},
    )
    return "closed", int(issue["number"])


def _reopen(api: GitHubAPI, number: int, body: str, run_url: str | None) -> int:
    run = f" ([run]({run_url}))" if run_url else ""
    api.json(
        "PATCH",
        f"{api.repo_path}/issues/{number}",
        json_body={"state": "open", "body": body},
    )
    api.json(
        "POST",
        f"{api.repo_path}/issues/{number}/comments",
        json_body={"body": f"Sentry differs from `configs/` again{run}: reopened."},
    )
    return number
