"""``plan --report-unfiled``: Sentry projects that have symbol sources and no project file.

For each organization that has a folder in the configuration tree, the organization's project
list is read (following Sentry's pagination), and every project without a file there has its
sources read once. A project with at least one source is unfiled: nobody manages it, so it is
reported as drift. A project whose sources cannot be read is reported with its error.

Nothing here writes; a project without a file is still never planned or applied.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from reconciler.config.selection import ProjectPattern, selects
from reconciler.core import interrupt
from reconciler.core.errors import SymsyncError
from reconciler.sentry import spec
from reconciler.sentry.errors import stops_the_run

YAML_SUFFIXES = (".yaml", ".yml")


class ProjectsReader(Protocol):
    def list_projects(self, org: str) -> list[dict[str, Any]]: ...

    def list_sources(self, org: str, project: str) -> list[dict[str, Any]]: ...


@dataclass(frozen=True)
class Unfiled:
    """The projects found, ``org/project`` in order, and the errors of those that failed."""

    projects: tuple[str, ...] = ()
    errors: dict[str, str] | None = None


def organization_folders(config_dir: Path) -> list[str]:
    """The organizations of the tree: its folders, less those the loader ignores."""
    if not config_dir.is_dir():
        return []
    return sorted(
        entry.name
        for entry in config_dir.iterdir()
        if entry.is_dir()
        and not entry.name.startswith((".", "_"))
        and spec.SLUG_RE.match(entry.name)
    )


def _filed(config_dir: Path, org: str) -> set[str]:
    folder = config_dir / org
    return {
        entry.stem
        for entry in folder.iterdir()
        if entry.suffix in YAML_SUFFIXES and not entry.name.startswith((".", "_"))
    }


def _wanted(org: str, project: str | None, patterns: Sequence[str]) -> bool:
    """Whether ``--project`` patterns (if any) select this project (or, without one, could
    select a project of this organization)."""
    if not patterns:
        return True
    if project is not None:
        return selects(patterns, f"{org}/{project}")
    parsed = (ProjectPattern.parse(pattern) for pattern in patterns)
    return any(p is not None and p.may_match_in(org) for p in parsed)


def find_unfiled(
    client: ProjectsReader,
    config_dir: Path,
    patterns: Sequence[str] = (),
    *,
    parallelism: int = 8,
    exclude: Sequence[str] = (),
) -> Unfiled:
    """Projects with sources and no file, in every organization folder of ``config_dir``."""
    candidates: list[tuple[str, str]] = []
    errors: dict[str, str] = {}
    for org in organization_folders(config_dir):
        if not _wanted(org, None, patterns):
            continue
        filed = _filed(config_dir, org)
        try:
            listed = client.list_projects(org)
        except SymsyncError as exc:
            if stops_the_run(exc):
                raise
            errors[f"{org}/*"] = f"could not list the projects of `{org}`: {exc}"
            continue
        slugs = sorted({p["slug"] for p in listed if isinstance(p.get("slug"), str)})
        candidates.extend(
            (org, slug)
            for slug in slugs
            if slug not in filed
            and _wanted(org, slug, patterns)
            and not selects(exclude, f"{org}/{slug}")
        )

    def read(candidate: tuple[str, str]) -> tuple[str, bool, str | None]:
        org, slug = candidate
        key = f"{org}/{slug}"
        try:
            return key, bool(client.list_sources(org, slug)), None
        except SymsyncError as exc:
            if stops_the_run(exc):
                raise
            return key, True, f"could not read its sources: {exc}"

    found: list[str] = [key for key in errors]
    if candidates:
        with ThreadPoolExecutor(
            max_workers=max(1, min(parallelism, len(candidates))),
            initializer=interrupt.signals_to_main_thread,
        ) as pool:
            for key, has_sources, error in pool.map(read, candidates):
                if error is not None:
                    errors[key] = error
                if has_sources:
                    found.append(key)
    return Unfiled(projects=tuple(sorted(found)), errors=errors)
