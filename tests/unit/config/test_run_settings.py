"""configs/symsync.yaml: run-wide settings, read with positions; and the names a secret
reference may not take."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.cli import main
from reconciler.config.run_settings import read_run_settings, settings_json_schema
from reconciler.config.tree import find_project_files
from reconciler.core.errors import ConfigError


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    """The CLI's exit code and everything it printed."""
    with pytest.raises(SystemExit) as exited:
        main(args)
    out, err = capsys.readouterr()
    return int(exited.value.code or 0), out + err


def _settings(tmp_path: Path, text: str) -> list[str]:
    (tmp_path / "symsync.yaml").write_text(text, encoding="utf-8")
    return [str(d) for d in read_run_settings(tmp_path).diagnostics]


def test_max_deletes_and_exclude(tmp_path: Path) -> None:
    (tmp_path / "symsync.yaml").write_text(
        "max_deletes: 12\nexclude: [acme/legacy, 'beta/*']\n", encoding="utf-8"
    )
    settings = read_run_settings(tmp_path)
    assert settings.diagnostics == []
    assert settings.max_deletes == 12 and settings.exclude == ("acme/legacy", "beta/*")
    assert settings.excludes("beta/web") and not settings.excludes("acme/ios")
    assert settings.max_deletes_or(None, 10) == 12 and settings.max_deletes_or(3, 10) == 3
    wider = settings.with_command_line(("acme/ios",))
    assert wider.excludes("acme/ios") and wider.max_deletes == 12


def test_no_file_means_the_defaults(tmp_path: Path) -> None:
    settings = read_run_settings(tmp_path)
    assert settings.max_deletes is None and settings.exclude == ()
    assert settings.max_deletes_or(None, 10) == 10


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("max_deletes: 12\nmax_delete: 3\n", ":2:1: unknown key `max_delete`"),
        ("max_deletes: many\n", ":1:14: `max_deletes` must be a whole number"),
        ("max_deletes: -1\n", ":1:14: `max_deletes` must be a whole number"),
        ("exclude: acme/ios\n", ":1:10: `exclude` must be a list of ORG/PROJECT patterns"),
        ("exclude:\n  - acme/ios\n  - acme\n", ":3:5: `exclude` entry 'acme' is not ORG/PROJECT"),
        ("exclude: [1]\n", ":1:11: each `exclude` entry must be a string"),
        ("- a\n", ":1:1: the settings file must be a mapping"),
        ("exclude: [\n", ""),
    ],
)
def test_every_problem_is_placed_and_says_how_to_fix_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str, expected: str
) -> None:
    monkeypatch.chdir(tmp_path)
    found = _settings(Path("."), text)
    assert len(found) == 1, found
    assert expected in found[0] and found[0].startswith("symsync.yaml:"), found


def test_the_tree_takes_the_settings_file_as_no_project(tmp_path: Path) -> None:
    (tmp_path / "acme").mkdir()
    (tmp_path / "acme" / "ios.yaml").write_text("sources: []\n")
    (tmp_path / "symsync.yaml").write_text("max_deletes: 2\n")
    found = find_project_files(tmp_path)
    assert found.diagnostics == [] and [f.project for f in found.files] == ["ios"]


def test_validate_checks_the_settings_file(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "configs" / "acme").mkdir(parents=True)
    (tmp_path / "configs" / "acme" / "ios.yaml").write_text("sources: []\n")
    (tmp_path / "configs" / "symsync.yaml").write_text("max_deletes: 1\nexlude: []\n")
    code, output = run(["validate"], capsys)
    assert code == 1
    assert "configs/symsync.yaml:2:1: unknown key `exlude`" in output


def test_a_bad_settings_file_stops_a_run(tmp_path: Path) -> None:
    from reconciler.config.run_settings import require_run_settings

    (tmp_path / "symsync.yaml").write_text("max_deletes: x\n")
    with pytest.raises(ConfigError, match="must be a whole number"):
        require_run_settings(tmp_path)
    with pytest.raises(ConfigError, match="--exclude 'acme'"):
        read_run_settings(tmp_path / "nowhere").with_command_line(("acme",))


def test_schema_covers_the_settings_file(capsys) -> None:
    schema = settings_json_schema()
    assert set(schema["properties"]) == {"max_deletes", "exclude"}
    assert schema["additionalProperties"] is False
    code, output = run(["schema", "--settings"], capsys)
    assert code == 0 and '"max_deletes"' in output


@pytest.mark.parametrize(
    "name",
    ["SENTRY_AUTH_TOKEN", "SYMSYNC_SECRETS", "SENTRY_READ_TOKEN", "SENTRY_URL", "GITHUB_TOKEN",
     "ACTIONS_RUNTIME_TOKEN", "ACTIONS_ID_TOKEN_REQUEST_TOKEN", "RUNNER_TEMP", "github_token"],
)  # fmt: skip
def test_validate_refuses_a_credential_of_symsync_or_the_ci_as_a_secret(
    tmp_path: Path, monkeypatch, capsys, name: str
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "configs" / "acme").mkdir(parents=True)
    (tmp_path / "configs" / "acme" / "ios.yaml").write_text(
        "sources:\n"
        "  - id: mine\n"
        "    type: http\n"
        "    url: https://attacker.example/\n"
        "    layout: {type: native}\n"
        f"    password: {{env: {name}}}\n"
    )
    code, output = run(["validate"], capsys)
    assert code == 1
    line = next(ln for ln in output.splitlines() if name in ln)
    assert line.startswith("configs/acme/ios.yaml:6:21: source `mine`: `password.env`")
    assert "name a variable of your own" in line


def test_a_name_of_ones_own_is_fine(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "configs" / "acme").mkdir(parents=True)
    (tmp_path / "configs" / "acme" / "ios.yaml").write_text(
        "sources:\n  - id: mine\n    type: http\n    url: https://s.example/\n"
        "    layout: {type: native}\n    password: {env: ACME_SENTRY_PASSWORD}\n"
    )
    assert run(["validate"], capsys)[0] == 0
