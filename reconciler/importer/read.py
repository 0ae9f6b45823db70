"""``symsync import``: read an organization's projects from Sentry and render their files.

The projects are read in parallel and every file is rendered in memory (``convert``); nothing
is written here (``write`` does, once this has succeeded). ``--exclude`` patterns leave projects
out before any is read.

A project whose sources cannot be read does not stop the others: it is recorded in
``ImportResult.failed`` with its error, and the rest are rendered. A failure that is about the
whole account (the token, the URL, the connection) stops the run at once with that one error.

A project whose file would hold the value of a secret the environment holds (in a field that
is no secret field: a URL, a bucket, an access key also put in ``SYMSYNC_SECRETS``) is recorded
in ``failed`` too: its file is never written, not even masked (the mask would become the desired
state, and from there reach Sentry). It is named by where the value came from (a variable's
name, from :mod:`reconciler.core.redact`'s registry), never the value.

The reading can be followed (``on_total``, ``on_project``): this module only reports it; the
command decides what to show (``reconciler.commands.progress``).
"""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import yaml as pyyaml

from reconciler.apply.secrets import SECRETS_VARIABLE
from reconciler.config.diagnostic import display_path
from reconciler.config.selection import ProjectPattern, selects
from reconciler.core import interrupt
from reconciler.core.errors import SymsyncError
from reconciler.core.redact import find_known
from reconciler.importer.convert import (
    SHARED,
    ImportedFile,
    SecretVariable,
    render_org_file,
    render_project,
    shareable,
)
from reconciler.importer.secret_names import SecretNamer, SecretNameTemplate
from reconciler.importer.write import missing_schema, refuse_conflicts, target_path
from reconciler.sentry import spec
from reconciler.sentry.client import SentryClient
from reconciler.sentry.errors import OrganizationError, stops_the_run

# The project of a failure that is the whole organization's (its project list refused).
WHOLE_ORGANIZATION: Final = "*"

READ_PARALLELISM: Final = 8
# The organization's shared definitions, written by ``--share``.
ORG_FILE: Final = "_org.yaml"


@dataclass(frozen=True)
class FailedProject:
    """A project that was not imported; nothing was written for it.

    Either its sources could not be read (``error`` says why), or they were read but its file
    would hold the value of a secret the environment holds: then ``secrets`` names where each
    such value came from (a variable, never the value) and ``error`` where it is in the file.
    """

    organization: str
    project: str
    error: str
    secrets: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        return f"{self.organization}/{self.project}"

    @property
    def unread(self) -> bool:
        """Whether its sources could not be read (rather than not written for a secret)."""
        return not self.secrets

    def message(self) -> str:
        if self.project == WHOLE_ORGANIZATION:
            return f"could not list its projects: {self.error}"
        if self.unread:
            return f"could not read its sources: {self.error}"
        return f"its file would hold the value of a secret: {self.error}; the file was not written"

    def next_step(self) -> str:
        if self.project == WHOLE_ORGANIZATION:
            return (
                f"once the token may list the projects of `{self.organization}`, import them "
                f"with `symsync import --org {self.organization}`"
            )
        alone = f"`symsync import --org {self.organization} --project {self.project}`"
        if self.unread:
            return (
                f"once Sentry answers for it, import it alone with {alone}, or leave it out with "
                f"`--exclude {self.key}`"
            )
        fields = [f for per_type in spec.SECRET_FIELDS.values() for f in sorted(per_type)]
        fix = (
            "remove the value from that field in Sentry (a secret's value belongs only in a "
            f"secret field: {', '.join(fields[:-1])} or {fields[-1]})"
        )
        if any(SECRETS_VARIABLE in origin for origin in self.secrets):
            fix += f", or, if it is no secret, stop listing it in {SECRETS_VARIABLE}"
        return f"{fix}; then import the project alone with {alone}"


# Called once a project's read has finished, in the thread that called ``import_organization``:
# with the project's slug, and with why it could not be read (None when it was).
ProjectRead = Callable[[str, FailedProject | None], None]


