"""The action's hashed requirements file is current with pyproject.toml (offline: see
scripts/action_requirements.py for what is checked and why no network is needed)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parent.parent


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "action_requirements", ROOT / "scripts" / "action_requirements.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_the_requirements_file_is_made_from_pyproject_as_it_is() -> None:
    script = _script()
    assert script.problems(script.REQUIREMENTS.read_text(encoding="utf-8")) == []


def test_a_stale_or_unhashed_file_is_caught() -> None:
    script = _script()
    text = script.REQUIREMENTS.read_text(encoding="utf-8")
    lines = text.splitlines()
    stale = "\n".join([script.STAMP + "0" * 64, *lines[1:]])
    assert any("make requirements" in p for p in script.problems(stale))
    no_click = "\n".join(ln for ln in lines if not ln.startswith("click=="))
    assert any(p.startswith("click ") for p in script.problems(no_click))
    unhashed = text.replace("requests==", "requests==").split("\n")
    index = next(i for i, ln in enumerate(unhashed) if ln.startswith("requests=="))
    unhashed[index] = unhashed[index].rstrip(" \\")
    while unhashed[index + 1].strip().startswith("--hash"):
        del unhashed[index + 1]
    assert "requests has no --hash" in script.problems("\n".join(unhashed))


def test_the_action_installs_from_it_with_hashes_required() -> None:
    text = (ROOT / "action.yml").read_text(encoding="utf-8")
    assert "--require-hashes" in text and "requirements/action.txt" in text
