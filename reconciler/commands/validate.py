"""`symsync validate [--config-dir DIR]`: check every project file, offline.

Needs no token and no secret variable. Diagnostics go to stderr, one per line
(``PATH:LINE:COLUMN: message``), then a one-line summary. Exit 0 when the tree is valid (warnings
allowed), 1 otherwise.
"""

from __future__ import annotations

from pathlib import Path

import click

from reconciler.errors import EXIT_ERROR, EXIT_OK
from reconciler.loader import LoadResult, load_tree


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
def command(config_dir: Path) -> int:
    """Check every project file offline (no token, no secrets needed)."""
    result = load_tree(config_dir)
    lines = [str(d) for d in result.diagnostics]
    lines.append(summary(result))
    click.echo("\n".join(lines), err=True)
    return EXIT_ERROR if result.errors else EXIT_OK
