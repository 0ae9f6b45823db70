"""End to end: `import --project ORG/PROJECT` (repeatable, globs as `plan --project`) besides
`--org ORG`, and files that show every character Sentry holds; each import is followed by a
plan that finds nothing to do. The real CLI against the emulator."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.emulator.testing import running_emulator
from tests.support.e2e_helpers import EMULATOR_TOKEN, clean_env, state_doc, symsync

pytestmark = [pytest.mark.e2e, pytest.mark.parametrize("generation", ["a", "b"])]


def _http(sid: str, name: str | None = None) -> dict:
    return {"id": sid, "type": "http", "name": name if name is not None else f"{sid} server",
            "url": f"https://{sid}.example/", "layout": {"type": "native"}}  # fmt: skip


REMOTE = {
    "acme/ios": [_http("ios-symbols")],
    "acme/ios-beta": [_http("beta-symbols")],
    "acme/android": [_http("android-symbols")],
    "globex/ios": [_http("globex-symbols")],
    "globex/api": [_http("api-symbols")],
}


def _files(root: Path) -> list[str]:
    return sorted(p.relative_to(root / "configs").as_posix() for p in root.rglob("*.yaml"))


def _plan_is_empty(env: dict[str, str], cwd: Path) -> None:
    plan = symsync("plan", "--detailed-exitcode", env=env, cwd=cwd)
    assert plan.returncode == 0, plan.stdout + plan.stderr


def test_import_takes_org_project_patterns_like_plan(tmp_path: Path, generation: str):
    with running_emulator("--api-generation", generation, state=state_doc(REMOTE)) as emu:
        env = clean_env(SENTRY_URL=emu.url, SENTRY_AUTH_TOKEN=EMULATOR_TOKEN)
        first = symsync("import", "--project", "acme/ios*", "--project", "globex/ios",
                        env=env, cwd=tmp_path)  # fmt: skip
        assert first.returncode == 0, first.stderr
        assert _files(tmp_path) == ["acme/ios-beta.yaml", "acme/ios.yaml", "globex/ios.yaml"]
        _plan_is_empty(env, tmp_path)
        # A glob in the organization: the organizations that have a folder in the tree.
        second = symsync("import", "--project", "*/a*", env=env, cwd=tmp_path)
        assert second.returncode == 0, second.stderr
        assert "acme/android.yaml" in _files(tmp_path) and "globex/api.yaml" in _files(tmp_path)
        # --org with bare slugs, as before
        third = symsync("import", "--org", "acme", "--project", "ios", "--config-dir", "other",
                        env=env, cwd=tmp_path)  # fmt: skip
        assert third.returncode == 0, third.stderr
        assert (tmp_path / "other/acme/ios.yaml").is_file()
        assert len(list((tmp_path / "other").rglob("*.yaml"))) == 1
        _plan_is_empty(env, tmp_path)
        reads_before = len(emu.requests())
        errors = {
            "bare": symsync("import", "--project", "ios", env=env, cwd=tmp_path),
            "none": symsync("import", env=env, cwd=tmp_path),
            "other-org": symsync(
                "import", "--org", "acme", "--project", "globex/api", env=env, cwd=tmp_path
            ),
            "no-folder": symsync(
                "import", "--project", "*/ios", "--config-dir", "empty", env=env, cwd=tmp_path
            ),
        }
        assert len(emu.requests()) == reads_before  # refused before any request
        missing = symsync("import", "--project", "acme/nothing-*", env=env, cwd=tmp_path)
    assert "--project 'ios' names no organization: give ORG/PROJECT" in errors["bare"].stderr
    assert "--org ORG" in errors["none"].stderr and "--project ORG/PROJECT" in errors["none"].stderr
    assert "--project 'globex/api' is not in --org acme" in errors["other-org"].stderr
    assert "matches no organization folder in empty" in errors["no-folder"].stderr
    assert "organization `acme` has no project `nothing-*`" in missing.stderr
    for run in [*errors.values(), missing]:
        assert run.returncode == 1 and "Traceback" not in run.stderr


INVISIBLE_NAMES = [
    "zero\u200bwidth",
    "line\u2028separator",
    "para\u2029separator",
    "bidi\u202eoverride\u202c",
    "\ufeffbyte-order mark",
    "soft\u00adhyphen",
]


def test_invisible_characters_are_escaped_and_the_round_trip_stays_empty(
    tmp_path: Path, generation: str
):
    sources = [_http(f"s{i}", name) for i, name in enumerate(INVISIBLE_NAMES)]
    with running_emulator(
        "--api-generation", generation, state=state_doc({"acme/ios": sources})
    ) as emu:
        env = clean_env(SENTRY_URL=emu.url, SENTRY_AUTH_TOKEN=EMULATOR_TOKEN)
        imported = symsync("import", "--project", "acme/ios", env=env, cwd=tmp_path)
        assert imported.returncode == 0, imported.stderr
        _plan_is_empty(env, tmp_path)
    text = (tmp_path / "configs/acme/ios.yaml").read_text(encoding="utf-8")
    assert not any(ch in text for name in INVISIBLE_NAMES for ch in name if not ch.isprintable())
    for escaped in ('"zero\\u200Bwidth"', '"line\\Lseparator"', '"para\\Pseparator"',
                    '"bidi\\u202Eoverride\\u202C"', '"\\uFEFFbyte-order mark"',
                    '"soft\\u00ADhyphen"'):  # fmt: skip
        assert f"name: {escaped}\n" in text, text
