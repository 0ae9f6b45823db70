"""``symsync github ...``: the workflow steps (and action.yml's) that talk to GitHub.

Thin: parse the options, call the ``reconciler.github`` modules, pick the exit code.

They read GITHUB_API_URL, GITHUB_REPOSITORY, GITHUB_TOKEN, GITHUB_EVENT_PATH, GITHUB_SERVER_URL,
GITHUB_RUN_ID (and GITHUB_SHA, GITHUB_OUTPUT), all set by the Actions runner; the token needs
the job's `permissions:` named in each command's help.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import click

from reconciler.commands.options import echo_err
from reconciler.core.errors import EXIT_OK, SymsyncError
from reconciler.github.actions import append_step_summary, set_output
from reconciler.github.comment import upsert_comment
from reconciler.github.drift import sync_drift_issue
from reconciler.github.rest import GitHubAPI, GitHubEnv, GitHubError

PULL_REQUEST_HELP = "The pull request to comment on (default: the event's pull request)."


def read_text(path: Path, what: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SymsyncError(f"{path}: no such {what}") from None
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise SymsyncError(f"{path}: cannot read the {what}: {reason}") from None


@click.group("github")
def command() -> None:
    """GitHub Actions glue: the pull-request comment and the drift issue.

    For the steps of a GitHub workflow (action.yml runs them): they read the variables the
    runner sets (GITHUB_API_URL, GITHUB_REPOSITORY, GITHUB_TOKEN, GITHUB_EVENT_PATH, ...).
    """


@command.command("comment", short_help="Post a plan as ONE pull-request comment, edited in place.")
@click.option(
    "--body-file",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="Markdown to post, e.g. the output of `symsync plan --format markdown`.",
)
@click.option("--pull-request", type=click.IntRange(min=1), help=PULL_REQUEST_HELP)
@click.option(
    "--kind",
    default="plan",
    show_default=True,
    type=click.Choice(["plan", "apply"]),
    help="Which of symsync's comments this is: one comment of each kind per pull request.",
)
def comment(body_file: Path, pull_request: int | None, kind: str) -> int:
    """Post the plan on the pull request as ONE comment, edited in place on every run.

    Needs `pull-requests: write`. A body over GitHub's limit is cut, with a note linking the run.
    """
    text = read_text(body_file, "body file")
    env = GitHubEnv.from_environ()
    number = pull_request or env.pull_request_number()
    with GitHubAPI(env) as api:
        done = upsert_comment(api, number, text, kind=kind)
    echo_err(f"{done} the {kind} comment on pull request #{number}")
    return EXIT_OK


@command.command("drift", short_help="Open, update or close the symsync-drift issue from a plan.")
@click.option(
    "--plan",
    "planfile",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="The JSON plan (`symsync plan --report-unfiled --out PLANFILE`).",
)
def drift(planfile: Path) -> int:
    """Track drift in one issue labelled symsync-drift: open it, update it, close it when clean.

    Needs `issues: write`. Exits 0 when it did its job, whatever the drift.
    """
    from reconciler.plan.model import Plan
    from reconciler.plan.render import render_markdown

    text = read_text(planfile, "plan file")
    try:
        document: Any = json.loads(text)
    except json.JSONDecodeError:
        raise SymsyncError(
            f"{planfile}: not a JSON plan; make one with `symsync plan --out`"
        ) from None
    if not isinstance(document, dict):
        raise SymsyncError(f"{planfile}: not a JSON plan; make one with `symsync plan --out`")
    markdown = render_markdown(Plan.from_json(document, where=str(planfile)))
    env = GitHubEnv.from_environ()
    with GitHubAPI(env) as api:
        done, number = sync_drift_issue(api, document, markdown)
    messages = {
        "opened": f"drift: opened issue #{number}",
        "updated": f"drift: updated issue #{number} to this plan",
        "closed": f"no drift: closed issue #{number}",
        "none": "no drift, and no drift issue open: nothing to do",
    }
    echo_err(messages[done])
    set_output("drift-issue", "" if number is None else str(number))
    set_output("drift", "false" if done in ("closed", "none") else "true")
    return EXIT_OK


@command.command("merged-plan", short_help="Fetch the plan reviewed on the merged pull request.")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="Where to save the reviewed JSON plan (for `symsync apply --expect`).",
)
@click.option("--sha", help="The merged commit (default: $GITHUB_SHA).")
@click.option(
    "--workflow",
    default="symsync-plan.yml",
    show_default=True,
    help="The workflow that plans pull requests (its file name).",
)
@click.option(
    "--artifact",
    default="symsync-plan",
    show_default=True,
    help="The name of the plan workflow's artifact holding the JSON plan.",
)
def merged_plan(out: Path, sha: str | None, workflow: str, artifact: str) -> int:
    """Fetch the plan reviewed on the pull request that the pushed commit merged.

    Needs `actions: read` and `pull-requests: read`. Sets the step outputs pull-request,
    plan-run-id and base (the commit before the merge).
    """
    from reconciler.core.atomic import write_atomic
    from reconciler.github.reviewed_plan import base_revision, reviewed_plan

    env = GitHubEnv.from_environ()
    commit = sha or os.environ.get("GITHUB_SHA", "")
    if not commit:
        raise GitHubError("no commit to look up: set GITHUB_SHA (GitHub Actions does) or --sha")
    with GitHubAPI(env) as api:
        found = reviewed_plan(api, commit, workflow=workflow, artifact=artifact)
        base = base_revision(api, env, commit)
    try:
        write_atomic(out, found.plan_text, mode=0o644)
    except OSError as exc:
        raise SymsyncError(f"cannot write the plan to {out}: {exc.strerror}") from None
    echo_err(
        f"pull request #{found.pull_request}: saved the plan of run {found.run_id} "
        f"(commit {found.head_sha[:12]}) to {out}"
    )
    set_output("pull-request", str(found.pull_request))
    set_output("plan-run-id", str(found.run_id))
    set_output("plan-run-url", found.run_url or "")
    set_output("base", base or "")
    return EXIT_OK


@command.command("apply", short_help="Apply the reviewed plan (--expect) and post the outcome.")
@click.option(
    "--plan",
    "planfile",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="The reviewed JSON plan (from `symsync github merged-plan`).",
)
@click.option("--base", metavar="REV", help="Passed to `symsync apply --base`.")
@click.option("--pull-request", type=click.IntRange(min=1), help="Where to post the outcome.")
@click.option("--plan-run-url", help="The plan run reviewed, linked from the comment.")
@click.option(
    "--config-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="The desired-state tree (default: configs).",
)
@click.option("--url", help="Sentry URL (default: $SENTRY_URL, else https://sentry.io).")
def apply(
    planfile: Path,
    base: str | None,
    pull_request: int | None,
    plan_run_url: str | None,
    config_dir: Path | None,
    url: str | None,
) -> int:
    """Run `symsync apply --expect PLAN --yes` and post its outcome on the pull request.

    Exits with apply's exit code. Needs `pull-requests: write` to comment.
    """
    from reconciler.github.apply_run import apply_command, report, run_apply

    env = GitHubEnv.from_environ() if pull_request is not None else None
    args = apply_command(
        str(planfile),
        base=base,
        config_dir=str(config_dir) if config_dir else None,
        url=url,
    )
    run = run_apply(args)
    click.echo(run.stdout, nl=False)
    if env is not None and pull_request is not None:
        body = report(
            run,
            sha=os.environ.get("GITHUB_SHA") or None,
            run_url=env.run_url,
            plan_run_url=plan_run_url,
        )
        with GitHubAPI(env) as api:
            upsert_comment(api, pull_request, body, kind="apply")
        echo_err(f"posted the outcome on pull request #{pull_request}")
    return run.exit_code


NO_TOKEN_SUMMARY = """### symsync {command}: skipped, no Sentry token

