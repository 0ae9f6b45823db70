"""End to end: a warning is part of the plan in every format, and each one is printed once per
run, whichever command runs: in the plan when one is shown, on stderr when none is. The real
CLI against the emulator."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from reconciler.emulator.testing import running_emulator
from tests.support.e2e_helpers import EMULATOR_TOKEN, clean_env, state_doc, symsync

pytestmark = pytest.mark.e2e

# A region typo (a warning of the file, line 12) and an order that differs from Sentry's (a
# warning of the plan).
IOS = """\
sources:
  - id: b
    type: http
    url: https://b.example/
    layout: {type: native}
  - id: a
    type: http
    url: https://a.example/
    layout: {type: native}
  - id: s3
    type: s3
    region: us-wset-2
    bucket: builds
    access_key: AKIAEXAMPLE
    secret_key: {env: E2E_S3_SECRET}
    layout: {type: native}
"""
REGION = "configs/acme/ios.yaml:12:13"
REGION_WORDS = "source `s3`: region `us-wset-2` is not a known AWS region"
REGION_TAIL = "is not a known AWS region"  # the same words in markdown, where ` is escaped
ORDER_WORDS = "source order differs from the file"
REMOTE = {
    "acme/ios": [
        {"id": "a", "type": "http", "url": "https://a.example/", "layout": {"type": "native"}},
        {"id": "b", "type": "http", "url": "https://b.example/", "layout": {"type": "native"}},
    ],
    "acme/web": [],
}


def _tree(tmp_path: Path) -> None:
    (tmp_path / "configs/acme").mkdir(parents=True)
    (tmp_path / "configs/acme/ios.yaml").write_text(IOS, encoding="utf-8")
    (tmp_path / "configs/acme/web.yaml").write_text("sources: []\n", encoding="utf-8")


def _env(url: str, token: str = EMULATOR_TOKEN) -> dict[str, str]:
    return clean_env(SENTRY_URL=url, SENTRY_AUTH_TOKEN=token, E2E_S3_SECRET="s3-SENTINEL-value")


def _once(run, words: str) -> None:  # type: ignore[no-untyped-def]
    output = run.stdout + run.stderr
    assert output.count(words) == 1, output


def test_every_plan_format_carries_the_warnings_and_prints_each_once(tmp_path: Path):
    _tree(tmp_path)
    with running_emulator(state=state_doc(REMOTE)) as emu:
        runs = {
            fmt: symsync("plan", "--format", fmt, env=_env(emu.url), cwd=tmp_path)
            for fmt in ("text", "markdown", "json")
        }
    for run in runs.values():
        assert run.returncode == 0, run.stderr
        _once(run, REGION_TAIL)
        _once(run, ORDER_WORDS)
        assert "warning" not in run.stderr  # in the plan, not again on stderr

    text = runs["text"].stdout
    section = text.split("Warnings:\n", 1)[1].split("\n\n", 1)[0].splitlines()
    assert section[0].startswith(f"  ! {REGION}: {REGION_WORDS}")
    assert section[1].startswith(f"  ! acme/ios: {ORDER_WORDS}")

    markdown = runs["markdown"].stdout
    assert "**Warnings:**" in markdown
    # outside the projects' folded details, where a reviewer sees it
    assert markdown.index(f"- `{REGION}`: ") < markdown.index("<details>")

    (ios, web) = json.loads(runs["json"].stdout)["projects"]
    region, order = ios["warnings"]
    assert (region["file"], region["line"], region["column"]) == ("configs/acme/ios.yaml", 12, 13)
    assert region["message"].startswith(REGION_WORDS)
    assert (order["file"], order["line"], order["column"]) == (None, None, None)
    assert order["message"].startswith(ORDER_WORDS)
    assert web["warnings"] == []


def test_apply_and_a_saved_plan_print_each_warning_once(tmp_path: Path):
    _tree(tmp_path)
    with running_emulator(state=state_doc(REMOTE)) as emu:
        saved = symsync("plan", "--out", "plan.json", env=_env(emu.url), cwd=tmp_path)
        applied = symsync("apply", "plan.json", "--yes", env=_env(emu.url), cwd=tmp_path)
        fresh = symsync("apply", "--yes", env=_env(emu.url), cwd=tmp_path)
    for run in (saved, applied, fresh):
        assert run.returncode == 0, run.stderr
        _once(run, REGION_TAIL)
    assert (
        json.loads((tmp_path / "plan.json").read_text())["projects"][0]["warnings"][0]["line"] == 12
    )
    assert "s3-SENTINEL-value" not in applied.stdout + applied.stderr


def test_without_a_plan_to_show_each_warning_is_printed_once_on_stderr(tmp_path: Path):
    _tree(tmp_path)
    validate = symsync("validate", env=clean_env(), cwd=tmp_path)
    with running_emulator(state=state_doc(REMOTE)) as emu:
        # A bad token ends the run before any plan is shown.
        refused = symsync("plan", env=_env(emu.url, token="not-a-token"), cwd=tmp_path)
        # --project leaves the file out of the plan: its warning is on stderr.
        other = symsync("plan", "--project", "acme/web", env=_env(emu.url), cwd=tmp_path)
    assert validate.returncode == 0, validate.stderr
    assert refused.returncode == 1 and other.returncode == 0, refused.stderr + other.stderr
    for run in (validate, refused, other):
        _once(run, REGION_TAIL)
        assert f"{REGION}: warning: {REGION_WORDS}" in run.stderr
