"""A saved plan is applied only when the files at hand give every change of it: a plan edited
by hand, or made from other files, is refused (exit 3) with nothing written anywhere."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from reconciler.emulator.testing import running_emulator
from tests.support.e2e_helpers import (
    EMULATOR_TOKEN,
    clean_env,
    sources_in,
    state_doc,
    symsync,
    write_tree,
)

pytestmark = pytest.mark.e2e


def _source(source_id: str, url: str = "https://symbols.example/") -> dict[str, Any]:
    return {
        "id": source_id,
        "type": "http",
        "name": source_id,
        "url": url,
        "layout": {"type": "native", "casing": "default"},
    }


FILES = {
    "acme/ios": {"sources": [_source("a", "https://new.example/")]},
    "acme/web": {"sources": []},
}
REMOTE = {"acme/ios": [_source("a")], "acme/web": [], "acme/hand-made": [_source("x")]}


def _edit_url(plan: dict[str, Any]) -> None:
    change = plan["projects"][0]["changes"][0]
    change["fields"]["url"]["after"] = "https://evil.example/"
    change["source"]["url"] = "https://evil.example/"


def _add_project_with_deletes(plan: dict[str, Any]) -> None:
    plan["projects"].append(
        {
            "organization": "acme",
            "project": "hand-made",
            "max_deletes": 100,
            "changes": [{"action": "delete", "source_id": "x", "source_type": "http"}],
        }
    )


def _raise_max_deletes(plan: dict[str, Any]) -> None:
    plan["projects"][0]["max_deletes"] = 100


@pytest.mark.parametrize(
    ("edit", "named"),
    [
        (_edit_url, "acme/ios: update `a` field `url`: the plan says"),
        (_add_project_with_deletes, "acme/hand-made: has changes in the plan, but no project file"),
        (_raise_max_deletes, "acme/ios: the plan says max_deletes 100; the file says null"),
    ],
    ids=["url-edited", "project-added-with-deletes", "max-deletes-injected"],
)
def test_an_edited_saved_plan_is_refused_and_nothing_written(
    tmp_path: Path, edit: Callable[[dict[str, Any]], None], named: str
) -> None:
    configs = write_tree(tmp_path, FILES)
    saved = tmp_path / "plan.json"
    with running_emulator(state=state_doc(REMOTE)) as emu:
        env = clean_env(SENTRY_URL=emu.url, SENTRY_AUTH_TOKEN=EMULATOR_TOKEN)
        made = symsync("plan", "--config-dir", str(configs), "--out", str(saved), env=env)
        assert made.returncode == 0, made.stderr
        plan = json.loads(saved.read_text())
        edit(plan)
        saved.write_text(json.dumps(plan))
        before = len(emu.requests())
        run = symsync("apply", str(saved), "--config-dir", str(configs), "--yes", env=env)
        writes = [r for r in emu.requests()[before:] if r["method"] != "GET"]
        state = emu.state()
    assert run.returncode == 3, run.stdout + run.stderr
    assert named in run.stderr
    assert "nothing was written anywhere" in run.stderr
    assert "Traceback" not in run.stderr
    assert writes == []
    assert state == state_doc(REMOTE)


def test_a_plan_made_from_other_files_is_refused_and_an_honest_one_applied(tmp_path: Path) -> None:
    ours = write_tree(tmp_path / "ours", FILES)
    theirs = write_tree(
        tmp_path / "theirs",
        {
            "acme/ios": {"unmanaged": "delete", "sources": [_source("b")]},
            "acme/web": {"sources": []},
        },
    )
    saved = tmp_path / "plan.json"
    with running_emulator(state=state_doc(REMOTE)) as emu:
        env = clean_env(SENTRY_URL=emu.url, SENTRY_AUTH_TOKEN=EMULATOR_TOKEN)
        made = symsync("plan", "--config-dir", str(theirs), "--out", str(saved), env=env)
        assert made.returncode == 0, made.stderr
        before = len(emu.requests())
        refused = symsync("apply", str(saved), "--config-dir", str(ours), "--yes", env=env)
        writes = [r for r in emu.requests()[before:] if r["method"] != "GET"]
        unchanged = sources_in(emu.state(), "acme/ios")
        honest = tmp_path / "honest.json"
        made = symsync("plan", "--config-dir", str(ours), "--out", str(honest), env=env)
        before = len(emu.requests())
        applied = symsync("apply", str(honest), "--config-dir", str(ours), "--yes", env=env)
        read = [r["path"] for r in emu.requests()[before:] if r["method"] == "GET"]
        after = sources_in(emu.state(), "acme/ios")
    assert refused.returncode == 3, refused.stdout + refused.stderr
    assert "acme/ios: create `b`: in the plan, but the files do not give it" in refused.stderr
    assert "acme/ios: delete `a`: in the plan, but the files do not give it" in refused.stderr
    assert writes == [] and unchanged == REMOTE["acme/ios"]
    assert applied.returncode == 0, applied.stdout + applied.stderr
    assert after[0]["url"] == "https://new.example/"
    # The project the plan leaves alone is not read; the changed one is read to check the plan
    # against its file, then once more before its write.
    assert not any("/acme/web/" in path for path in read), read
    assert sum("/acme/ios/symbol-sources/" in path for path in read) == 2, read
