"""Find the project files of the desired-state tree, ``configs/<org>/<project>.yaml``.

``configs/<organization>/<project>.yaml`` (or ``.yml``): the organization and project come from
the path. Names must be slugs; names starting with ``.`` or ``_`` (but the reserved
``_org.yaml``, an organization's shared definitions), and files that are not YAML, are
ignored; a YAML file directly in the config directory (but the settings file ``symsync.yaml``),
or deeper than a project file, is an error. Every problem with the tree's shape becomes a
diagnostic; reading the files is ``reconciler.config.loader``'s job.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from reconciler.config.diagnostic import Diagnostic, diagnostic, display_path, printable
from reconciler.core.errors import ConfigError
from reconciler.sentry import spec

YAML_SUFFIXES = (".yaml", ".yml")
# An organization's shared definitions and defaults (``reconciler.config.org_file``); every
# other name starting with `_` is ignored.
ORG_FILE_NAMES = ("_org.yaml", "_org.yml")
# The run-wide settings file at the root of the tree (``reconciler.config.run_settings``).
SETTINGS_NAMES = ("symsync.yaml", "symsync.yml")


@dataclass(frozen=True, slots=True)
class FoundFile:
    """One project file of the tree."""

    path: str  # to open
    shown: str  # in messages: relative to the current directory
    organization: str
    project: str
    # False when the organization's folder or the file is misnamed (already a diagnostic): the
    # file is still read, so that all its problems are reported, but its project is not managed.
    well_named: bool
    # False for a FIFO, a dangling link...: nothing to read (already a diagnostic).
    readable: bool


@dataclass
class FoundTree:
    """The project files of a tree, in name order, and what is wrong with the tree's shape."""

    files: list[FoundFile] = field(default_factory=list)
    diagnostics: list[Diagnostic] = field(default_factory=list)
    # Each organization's ``_org.yaml`` (shared definitions and defaults), when it has one;
    # ``project`` is ``_org`` and ``well_named`` False: it is no project.
    org_files: dict[str, FoundFile] = field(default_factory=dict)


def find_project_files(config_dir: Path) -> FoundTree:
    """Every project file under ``config_dir``. A missing or unreadable ``config_dir`` raises
    ``ConfigError``; every other problem is a diagnostic."""
    shown = display_path(config_dir)
    try:
        top = sorted(os.scandir(config_dir), key=lambda e: e.name)
    except FileNotFoundError:
        raise ConfigError(
            f"config directory {shown} does not exist: create it, or pass --config-dir"
        ) from None
    except NotADirectoryError:
        raise ConfigError(
            f"config directory {shown} is not a directory: pass the folder that holds "
            "<organization>/<project>.yaml files with --config-dir"
        ) from None
    except OSError as exc:
        raise ConfigError(f"cannot read config directory {shown}: {exc.strerror}") from None

    found = FoundTree()
    diagnostics = found.diagnostics
    for entry in top:
        name = entry.name
        if _ignored(name):
            continue
        org_shown = os.path.join(shown, name)
        if _is_dir(entry):
            org_ok = _check_slug(name, org_shown, "folder", "organization", diagnostics)
            _find_in_organization(entry.path, org_shown, name, org_ok, found)
        elif _yaml_suffix(name) is not None and name not in SETTINGS_NAMES:
            diagnostics.append(
                diagnostic(
                    org_shown,
                    1,
                    1,
                    "project file directly in the config directory: project files live at "
                    f"{shown}/<organization>/<project>.yaml; move it into its organization's "
                    "folder",
                )
            )
    return found


