"""The emulator's instance: organizations, projects and their stored symbol sources.

File format (``docs/emulator.md``, "The state file", shows an example)::

    {"organizations": {"<org>": {"projects": {"<project>": {"symbol_sources": [...]}}}}}

Optional keys ``id`` (numeric, as Sentry's ids) and ``name`` on organizations and projects, and
``platform`` on projects, are kept, and so is ``previous_slugs`` (old slugs of a renamed
project, answered with Sentry's 302); any other key is kept as given. Ids not given are numbered in
file order, so a restart with the saved file gives every project the same id.

The stored ``symbol_sources`` list is kept exactly as written (secrets in clear), even when it is
not valid: Sentry then fails every request on that project, and so does the emulator.
Saving is ``persistence``'s job: each write is recorded in a journal beside the file before it
is answered, and the file itself is rewritten once writes pause and on a clean stop. The file is
written one line per project (``snapshot``), from text cached per project, so rewriting it
costs little more than writing its bytes, and the lock is held only to copy references.
"""

from __future__ import annotations

import copy
import functools
import json
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from reconciler.core.atomic import write_atomic
from reconciler.core.errors import SymsyncError
from reconciler.emulator.persistence import (
    JournalError,
    NotDurable,
    StateStore,
    digest,
    remove_saved_writes,
)

_WHAT_TO_DO = (
    "restore it from a copy, or give --fresh to start with an empty instance (the file is then "
    "overwritten)"
)


class StateFileError(SymsyncError):
    """The ``--state`` file cannot be used."""


_CURRENT: Any = object()
# A project's built-in repositories in the state file; absent: never set.
BUILTIN_KEY = "builtin_symbol_sources"


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
    # The project's built-in repositories (``builtinSymbolSources``); None: never set, and Sentry
    # then answers its default. Replaced on every write, never changed in place.
    builtin_symbol_sources: list[str] | None = None
    # This project's line of the state file and the list it was made from. Stored lists are
    # replaced on every write, never changed in place, so the same list means the same line.
    _line: tuple[object, object, str] | None = field(default=None, repr=False, compare=False)

    def to_dict(self, symbol_sources: Any = _CURRENT, builtin: Any = _CURRENT) -> dict[str, Any]:
        """This project in the file format (sharing its values: copy before changing them)."""
        out: dict[str, Any] = {}
        if "id" in self.given_keys:
            out["id"] = self.id
        if "name" in self.given_keys:
            out["name"] = self.name
        if "platform" in self.given_keys:
            out["platform"] = self.platform
        out.update(self.extra)
        current = symbol_sources is _CURRENT
        out["symbol_sources"] = self.symbol_sources if current else symbol_sources
        builtin = self.builtin_symbol_sources if builtin is _CURRENT else builtin
        if builtin is not None:
            out[BUILTIN_KEY] = builtin
        return out

    def stored(self) -> tuple[Any, list[str] | None]:
        """What a write may replace: the sources list and the built-in repositories."""
        return (self.symbol_sources, self.builtin_symbol_sources)

    def file_line(self, stored: tuple[Any, list[str] | None]) -> str:
        """``"<slug>": {...}``: this project, with what was stored (``stored()``) when a
        snapshot was taken, as one line of the state file. Safe without the lock."""
        cached = self._line
        if cached is not None and cached[0] is stored[0] and cached[1] is stored[1]:
            return cached[2]
        line = f"{_dumps(self.slug)}: {_dumps(self.to_dict(*stored))}"
        self._line = (stored[0], stored[1], line)
        return line

    def sources_text(self) -> str:
        """What the journal records: the stored list as JSON text, or, once the project's
        built-in repositories were set, an object with both (older journals hold lists)."""
        if self.builtin_symbol_sources is None:
            return _dumps(self.symbol_sources)
        return _dumps(
            {"symbol_sources": self.symbol_sources, BUILTIN_KEY: self.builtin_symbol_sources}
        )


@dataclass
class Organization:
    slug: str
    id: str
    name: str
    projects: dict[str, Project] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    given_keys: frozenset[str] = frozenset()
    # Lookups that would otherwise scan every project (filled by ``EmulatorState``).
    projects_by_id: dict[str, Project] = field(default_factory=dict, repr=False)
    projects_by_old_slug: dict[str, Project] = field(default_factory=dict, repr=False)

    def head(self) -> dict[str, Any]:
        """The file's keys of this organization other than ``projects``."""
        out: dict[str, Any] = {}
        if "id" in self.given_keys:
            out["id"] = self.id
        if "name" in self.given_keys:
            out["name"] = self.name
        out.update(self.extra)
        return out