No Sentry token was given to this job (the action's `sentry-token` input and
`SENTRY_AUTH_TOKEN` are empty), so symsync did not talk to Sentry and this job succeeds.
Pull requests from forks get no secrets. To run it, define the repository secret the workflow
names: `SENTRY_READ_TOKEN` (project:read, org:read) for plan and drift, or `SENTRY_AUTH_TOKEN`
(project:write, project:admin to delete) in the apply job's environment.
"""


@command.command("check-token", short_help="Say in the job summary when no Sentry token is set.")
@click.option(
    "--command",
    "job",
    type=click.Choice(["plan", "apply", "drift"]),
    required=True,
    help="The job the action runs.",
)
def check_token(job: str) -> int:
    """Set the step output configured=true when SENTRY_AUTH_TOKEN or SENTRY_AUTH_TOKENS is set;
    otherwise say in the job summary that the job was skipped, and set configured=false. Exits
    0 either way."""
    configured = any(
        os.environ.get(name, "").strip() for name in ("SENTRY_AUTH_TOKEN", "SENTRY_AUTH_TOKENS")
    )
    if not configured:
        append_step_summary(NO_TOKEN_SUMMARY.format(command=job), what="this note")
        click.echo(f"::notice title=symsync {job} skipped::no Sentry token is configured")
        echo_err(f"symsync {job}: no Sentry token is configured; not talking to Sentry")
    set_output("configured", "true" if configured else "false")
    return EXIT_OK
