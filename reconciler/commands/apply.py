"""``symsync apply [PLANFILE]``: make Sentry match the files, or carry out a saved plan."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from rich.console import Console

from reconciler.apply.applier import (
    ApplyResult,
    results_summary,
    results_table,
    unchanged_line,
)
from reconciler.apply.run import ApplyOptions, prepare_apply
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
    rotate_option,
    stdout_color,
    url_option,
    verbose_option,
)
from reconciler.commands.progress import RunProgress
from reconciler.core import interrupt
from reconciler.core.errors import EXIT_ERROR, SymsyncError
from reconciler.github.actions import append_plan_summary, print_secret_masks
from reconciler.plan.fresh import DEFAULT_CONFIG_DIR
from reconciler.plan.model import Plan
from reconciler.plan.render import render
from reconciler.sentry.errors import AccountWideError


def confirm(yes: bool) -> bool:
    """--yes, or an answer on a terminal; without a terminal and --yes, a clear error."""
    if yes:
        return True
    if not sys.stdin.isatty():
        raise SymsyncError(
            "apply needs a confirmation and there is no terminal to ask on; "
            "review the plan and pass --yes to apply it"
        )
    return click.confirm("Apply these changes to Sentry?", default=False, err=True)


def show_plan(plan: Plan, fmt: str) -> None:
    """The plan on stdout, with its warnings (and in the step summary); the errors are in the
    result table."""
    click.echo(render(plan, fmt, color=stdout_color()), nl=False)
    append_plan_summary(plan)


def show_results(
    result: ApplyResult, stopped_by: AccountWideError | None, *, verbose: bool = False
) -> None:
    """The result table and its summary on stderr, then the error that stopped the run.

    On a terminal (or with ``--verbose``) the table lists every project; in a CI log, only the
    projects something happened to, and one line counts the unchanged ones."""
    # On a terminal, its width; in a CI log, room enough that messages are not folded much.
    console = Console(stderr=True, highlight=False)
    every_project = console.is_terminal or verbose
    if not console.is_terminal:
        console = Console(stderr=True, highlight=False, width=120)
    unchanged = None if every_project else unchanged_line(result)
    if every_project or len(result.projects) > result.count("unchanged"):
        console.print(results_table(result, unchanged=every_project))
    if unchanged is not None:
        console.print(unchanged, markup=False)
    console.print(results_summary(result), markup=False)
    if stopped_by is not None:
        echo_err(f"error: {stopped_by}")


config_dir_option = click.option(
    "--config-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help=f"The desired-state tree (default: {DEFAULT_CONFIG_DIR}); with PLANFILE, the files "
    "every change of the plan must come from.",
)
yes_option = click.option(
    "--yes", "-y", is_flag=True, help="Apply without asking (required without a terminal)."
)
expect_option = click.option(
    "--expect",
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="PLANFILE",
    help=(
        "Make a fresh plan and apply it only if its changes are exactly those of this reviewed "
        "plan (`symsync plan --out`); otherwise write nothing, show what differs, exit 3."
    ),
)


@click.command("apply", short_help="Apply a fresh plan, or exactly a saved PLANFILE.")
@click.argument("planfile", required=False, type=click.Path(dir_okay=False, path_type=Path))
@config_dir_option
@project_option
@exclude_option
@yes_option
@format_option("How stdout shows the plan before applying it.")
@max_deletes_option(
    "Refuse the whole run (exit 3, nothing written) when it would delete more than N sources "
    "in total. A project's own limit is `max_deletes:` in its file."
)
@base_option
@rotate_option
@expect_option
@click.option(
    "--reviewed",
    "reviewed",
    multiple=True,
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="PLANFILE",
    help=(
        "Make a fresh plan and apply it only if every change in it is in one of these reviewed "
        "plans, with the same before and after (may repeat); a reviewed change Sentry already "
        "holds is done. Otherwise write nothing, name each unreviewed change, exit 3."
    ),
)
@url_option
@parallelism_option("Projects written at the same time (writes to one project are never parallel).")
@verbose_option
@interrupt.handled("apply")
def command(
    planfile: Path | None,
    config_dir: Path | None,
    patterns: tuple[str, ...],
    excludes: tuple[str, ...],
    yes: bool,
    fmt: str,
    max_deletes: int | None,
    base: str | None,
    rotate_patterns: tuple[str, ...],
    expect: Path | None,
    reviewed: tuple[Path, ...],
    verbose: bool,
) -> int:
    """Apply the changes a plan shows: a saved PLANFILE exactly, or a fresh plan.

    With PLANFILE, a plan whose changes the files of --config-dir do not give (edited, or
    made from other files) is refused whole (exit 3), and a project whose remote state moved
    since the plan is refused (exit 3).
    Secret variables are read only where a value must be sent, from the environment, else
    from SYMSYNC_SECRETS (a JSON object of names to values); all of them are checked before
    the first write, and one missing stops the whole apply (exit 1). The token needs
    project:write (project:admin to delete sources).

    SIGINT or SIGTERM while writing: no new write starts, the writes in flight finish, the
    result table says what was written and what was not, and the exit code is 130 or 143.
    """
    print_secret_masks()  # first: every later line of a GitHub Actions log hides the values
    if verbose:
        log_requests()
    progress = RunProgress("apply", verbose=verbose)
    options = ApplyOptions(
        planfile=planfile,
        expect=expect,
        reviewed=reviewed,
        config_dir=config_dir,
        patterns=patterns,
        excludes=excludes,
        max_deletes=max_deletes,
        base=base,
        rotate_patterns=rotate_patterns,
        settings=connection_settings(),
    )
    with prepare_apply(options, progress=progress, echo=echo_err) as run, progress:
        show_plan(run.plan, fmt)
        refusal = run.expect_refusal()
        if refusal is not None:
            for line in refusal.lines:
                echo_err(line)
            return refusal.exit_code
        run.resolve_secrets()
        if run.needs_confirmation and not confirm(yes):
            echo_err("Apply cancelled; nothing was written.")
            return EXIT_ERROR
        progress.phase("apply", len(run.plan.projects))
        # A line per write on a terminal or with --verbose; a CI log gets the table below.
        result = run.carry_out(on_event=progress.event, on_project=progress.advance)
    show_results(result, run.stopped_by, verbose=verbose)
    progress.finish(len(run.plan.projects))
    # A signal that came after the last write still ends the run as interrupted.
    return interrupt.exit_code() or result.exit_code
