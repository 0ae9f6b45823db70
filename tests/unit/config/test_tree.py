"""Finding the project files of the desired-state tree (reconciler.config.tree).

The files are found, not read."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from reconciler.config.tree import find_project_files
from reconciler.core.errors import ConfigError


@pytest.fixture
def configs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    root = tmp_path / "configs"
    for name in (
        "acme/ios.yaml",
        "acme/android.yml",
        "acme/README.md",
        "acme/_draft.yaml",
        "acme/.hidden.yaml",
        "Acme-Old/web.yaml",
        "beta/Bad Name.yaml",
        "beta/deep/too.yaml",
        "_archive/x.yaml",
        "stray.yaml",
    ):
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("sources: []\n")
    return root


def test_project_files_in_name_order_with_their_organization_and_project(configs: Path) -> None:
    found = find_project_files(Path("configs"))
    assert [(f.organization, f.project, f.shown, f.well_named) for f in found.files] == [
        ("Acme-Old", "web", "configs/Acme-Old/web.yaml", False),
        ("acme", "android", "configs/acme/android.yml", True),
        ("acme", "ios", "configs/acme/ios.yaml", True),
        ("beta", "Bad Name", "configs/beta/Bad Name.yaml", False),
    ]
    assert all(f.readable and Path(f.path).is_file() for f in found.files)


def test_what_is_wrong_with_the_tree_is_a_diagnostic_each(configs: Path) -> None:
    found = find_project_files(Path("configs"))
    assert sorted(f"{d.origin}: {d.message.split(':')[0]}" for d in found.diagnostics) == [
        "configs/Acme-Old:1:1: folder name `Acme-Old` is not a valid organization slug",
        "configs/beta/Bad Name.yaml:1:1: file name `Bad Name` is not a valid project slug",
        "configs/beta/deep/too.yaml:1:1: project file too deep in the tree",
        "configs/stray.yaml:1:1: project file directly in the config directory",
    ]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_a_file_that_cannot_be_read_is_found_but_not_readable(tmp_path: Path) -> None:
    (tmp_path / "acme").mkdir()
    os.mkfifo(tmp_path / "acme" / "ios.yaml")
    found = find_project_files(tmp_path)
    (file,) = found.files
    assert (file.project, file.readable) == ("ios", False)
    (problem,) = found.diagnostics
    assert problem.message == "not a regular file: make it a file, or remove it"


def test_a_missing_config_directory_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist: create it, or pass --config-dir"):
        find_project_files(tmp_path / "nowhere")
    (tmp_path / "file").write_text("")
    with pytest.raises(ConfigError, match="is not a directory"):
        find_project_files(tmp_path / "file")
