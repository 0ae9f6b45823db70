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
from reconciler.github.actions import (
    append_step_summary,
    print_secret_masks,
    set_output,
    set_plan_outputs,
)
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
@click.option(
    "--artifact-url",
    default="",
    help="The page of the artifact holding this JSON plan, linked from the issue when given.",
)
def drift(planfile: Path, artifact_url: str) -> int:
    """Track drift in one issue labelled symsync-drift: open it, update it, close it when clean.

    Needs `issues: write`. Exits 0 when it did its job, whatever the drift. Drift after the
    issue was closed reopens it. Sets the step outputs drift, drift-issue, has-changes,
    creates, updates and deletes.
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
        done, number = sync_drift_issue(api, document, markdown, artifact_url=artifact_url or None)
    messages = {
        "opened": f"drift: opened issue #{number}",
        "reopened": f"drift: reopened issue #{number}",
        "updated": f"drift: updated issue #{number} to this plan",
        "closed": f"no drift: closed issue #{number}",
        "none": "no drift, and no drift issue open: nothing to do",
    }
    echo_err(messages[done])
    set_output("drift-issue", "" if number is None else str(number))
    set_output("drift", "false" if done in ("closed", "none") else "true")
    set_plan_outputs(document)
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


@command.command("plan", short_help="Validate and plan a pull request; ONE comment, kept fresh.")
@click.option(
    "--config-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("configs"),
    show_default=True,
    help="The desired-state tree.",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="Where to save the JSON plan (the artifact the apply checks against).",
)
@click.option(
    "--base",
    metavar="REV",
    help="The pull request's base commit: secrets whose version changed since it are rotations.",
)
@click.option("--commit", help="The commit planned, named in the comment (default: $GITHUB_SHA).")
@click.option("--pull-request", type=click.IntRange(min=1), help=PULL_REQUEST_HELP)
@click.option(
    "--comment",
    type=click.BOOL,
    default=True,
    show_default=True,
    help="Post the plan comment (true or false).",
)
def plan(
    config_dir: Path,
    out: Path,
    base: str | None,
    commit: str | None,
    pull_request: int | None,
    comment: bool,
) -> int:
    """Validate the files, plan them against Sentry, and keep ONE plan comment up to date.

    The comment names the commit planned and when. A push whose files do not validate, or
    whose plan cannot reach Sentry, replaces the plan in the comment with the failure and its
    error lines. Without SENTRY_AUTH_TOKEN (a fork's pull request) only validate runs and
    nothing is posted. Sets the step outputs has-changes, creates, updates and deletes. Exits
    with the first failing command's exit code. Needs `pull-requests: write` to comment.
    """
    from reconciler.github.plan_run import PlanRequest, plan_pull_request

    request = PlanRequest(
        config_dir=str(config_dir),
        out=str(out),
        base=base or None,
        commit=commit or os.environ.get("GITHUB_SHA") or None,
        token=bool(os.environ.get("SENTRY_AUTH_TOKEN", "").strip()),
    )
    env = GitHubEnv.from_environ() if comment else None
    outcome = plan_pull_request(request, run_url=env.run_url if env else None)
    if env is not None and outcome.comment is not None:
        number = pull_request or env.pull_request_number()
        with GitHubAPI(env) as api:
            done = upsert_comment(api, number, outcome.comment, kind="plan")
        echo_err(f"{done} the plan comment on pull request #{number}")
    return outcome.exit_code


@command.command(
    "reviewed-plans", short_help="Fetch the plans reviewed since the last successful apply."
)
@click.option(
    "--out-dir",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="Where to save each reviewed JSON plan, as pr-NUMBER.json.",
)
@click.option("--sha", help="The commit to apply (default: $GITHUB_SHA).")
@click.option("--branch", default="main", show_default=True, help="The default branch.")
@click.option(
    "--workflow",
    default="symsync-plan.yml",
    show_default=True,
    help="The workflow that plans pull requests (its file name).",
)
@click.option(
    "--apply-workflow",
    default="symsync-apply.yml",
    show_default=True,
    help="The workflow that applies (its file name): its last successful run starts the range.",
)
@click.option(
    "--artifact",
    default="symsync-plan",
    show_default=True,
    help="The name of the plan workflow's artifact holding the JSON plan.",
)
def reviewed_plans(
    out_dir: Path, sha: str | None, branch: str, workflow: str, apply_workflow: str, artifact: str
) -> int:
    """Fetch the reviewed plan of every pull request merged since the last successful apply.

    The range starts at the commit of the last successful run of the apply workflow on the
    default branch (before any: the push's `before`) and ends at the pushed commit. Needs
    `actions: read`, `contents: read` and `pull-requests: read`. Sets the step outputs base
    (the range's start: the revision rotations are compared with), pull-requests (the numbers
    merged, space-separated) and unreviewed (those without a reviewed plan).
    """
    from reconciler.core.atomic import write_atomic
    from reconciler.github.reviewed_plan import reviewed_since

    env = GitHubEnv.from_environ()
    commit = sha or os.environ.get("GITHUB_SHA", "")
    if not commit:
        raise GitHubError("no commit to look up: set GITHUB_SHA (GitHub Actions does) or --sha")
    with GitHubAPI(env) as api:
        found = reviewed_since(
            api,
            env,
            commit,
            branch=branch,
            plan_workflow=workflow,
            apply_workflow=apply_workflow,
            artifact=artifact,
        )
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        for pull in found.pulls:
            if pull.plan is not None:
                write_atomic(out_dir / f"pr-{pull.number}.json", pull.plan.plan_text, mode=0o644)
    except OSError as exc:
        raise SymsyncError(f"cannot write the plans to {out_dir}: {exc.strerror}") from None
    since = "the last successful apply" if found.base_is_last_apply else "the push's start"
    echo_err(f"range: {since}, commit {(found.base or '?')[:12]}, to {commit[:12]}")
    for pull in found.pulls:
        if pull.plan is not None:
            echo_err(f"pull request #{pull.number}: reviewed plan of run {pull.plan.run_id}")
        else:
            echo_err(f"pull request #{pull.number}: no reviewed plan: {pull.missing}")
    set_output("base", found.base or "")
    set_output("pull-requests", " ".join(str(p.number) for p in found.pulls))
    set_output("unreviewed", " ".join(str(p.number) for p in found.pulls if p.plan is None))
    return EXIT_OK


@command.command("apply", short_help="Apply what was reviewed and post the outcome.")
@click.option(
    "--reviewed-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="The reviewed JSON plans (from `symsync github reviewed-plans`): apply the fresh plan "
    "only if every change in it is in one of them.",
)
@click.option(
    "--manual",
    is_flag=True,
    help="A run started by hand: apply the fresh plan as it is (no reviewed plan needed).",
)
@click.option(
    "--plan",
    "planfile",
    type=click.Path(dir_okay=False, path_type=Path),
    help="One reviewed JSON plan (from `symsync github merged-plan`): apply the fresh plan "
    "only if it makes exactly its changes (`apply --expect`).",
)
@click.option("--base", metavar="REV", help="Passed to `symsync apply --base` (rotations).")
@click.option(
    "--pull-request",
    "pull_requests",
    type=click.IntRange(min=1),
    multiple=True,
    help="Where to post the outcome; may repeat.",
)
@click.option(
    "--pull-requests",
    "pull_request_list",
    default="",
    metavar="NUMBERS",
    help="Where to post the outcome, space-separated (the reviewed-plans step's output).",
)
@click.option(
    "--unreviewed",
    default="",
    metavar="NUMBERS",
    help="Merged pull requests without a reviewed plan (a fork's), space-separated.",
)
@click.option("--plan-run-url", help="The plan run reviewed, linked from the comment.")
@click.option(
    "--config-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="The desired-state tree (default: configs).",
)
@click.option("--url", help="Sentry URL (default: $SENTRY_URL, else https://sentry.io).")
def apply(
    reviewed_dir: Path | None,
    manual: bool,
    planfile: Path | None,
    base: str | None,
    pull_requests: tuple[int, ...],
    pull_request_list: str,
    unreviewed: str,
    plan_run_url: str | None,
    config_dir: Path | None,
    url: str | None,
) -> int:
    """Run apply on what was reviewed and post its outcome on the merged pull requests.

    With --reviewed-dir: `symsync apply --reviewed PLAN...`; with --manual: `symsync apply`,
    the fresh plan as it is; with --plan: `symsync apply --expect PLAN`. SIGINT and SIGTERM are
    passed on to apply, which finishes its writes in flight and prints its result table; the
    comment then says what was and was not written. In GitHub Actions, every value of
    SYMSYNC_SECRETS is masked first. Exits with apply's exit code (130/143 when interrupted).
    Needs `pull-requests: write` to comment.
    """
    from reconciler.github.apply_run import (
        apply_command,
        outcome_notes,
        report,
        reviewed_command,
        run_apply,
    )

    print_secret_masks()  # before any other output
    pull_requests = (*pull_requests, *numbers(pull_request_list, "--pull-requests"))
    missing = numbers(unreviewed, "--unreviewed")
    if sum((reviewed_dir is not None, manual, planfile is not None)) != 1:
        raise SymsyncError("give exactly one of --reviewed-dir, --manual and --plan")
    folder = None if config_dir is None else str(config_dir)
    if planfile is not None:
        args = apply_command(str(planfile), base=base, config_dir=folder, url=url)
    else:
        plans = reviewed_files(reviewed_dir) if reviewed_dir is not None else []
        args = reviewed_command(plans, base=base, config_dir=folder, url=url)
    run = run_apply(args)
    click.echo(run.stdout, nl=False)
    if pull_requests:
        env = GitHubEnv.from_environ()
        notes = outcome_notes(run.exit_code, unreviewed=missing, manual=manual)
        body = report(
            run,
            sha=os.environ.get("GITHUB_SHA") or None,
            run_url=env.run_url,
            plan_run_url=plan_run_url,
            notes=notes,
        )
        with GitHubAPI(env) as api:
            for number in pull_requests:
                upsert_comment(api, number, body, kind="apply")
        echo_err(f"posted the outcome on pull request(s) {', '.join(map(str, pull_requests))}")
    return run.exit_code


def numbers(text: str, option: str) -> tuple[int, ...]:
    """Pull request numbers from a space-separated list (a step's output)."""
    words = text.split()
    if not all(w.isdigit() and int(w) > 0 for w in words):
        raise click.BadParameter(
            f"{text!r} is not a list of pull request numbers", param_hint=option
        )
    return tuple(dict.fromkeys(int(w) for w in words))


def reviewed_files(folder: Path) -> list[str]:
    """The reviewed plans in ``folder``; with none, an empty plan (so nothing is reviewed)."""
    from reconciler.core.atomic import write_atomic

    found = sorted(str(p) for p in folder.glob("*.json")) if folder.is_dir() else []
    if found:
        return found
    empty = folder / "none.json"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        write_atomic(empty, '{"format_version": 1, "projects": []}\n', mode=0o644)
    except OSError as exc:
        raise SymsyncError(f"cannot write {empty}: {exc.strerror}") from None
    return [str(empty)]


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
@click.option(
    "--given",
    type=click.BOOL,
    default=None,
    help="Whether a token was given (true or false), so this step needs no token itself; "
    "default: whether SENTRY_AUTH_TOKEN or SENTRY_AUTH_TOKENS is set.",
)
def check_token(job: str, given: bool | None) -> int:
    """Set the step output configured=true when a Sentry token is given (--given, else
    SENTRY_AUTH_TOKEN or SENTRY_AUTH_TOKENS is set); otherwise say in the job summary that the
    job was skipped, and set configured=false. Exits 0 either way."""
    if given is None:
        given = any(
            os.environ.get(name, "").strip() for name in ("SENTRY_AUTH_TOKEN", "SENTRY_AUTH_TOKENS")
        )
    configured = given
    if not configured:
        append_step_summary(NO_TOKEN_SUMMARY.format(command=job), what="this note")
        click.echo(f"::notice title=symsync {job} skipped::no Sentry token is configured")
        echo_err(f"symsync {job}: no Sentry token is configured; not talking to Sentry")
    set_output("configured", "true" if configured else "false")
    return EXIT_OK
