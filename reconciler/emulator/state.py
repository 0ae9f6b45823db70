"""The emulator's instance: organizations, projects and their stored symbol sources.

File format (contract section 4)::

    {"organizations": {"<org>": {"projects": {"<project>": {"symbol_sources": [...]}}}}}

Optional keys ``id`` (numeric, as Sentry's ids) and ``name`` on organizations and projects, and
``platform`` on projects, are kept, and so is ``previous_slugs`` (old slugs of a renamed
project, answered with Sentry's 302); any other key is kept as given. Ids not given are numbered in
file order, so a restart with the saved file gives every project the same id.

The stored ``symbol_sources`` list is kept exactly as written (secrets in clear), even when it is
not valid: Sentry then fails every request on that project, as reference section 6 describes.
Saving writes a temporary file in the same folder and renames it over the old one, so a crash
never leaves half a file.
"""

from __future__ import annotations

import contextlib
import copy
import json
import os
import sys
import tempfile
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from reconciler.errors import SymsyncError


class StateFileError(SymsyncError):
    """The ``--state`` file cannot be used."""


@dataclass
class Project:
    organization: Organization
    slug: str
    id: str
    name: str
    platform: str | None
    symbol_sources: Any
    extra: dict[str, Any] = field(default_factory=dict)
    given_keys: frozenset[str] = frozenset()
    previous_slugs: tuple[str, ...] = ()


@dataclass
class Organization:
    slug: str
    id: str
    name: str
    projects: dict[str, Project] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    given_keys: frozenset[str] = frozenset()


_Item = TypeVar("_Item", Organization, Project)


def _lookup(items: dict[str, _Item], id_or_slug: str) -> _Item | None:
    """Sentry's ``slug__id_or_slug``: a number is an id, anything else a slug. (Sentry slugs are
    never all digits; a state file's all-digit slug is still found when no id matches.)"""
    if id_or_slug.isdecimal():
        found = next((item for item in items.values() if item.id == id_or_slug), None)
        if found is not None:
            return found
    return items.get(id_or_slug)