@dataclass
class ImportResult:
    files: list[ImportedFile] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    failed: list[FailedProject] = field(default_factory=list)
    excluded: list[str] = field(default_factory=list)
    excludes_used: set[str] = field(default_factory=set)  # the --exclude patterns that matched
    # The JSON Schema the files' first line points editors to, when it is not there yet.
    schema_path: Path | None = None
    schema_text: str = ""

    @property
    def project_files(self) -> list[ImportedFile]:
        """The files of projects (not the organization's ``_org.yaml``)."""
        return [f for f in self.files if f.project != SHARED]

    @property
    def variables(self) -> list[SecretVariable]:
        return [v for f in self.files for v in f.variables]

    def variables_by_name(self) -> dict[str, list[SecretVariable]]:
        """Each variable once, with every secret it stands for (a custom ``--secret-name``
        template may give several sources one variable)."""
        grouped: dict[str, list[SecretVariable]] = {}
        for variable in self.variables:
            grouped.setdefault(variable.name, []).append(variable)
        return grouped


def import_organization(
    client: SentryClient,
    org: str | None,
    projects: Sequence[str],
    config_dir: Path,
    *,
    force: bool = False,
    exclude: Sequence[str] = (),
    secret_name: SecretNameTemplate | None = None,
    on_total: Callable[[int], None] | None = None,
    on_project: ProjectRead | None = None,
    share: bool = False,
    builtin: bool = False,
) -> ImportResult:
    """Read the projects ``org`` and ``projects`` select (see :func:`selected_organizations`),
    less those excluded, and render their files.

    Nothing is written here; see :func:`reconciler.importer.write.write_files`. A project whose
    sources cannot be read is recorded in ``failed``; the others are rendered. Raises when a
    project named does not exist (or a pattern matches none), a file is in the way without
    ``force``, or a failure concerns the whole account.

    For a progress display: ``on_total`` is called once with the number of projects to read, as
    soon as it is known (the organizations' project lists read, exclusions applied), before the
    first read; ``on_project`` once per project as its read finishes, whether its sources were
    read or it failed (not for a failure that stops the whole run, which is raised).

    ``share``: a source identical in two or more projects (every field, and a secret set in
    each) is written once, in ``_org.yaml``, and used by id in the project files. ``builtin``:
    each project's built-in repositories are read too (one more request per project) and
    written as its ``builtin:``.
    """
    template = secret_name or SecretNameTemplate.parse(None)
    result = ImportResult()
    chosen: dict[str, list[str]] = {}
    for organization, patterns in selected_organizations(org, projects, config_dir).items():
        try:
            slugs = _named_projects(client, organization, patterns)
        except OrganizationError as exc:  # that organization's error: the others go on
            result.failed.append(FailedProject(organization, WHOLE_ORGANIZATION, str(exc)))
            continue
        slugs = _without_excluded(organization, slugs, exclude, result)
        chosen[organization] = _with_file_names(organization, slugs, result.warnings)
    _warn_unused_excludes(exclude, result)
    if on_total is not None:
        on_total(sum(len(slugs) for slugs in chosen.values()))
    namer = SecretNamer(template)
    for organization, slugs in chosen.items():
        remote = _read_projects(client, organization, slugs, on_project, builtin=builtin)
        shared = _shared_sources(organization, remote) if share else _Shared()
        _render(organization, slugs, remote, config_dir, namer, result, shared)
        _add_org_file(organization, shared, config_dir, namer, result)
    schema = missing_schema(config_dir)
    if schema is not None:
        result.schema_path, result.schema_text = schema
    refuse_conflicts(result.files, force=force)
    return result


def selected_organizations(
    org: str | None, projects: Sequence[str], config_dir: Path
) -> dict[str, list[str]]:
    """The organizations to import, each with the project patterns that select in it (none:
    every project of it).

    ``--org ORG`` alone is every project of ORG. ``--project`` takes ``ORG/PROJECT`` with
    shell-style globs in each segment, as ``plan --project`` does, or a bare project slug of
    ``--org``. Sentry lists no organizations here, so a glob in the organization segment
    matches the organizations that have a folder in ``config_dir``.
    """
    if org is not None and not spec.SLUG_RE.match(org):
        raise SymsyncError(
            f"`{org}` is not a valid organization slug (lowercase letters, digits, `-` and `_`)"
        )
    if not projects:
        if org is None:
            raise SymsyncError(
                "say what to import: --org ORG (every project of it), or --project "
                "ORG/PROJECT (may repeat; globs like `acme/*` work)"
            )
        return {org: []}
    chosen: dict[str, list[str]] = {}
    for value in dict.fromkeys(projects):
        for organization, pattern in _pattern_organizations(org, value, config_dir):
            chosen.setdefault(organization, []).append(pattern)
    return chosen


