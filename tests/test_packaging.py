"""What a user of the ecosystem expects next to the code: the license pyproject names, a
changelog, a pre-commit hook that runs `symsync validate`."""

from __future__ import annotations

import shlex
import subprocess
import sys
import tomllib
from pathlib import Path

import yaml

from tests.support.e2e_helpers import clean_env

ROOT = Path(__file__).resolve().parent.parent


def test_the_license_file_is_the_one_pyproject_names() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert project["license"] == "Apache-2.0"
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert "Apache License\n                           Version 2.0, January 2004" in text
    assert "END OF TERMS AND CONDITIONS" in text and "APPENDIX: How to apply" in text
    assert len(text.splitlines()) > 190  # the whole text, not a pointer to it


def test_there_is_a_changelog() -> None:
    assert (ROOT / "CHANGELOG.md").read_text(encoding="utf-8").startswith("# Changelog\n")


def test_the_pre_commit_hook_runs_validate_on_the_configs() -> None:
    (hook,) = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))
    assert hook["id"] == "symsync-validate"
    assert hook["language"] == "python" and hook["pass_filenames"] is False
    entry = shlex.split(hook["entry"])
    assert entry == ["symsync", "validate"]
    run = subprocess.run(
        [sys.executable, "-m", "reconciler", *entry[1:]],
        cwd=ROOT,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    assert run.stderr.endswith(": OK\n")
