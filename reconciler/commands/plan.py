"""``symsync plan``: read each managed project once and print what apply would do."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from reconciler.commands.options import (
    base_option,
    connection_settings,
    echo_err,
    exclude_option,
    format_option,
    log_requests,
    max_deletes_option,
    parallelism_option,
    project_option,
    report_errors,
    rotate_option,
    stdout_color,
    url_option,
    verbose_option,
)
from reconciler.core import interrupt
from reconciler.core.errors import EXIT_CHANGES, EXIT_ERROR, EXIT_OK, SymsyncError
from reconciler.plan.fresh import DEFAULT_CONFIG_DIR, plan_tree
from reconciler.plan.render import render

# What the first request does not need is imported later (reconciler.cli: start-up imports only
# what the command needs): plan's models with the first answer, the rest once the plan is made.
if TYPE_CHECKING:
    from reconciler.plan.model import Plan


def write_plan_file(plan: Plan, path: Path) -> None:
    """Save the JSON plan atomically: the file is either the old one or the whole new one."""
    from reconciler.core.atomic import write_atomic

    try:
        write_atomic(path, plan.write_json, mode=0o644)
    except OSError as exc:
        raise SymsyncError(f"cannot write the plan to {path}: {exc.strerror}") from None


def show_plan(plan: Plan, fmt: str, out: Path | None) -> None:
    """Save the plan to ``out`` if given, print it on stdout (and in the step summary), and its
    errors on stderr."""
    from reconciler.github.actions import append_plan_summary

    if out is not None:
        with interrupt.deferred("the plan file was written"):
            write_plan_file(plan, out)
    if fmt == "json":  # written as it is made: a large plan is never one string in memory
        plan.write_json(sys.stdout)
    else:
        click.echo(render(plan, fmt, color=stdout_color()), nl=False)
    append_plan_summary(plan)
    report_errors(plan)
    if out is not None:
        echo_err(f"Saved the plan to {out}; apply it with `symsync apply {out}`.")


def exit_code(plan: Plan, *, detailed: bool) -> int:
    """1 on any error; with --detailed-exitcode, 2 when the plan shows drift; else 0."""
    if plan.has_errors:
        return EXIT_ERROR
    if detailed and plan.has_drift:
        return EXIT_CHANGES
    return EXIT_OK


@click.command("plan")
@click.option(
    "--config-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=DEFAULT_CONFIG_DIR,
    show_default=True,
    help="The desired-state tree.",
)
@project_option
@exclude_option
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
    excludes: tuple[str, ...],
    fmt: str,
    out: Path | None,
    detailed_exitcode: bool,
    max_deletes: int | None,
    base: str | None,
    rotate_patterns: tuple[str, ...],
    report_unfiled: bool,
    verbose: bool,
) -> int:
    """Show what apply would change. Needs a token with project:read, no secret variables.

    The plan, with its warnings, goes to stdout; progress and errors go to stderr.
    """
    if verbose:
        log_requests()
    from reconciler.apply.secrets import bundle_problem, check_plan_shows_no_secret, remember_values
    from reconciler.commands.progress import RunProgress

    if (problem := bundle_problem()) is not None:
        echo_err(f"warning: {problem}. apply will refuse it")
    progress = RunProgress("plan", verbose=verbose)
    plan, client = plan_tree(
        config_dir,
        patterns,
        connection_settings(),
        progress=progress,
        echo=echo_err,
        base=base,
        rotate_patterns=rotate_patterns,
        max_deletes=max_deletes,
        report_unfiled=report_unfiled,
        exclude=excludes,
    )
    client.close()  # plan writes nothing: every read is done
    remember_values(plan)
    check_plan_shows_no_secret(plan)
    show_plan(plan, fmt, out)
    progress.finish(len(plan.projects))
    return exit_code(plan, detailed=detailed_exitcode)