def _pattern_organizations(org: str | None, value: str, config_dir: Path) -> list[tuple[str, str]]:
    """(organization, project pattern) for one ``--project`` value."""
    if "/" not in value:
        if org is None:
            raise SymsyncError(
                f"--project {value!r} names no organization: give ORG/PROJECT (as "
                f"`--project acme/{value}`), or the organization with --org"
            )
        return [(org, value)]
    parsed = ProjectPattern.parse(value)
    if parsed is None:
        raise SymsyncError(
            f"--project {value!r} is not ORG/PROJECT; give it as in "
            "configs/<org>/<project>.yaml (globs like `acme/*` or `*/ios` work)"
        )
    if org is not None:
        if not parsed.may_match_in(org):
            raise SymsyncError(
                f"--project {value!r} is not in --org {org}: give projects of {org}, or leave "
                "--org out and give each project as ORG/PROJECT"
            )
        return [(org, parsed.project)]
    if not _has_glob(parsed.org):
        if not spec.SLUG_RE.match(parsed.org):
            raise SymsyncError(
                f"--project {value!r}: `{parsed.org}` is not a valid organization slug "
                "(lowercase letters, digits, `-` and `_`)"
            )
        return [(parsed.org, parsed.project)]
    from reconciler.plan.unfiled import organization_folders

    found = [o for o in organization_folders(config_dir) if parsed.may_match_in(o)]
    if not found:
        raise SymsyncError(
            f"--project {value!r} matches no organization folder in {display_path(config_dir)} "
            "(Sentry does not list a token's organizations): name the organization, as in "
            "`--project acme/*`"
        )
    return [(o, parsed.project) for o in found]


def _has_glob(text: str) -> bool:
    return any(ch in text for ch in "*?[")


def _named_projects(client: SentryClient, org: str, patterns: Sequence[str]) -> list[str]:
    """The slugs of the organization's projects, or of those the project ``patterns`` (slugs,
    or shell-style globs of them) select: each must select at least one."""
    available = [p.get("slug") for p in client.list_projects(org)]
    slugs = [s for s in available if isinstance(s, str)]
    if not patterns:
        return slugs
    selected: dict[str, None] = {}
    missing: list[str] = []
    for pattern in dict.fromkeys(patterns):
        hits = [s for s in slugs if fnmatch.fnmatchcase(s, pattern)]
        if not hits:
            missing.append(pattern)
        selected.update(dict.fromkeys(hits))
    if missing:
        listed = ", ".join(f"`{p}`" for p in missing)
        raise SymsyncError(
            f"organization `{org}` has no project {listed}: the projects are named by their "
            "slug, as in the project's URL (globs like `ios-*` work)"
        )
    return list(selected)


def _with_file_names(org: str, slugs: Sequence[str], warnings: list[str]) -> list[str]:
    """The distinct ``slugs``, sorted, that can be file names; a warning for each other."""
    selected: list[str] = []
    for slug in sorted(set(slugs)):
        if spec.SLUG_RE.match(slug):
            selected.append(slug)
        else:
            warnings.append(
                f"skipped project `{slug}` of `{org}`: its slug cannot be a file name in the "
                "configuration tree"
            )
    return selected


def _add_org_file(
    org: str, shared: _Shared, config_dir: Path, namer: SecretNamer, result: ImportResult
) -> None:
    """``_org.yaml`` with the shared definitions, first among the organization's files."""
    if not shared.definitions:
        return
    org_file = render_org_file(org, config_dir / org / ORG_FILE, shared.definitions, namer)
    shown = _secrets_shown(org_file.text)
    if shown:
        raise SymsyncError(
            f"the shared definitions of `{org}` would hold the value of a secret "
            f"({_holds_secrets(org, SHARED, shown).error}); nothing was written: import "
            "without --share, or remove the value from that field in Sentry"
        )
    first = next((i for i, f in enumerate(result.files) if f.organization == org), 0)
    result.files.insert(first, org_file)


