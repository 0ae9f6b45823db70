"""End to end: an organization of many projects sharing definitions from `_org.yaml`, built-in
repositories, plans that say a shared change once, and `import --share --builtin`."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml

from reconciler.emulator.testing import running_emulator
from tests.support.e2e_helpers import EMULATOR_TOKEN, clean_env, is_organization_lookup, symsync

pytestmark = pytest.mark.e2e

ORG = "acme"
PROJECTS = [f"p{i:03d}" for i in range(200)]
OPT_OUT, OVERRIDE, OWN_BUILTIN = "p000", "p001", "p002"
PASSWORD = "sentinel-shared-pw-5b1d"
OLD_URL, NEW_URL = "https://symbols.example.com/", "https://symbols-new.example.com/"
DEFAULT_TAKERS = [p for p in PROJECTS if p not in (OPT_OUT, OVERRIDE, OWN_BUILTIN)]
# Projects holding the shared `corp-symbols` source: every one but the opt-out and the one that
# uses the definition under another id.
USING_CORP = [p for p in PROJECTS if p not in (OPT_OUT, OVERRIDE)]


def _org_file(url: str, builtin: list[str]) -> dict[str, Any]:
    return {
        "sources": [
            {
                "id": "corp-symbols",
                "type": "http",
                "name": "Corp symbol server",
                "url": url,
                "layout": {"type": "native"},
                "username": "ci",
                "password": {"env": "CORP_SYMBOLS_PASSWORD"},
            }
        ],
        "defaults": {"sources": ["corp-symbols"], "builtin": builtin},
    }


def _write(path: Path, content: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(content, sort_keys=False), encoding="utf-8")


def _fleet(root: Path) -> Path:
    configs = root / "configs"
    _write(configs / ORG / "_org.yaml", _org_file(OLD_URL, ["microsoft", "nuget"]))
    for project in PROJECTS:
        _write(configs / ORG / f"{project}.yaml", {"sources": []})
    _write(configs / ORG / f"{OPT_OUT}.yaml", {"defaults": False, "sources": []})
    _write(
        configs / ORG / f"{OVERRIDE}.yaml",
        {"sources": [{"use": "corp-symbols", "id": "corp-eu", "url": "https://eu.example.com/"}]},
    )
    _write(configs / ORG / f"{OWN_BUILTIN}.yaml", {"builtin": ["unity"], "sources": []})
    return configs


def _counts(log: list[dict[str, Any]]) -> Counter[tuple[str, str]]:
    """(method, endpoint) of each request: `sources`, `details`, `org-builtins` or
    `organization` (the organization's details, read once for its region)."""
    counted: Counter[tuple[str, str]] = Counter()
    for entry in log:
        path = entry["path"]
        if is_organization_lookup(entry):
            kind = "organization"
        elif path.endswith("/symbol-sources/"):
            kind = "sources"
        elif path.endswith("/builtin-symbol-sources/"):
            kind = "org-builtins"
        else:
            kind = "details"
        counted[(entry["method"], kind)] += 1
    return counted


def _project(state: dict[str, Any], project: str) -> dict[str, Any]:
    result = state["organizations"][ORG]["projects"][project]
    assert isinstance(result, dict)
    return result


def test_a_fleet_of_200_projects_converges_and_a_shared_edit_is_said_once(tmp_path: Path) -> None:
    configs = _fleet(tmp_path)
    # A state file larger than the emulator rewrites on every answered write (256 KiB), as an
    # organization of this size has: writes go to its journal, and the test stays quick.
    projects = {p: {"symbol_sources": [], "notes": "n" * 1400} for p in PROJECTS}
    with running_emulator(state={"organizations": {ORG: {"projects": projects}}}) as emu:
        env = clean_env(
            SENTRY_URL=emu.url, SENTRY_AUTH_TOKEN=EMULATOR_TOKEN, CORP_SYMBOLS_PASSWORD=PASSWORD
        )
        base = ["--config-dir", str(configs)]

        # Apply converges from empty: one read per project and endpoint needed, one write each.
        applied = symsync("apply", "--yes", *base, env=env, timeout=300)
        assert applied.returncode == 0, applied.stderr
        assert _counts(emu.requests()) == {
            ("GET", "sources"): 200,
            ("GET", "details"): 199,  # the project that opts out is never read for built-ins
            ("GET", "org-builtins"): 1,  # once for the organization
            ("GET", "organization"): 1,  # its region, once
            ("POST", "sources"): 199,
            ("PUT", "details"): 199,
        }
        after = emu.state()
        for project in DEFAULT_TAKERS:
            stored = _project(after, project)
            assert [s["id"] for s in stored["symbol_sources"]] == ["corp-symbols"]
            assert stored["symbol_sources"][0]["password"] == PASSWORD
            assert stored["builtin_symbol_sources"] == ["microsoft", "nuget"]
        assert "builtin_symbol_sources" not in _project(after, OPT_OUT)  # never set
        assert _project(after, OPT_OUT)["symbol_sources"] == []
        override = _project(after, OVERRIDE)
        assert [(s["id"], s["url"]) for s in override["symbol_sources"]] == [
            ("corp-eu", "https://eu.example.com/")
        ]
        assert _project(after, OWN_BUILTIN)["builtin_symbol_sources"] == ["unity"]
        for output in (applied.stdout, applied.stderr):
            assert PASSWORD not in output

        converged = symsync("plan", "--detailed-exitcode", *base, env=env)
        assert converged.returncode == 0, converged.stdout + converged.stderr

        # One edit of _org.yaml: a new URL for the shared definition, and one built-in
        # repository less in the defaults. Each is said once, for every project it touches.
        _write(configs / ORG / "_org.yaml", _org_file(NEW_URL, ["microsoft"]))
        text = symsync("plan", *base, env=env)
        assert text.returncode == 0, text.stderr
        head = f'~ update corp-symbols: url "{OLD_URL}" -> "{NEW_URL}" \u2014 in 198 projects: '
        assert text.stdout.count(head) == 1
        assert "acme/p003, acme/p004" in text.stdout and "... and 188 more" in text.stdout
        assert text.stdout.count(NEW_URL) == 1  # not repeated per project
        # The project overriding the URL takes the default built-ins too; the one with its own
        # list, and the one that opts out, do not.
        assert text.stdout.count("~ builtin: - nuget \u2014 in 198 projects: acme/p001, ") == 1
        assert "Plan: 0 to create, 198 to update, 0 to delete" in text.stdout

        plan_file = tmp_path / "plan.json"
        markdown = symsync(
            "plan", "--format", "markdown", "--out", str(plan_file), *base, env=env
        ).stdout
        assert len(markdown) < 65_536
        assert "In 198 projects" in markdown and "Truncated" not in markdown
        as_json = json.loads(plan_file.read_text(encoding="utf-8"))
        url_group, builtin_group = as_json["groups"]
        assert url_group["kind"] == "source"
        assert url_group["change"]["fields"]["url"] == {"before": OLD_URL, "after": NEW_URL}
        assert url_group["projects"] == [f"{ORG}/{p}" for p in USING_CORP]
        assert builtin_group["kind"] == "builtin"
        assert builtin_group["change"]["removed"] == ["nuget"]
        assert len(builtin_group["projects"]) == 198
        changed = [p for p in as_json["projects"] if p["changes"]]
        assert len(changed) == 198  # per-project changes are still all there

        # Apply: exactly one write per affected project and endpoint; nothing else.
        before = len(emu.requests())
        edited = symsync("apply", "--yes", *base, env=env, timeout=300)
        assert edited.returncode == 0, edited.stderr
        log = emu.requests()[before:]
        writes = Counter((e["method"], e["path"]) for e in log if e["method"] != "GET")
        assert sum(writes.values()) == 396 and set(writes.values()) == {1}
        source_puts = {p for m, p in writes if p.endswith("/symbol-sources/")}
        detail_puts = {p for m, p in writes if not p.endswith("/symbol-sources/")}
        assert source_puts == {f"/api/0/projects/{ORG}/{p}/symbol-sources/" for p in USING_CORP}
        assert detail_puts == {
            f"/api/0/projects/{ORG}/{p}/" for p in PROJECTS if p not in (OPT_OUT, OWN_BUILTIN)
        }
        assert not any(e["path"] == f"/api/0/projects/{ORG}/{OPT_OUT}/" for e in log)
        final = emu.state()
        assert _project(final, "p100")["symbol_sources"][0]["url"] == NEW_URL
        assert _project(final, "p100")["symbol_sources"][0]["password"] == PASSWORD
        assert _project(final, "p100")["builtin_symbol_sources"] == ["microsoft"]
        assert _project(final, OWN_BUILTIN)["builtin_symbol_sources"] == ["unity"]
        assert "builtin_symbol_sources" not in _project(final, OPT_OUT)
        assert symsync("plan", "--detailed-exitcode", *base, env=env).returncode == 0


def test_unknown_builtin_key_is_warned_by_validate_and_refused_by_plan(tmp_path: Path) -> None:
    configs = tmp_path / "configs"
    _write(configs / ORG / "typo.yaml", {"builtin": ["microsoft", "nugget"], "sources": []})
    _write(configs / ORG / "nintendo.yaml", {"builtin": ["nintendo"], "sources": []})
    _write(configs / ORG / "fine.yaml", {"builtin": ["nuget"], "sources": []})
    env = clean_env()
    validated = symsync("validate", "--config-dir", str(configs), env=env)
    assert validated.returncode == 0
    assert "typo.yaml:3:3: warning: `builtin`: `nugget` is not a built-in repository" in (
        validated.stdout + validated.stderr
    )
    assert "did you mean `nuget`?" in validated.stdout + validated.stderr
    # Documented, but not offered to this organization (an agreement with Nintendo is needed).
    assert "nintendo.yaml" not in validated.stdout + validated.stderr

    state = {"organizations": {ORG: {"projects": {p: {} for p in ("typo", "nintendo", "fine")}}}}
    with running_emulator(state=state) as emu:
        env = clean_env(SENTRY_URL=emu.url, SENTRY_AUTH_TOKEN=EMULATOR_TOKEN)
        planned = symsync("plan", "--format", "json", "--config-dir", str(configs), env=env)
        assert planned.returncode == 1
        projects = {p["project"]: p for p in json.loads(planned.stdout)["projects"]}
        assert "`nugget` is not offered by organization `acme`" in projects["typo"]["error"]
        assert "`nintendo` is not offered" in projects["nintendo"]["error"]
        assert projects["fine"]["builtin"]["after"] == ["nuget"]
        applied = symsync("apply", "--yes", "--config-dir", str(configs), env=env)
        assert applied.returncode == 1
        stored = emu.state()["organizations"][ORG]["projects"]
        assert stored["fine"]["builtin_symbol_sources"] == ["nuget"]
        assert "builtin_symbol_sources" not in stored["typo"]
        assert "builtin_symbol_sources" not in stored["nintendo"]


def _http(source_id: str, url: str, **extra: Any) -> dict[str, Any]:
    return {"id": source_id, "type": "http", "name": "Corp", "url": url,
            "layout": {"type": "native"}, **extra}  # fmt: skip


def _s3(secret: str) -> dict[str, Any]:
    return {"id": "bucket", "type": "s3", "bucket": "b", "region": "us-east-1",
            "access_key": "AKIAEXAMPLE", "secret_key": secret, "layout": {"type": "unified"},
            "filters": {"filetypes": ["pe", "pdb"]}}  # fmt: skip


MESSY = {
    "organizations": {
        ORG: {
            "projects": {
                "a": {
                    "symbol_sources": [
                        _http("corp", "https://c/", username="ci", password="sentinel-pw-aaaa1"),
                        _http("own", "https://own-a/"),
                    ],
                    "builtin_symbol_sources": ["microsoft"],
                },
                "b": {
                    "symbol_sources": [
                        _s3("sentinel-sk-bbbb2"),
                        _http("corp", "https://c/", username="ci", password="sentinel-pw-aaaa1"),
                    ],
                    "builtin_symbol_sources": [],
                },
                # Same id, other content: a second definition, used under the project's own id.
                "c": {
                    "symbol_sources": [
                        _http("corp", "https://other/", username="ci", password="sentinel-x3"),
                        _s3("sentinel-sk-bbbb2"),
                    ]
                },
                "d": {
                    "symbol_sources": [
                        _http("corp", "https://other/", username="ci", password="sentinel-x3"),
                        _http("corp-no-pw", "https://c/", username="ci"),
                    ],
                    "builtin_symbol_sources": ["unity", "steam"],
                },
                "e": {"symbol_sources": [_http("corp-no-pw", "https://c/", username="ci")]},
                "empty": {"symbol_sources": []},
            }
        }
    }
}


@pytest.mark.parametrize("flags", [("--share", "--builtin"), ("--share",), ()], ids=str)
def test_import_of_a_messy_organization_round_trips_with_zero_diff(
    tmp_path: Path, flags: tuple[str, ...]
) -> None:
    configs = tmp_path / "configs"
    with running_emulator(state=MESSY) as emu:
        env = clean_env(SENTRY_URL=emu.url, SENTRY_AUTH_TOKEN=EMULATOR_TOKEN)
        base = ["--config-dir", str(configs)]
        imported = symsync("import", "--org", ORG, *flags, *base, env=env)
        assert imported.returncode == 0, imported.stderr
        org_file = configs / ORG / "_org.yaml"
        if "--share" in flags:
            shared = yaml.safe_load(org_file.read_text(encoding="utf-8"))
            ids = sorted(s["id"] for s in shared["sources"])
            assert ids == ["bucket", "corp", "corp-2", "corp-no-pw"]
            variables = [
                s.get("password", s.get("secret_key", {})).get("env") for s in shared["sources"]
            ]
            assert len([v for v in variables if v]) == 3  # one variable per shared secret
            project_c = yaml.safe_load((configs / ORG / "c.yaml").read_text(encoding="utf-8"))
            assert project_c["sources"] == [{"use": "corp-2", "id": "corp"}, {"use": "bucket"}]
        else:
            assert not org_file.exists()
        project_a = yaml.safe_load((configs / ORG / "a.yaml").read_text(encoding="utf-8"))
        assert ("builtin" in project_a) == ("--builtin" in flags)
        for path in configs.rglob("*.yaml"):
            assert "sentinel" not in path.read_text(encoding="utf-8")
        planned = symsync("plan", "--detailed-exitcode", *base, env=env)
        assert planned.returncode == 0, planned.stdout + planned.stderr


def test_a_saved_plan_sets_builtins_and_a_hand_edited_one_is_refused(tmp_path: Path) -> None:
    configs = tmp_path / "configs"
    _write(configs / ORG / "ios.yaml", {"builtin": ["microsoft"], "sources": []})
    state = {"organizations": {ORG: {"projects": {"ios": {"symbol_sources": []}}}}}
    with running_emulator(state=state) as emu:
        env = clean_env(SENTRY_URL=emu.url, SENTRY_AUTH_TOKEN=EMULATOR_TOKEN)
        base = ["--config-dir", str(configs)]
        plan_file = tmp_path / "plan.json"
        assert symsync("plan", "--out", str(plan_file), *base, env=env).returncode == 0
        saved = json.loads(plan_file.read_text(encoding="utf-8"))
        edited = tmp_path / "edited.json"
        saved["projects"][0]["builtin"]["after"] = ["microsoft", "steam"]
        edited.write_text(json.dumps(saved), encoding="utf-8")
        refused = symsync("apply", str(edited), "--yes", *base, env=env)
        assert refused.returncode == 3, refused.stderr
        assert "built-in repositories" in refused.stderr
        assert "builtin_symbol_sources" not in _project(emu.state(), "ios")

        applied = symsync("apply", str(plan_file), "--yes", *base, env=env)
        assert applied.returncode == 0, applied.stderr
        assert _project(emu.state(), "ios")["builtin_symbol_sources"] == ["microsoft"]