def _find_in_organization(
    folder: str, shown: str, organization: str, org_ok: bool, found: FoundTree
) -> None:
    diagnostics = found.diagnostics
    try:
        entries = sorted(os.scandir(folder), key=lambda e: e.name)
    except OSError as exc:
        diagnostics.append(diagnostic(shown, 1, 1, f"cannot read folder: {exc.strerror}"))
        return
    seen: dict[str, str] = {}
    for entry in entries:
        name = entry.name
        if name in ORG_FILE_NAMES:
            _found_org_file(entry, os.path.join(shown, name), organization, found)
            continue
        if _ignored(name):
            continue
        path_shown = os.path.join(shown, name)
        if _is_dir(entry):
            for deep in _yaml_files_below(entry.path, path_shown):
                diagnostics.append(
                    diagnostic(
                        deep,
                        1,
                        1,
                        "project file too deep in the tree: project files live at "
                        "<config dir>/<organization>/<project>.yaml; move it up, or start the "
                        "folder's name with `_` to keep it out of the tree",
                    )
                )
            continue
        suffix = _yaml_suffix(name)
        if suffix is None:
            continue
        project = name[: -len(suffix)]
        file_ok = _check_slug(project, path_shown, "file", "project", diagnostics)
        if suffix not in YAML_SUFFIXES:
            diagnostics.append(
                diagnostic(
                    path_shown, 1, 1, "file extension must be `.yaml` or `.yml`, in lowercase"
                )
            )
            file_ok = False
        if project in seen:
            diagnostics.append(
                diagnostic(
                    path_shown,
                    1,
                    1,
                    f"project `{organization}/{project}` is also defined in {seen[project]}: "
                    "keep only one of the two files",
                )
            )
            file_ok = False
        seen.setdefault(project, path_shown)
        readable = _is_file(entry)
        if not readable:  # a FIFO would block the read; a dangling link has no content
            diagnostics.append(
                diagnostic(path_shown, 1, 1, "not a regular file: make it a file, or remove it")
            )
        found.files.append(
            FoundFile(entry.path, path_shown, organization, project, org_ok and file_ok, readable)
        )


def _found_org_file(
    entry: os.DirEntry[str], shown: str, organization: str, found: FoundTree
) -> None:
    earlier = found.org_files.get(organization)
    if earlier is not None:
        found.diagnostics.append(
            diagnostic(
                shown,
                1,
                1,
                f"`{organization}` already has {earlier.shown}: keep only one of the two",
            )
        )
        return
    readable = _is_file(entry)
    if not readable:
        found.diagnostics.append(
            diagnostic(shown, 1, 1, "not a regular file: make it a file, or remove it")
        )
    found.org_files[organization] = FoundFile(
        entry.path, shown, organization, "_org", False, readable
    )


def _yaml_files_below(folder: str, shown: str) -> Iterator[str]:
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not _ignored(d))
        rel = os.path.relpath(root, folder)
        base = shown if rel == "." else os.path.join(shown, rel)
        for name in sorted(files):
            if not _ignored(name) and _yaml_suffix(name) is not None:
                yield os.path.join(base, name)


def _ignored(name: str) -> bool:
    return name.startswith((".", "_"))


def _is_dir(entry: os.DirEntry[str]) -> bool:
    try:
        return entry.is_dir()
    except OSError:
        return False


def _is_file(entry: os.DirEntry[str]) -> bool:
    try:
        return entry.is_file()
    except OSError:
        return False


def _yaml_suffix(name: str) -> str | None:
    dot = name.rfind(".")
    if dot <= 0:
        return None
    suffix = name[dot:]
    return suffix if suffix.lower() in YAML_SUFFIXES else None


def _check_slug(name: str, shown: str, what: str, role: str, diagnostics: list[Diagnostic]) -> bool:
    if spec.SLUG_RE.fullmatch(name):
        return True
    suggestion = _slugify(name)
    hint = f" (like `{suggestion}`)" if suggestion else ""
    diagnostics.append(
        diagnostic(
            shown,
            1,
            1,
            f"{what} name `{printable(name)}` is not a valid {role} slug: use lowercase letters, "
            f"digits, `-` and `_`, starting with a letter or digit{hint}; names starting with "
            "`.` or `_` are ignored",
        )
    )
    return False


def _slugify(name: str) -> str:
    slug = re.sub(r"[^a-z0-9_-]+", "-", name.lower()).strip("-_")
    return slug if spec.SLUG_RE.fullmatch(slug) else ""