_Item = TypeVar("_Item", Organization, Project)
_Snapshot = list[tuple[Organization, list[tuple[Project, Any]]]]


def _lookup(items: dict[str, _Item], by_id: dict[str, _Item], id_or_slug: str) -> _Item | None:
    """Sentry's ``slug__id_or_slug``: a number is an id, anything else a slug. (Sentry slugs are
    never all digits; a state file's all-digit slug is still found when no id matches.)"""
    if id_or_slug.isdecimal():
        found = by_id.get(id_or_slug)
        if found is not None:
            return found
    return items.get(id_or_slug)


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


class EmulatorState:
    """All organizations; ``lock`` guards every read-modify-write of a project's sources.

    With a ``path``, writes are saved there (``commit``) and ``close`` leaves the complete state
    in the file. ``file_digest`` is the digest of the file's bytes when the state was read from
    it; without it the file is written in full at the first write.
    """

    def __init__(
        self,
        organizations: dict[str, Organization],
        path: Path | None,
        *,
        file_digest: str | None = None,
    ) -> None:
        self.organizations = organizations
        self.path = path
        self.lock = threading.RLock()
        self._organizations_by_id = {org.id: org for org in organizations.values()}
        for org in organizations.values():
            org.projects_by_id = {project.id: project for project in org.projects.values()}
            org.projects_by_old_slug = {
                old: project for project in org.projects.values() for old in project.previous_slugs
            }
        self.store: StateStore | None = None
        if path is not None:
            self.store = StateStore(path, self.lock, self.snapshot, file_digest)
            try:
                self.store.recover(self._restore)
            except JournalError as exc:
                raise StateFileError(str(exc)) from None

    # -- loading ------------------------------------------------------------------------------

    @classmethod
    def from_dict(
        cls,
        data: object,
        path: Path | None = None,
        origin: str = "state",
        *,
        file_digest: str | None = None,
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
                known = ("id", "name", "platform", "symbol_sources", BUILTIN_KEY)
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
                    builtin_symbol_sources=_builtin_of(project_data, pwhere),
                )
            organizations[org_slug] = org
        _refuse_duplicate_ids(origin, "organization", list(organizations.values()))
        _refuse_duplicate_ids(
            origin, "project", [p for o in organizations.values() for p in o.projects.values()]
        )
        return cls(organizations, path, file_digest=file_digest)

    @classmethod
    def load(cls, path: Path) -> EmulatorState:
        """Reads ``--state FILE``; a missing file is an empty instance, an empty one an error
        (a file the emulator wrote is never empty: something else emptied it)."""
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            return cls({}, path)
        except OSError as exc:
            raise StateFileError(
                f"cannot read state file {path}: {exc.strerror or exc}; {_WHAT_TO_DO}"
            ) from None
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise StateFileError(f"cannot read state file {path}: {exc}; {_WHAT_TO_DO}") from None
        if not text.strip():
            raise StateFileError(f"state file {path} is empty; {_WHAT_TO_DO}")
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise StateFileError(
                f"{path}:{exc.lineno}:{exc.colno}: state file is not valid JSON: {exc.msg}; "
                f"{_WHAT_TO_DO}"
            ) from None
        return cls.from_dict(data, path, origin=str(path), file_digest=digest(raw))

    @classmethod
    def fresh(cls, path: Path) -> EmulatorState:
        """``--fresh``: an empty instance, whatever ``path`` and its journal held; the file is
        written empty now (so a later start without ``--fresh`` finds it)."""
        remove_saved_writes(path)
        text = _file_text([])
        try:
            write_atomic(path, text.encode("utf-8"), mode=0o600)
        except OSError as exc:
            raise StateFileError(f"cannot write state file {path}: {exc.strerror or exc}") from None
        return cls({}, path, file_digest=digest(text.encode("utf-8")))

    # -- lookups ------------------------------------------------------------------------------

    def find_organization(self, id_or_slug: str) -> Organization | None:
        return _lookup(self.organizations, self._organizations_by_id, id_or_slug)

    def find_project(self, org_id_or_slug: str, project_id_or_slug: str) -> Project | None:
        org = self.find_organization(org_id_or_slug)
        if org is None:
            return None
        return _lookup(org.projects, org.projects_by_id, project_id_or_slug)

    def add_project(self, org_slug: str, project_slug: str) -> Project:
        """The project, created empty (and its organization too) when it does not exist."""
        with self.lock:
            org = self.organizations.get(org_slug)
            project = org.projects.get(project_slug) if org is not None else None
            if project is None:
                project = self._create_project(org_slug, project_slug)
                try:
                    self.commit(project)
                except NotDurable:
                    raise StateFileError(
                        f"cannot save project {org_slug}/{project_slug} in {self.path}: check "
                        "the disk, or start without --state"
                    ) from None
            return project

    def _create_project(self, org_slug: str, project_slug: str) -> Project:
        org = self.organizations.get(org_slug)
        if org is None:
            org_id = _next_free(set(self._organizations_by_id))
            org = Organization(slug=org_slug, id=org_id, name=org_slug)
            self.organizations[org_slug] = org
            self._organizations_by_id[org_id] = org
        used = {p.id for o in self.organizations.values() for p in o.projects.values()}
        project = Project(org, project_slug, _next_free(used), project_slug, None, [])
        org.projects[project_slug] = project
        org.projects_by_id[project.id] = project
        return project

    def find_moved_project(self, org_id_or_slug: str, old_slug: str) -> Project | None:
        """The project that was renamed from ``old_slug`` (Sentry's ``ProjectRedirect``)."""
        org = self.find_organization(org_id_or_slug)
        if org is None:
            return None
        return org.projects_by_old_slug.get(old_slug)

    # -- saving -------------------------------------------------------------------------------

    def commit(self, project: Project) -> None:
        """Saves ``project``'s new list before the write is answered. Call with ``lock`` held.

        Raises ``NotDurable`` when it cannot be saved: the caller undoes the write and refuses
        it."""
        if self.store is not None:
            self.store.record(project.organization.slug, project.slug, project.sources_text())

    def close(self) -> None:
        """A clean stop: the complete state goes to the file (if it can be written)."""
        if self.store is not None:
            self.store.close()

    def _restore(self, org_slug: str, project_slug: str, sources_text: str) -> bool:
        """Lays a journal row over the state loaded from the file."""
        org = self.organizations.get(org_slug)
        project = org.projects.get(project_slug) if org is not None else None
        if project is None:
            # Created at start (``--project``) by the run that wrote this row.
            project = self._create_project(org_slug, project_slug)
        stored = json.loads(sources_text)
        if isinstance(stored, dict) and "symbol_sources" in stored:
            project.symbol_sources = stored["symbol_sources"]
            project.builtin_symbol_sources = stored.get(BUILTIN_KEY)
        else:
            project.symbol_sources = stored
        return True

    def to_dict(self) -> dict[str, Any]:
        """The whole state in the ``--state`` format, secrets in clear (a deep copy)."""
        with self.lock:
            orgs: dict[str, Any] = {}
            for org in self.organizations.values():
                org_out = org.head()
                org_out["projects"] = {
                    project.slug: project.to_dict() for project in org.projects.values()
                }
                orgs[org.slug] = org_out
            return copy.deepcopy({"organizations": orgs})

    def snapshot(self) -> Callable[[], str]:
        """Takes the state as it is now (call with ``lock`` held; quick: it copies references
        only, stored lists being replaced on a write, never changed) and answers a function that
        writes it as the state file's text, one line per project, without the lock."""
        taken: _Snapshot = [
            (org, [(project, project.stored()) for project in org.projects.values()])
            for org in self.organizations.values()
        ]
        return functools.partial(_file_text, taken)

    def render_text(self) -> str:
        with self.lock:
            write = self.snapshot()
        return write()


