"""``symsync plan``: read each managed project once and print what apply would do."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from reconciler.commands.options import (
    base_option,
    connection_settings,
    format_option,
    log_requests,
    max_deletes_option,
    parallelism_option,
    project_option,
    rotate_option,
    url_option,
    verbose_option,
)
from reconciler.core import interrupt
from reconciler.core.errors import EXIT_CHANGES, EXIT_ERROR, EXIT_OK, SymsyncError
from reconciler.plan.render import render

# What the first request does not need is imported later (reconciler.cli: start-up imports only
# what the command needs): plan's models with the first answer, the rest once the plan is made.
if TYPE_CHECKING:
    from reconciler.plan.model import Plan
    from reconciler.plan.planner import DesiredTree
    from reconciler.sentry.client import SentryClient
    from reconciler.sentry.settings import ConnectionSettings

DEFAULT_CONFIG_DIR = Path("configs")


def stdout_color() -> bool:
    """Colour only on a terminal, and never with NO_COLOR set (https://no-color.org)."""
    return sys.stdout.isatty() and os.environ.get("NO_COLOR", "") == ""


def echo_err(message: str) -> None:
    click.echo(message, err=True)


def write_plan_file(plan: Plan, path: Path) -> None:
    """Save the JSON plan atomically: the file is either the old one or the whole new one."""
    from reconciler.core.atomic import write_atomic

    try:
        write_atomic(path, plan.write_json, mode=0o644)
    except OSError as exc:
        raise SymsyncError(f"cannot write the plan to {path}: {exc.strerror}") from None


def report_problems(plan: Plan, *, errors: bool = True) -> None:
    """Project warnings (and errors) on stderr too, where CI logs show them whatever the format
    and wherever stdout goes."""
    for project in plan.projects:
        if errors and project.error is not None:
            echo_err(f"error: {project.key}: {project.error}")
        for warning in project.warnings:
            echo_err(f"warning: {project.key}: {warning}")
    if plan.limits is not None:
        for line in plan.limits.lines():
            echo_err(f"warning: apply would refuse: {line}")
    if errors:
        for key, error in plan.unfiled_errors.items():
            echo_err(f"error: {key}: {error}")


def connect(settings: ConnectionSettings, desired: DesiredTree | None = None) -> SentryClient:
    """The client. When it cannot be made (no token, a bad URL) and ``desired`` is given, the
    tree's own errors are reported first: they are what the user must fix anyway."""
    from reconciler.sentry.client import SentryClient

    try:
        return SentryClient.from_env(settings)
    except SymsyncError:
        if desired is not None:
            desired.check()
        raise


@click.command("plan")
@click.option(
    "--config-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=DEFAULT_CONFIG_DIR,
    show_default=True,
    help="The desired-state tree.",
)
@project_option
@format_option("How stdout shows the plan: a listing, a pull-request comment, or the JSON plan.")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also save the JSON plan to this file (for `symsync apply PLANFILE`).",
)
@click.option(
    "--detailed-exitcode",
    is_flag=True,
    help="Exit 2 when changes are pending, 0 when there are none (1 on any error).",
)
@max_deletes_option(
    "The delete limit of the run whose verdict the plan shows (as `apply --max-deletes`)."
)
@base_option
@rotate_option
@click.option(
    "--report-unfiled",
    is_flag=True,
    help="Also list the Sentry projects that have symbol sources and no file, in every "
    "organization that has a folder in the tree (drift for --detailed-exitcode).",
)
@url_option
@parallelism_option("Projects read at the same time.")
@verbose_option
@interrupt.handled("plan")
def command(
    config_dir: Path,
    patterns: tuple[str, ...],
    fmt: str,
    out: Path | None,
    detailed_exitcode: bool,
    max_deletes: int,
    base: str | None,
    rotate_patterns: tuple[str, ...],
    report_unfiled: bool,
    verbose: bool,
) -> int:
    """Show what apply would change. Needs a token with project:read, no secret variables.

    The plan goes to stdout; progress, warnings and errors go to stderr.
    """
    if verbose:
        log_requests()
    from reconciler.apply.secrets import bundle_problem, check_plan_shows_no_secret, remember_values
    from reconciler.commands.progress import RunProgress, client_stats
    from reconciler.github.actions import append_plan_summary
    from reconciler.plan.planner import DesiredTree, make_plan, with_rotations

    if (problem := bundle_problem()) is not None:
        echo_err(f"warning: {problem}. apply will refuse it")

    progress = RunProgress("plan", verbose=verbose)
    desired = DesiredTree(config_dir, patterns, echo=echo_err)
    configs, rotations = with_rotations(desired, base=base, rotate_patterns=rotate_patterns)
    settings = connection_settings()
    with connect(settings, desired) as client, progress:
        progress.attach(client_stats(client))
        progress.phase("plan", len(desired))
        plan = make_plan(
            client,
            configs,
            parallelism=settings.parallelism,
            max_deletes=max_deletes,
            rotations=rotations,
            on_project=progress.advance,
            keys=desired.keys(),
        )
        if report_unfiled:
            from reconciler.plan.unfiled import find_unfiled

            unfiled = find_unfiled(client, config_dir, patterns, parallelism=settings.parallelism)
            plan = plan.model_copy(
                update={"unfiled": unfiled.projects, "unfiled_errors": unfiled.errors or {}}
            )
    remember_values(plan)
    check_plan_shows_no_secret(plan)
    if out is not None:
        with interrupt.deferred("the plan file was written"):
            write_plan_file(plan, out)
    if fmt == "json":  # written as it is made: a large plan is never one string in memory
        plan.write_json(sys.stdout)
    else:
        click.echo(render(plan, fmt, color=stdout_color()), nl=False)
    append_plan_summary(plan)
    report_problems(plan)
    if out is not None:
        echo_err(f"Saved the plan to {out}; apply it with `symsync apply {out}`.")
    progress.finish(len(plan.projects))
    if plan.has_errors:
        return EXIT_ERROR
    if detailed_exitcode and plan.has_drift:
        return EXIT_CHANGES
    return EXIT_OK
