"""The CLI shell: `symsync --help` lists every command without importing any of them, and the
version is defined once."""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys
import tomllib
from pathlib import Path

import click
import pytest

from reconciler import __version__
from reconciler.cli import COMMANDS, SUMMARIES, cli
from tests.support.e2e_helpers import clean_env, symsync

ROOT = Path(__file__).resolve().parents[2]

# What `symsync --help` may import: the CLI shell and click, nothing that a command needs.
PROBE = """
import sys
from reconciler.cli import main
try:
    main(["--help"])
except SystemExit as exc:
    assert exc.code == 0, exc.code
loaded = sorted(m for m in sys.modules if m.startswith(("reconciler.", "pydantic", "yaml",
                "requests", "rich", "ruamel", "deepdiff")))
print("LOADED", " ".join(loaded))
"""


def test_help_imports_no_command_and_no_heavy_library() -> None:
    run = subprocess.run(
        [sys.executable, "-c", PROBE],
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    loaded = run.stdout.rsplit("LOADED", 1)[1].split()
    # (and the masking of known secret values in everything printed: standard library only)
    allowed = {
        "reconciler.cli",
        "reconciler.core.errors",
        "reconciler.core.redact",
        "reconciler.apply.secrets",
    }
    # Packages are faces that hand on nothing: importing one loads no module of it.
    packages = {"reconciler.core", "reconciler.apply"}
    assert set(loaded) <= allowed | packages, loaded
    for name in COMMANDS:  # ... and still lists every command, with its summary
        assert f"  {name}  " in run.stdout or f"  {name} " in run.stdout, name


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_each_listed_summary_is_the_commands_own(name: str) -> None:
    command = cli.get_command(click.Context(cli), name)
    assert command is not None
    assert SUMMARIES.get(name) == command.get_short_help_str(limit=200), (
        f"SUMMARIES[{name!r}] in reconciler/cli.py differs from the command's own short help"
    )


def test_a_command_without_a_summary_is_listed_all_the_same(monkeypatch) -> None:
    monkeypatch.delitem(SUMMARIES, "schema")
    help_text = cli.get_help(click.Context(cli, info_name="symsync"))
    assert "  schema    Print the JSON Schema of a project file." in help_text


def test_the_version_is_defined_once() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert "version" not in project and "version" in project["dynamic"]
    assert importlib.metadata.version("symsync") == __version__
    run = symsync("--version", env=clean_env())
    assert run.returncode == 0 and run.stdout.strip() == f"symsync, version {__version__}"