@dataclass
class _Shared:
    """The sources ``--share`` writes once: each definition (its id, the source), and per
    project which of its sources (by index) use which definition."""

    definitions: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    uses: dict[str, dict[int, str]] = field(default_factory=dict)


def _shared_sources(org: str, remote: Mapping[str, RemoteProject | FailedProject]) -> _Shared:
    """Sources identical (every field, as Sentry answers them) in two or more projects. Two
    variants of one id are two definitions: the one more projects use keeps the id, the other
    is named ``ID-2`` (on a tie, the one of the first project by slug keeps it)."""
    where: dict[str, list[tuple[str, int]]] = {}
    sources: dict[str, dict[str, Any]] = {}
    for slug in sorted(remote):
        read = remote[slug]
        if isinstance(read, FailedProject):
            continue
        ids = [s.get("id") for s in read.sources]
        for index, source in enumerate(read.sources):
            if ids.count(source.get("id")) != 1 or not shareable(org, source):
                continue
            key = json.dumps(source, sort_keys=True, ensure_ascii=False)
            sources.setdefault(key, source)
            where.setdefault(key, []).append((slug, index))
    out = _Shared()
    taken: set[str] = set()
    shared = [(key, places) for key, places in where.items() if len({s for s, _ in places}) > 1]
    shared.sort(key=lambda item: -len({slug for slug, _ in item[1]}))  # stable: first seen first
    for key, places in shared:
        source = sources[key]
        definition_id, number = source["id"], 1
        while definition_id in taken:
            number += 1
            definition_id = f"{source['id']}-{number}"
        taken.add(definition_id)
        out.definitions.append((definition_id, source))
        for slug, index in places:
            out.uses.setdefault(slug, {})[index] = definition_id
    return out


def _render(
    org: str,
    slugs: Sequence[str],
    remote: Mapping[str, RemoteProject | FailedProject],
    config_dir: Path,
    namer: SecretNamer,
    result: ImportResult,
    shared: _Shared,
) -> None:
    """Render the file of every project read into ``result.files``; those that could not be
    read, or whose file would hold a secret's value, into ``result.failed``."""
    for slug in slugs:
        read = remote[slug]
        if isinstance(read, FailedProject):
            result.failed.append(read)
            continue
        path = target_path(config_dir, org, slug)
        imported = render_project(
            org, slug, path, read.sources, namer, result.warnings,
            shared=shared.uses.get(slug), builtin=read.builtin,
        )  # fmt: skip
        shown = _secrets_shown(imported.text)
        if shown:
            # Not written, so an existing file there is not in the way.
            result.failed.append(_holds_secrets(org, slug, shown))
            continue
        result.files.append(imported)


def _secrets_shown(text: str) -> list[tuple[str, str]]:
    """(origin, where) for each known secret value a project file's ``text`` holds: the origin
    names the variable it came from, ``where`` the field and source (never the value). Empty
    when it holds none."""
    if not find_known(text):  # one scan of the text; the walk that says where is for a hit only
        return []
    loader = getattr(pyyaml, "CSafeLoader", pyyaml.SafeLoader)
    document = pyyaml.load(text, Loader=loader)
    sources = document.get("sources") if isinstance(document, dict) else None
    found: dict[tuple[str, str], None] = {}
    for number, source in enumerate(sources if isinstance(sources, list) else [], start=1):
        if not isinstance(source, dict):
            continue
        source_id = source.get("id")
        label = (
            f"source `{source_id}`"
            if isinstance(source_id, str) and not find_known(source_id)
            else f"source #{number}"  # an id that holds the value is not shown
        )
        # The keys are the importer's own field names (FIELD_ORDER, LAYOUT_ORDER, FILTER_ORDER).
        for field_path, string in _strings_of(source, ""):
            for origin in find_known(string):
                found[(origin, f"`{field_path}` of {label}")] = None
    if not found:  # a value spanning the file's punctuation, or in its fixed text
        found = {(origin, "the file"): None for origin in find_known(text)}
    return list(found)


