"""`symsync validate`, run as a user runs it: a subprocess of the real CLI."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
FIXTURES = Path(__file__).parents[2] / "data" / "loader"
SENTINEL = "s3cr3t-SENTINEL-do-not-print"


def run(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("SENTRY_")}
    clean.pop("SYMSYNC_DEBUG", None)
    clean["PYTHONPATH"] = str(REPO)
    return subprocess.run(
        [sys.executable, "-m", "reconciler", "validate", *args],
        cwd=cwd,
        env={**clean, **(env or {})},
        capture_output=True,
        text=True,
        timeout=60,
    )


def write(root: Path, relative: str, content: str) -> None:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(content))


def test_example_configs_are_valid_offline_without_token_or_secrets() -> None:
    result = run(cwd=REPO)  # --config-dir defaults to ./configs
    assert result.returncode == 0
    assert result.stdout == ""
    assert result.stderr == "4 files, 7 sources: OK\n"


def test_broken_tree_lists_every_error_then_a_summary() -> None:
    result = run("--config-dir", "broken", cwd=FIXTURES)
    assert result.returncode == 1
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert lines[-1] == "22 errors in 14 files"
    assert len(lines) == 23
    assert lines[0].startswith("broken/Bad-Org:1:1: folder name `Bad-Org` is not a valid ")
    assert (
        "broken/acme/tabs.yaml:3:1: tab character: YAML does not allow tabs for indentation; "
        "indent with spaces" in lines
    )
    assert (
        "broken/acme/alias-bomb.yaml:1:32: YAML aliases expand this file beyond a sane size (an "
        "alias bomb?): refusing to expand it; use fewer or smaller aliases" in lines
    )
    assert "Traceback" not in result.stderr


def test_one_error(tmp_path: Path) -> None:
    write(tmp_path, "configs/acme/ios.yaml", "sources:\n  - id: a\n    type: http\n    name: A\n")
    write(tmp_path, "configs/acme/web.yaml", "sources: []\n")
    result = run(cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        "configs/acme/ios.yaml:2:5: source `a`: `layout` is required for an http source: add "
        "`layout: {type: native}` (or the layout the store uses)",
        "configs/acme/ios.yaml:2:5: source `a`: `url` is required for an http source: add "
        "`url: https://...`, the address of the symbol server",
        "2 errors in 1 file",
    ]


def test_warnings_do_not_fail(tmp_path: Path) -> None:
    write(
        tmp_path,
        "configs/acme/ios.yaml",
        """\
        sources:
          - id: acme-releases
            type: s3
            name: Release builds
            bucket: acme-symbols
            region: eu-south-9
            access_key: AKIAEXAMPLE
            secret_key: {env: ACME_S3_SECRET}
            layout: {type: unified}
        """,
    )
    result = run("--config-dir", "configs", cwd=tmp_path)
    assert result.returncode == 0
    assert result.stderr.splitlines() == [
        "configs/acme/ios.yaml:6:13: warning: source `acme-releases`: region `eu-south-9` is not "
        "a known AWS region; Sentry accepts it, but check the spelling",
        "1 file, 1 source: OK (1 warning)",
    ]


def test_errors_and_warnings_are_both_counted(tmp_path: Path) -> None:
    write(
        tmp_path,
        "configs/acme/ios.yaml",
        """\
        sources:
          - id: acme-releases
            type: s3
            name: Release builds
            bucket: acme-symbols
            region: eu-south-9
            access_key: AKIAEXAMPLE
            layout: {type: unified}
        """,
    )
    result = run(cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.splitlines()[-1] == "1 error in 1 file, 1 warning"


def test_missing_config_dir(tmp_path: Path) -> None:
    result = run("--config-dir", "nowhere", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr == (
        "error: config directory nowhere does not exist: create it, or pass --config-dir\n"
    )
    result = run(cwd=tmp_path)  # no ./configs either
    assert result.returncode == 1
    assert result.stderr.startswith("error: config directory configs does not exist")


def test_secret_values_never_appear(tmp_path: Path) -> None:
    write(
        tmp_path,
        "configs/acme/ios.yaml",
        f"""\
        sources:
          - id: acme-symbols
            type: http
            name: ACME
            url: https://symbols.acme.example/
            layout: {{type: native}}
            password: {SENTINEL}
          - id: acme-releases
            type: s3
            name: Release builds
            bucket: acme-symbols
            region: us-east-1
            access_key: AKIAEXAMPLE
            secret_key: {{{SENTINEL}}}
            layout: {{type: unified}}
          - id: acme-nightly
            type: gcs
            name: Nightly
            bucket: acme-nightly
            client_email: symbols@acme.iam.gserviceaccount.com
            private_key: {{env: X, value: {SENTINEL}}}
            layout: {{type: native}}
        """,
    )
    result = run(cwd=tmp_path, env={"ACME_SYMBOLS_PASSWORD": SENTINEL, "X": SENTINEL})
    assert result.returncode == 1
    assert SENTINEL not in result.stdout + result.stderr
    # One message per broken secret, none of them showing what was written.
    assert result.stderr.splitlines() == [
        "configs/acme/ios.yaml:7:15: source `acme-symbols`: `password` must be a reference like "
        "`{env: NAME}`, not a literal: secrets never go into git; put the secret in an "
        "environment variable and name it",
        "configs/acme/ios.yaml:14:18: source `acme-releases`: `secret_key` holds a key other "
        "than `env` and `version`: a secret reference holds only `env` and optionally "
        "`version`, like `secret_key: {env: NAME}`",
        "configs/acme/ios.yaml:21:27: source `acme-nightly`: `private_key` holds a key other "
        "than `env` and `version`: a secret reference holds only `env` and optionally "
        "`version`, like `private_key: {env: NAME}`",
        "3 errors in 1 file",
    ]


def test_valid_file_with_secret_references_needs_no_variables(tmp_path: Path) -> None:
    write(
        tmp_path,
        "configs/acme/ios.yaml",
        """\
        sources:
          - id: acme-symbols
            type: http
            name: ACME
            url: https://symbols.acme.example/
            layout: {type: native}
            password: {env: SYMSYNC_TEST_UNSET_VARIABLE}
        """,
    )
    result = run(cwd=tmp_path)
    assert (result.returncode, result.stderr) == (0, "1 file, 1 source: OK\n")


@pytest.mark.parametrize(
    "content",
    [
        b"\x00\x01\x02",
        b"sources: [\n",
        b"\xfe\xff\x00s",
        b"{{{{",
        b"sources: !!python/object:os.system x",
    ],
)
def test_never_a_traceback(tmp_path: Path, content: bytes) -> None:
    (tmp_path / "configs" / "acme").mkdir(parents=True)
    (tmp_path / "configs" / "acme" / "ios.yaml").write_bytes(content)
    os.mkdir(os.path.join(os.fsencode(tmp_path / "configs"), b"\xff\xfe"))
    result = run(cwd=tmp_path)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "internal error" not in result.stderr
    assert all(line.startswith("configs/") for line in result.stderr.splitlines()[:-1])
    assert result.stderr.splitlines()[-1] == "2 errors in 2 files"


def test_every_error_is_one_line_and_no_traceback(tmp_path: Path) -> None:
    """A scalar its own tag rejects once escaped as a traceback; a quoted newline once split a
    diagnostic over two lines."""
    write(tmp_path, "configs/acme/ios.yaml", "sources: []\nunmanaged: !!timestamp soon\n")
    write(
        tmp_path,
        "configs/acme/macos.yaml",
        'sources:\n  - id: "two\\nlines"\n    state: gone\n',
    )
    result = run(cwd=tmp_path)
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        "configs/acme/ios.yaml:2:12: `unmanaged` is not a valid timestamp: fix the value, or "
        "remove the `!!timestamp` tag",
        "configs/acme/macos.yaml:3:12: source `two\\nlines`: `state` must be `present` or "
        "`absent`, not `gone`",
        "2 errors in 2 files",
    ]


def test_empty_environment_and_paths_relative_to_the_current_directory(tmp_path: Path) -> None:
    write(tmp_path, "configs/acme/ios.yaml", "sources: []\nunmanaged: never\n")
    (tmp_path / "elsewhere").mkdir()
    expected = "`unmanaged` must be `keep`, `report` or `delete`, not `never`"
    for config_dir in ("../configs", str(tmp_path / "configs"), "../configs/"):
        result = subprocess.run(
            [sys.executable, "-m", "reconciler", "validate", "--config-dir", config_dir],
            cwd=tmp_path / "elsewhere",
            env={"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(REPO)},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert (result.returncode, result.stdout) == (1, "")
        assert result.stderr.splitlines() == [
            f"../configs/acme/ios.yaml:2:12: {expected}",
            "1 error in 1 file",
        ]


# -- --format github | json ----------------------------------------------------------------------


def _mixed_tree(tmp_path: Path) -> None:
    write(
        tmp_path,
        "configs/acme/ios.yaml",
        """\
        sources:
          - id: acme-releases
            type: s3
            name: Release builds
            bucket: acme-symbols
            region: eu-south-9
            access_key: AKIAEXAMPLE
            layout: {type: unified}
        """,
    )


def test_format_github_prints_one_annotation_per_diagnostic_on_stdout(tmp_path: Path) -> None:
    _mixed_tree(tmp_path)
    result = run("--format", "github", cwd=tmp_path)
    assert result.returncode == 1
    error, warning = result.stdout.splitlines()
    assert error.startswith(
        "::error file=configs/acme/ios.yaml,line=2,col=5::source `acme-releases`: `secret_key` is "
        "required for an s3 source: add `secret_key: {env: NAME}`"
    )
    assert warning == (
        "::warning file=configs/acme/ios.yaml,line=6,col=13::source `acme-releases`: region "
        "`eu-south-9` is not a known AWS region; Sentry accepts it, but check the spelling"
    )
    assert result.stderr == "1 error in 1 file, 1 warning\n"


def test_format_json_lists_every_diagnostic(tmp_path: Path) -> None:
    import json

    _mixed_tree(tmp_path)
    result = run("--format", "json", cwd=tmp_path)
    assert result.returncode == 1
    found = json.loads(result.stdout)
    assert [(d["path"], d["line"], d["column"], d["severity"]) for d in found] == [
        ("configs/acme/ios.yaml", 2, 5, "error"),
        ("configs/acme/ios.yaml", 6, 13, "warning"),
    ]
    assert all(set(d) == {"path", "line", "column", "severity", "message"} for d in found)
    assert found[1]["message"].startswith("source `acme-releases`: region `eu-south-9`")


def test_a_valid_tree_prints_no_annotation_and_an_empty_json_list() -> None:
    github = run("--format", "github", cwd=REPO)
    assert (github.returncode, github.stdout) == (0, "")
    as_json = run("--format", "json", cwd=REPO)
    assert (as_json.returncode, as_json.stdout) == (0, "[]\n")


def test_format_github_on_the_broken_fixtures_escapes_every_line() -> None:
    result = run("--config-dir", "broken", "--format", "github", cwd=FIXTURES)
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert len(lines) == 22
    assert all(line.startswith("::error file=broken/") for line in lines)
    assert "Traceback" not in result.stderr