class EmulatorState:
    """All organizations; ``lock`` guards every read-modify-write of a project's sources."""

    def __init__(self, organizations: dict[str, Organization], path: Path | None) -> None:
        self.organizations = organizations
        self.path = path
        self.lock = threading.RLock()
        self._save_warned = False

    # -- loading ------------------------------------------------------------------------------

    @classmethod
    def from_dict(
        cls, data: object, path: Path | None = None, origin: str = "state"
    ) -> EmulatorState:
        """Builds the instance from the file format; raises ``StateFileError`` naming the key."""
        if not isinstance(data, dict):
            raise StateFileError(f"{origin}: the top level must be a JSON object")
        unknown = set(data) - {"organizations"}
        if unknown:
            raise StateFileError(
                f"{origin}: unknown top-level key {sorted(unknown)[0]!r}; "
                'only "organizations" is allowed'
            )
        orgs_data = data.get("organizations", {})
        if not isinstance(orgs_data, dict):
            raise StateFileError(f"{origin}: organizations must be an object keyed by slug")
        used_org_ids = _given_ids(orgs_data.values())
        used_project_ids = _given_ids(
            project
            for org in orgs_data.values()
            if isinstance(org, dict) and isinstance(org.get("projects"), dict)
            for project in org["projects"].values()
        )
        next_org = _counter(used_org_ids)
        next_project = _counter(used_project_ids)
        organizations: dict[str, Organization] = {}
        for org_slug, org_data in orgs_data.items():
            where = f"{origin}: organizations.{org_slug}"
            if not isinstance(org_data, dict):
                raise StateFileError(f"{where}: must be an object")
            org = Organization(
                slug=org_slug,
                id=_id_of(org_data, where) or next(next_org),
                name=_name_of(org_data, where, org_slug),
                extra={k: v for k, v in org_data.items() if k not in ("id", "name", "projects")},
                given_keys=frozenset(k for k in ("id", "name") if k in org_data),
            )
            projects_data = org_data.get("projects", {})
            if not isinstance(projects_data, dict):
                raise StateFileError(f"{where}.projects: must be an object keyed by slug")
            for project_slug, project_data in projects_data.items():
                pwhere = f"{where}.projects.{project_slug}"
                if not isinstance(project_data, dict):
                    raise StateFileError(f"{pwhere}: must be an object")
                platform = project_data.get("platform")
                if platform is not None and not isinstance(platform, str):
                    raise StateFileError(f"{pwhere}.platform: must be a string")
                previous = project_data.get("previous_slugs", [])
                if not isinstance(previous, list) or not all(isinstance(x, str) for x in previous):
                    raise StateFileError(f"{pwhere}.previous_slugs: must be a list of strings")
                known = ("id", "name", "platform", "symbol_sources")
                org.projects[project_slug] = Project(
                    organization=org,
                    slug=project_slug,
                    id=_id_of(project_data, pwhere) or next(next_project),
                    name=_name_of(project_data, pwhere, project_slug),
                    platform=platform,
                    symbol_sources=project_data.get("symbol_sources", []),
                    extra={k: v for k, v in project_data.items() if k not in known},
                    given_keys=frozenset(k for k in known[:3] if k in project_data),
                    previous_slugs=tuple(previous),
                )
            organizations[org_slug] = org
        _refuse_duplicate_ids(origin, "organization", list(organizations.values()))
        _refuse_duplicate_ids(
            origin, "project", [p for o in organizations.values() for p in o.projects.values()]
        )
        return cls(organizations, path)

    @classmethod
    def load(cls, path: Path) -> EmulatorState:
        """Reads ``--state FILE``; a missing file is an empty instance."""
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return cls({}, path)
        except (OSError, UnicodeDecodeError) as exc:
            raise StateFileError(f"cannot read state file {path}: {exc}") from None
        if not text.strip():
            return cls({}, path)
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise StateFileError(
                f"{path}:{exc.lineno}:{exc.colno}: state file is not valid JSON: {exc.msg}"
            ) from None
        return cls.from_dict(data, path, origin=str(path))

    # -- lookups ------------------------------------------------------------------------------

    def find_organization(self, id_or_slug: str) -> Organization | None:
        return _lookup(self.organizations, id_or_slug)

    def find_project(self, org_id_or_slug: str, project_id_or_slug: str) -> Project | None:
        org = self.find_organization(org_id_or_slug)
        if org is None:
            return None
        return _lookup(org.projects, project_id_or_slug)

    def find_moved_project(self, org_id_or_slug: str, old_slug: str) -> Project | None:
        """The project that was renamed from ``old_slug`` (Sentry's ``ProjectRedirect``)."""
        org = self.find_organization(org_id_or_slug)
        if org is None:
            return None
        return next((p for p in org.projects.values() if old_slug in p.previous_slugs), None)

    # -- saving -------------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """The whole state in the ``--state`` format, secrets in clear (a deep copy)."""
        with self.lock:
            orgs: dict[str, Any] = {}
            for org in self.organizations.values():
                org_out: dict[str, Any] = {}
                if "id" in org.given_keys:
                    org_out["id"] = org.id
                if "name" in org.given_keys:
                    org_out["name"] = org.name
                org_out.update(copy.deepcopy(org.extra))
                projects: dict[str, Any] = {}
                for project in org.projects.values():
                    p_out: dict[str, Any] = {}
                    if "id" in project.given_keys:
                        p_out["id"] = project.id
                    if "name" in project.given_keys:
                        p_out["name"] = project.name
                    if "platform" in project.given_keys:
                        p_out["platform"] = project.platform
                    p_out.update(copy.deepcopy(project.extra))
                    p_out["symbol_sources"] = copy.deepcopy(project.symbol_sources)
                    projects[project.slug] = p_out
                org_out["projects"] = projects
                orgs[org.slug] = org_out
            return {"organizations": orgs}

    def save(self) -> None:
        """Writes the state file atomically (temp file + rename). Call with ``lock`` held.

        A file that cannot be written is reported once on stderr; the emulator keeps serving
        from memory.
        """
        if self.path is None:
            return
        text = json.dumps(self.to_dict(), indent=2, ensure_ascii=False) + "\n"
        directory = self.path.parent
        tmp_name: str | None = None
        try:
            fd, tmp_name = tempfile.mkstemp(
                dir=directory, prefix=f".{self.path.name}.", suffix=".tmp"
            )
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(text)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp_name, self.path)
            tmp_name = None
        except OSError as exc:
            if not self._save_warned:
                self._save_warned = True
                print(
                    f"warning: cannot save state to {self.path} ({exc.strerror or exc}); "
                    "serving from memory",
                    file=sys.stderr,
                    flush=True,
                )
        finally:
            if tmp_name is not None:
                with contextlib.suppress(OSError):
                    os.unlink(tmp_name)


def _refuse_duplicate_ids(
    origin: str, kind: str, items: list[Organization] | list[Project]
) -> None:
    seen: dict[str, str] = {}
    for item in items:
        if item.id in seen:
            raise StateFileError(
                f"{origin}: {kind}s {seen[item.id]!r} and {item.slug!r} have the same id {item.id}"
            )
        seen[item.id] = item.slug


def _id_of(data: dict[str, Any], where: str) -> str | None:
    if "id" not in data:
        return None
    value = data["id"]
    if isinstance(value, bool) or not (
        (isinstance(value, int) and value > 0) or (isinstance(value, str) and value.isdecimal())
    ):
        raise StateFileError(f"{where}.id: must be a positive number, like Sentry's ids")
    return str(value)


def _name_of(data: dict[str, Any], where: str, default: str) -> str:
    value = data.get("name", default)
    if not isinstance(value, str):
        raise StateFileError(f"{where}.name: must be a string")
    return value


def _given_ids(items: Iterable[Any]) -> set[str]:
    ids: set[str] = set()
    for item in items:
        if isinstance(item, dict) and isinstance(item.get("id"), int | str):
            ids.add(str(item["id"]))
    return ids


def _counter(used: set[str]) -> Iterator[str]:
    def generate() -> Iterator[str]:
        number = 1
        while True:
            if str(number) not in used:
                yield str(number)
            number += 1

    return generate()
