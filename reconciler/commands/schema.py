"""`symsync schema`: print the JSON Schema of a project file.

Generated from the same pydantic models the loader validates with, so editors (through a
``# yaml-language-server: $schema=...`` line) check what ``symsync validate`` checks, as far as
JSON Schema can say it. Some rules only the loader knows: duplicate keys and ids, positions, and
the warning for AWS regions that Sentry does not list.
"""

from __future__ import annotations

import json

import click

from reconciler.config.project_file import org_file_json_schema, project_file_json_schema
from reconciler.core.errors import EXIT_OK


@click.command("schema")
@click.option(
    "--org",
    "org_file",
    is_flag=True,
    help="Print the schema of an organization's _org.yaml instead (also in the project file "
    "schema's $defs, as OrgFile).",
)
@click.option(
    "--settings",
    "settings_file",
    is_flag=True,
    help="Print the schema of the settings file, configs/symsync.yaml, instead.",
)
def command(org_file: bool, settings_file: bool) -> int:
    """Print the JSON Schema of a project file.

    With --org, the schema of an organization's _org.yaml (shared definitions and defaults);
    with --settings, the schema of the settings file, configs/symsync.yaml.
    """
    if settings_file:
        from reconciler.config.run_settings import settings_json_schema

        schema = settings_json_schema()
    else:
        schema = org_file_json_schema() if org_file else project_file_json_schema()
    click.echo(json.dumps(schema, indent=2, sort_keys=False))
    return EXIT_OK