def _file_text(taken: _Snapshot) -> str:
    if not taken:
        return '{\n  "organizations": {}\n}\n'
    pieces = ['{\n  "organizations": {']
    for org_index, (org, projects) in enumerate(taken):
        pieces.append(",\n    " if org_index else "\n    ")
        pieces.append(f"{_dumps(org.slug)}: {{")
        for key, value in org.head().items():
            pieces.append(f"\n      {_dumps(key)}: {_dumps(value)},")
        if not projects:
            pieces.append('\n      "projects": {}\n    }')
            continue
        pieces.append('\n      "projects": {\n        ')
        pieces.append(",\n        ".join(p.file_line(sources) for p, sources in projects))
        pieces.append("\n      }\n    }")
    pieces.append("\n  }\n}\n")
    return "".join(pieces)


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


def _builtin_of(data: dict[str, Any], where: str) -> list[str] | None:
    if BUILTIN_KEY not in data:
        return None
    value = data[BUILTIN_KEY]
    if not isinstance(value, list) or not all(isinstance(x, str) for x in value):
        raise StateFileError(f"{where}.{BUILTIN_KEY}: must be a list of strings")
    return value


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


def _next_free(used: set[str]) -> str:
    return next(_counter(used))


def _counter(used: set[str]) -> Iterator[str]:
    def generate() -> Iterator[str]:
        number = 1
        while True:
            if str(number) not in used:
                yield str(number)
            number += 1

    return generate()
