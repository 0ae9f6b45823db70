"""Every dependency pyproject.toml declares for users is imported by the package."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Distribution name -> the module the code imports.
MODULES = {"pyyaml": "yaml", "ruamel.yaml": "ruamel.yaml"}


def test_no_declared_dependency_goes_unused():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    code = "\n".join(p.read_text() for p in (ROOT / "reconciler").rglob("*.py"))
    unused = []
    for requirement in project["dependencies"]:
        name = re.split(r"[<>=!~ \[;]", requirement, maxsplit=1)[0].lower()
        module = MODULES.get(name, name.replace("-", "_"))
        pattern = rf"^\s*(import {re.escape(module)}\b|from {re.escape(module)}[. ])"
        if not re.search(pattern, code, re.MULTILINE):
            unused.append(name)
    assert unused == []
