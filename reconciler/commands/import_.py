"""``symsync import``: write project files from what Sentry holds now.

``symsync import (--org ORG | --project ORG/PROJECT...) [--project SLUG]... [--exclude PATTERN]...
[--secret-name TEMPLATE] [--share] [--builtin] [--config-dir DIR] [--url URL] [--force]``: the
reading and rendering are ``reconciler.importer.read``'s, the writing
``reconciler.importer.write``'s; this module prints what came of them and picks the exit code.
"""

from __future__ import annotations

from pathlib import Path

import click

from reconciler.commands.options import (
    connection_settings,
    log_requests,
    url_option,
    verbose_option,
)
from reconciler.commands.progress import RunProgress
from reconciler.config.diagnostic import display_path
from reconciler.config.run_settings import require_run_settings
from reconciler.core import interrupt
from reconciler.core.errors import EXIT_ERROR, EXIT_OK
from reconciler.importer.convert import SHARED
from reconciler.importer.read import ImportResult, import_organization, selected_organizations
from reconciler.importer.secret_names import DEFAULT_TEMPLATE, SecretNameTemplate
from reconciler.importer.write import write_files
from reconciler.sentry.client import SentryClient


@click.command("import", short_help="Write project files from what Sentry holds now.")
@click.option(
    "--org",
    "org",
    metavar="ORG",
    help="Organization slug to import: all its projects, or those --project names.",
)
@click.option(
    "--project",
    "projects",
    multiple=True,
    metavar="ORG/PROJECT",
    help="Import only these projects (may repeat): ORG/PROJECT with shell-style globs like "
    "`acme/*`, as `plan --project`, or a bare project slug of --org.",
)
@click.option(
    "--exclude",
    "excludes",
    multiple=True,
    metavar="PATTERN",
    help="Skip projects matching this shell-style glob of ORG/PROJECT or of the project slug "
    "(may repeat), e.g. `legacy-*`.",
)
@click.option(
    "--secret-name",
    "secret_name",
    metavar="TEMPLATE",
    help="Name of the environment variable written for each secret, from {org}, {project}, "
    "{source} and {field}; each value upper-cased, other characters as `_`. "
    f"Default: {DEFAULT_TEMPLATE}.",
)
@click.option(
    "--config-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("configs"),
    show_default=True,
    help="Root of the desired-state tree.",
)
@click.option(
    "--share",
    is_flag=True,
    help="Write a source identical in two or more projects once, as a definition in "
    "<org>/_org.yaml, and `- use: ID` in the project files (one variable per shared secret).",
)
@click.option(
    "--builtin",
    "builtin",
    is_flag=True,
    help="Also write each project's built-in repositories as `builtin:` (one more request per "
    "project). Off by default: Sentry answers a default list even for a project that never "
    "set one.",
)
@url_option
@click.option("--force", is_flag=True, help="Overwrite existing project files.")
@verbose_option
@interrupt.handled("import")
def command(
    org: str | None,
    projects: tuple[str, ...],
    excludes: tuple[str, ...],
    secret_name: str | None,
    config_dir: Path,
    share: bool,
    builtin: bool,
    force: bool,
    verbose: bool,
) -> int:
    """Write project files from the live state of Sentry, secrets as {env: ...} references.

    Give an organization (--org ORG: every project of it), projects (--project ORG/PROJECT,
    may repeat, globs like `acme/*`), or both (--org ORG --project SLUG).

    A project whose sources cannot be read does not stop the others: every project that could
    be read is written, each failed one is named, and the exit code is 1. The same goes for a
    project whose file would hold the value of a secret the environment holds (in a URL, say):
    its file is not written, and the secret is named by its variable, never shown.

    With --share, a source identical in several projects is written once in _org.yaml; with
    --builtin, each project's built-in repositories too.

    The token needs project:read, and org:read to list the organization's projects.
    """
    if verbose:
        log_requests()
    template = SecretNameTemplate.parse(secret_name)  # a bad template fails before any request
    selected_organizations(org, projects, config_dir)  # and so does a bad selection
    # Projects the settings file excludes are never imported, as --exclude ones are not.
    excludes = (*require_run_settings(config_dir).exclude, *excludes)
    progress = RunProgress("import", verbose=verbose)
    # The live display (a terminal, enough projects) is taken down when the reads end, however
    # they end (an error, a signal), and before any result is printed below it.
    with SentryClient.from_env(connection_settings()) as client, progress:
        progress.attach(lambda: client.stats)
        result = import_organization(
            client,
            org,
            projects,
            config_dir,
            force=force,
            exclude=excludes,
            secret_name=template,
            on_total=lambda total: progress.phase("import", total),
            on_project=progress.advance,
            share=share,
            builtin=builtin,
        )
    for warning in result.warnings:
        click.echo(f"warning: {warning}", err=True)
    with interrupt.deferred("the project files were written"):
        write_files(result)
    _report_written(org, result)
    _report_variables(result)
    if result.failed:
        _report_failed(result)
        progress.finish(len(result.project_files) + len(result.failed))
        return EXIT_ERROR
    progress.finish(len(result.project_files))
    return EXIT_OK


def _report_written(org: str | None, result: ImportResult) -> None:
    """The files written, the projects excluded, or that there was nothing to import."""
    for imported in result.files:
        count = f"{imported.sources} source{'s' if imported.sources != 1 else ''}"
        shared = " shared by several projects" if imported.project == SHARED else ""
        click.echo(f"wrote {display_path(imported.path)} ({count}{shared})", err=True)
    if result.schema_path is not None and result.files:
        click.echo(
            f"wrote {display_path(result.schema_path)} (JSON Schema for editors; "
            "`symsync schema` prints it)",
            err=True,
        )
    if result.excluded:
        click.echo(
            f"excluded {len(result.excluded)} project(s): {', '.join(result.excluded)}", err=True
        )
    if not result.files and not result.failed:
        where = f"organization `{org}` has" if org is not None else "there are"
        click.echo(f"{where} no projects to import: nothing was written", err=True)


def _report_variables(result: ImportResult) -> None:
    """The environment variables the written files name, each with the secrets it stands for."""
    grouped = result.variables_by_name()
    if not grouped:
        return
    click.echo(
        "\nSecrets stay in Sentry and cannot be read back. Set these environment variables "
        "for `symsync apply` whenever it has to send a value (creating a source again, or "
        "adding a secret):",
        err=True,
    )
    width = max(len(name) for name in grouped)
    for name, uses in grouped.items():
        described = "; ".join(v.describe() for v in uses)
        click.echo(f"  {name:<{width}}  {described}", err=True)


def _report_failed(result: ImportResult) -> None:
    """Each project not imported, with what to do next, and how many were."""
    click.echo("", err=True)
    for failed in result.failed:
        click.echo(f"error: {failed.key}: {failed.message()}", err=True)
        click.echo(f"  next: {failed.next_step()}", err=True)
    total = len(result.project_files) + len(result.failed)
    unread = sum(1 for failed in result.failed if failed.unread)
    why = [f"{unread} could not be read"] if unread else []
    if len(result.failed) > unread:
        why.append(f"{len(result.failed) - unread} would hold a secret's value")
    click.echo(
        f"imported {len(result.project_files)} of {total} project(s); {', '.join(why)} (see above)",
        err=True,
    )
