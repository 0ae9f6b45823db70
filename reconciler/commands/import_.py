"""``symsync import --org ORG [--project SLUG]... [--config-dir DIR] [--url URL] [--force]``."""

from __future__ import annotations

from pathlib import Path

import click

from reconciler import interrupt
from reconciler.client import SentryClient
from reconciler.commands.options import log_requests, url_option, verbose_option
from reconciler.errors import EXIT_OK
from reconciler.importer import import_organization, shown_path, write_files


@click.command("import", short_help="Write project files from what Sentry holds now.")
@click.option("--org", "org", required=True, help="Organization slug to import.")
@click.option(
    "--project",
    "projects",
    multiple=True,
    metavar="SLUG",
    help="Import only this project (may repeat). Default: every project of the organization.",
)
@click.option(
    "--config-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("configs"),
    show_default=True,
    help="Root of the desired-state tree.",
)
@url_option
@click.option("--force", is_flag=True, help="Overwrite existing project files.")
@verbose_option
@interrupt.handled("import")
def command(
    org: str,
    projects: tuple[str, ...],
    config_dir: Path,
    url: str | None,
    force: bool,
    verbose: bool,
) -> int:
    """Write project files from the live state of Sentry, secrets as {env: ...} references.

    The token needs project:read, and org:read to list the organization's projects.
    """
    if verbose:
        log_requests()
    with SentryClient.from_env(url) as client:
        result = import_organization(client, org, projects, config_dir, force=force)
    for warning in result.warnings:
        click.echo(f"warning: {warning}", err=True)
    with interrupt.deferred("the project files were written"):
        write_files(result)
    for imported in result.files:
        count = f"{imported.sources} source{'s' if imported.sources != 1 else ''}"
        click.echo(f"wrote {shown_path(imported.path)} ({count})", err=True)
    if result.schema_path is not None and result.files:
        click.echo(
            f"wrote {shown_path(result.schema_path)} (JSON Schema for editors; "
            "`symsync schema` prints it)",
            err=True,
        )
    if not result.files:
        click.echo(f"organization `{org}` has no projects: nothing was written", err=True)
    variables = result.variables
    if variables:
        click.echo(
            "\nSecrets stay in Sentry and cannot be read back. Set these environment variables "
            "for `symsync apply` whenever it has to send a value (creating a source again, or "
            "adding a secret):",
            err=True,
        )
        width = max(len(v.name) for v in variables)
        for variable in variables:
            click.echo(f"  {variable.name:<{width}}  {variable.describe()}", err=True)
    return EXIT_OK