def _strings_of(value: Any, where: str) -> list[tuple[str, str]]:
    """(dotted field path, text) of every string in a source's value."""
    if isinstance(value, dict):
        return [
            pair
            for key, item in value.items()
            for pair in _strings_of(item, f"{where}.{key}" if where else str(key))
        ]
    if isinstance(value, list):
        return [pair for item in value for pair in _strings_of(item, where)]
    return [(where, value)] if isinstance(value, str) else []


def _holds_secrets(org: str, project: str, shown: list[tuple[str, str]]) -> FailedProject:
    places = "; ".join(f"{origin} in {where}" for origin, where in shown[:5])
    more = f" (and {len(shown) - 5} more)" if len(shown) > 5 else ""
    origins = tuple(sorted({origin for origin, _ in shown}))
    return FailedProject(org, project, f"{places}{more}", origins)


def _without_excluded(
    org: str, slugs: Sequence[str], patterns: Sequence[str], result: ImportResult
) -> list[str]:
    """``slugs`` less those an ``--exclude`` pattern matches: a shell-style glob of
    ``ORG/PROJECT`` (organization and project matched separately) or of the project slug."""
    if not patterns:
        return list(slugs)
    kept: list[str] = []
    used: set[str] = set()
    for slug in slugs:
        hits = [p for p in patterns if _excludes(p, org, slug)]
        if hits:
            used.update(hits)
            result.excluded.append(f"{org}/{slug}")
        else:
            kept.append(slug)
    result.excludes_used.update(used)
    return kept


def _warn_unused_excludes(patterns: Sequence[str], result: ImportResult) -> None:
    """A warning for each ``--exclude`` pattern that matched no project of any organization."""
    for pattern in dict.fromkeys(patterns):
        if pattern not in result.excludes_used:
            result.warnings.append(
                f"--exclude {pattern!r} matches no project imported (give ORG/PROJECT or a "
                "project slug; globs like `legacy-*` work)"
            )


def _excludes(pattern: str, org: str, slug: str) -> bool:
    if "/" in pattern:
        return selects([pattern], f"{org}/{slug}")
    return fnmatch.fnmatchcase(slug, pattern)


@dataclass(frozen=True)
class RemoteProject:
    """What was read of one project: its sources, and its built-in repositories when asked."""

    sources: list[dict[str, Any]]
    builtin: list[str] | None = None


def _read_one(client: SentryClient, org: str, slug: str, builtin: bool) -> RemoteProject:
    sources = client.list_sources(org, slug)
    return RemoteProject(sources, client.builtin_sources(org, slug) if builtin else None)


def _read_projects(
    client: SentryClient,
    org: str,
    slugs: Sequence[str],
    on_project: ProjectRead | None = None,
    *,
    builtin: bool = False,
) -> dict[str, RemoteProject | FailedProject]:
    """Every project's sources (and built-in repositories, with ``builtin``), or why they could
    not be read; projects in parallel. A failure that concerns the whole account cancels what
    has not started and is raised.

    ``on_project`` hears of each read as it finishes (from this thread, not the workers)."""
    out: dict[str, RemoteProject | FailedProject] = {}
    if not slugs:
        return out
    pool = ThreadPoolExecutor(
        max_workers=min(READ_PARALLELISM, len(slugs)), initializer=interrupt.signals_to_main_thread
    )
    try:
        futures: dict[Future[RemoteProject], str] = {
            pool.submit(_read_one, client, org, slug, builtin): slug for slug in slugs
        }
        pending: set[Future[RemoteProject]] = set(futures)
        while pending:
            # Each read as it finishes, so that progress moves one project at a time.
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                slug = futures[future]
                exc = future.exception()
                if exc is None:
                    out[slug] = future.result()
                elif isinstance(exc, SymsyncError) and not stops_the_run(exc):
                    out[slug] = FailedProject(org, slug, str(exc))
                else:
                    raise exc
                if on_project is not None:
                    failed = out[slug]
                    on_project(slug, failed if isinstance(failed, FailedProject) else None)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    return out
