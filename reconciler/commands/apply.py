"""``symsync apply [PLANFILE]``: make Sentry match the files, or carry out a saved plan."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

import click
from rich.console import Console

from reconciler.apply.applier import apply_plan, results_summary, results_table
from reconciler.apply.secrets import (
    SecretResolver,
    check_plan_shows_no_secret,
    remember_values,
    resolve_plan,
)
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
from reconciler.commands.plan import (
    DEFAULT_CONFIG_DIR,
    connect,
    echo_err,
    report_problems,
    stdout_color,
)
from reconciler.commands.progress import RunProgress, client_stats
from reconciler.config.diagnostic import display_path
from reconciler.config.selection import selects
from reconciler.core import interrupt
from reconciler.core.errors import EXIT_ERROR, EXIT_REFUSED, RefusedError, SymsyncError
from reconciler.github.actions import append_plan_summary
from reconciler.plan.delete_limits import with_verdict
from reconciler.plan.expect import differences, unplanned
from reconciler.plan.model import Plan
from reconciler.plan.planner import (
    DesiredTree,
    make_plan,
    match_projects,
    with_rotations,
)
from reconciler.plan.render import render


def read_plan_file(path: Path) -> Plan:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SymsyncError(
            f"{path}: no such plan file; make one with `symsync plan --out`"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise SymsyncError(f"{path}: cannot read the plan file: {reason}") from None
    return Plan.loads(text, where=display_path(path))


def _reviewed_keys(reviewed: Plan, fresh: Plan, patterns: Sequence[str]) -> list[str]:
    """The reviewed plan's projects to compare: all of them, or with --project the ones the
    patterns select (a project whose file is gone is still compared)."""
    keys = [p.key for p in reviewed.projects]
    if not patterns:
        return keys
    planned = {p.key for p in fresh.projects}
    return [k for k in keys if k in planned or selects(patterns, k)]


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


def check_same_sentry(plan: Plan, sentry_url: str, planfile: Path) -> None:
    """A saved plan describes one Sentry's state: refuse to carry it out against another."""
    if plan.sentry_url is not None and plan.sentry_url != sentry_url:
        raise RefusedError(
            f"{display_path(planfile)} was planned against {plan.sentry_url}, not {sentry_url}; "
            "nothing was written. Apply it with --url or SENTRY_URL set to where it was "
            "planned, or run `symsync plan` against this Sentry"
        )


