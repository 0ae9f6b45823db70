"""`symsync validate [--config-dir DIR] [--format text|github|json]`: check every project file.

Offline: needs no token and no secret variable. Exit 0 when the tree is valid (warnings allowed),
1 otherwise. The one-line summary always goes to stderr; the diagnostics go

- ``text`` (default): to stderr, one per line, ``PATH:LINE:COLUMN: message``;
- ``github``: to stdout, one GitHub workflow command each
  (``::error file=PATH,line=N,col=M::message``, or ``::warning``), so the runner shows them as
  annotations on the lines of the pull request's diff;
- ``json``: to stdout, a JSON list of ``{path, line, column, severity, message}``.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from reconciler.config.loader import Diagnostic, LoadResult, collector_paused, load_tree
from reconciler.config.run_settings import read_run_settings
from reconciler.core.errors import EXIT_ERROR, EXIT_OK
from reconciler.github.actions import annotation

FORMATS = ("text", "github", "json")


def _count(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def summary(result: LoadResult) -> str:
    """One line: "3 files, 7 sources: OK" or "2 errors in 1 file"."""
    errors = result.errors
    warnings = result.warnings
    if errors:
        files = len({d.origin.path for d in errors})
        line = f"{_count(len(errors), 'error')} in {_count(files, 'file')}"
        if warnings:
            line += f", {_count(len(warnings), 'warning')}"
        return line
    line = f"{_count(result.files, 'file')}, {_count(result.sources, 'source')}: OK"
    if warnings:
        line += f" ({_count(len(warnings), 'warning')})"
    return line


@click.command("validate")
@click.option(
    "--config-dir",
    type=click.Path(path_type=Path),
    metavar="DIRECTORY",
    default=Path("configs"),
    show_default=True,
    help="Folder holding <organization>/<project>.yaml files.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    default="text",
    show_default=True,
    help="text: PATH:LINE:COLUMN lines on stderr; github: annotations (workflow commands) on "
    "stdout; json: a list of diagnostics on stdout.",
)
def command(config_dir: Path, fmt: str) -> int:
    """Check every project file offline (no token, no secrets needed).

    The settings file, symsync.yaml at the root of the tree, is checked too."""
    # What is loaded stays alive to the end of the run: out of the collector's sight (see
    # loader.collector_paused). Positions are not kept: diagnostics are worded file by file.
    with collector_paused(freeze=True):
        result = load_tree(config_dir, keep_origins=False)
    # The settings file (symsync.yaml at the root) first: it is read before any project file.
    result.diagnostics[:0] = read_run_settings(config_dir).diagnostics
    lines: list[str] = []
    if fmt == "text":
        lines = [str(d) for d in result.diagnostics]
    elif fmt == "json":
        click.echo(render_json(result))
    elif result.diagnostics:
        click.echo(render_github(result.diagnostics))
    lines.append(summary(result))
    click.echo("\n".join(lines), err=True)
    return EXIT_ERROR if result.errors else EXIT_OK


def render_github(diagnostics: list[Diagnostic]) -> str:
    return "\n".join(
        annotation(
            d.severity, d.message, file=d.origin.path, line=d.origin.line, col=d.origin.column
        )
        for d in diagnostics
    )


def render_json(result: LoadResult) -> str:
    return json.dumps(
        [
            {
                "path": d.origin.path,
                "line": d.origin.line,
                "column": d.origin.column,
                "severity": d.severity,
                "message": d.message,
            }
            for d in result.diagnostics
        ],
        indent=2,
        ensure_ascii=False,
    )