@click.command("apply", short_help="Apply a fresh plan, or exactly a saved PLANFILE.")
@click.argument("planfile", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--config-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help=f"The desired-state tree (default: {DEFAULT_CONFIG_DIR}); not read with PLANFILE.",
)
@project_option
@click.option(
    "--yes", "-y", is_flag=True, help="Apply without asking (required without a terminal)."
)
@format_option("How stdout shows the plan before applying it.")
@max_deletes_option(
    "Refuse the whole run (exit 3, nothing written) when it would delete more than N sources "
    "in total. A project's own limit is `max_deletes:` in its file."
)
@base_option
@rotate_option
@click.option(
    "--expect",
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="PLANFILE",
    help=(
        "Make a fresh plan and apply it only if its changes are exactly those of this reviewed "
        "plan (`symsync plan --out`); otherwise write nothing, show what differs, exit 3."
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
    yes: bool,
    fmt: str,
    max_deletes: int,
    base: str | None,
    rotate_patterns: tuple[str, ...],
    expect: Path | None,
    verbose: bool,
) -> int:
    """Apply the changes a plan shows: a saved PLANFILE exactly, or a fresh plan.

    With PLANFILE, a project whose remote state moved since the plan is refused (exit 3).
    Secret variables are read only where a value must be sent, from the environment, else
    from SYMSYNC_SECRETS (a JSON object of names to values); all of them are checked before
    the first write, and one missing stops the whole apply (exit 1). The token needs
    project:write (project:admin to delete sources).

    SIGINT or SIGTERM while writing: no new write starts, the writes in flight finish, the
    result table says what was written and what was not, and the exit code is 130 or 143.
    """
    if verbose:
        log_requests()
    progress = RunProgress("apply", verbose=verbose)
    if planfile is not None and expect is not None:
        raise SymsyncError(
            "give either PLANFILE (apply that saved plan) or --expect PLANFILE (apply a fresh "
            "plan if it equals the reviewed one), not both"
        )
    reviewed = read_plan_file(expect) if expect is not None else None
    if planfile is not None and (base is not None or rotate_patterns):
        flag = "--base" if base is not None else "--rotate"
        raise SymsyncError(
            f"{flag} decides what a fresh plan sends; a saved plan already says it. "
            f"Give {flag} to `symsync plan --out`, or apply without PLANFILE"
        )
    settings = connection_settings()
    # A malformed SYMSYNC_SECRETS stops apply here, before anything is read or written.
    secrets = SecretResolver()
    if planfile is not None:
        plan = read_plan_file(planfile)
        if config_dir is not None:
            echo_err(f"note: --config-dir is not read when applying the saved plan {planfile}")
        if patterns:
            keys = [p.key for p in plan.projects]
            plan = plan.select(match_projects(keys, patterns, where=display_path(planfile)))
        client = connect(settings) if plan.has_changes else None
        if client is not None:
            progress.attach(client_stats(client))
            check_same_sentry(plan, client.base_url, planfile)
    else:
        desired = DesiredTree(config_dir or DEFAULT_CONFIG_DIR, patterns, echo=echo_err)
        configs, rotations = with_rotations(desired, base=base, rotate_patterns=rotate_patterns)
        client = connect(settings, desired)
        progress.attach(client_stats(client))
        try:
            with progress:
                progress.phase("plan", len(desired))
                plan = make_plan(
                    client,
                    configs,
                    parallelism=settings.parallelism,
                    rotations=rotations,
                    on_project=progress.advance,
                    keys=desired.keys(),
                )
        except BaseException:
            client.close()
            raise
        if reviewed is not None and expect is not None:
            check_same_sentry(reviewed, client.base_url, expect)
            reviewed = reviewed.select(_reviewed_keys(reviewed, plan, patterns))
    # The verdict of this run's limits, whatever a saved plan says (it may have been made
    # with other settings); the applier checks the same again before its first write.
    plan = with_verdict(plan, max_deletes)
    refused = plan.limits is not None and plan.limits.refused

    try:
        remember_values(plan)
        check_plan_shows_no_secret(plan)
        click.echo(render(plan, fmt, color=stdout_color()), nl=False)
        append_plan_summary(plan)
        report_problems(plan, errors=False)  # errors are in the result table
        if reviewed is not None:
            broken = unplanned(plan)
            if broken:
                # Not a difference: the changes of these projects are unknown, so the fresh
                # plan cannot be compared with the reviewed one. An API failure: exit 1.
                echo_err(
                    f"error: apply --expect: the fresh plan could not read "
                    f"{len(broken)} project(s), so it cannot be compared with {expect}; "
                    "nothing was written anywhere:"
                )
                for line in broken:
                    echo_err(f"  {line}")
                echo_err("Run apply --expect again once Sentry answers for them.")
                return EXIT_ERROR
            differ = differences(reviewed, plan)
            if differ:
                echo_err(
                    f"apply --expect: the fresh plan differs from {expect}; nothing was "
                    "written anywhere:"
                )
                for line in differ:
                    echo_err(f"  {line}")
                echo_err("Review the fresh plan (`symsync plan`) and apply that one.")
                return EXIT_REFUSED
        if not refused:
            # Every variable of every project, before asking: a missing one stops it all here.
            resolve_plan(plan, secrets)
        if plan.has_changes and not refused and not confirm(yes):
            echo_err("Apply cancelled; nothing was written.")
            return EXIT_ERROR
        progress.phase("apply", len(plan.projects))
        # From here on a signal stops new writes (and retries) instead of ending the process.
        stop = interrupt.begin_writes()
        if client is not None:
            client.stop_retrying_on(stop)
        result = apply_plan(
            plan,
            client,
            verify=planfile is not None,
            parallelism=settings.parallelism,
            # A line per write on a terminal or with --verbose; a CI log gets the table below.
            on_event=progress.event,
            on_project=progress.advance,
            max_deletes=max_deletes,
            stop=stop,
            signal=interrupt.received,
        )
    finally:
        progress.stop()
        if client is not None:
            client.close()

    # On a terminal, its width; in a CI log, room enough that messages are not folded much.
    console = Console(stderr=True, highlight=False)
    if not console.is_terminal:
        console = Console(stderr=True, highlight=False, width=120)
    console.print(results_table(result))
    console.print(results_summary(result), markup=False)
    stopped_by = client.stopped_by if client is not None else None
    if stopped_by is not None:
        echo_err(f"error: {stopped_by}")
    progress.finish(len(plan.projects))
    # A signal that came after the last write still ends the run as interrupted.
    return interrupt.exit_code() or result.exit_code
