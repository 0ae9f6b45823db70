"""``symsync import``: write project files from what Sentry holds now.

Reading and rendering happen first, all in memory; files are written only when every project was
read, every file rendered and no existing file is in the way (unless ``force``). Then every file
goes to a temporary file beside it, and only when all were written are they renamed into place:
a reader never sees half a file, and a failure leaves nothing behind.

A project whose sources cannot be read does not stop the others: it is recorded in
``ImportResult.failed`` with its error, and the rest are written. A failure that is about the
whole account (the token, the URL, the connection) stops the run at once with that one error.

A project whose file would hold the value of a secret the environment holds (in a field that
is no secret field: a URL, a bucket, an access key also put in ``SYMSYNC_SECRETS``) is recorded
in ``failed`` too, before anything is written: its file is never written, not even masked (the
mask would become the desired state, and from there reach Sentry). It is named by where the
value came from (a variable's name, from :mod:`reconciler.core.redact`'s registry), never the value.

Secrets cannot be read from Sentry: each one becomes a ``{env: VARIABLE}`` reference whose name
comes from a template (``reconciler.importer.secret_names``).

The reading can be followed (``on_total``, ``on_project``): this module only reports it; the
command decides what to show (``reconciler.commands.progress``).
"""

from __future__ import annotations

import contextlib
import errno
import fnmatch
import io
import json
import os
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import yaml as pyyaml
from pydantic import ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.scalarstring import (
    DoubleQuotedScalarString,
    ScalarString,
    SingleQuotedScalarString,
)

from reconciler.apply.secrets import SECRETS_VARIABLE
from reconciler.config.diagnostic import display_path
from reconciler.config.project_file import ProjectFile, project_file_json_schema
from reconciler.config.selection import selects
from reconciler.core.atomic import stage
from reconciler.core.errors import SymsyncError
from reconciler.core.redact import find_known
from reconciler.importer.secret_names import SecretNamer, SecretNameTemplate
from reconciler.sentry import spec
from reconciler.sentry.client import SentryClient
from reconciler.sentry.errors import stops_the_run

# Key order of a source in a written file (contract section 1's example); Sentry's other common
# fields come last.
_COMMON_TAIL: Final = ("platforms", "is_public", "has_index")
FIELD_ORDER: Final[dict[str, tuple[str, ...]]] = {
    "http": ("id", "type", "name", "url", "layout", "username", "password", "filters",
             *_COMMON_TAIL),
    "s3": ("id", "type", "name", "bucket", "region", "prefix", "access_key", "secret_key",
           "layout", "filters", *_COMMON_TAIL),
    "gcs": ("id", "type", "name", "bucket", "prefix", "client_email", "private_key", "layout",
            "filters", *_COMMON_TAIL),
}  # fmt: skip
LAYOUT_ORDER: Final = ("type", "casing")
FILTER_ORDER: Final = ("filetypes", "path_patterns", "requires_checksum")
# Lists written on one line, like `filetypes: [pe, pdb]`.
FLOW_LISTS: Final = frozenset({"filetypes", "path_patterns", "platforms"})
LEGACY_TYPE: Final = "appStoreConnect"
READ_PARALLELISM: Final = 8

# Beside the organizations' folders; the loader ignores files that are not YAML.
SCHEMA_FILE: Final = "symsync.schema.json"
HEADER: Final = (
    f"yaml-language-server: $schema=../{SCHEMA_FILE}\n"
    "Imported from Sentry by `symsync import`. Secrets are not readable from Sentry:\n"
    "each one is a reference to an environment variable, needed only when symsync has to\n"
    "send the value (creating a source again, or adding a secret)."
)


class ImportConflictError(SymsyncError):
    """Files already exist where import would write."""


@dataclass(frozen=True)
class SecretVariable:
    name: str
    organization: str
    project: str
    source_id: str
    field: str

    def describe(self) -> str:
        return f"{self.field} of source `{self.source_id}` in {self.organization}/{self.project}"


@dataclass
class ImportedFile:
    organization: str
    project: str
    path: Path
    text: str
    sources: int
    variables: list[SecretVariable] = field(default_factory=list)


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
        if self.unread:
            return f"could not read its sources: {self.error}"
        return f"its file would hold the value of a secret: {self.error}; the file was not written"

    def next_step(self) -> str:
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
    # The JSON Schema the files' first line points editors to, when it is not there yet.
    schema_path: Path | None = None
    schema_text: str = ""

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
    org: str,
    projects: Sequence[str],
    config_dir: Path,
    *,
    force: bool = False,
    exclude: Sequence[str] = (),
    secret_name: SecretNameTemplate | None = None,
    on_total: Callable[[int], None] | None = None,
    on_project: ProjectRead | None = None,
) -> ImportResult:
    """Read the organization's projects (all, or those named, less those excluded) and render
    their files.

    Nothing is written here; see :func:`write_files`. A project whose sources cannot be read is
    recorded in ``failed``; the others are rendered. Raises when a named project does not exist,
    a file is in the way without ``force``, or a failure concerns the whole account.

    For a progress display: ``on_total`` is called once with the number of projects to read, as
    soon as it is known (the organization's project list read, exclusions applied), before the
    first read; ``on_project`` once per project as its read finishes, whether its sources were
    read or it failed (not for a failure that stops the whole run, which is raised).
    """
    if not spec.SLUG_RE.match(org):
        raise SymsyncError(
            f"`{org}` is not a valid organization slug (lowercase letters, digits, `-` and `_`)"
        )
    template = secret_name or SecretNameTemplate.parse(None)
    result = ImportResult()
    available = [p.get("slug") for p in client.list_projects(org)]
    slugs = [s for s in available if isinstance(s, str)]
    if projects:
        wanted = list(dict.fromkeys(projects))
        missing = [p for p in wanted if p not in slugs]
        if missing:
            listed = ", ".join(f"`{p}`" for p in missing)
            raise SymsyncError(
                f"organization `{org}` has no project {listed}: the projects are named by their "
                "slug, as in the project's URL"
            )
        slugs = wanted
    slugs = _without_excluded(org, slugs, exclude, result)
    selected: list[str] = []
    for slug in sorted(set(slugs)):
        if spec.SLUG_RE.match(slug):
            selected.append(slug)
        else:
            result.warnings.append(
                f"skipped project `{slug}` of `{org}`: its slug cannot be a file name in the "
                "configuration tree"
            )

    if on_total is not None:
        on_total(len(selected))
    remote = _read_projects(client, org, selected, on_project)
    namer = SecretNamer(template)
    conflicts: list[Path] = []
    for slug in selected:
        sources = remote[slug]
        if isinstance(sources, FailedProject):
            result.failed.append(sources)
            continue
        path = _target_path(config_dir, org, slug)
        imported = _render_project(org, slug, path, sources, namer, result.warnings)
        shown = _secrets_shown(imported.text)
        if shown:
            result.failed.append(_holds_secrets(org, slug, shown))
            continue  # not written, so an existing file there is not in the way
        if path.exists():
            conflicts.append(path)
        result.files.append(imported)
    schema_path = config_dir / SCHEMA_FILE
    if not schema_path.exists():
        result.schema_path = schema_path
        result.schema_text = json.dumps(project_file_json_schema(), indent=2) + "\n"
    if conflicts and not force:
        listed = ", ".join(display_path(p) for p in conflicts)
        raise ImportConflictError(
            f"not overwriting existing project files: {listed}; move them away or pass --force "
            "(nothing was written)"
        )
    return result


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
    for pattern in patterns:
        if pattern not in used:
            result.warnings.append(
                f"--exclude {pattern!r} matches no project of `{org}` (give ORG/PROJECT or a "
                "project slug; globs like `legacy-*` work)"
            )
    return kept


def _excludes(pattern: str, org: str, slug: str) -> bool:
    if "/" in pattern:
        return selects([pattern], f"{org}/{slug}")
    return fnmatch.fnmatchcase(slug, pattern)


def _read_projects(
    client: SentryClient, org: str, slugs: Sequence[str], on_project: ProjectRead | None = None
) -> dict[str, list[dict[str, Any]] | FailedProject]:
    """Every project's sources, or why they could not be read; projects in parallel. A failure
    that concerns the whole account cancels what has not started and is raised.

    ``on_project`` hears of each read as it finishes (from this thread, not the workers)."""
    out: dict[str, list[dict[str, Any]] | FailedProject] = {}
    if not slugs:
        return out
    pool = ThreadPoolExecutor(max_workers=min(READ_PARALLELISM, len(slugs)))
    try:
        futures: dict[Future[list[dict[str, Any]]], str] = {
            pool.submit(client.list_sources, org, slug): slug for slug in slugs
        }
        pending: set[Future[list[dict[str, Any]]]] = set(futures)
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


def write_files(result: ImportResult) -> None:
    """Write every rendered file (and the schema file, if it was missing), all or nothing.

    Every file's content is written to a temporary file beside it first; only when all of them
    were written are they renamed into place. When one cannot be written, the temporary files
    and the folders made for them are removed again and nothing is left behind.
    """
    todo = [(f.path, f.text) for f in result.files]
    if result.schema_path is not None and result.files:
        todo.append((result.schema_path, result.schema_text))
    staged: list[tuple[Path, Path]] = []
    made: list[Path] = []
    replaced: list[Path] = []
    try:
        for path, text in todo:
            try:
                if path.is_dir():
                    raise IsADirectoryError(errno.EISDIR, "it is a folder")
                made.extend(_make_folders(path.parent))
                staged.append((stage(path, text), path))
            except OSError as exc:
                raise SymsyncError(
                    f"could not write {display_path(path)}: {exc.strerror or exc}; "
                    "nothing was written"
                ) from None
        for tmp, path in staged:
            try:
                os.replace(tmp, path)
            except OSError as exc:  # pragma: no cover - a rename beside a written file
                done = ", ".join(display_path(p) for p in replaced) or "none"
                raise SymsyncError(
                    f"could not write {display_path(path)}: {exc.strerror or exc}; files written "
                    f"before it: {done}"
                ) from None
            replaced.append(path)
    finally:
        if len(replaced) < len(staged) or len(staged) < len(todo):
            for tmp, _ in staged:
                tmp.unlink(missing_ok=True)
            for folder in reversed(made):
                with contextlib.suppress(OSError):
                    folder.rmdir()  # only empty folders go; folders with files stay


def _make_folders(folder: Path) -> list[Path]:
    """Create ``folder`` and its missing parents; the ones created, outermost first."""
    missing: list[Path] = []
    current = folder
    while not current.exists():
        missing.append(current)
        current = current.parent
    folder.mkdir(parents=True, exist_ok=True)
    return list(reversed(missing))


def _target_path(config_dir: Path, org: str, project: str) -> Path:
    """``<dir>/<org>/<project>.yaml``, or the existing ``.yml`` file of that project."""
    yml = config_dir / org / f"{project}.yml"
    yaml_path = config_dir / org / f"{project}.yaml"
    if yml.exists() and not yaml_path.exists():
        return yml
    return yaml_path


def _render_project(
    org: str,
    project: str,
    path: Path,
    sources: list[dict[str, Any]],
    names: SecretNamer,
    warnings: list[str],
) -> ImportedFile:
    where = f"{org}/{project}"
    entries: list[CommentedMap] = []
    variables: list[SecretVariable] = []
    seen_ids: set[str] = set()
    for index, source in enumerate(sources):
        converted = _convert_source(org, project, index, source, names, warnings, seen_ids)
        if converted is None:
            continue
        entry, entry_variables = converted
        entries.append(entry)
        variables.extend(entry_variables)
        seen_ids.add(entry["id"])

    doc = CommentedMap()
    doc["unmanaged"] = "report"
    seq = CommentedSeq(entries)
    if not entries:
        seq.fa.set_flow_style()
    doc["sources"] = seq
    doc.yaml_set_start_comment(HEADER)
    text = _dump(doc)
    # The written file must be one that `symsync validate` accepts.
    ProjectFile.model_validate(_plain(doc))
    if not entries and sources:
        warnings.append(f"{where}: no source could be imported; the file lists none")
    return ImportedFile(org, project, path, text, len(entries), variables)


def _convert_source(
    org: str,
    project: str,
    index: int,
    source: dict[str, Any],
    names: SecretNamer,
    warnings: list[str],
    seen_ids: set[str],
) -> tuple[CommentedMap, list[SecretVariable]] | None:
    where = f"{org}/{project}"
    source_id = source.get("id")
    if not isinstance(source_id, str) or not source_id:
        warnings.append(
            f"{where}: skipped source #{index + 1}: it has no id, so the plan of this project "
            "fails until it is given one or removed in Sentry"
        )
        return None
    label = f"{where}: source `{source_id}`"
    if spec.is_reserved_id(source_id):
        warnings.append(
            f"{label} skipped: ids starting with `sentry` are reserved, so symsync cannot manage "
            "it; it stays in Sentry and the plan lists it as unmanaged, kept"
        )
        return None
    if source_id in seen_ids:
        warnings.append(
            f"{label} skipped: Sentry lists this id more than once, so the plan of this project "
            "fails until one of them is removed in Sentry"
        )
        return None
    source_type = source.get("type")
    if source_type not in spec.SOURCE_TYPES:
        reason = (
            "it is a legacy App Store Connect source, which Sentry no longer accepts on writes"
            if source_type == LEGACY_TYPE
            else f"its type {source_type!r} is not one symsync manages (http, s3, gcs)"
        )
        warnings.append(_not_holdable(label, source_id, reason))
        return None
    assert isinstance(source_type, str)

    order = FIELD_ORDER[source_type]
    unknown = sorted(k for k in source if k not in order)
    entry = CommentedMap()
    variables: list[SecretVariable] = []
    secret_fields = spec.SECRET_FIELDS[source_type]
    for key in order:
        if key not in source:
            continue
        value = source[key]
        if key in secret_fields:
            var = names.name(org, project, source_id, key)
            ref = CommentedMap(env=var)
            ref.fa.set_flow_style()
            entry[key] = ref
            variables.append(SecretVariable(var, org, project, source_id, key))
        elif key == "layout" and isinstance(value, dict):
            entry[key] = _ordered(value, LAYOUT_ORDER, flow=True)
            unknown += [f"layout.{k}" for k in value if k not in LAYOUT_ORDER]
        elif key == "filters" and isinstance(value, dict):
            entry[key] = _ordered(value, FILTER_ORDER, flow=False)
            unknown += [f"filters.{k}" for k in value if k not in FILTER_ORDER]
        else:
            entry[key] = value
        if isinstance(entry[key], list) and key in FLOW_LISTS:
            entry[key] = _flow_list(entry[key])
    if isinstance(entry.get("filters"), dict):
        for list_key in FLOW_LISTS & set(entry["filters"]):
            if isinstance(entry["filters"][list_key], list):
                entry["filters"][list_key] = _flow_list(entry["filters"][list_key])

    try:
        ProjectFile.model_validate({"sources": [_plain(entry)]})
    except ValidationError as exc:
        reasons = "; ".join(_reason(err) for err in exc.errors())
        warnings.append(_not_holdable(label, source_id, reasons))
        return None
    if unknown:
        names_shown = ", ".join(unknown)
        them = "it" if len(unknown) == 1 else "them"
        warnings.append(
            f"{label}: Sentry holds {names_shown}, which symsync does not manage (a {source_type} "
            f"source has no such field in the file format), so the file leaves {them} out. "
            f"The plan names {them} and shows an update of `{source_id}` that removes {them}: "
            "a PUT replaces the whole source"
        )
    return entry, variables


def _not_holdable(label: str, source_id: str, reason: str) -> str:
    return (
        f"{label} skipped: the file format cannot hold it ({reason}). It stays in Sentry, and "
        "the plan reports it as not in the file (unmanaged: report) until it is fixed in Sentry "
        "and this project imported again, or deleted by an entry "
        f"`{{id: {json.dumps(source_id, ensure_ascii=False)}, state: absent}}` in the file"
    )


def _flow_list(items: list[Any]) -> CommentedSeq:
    seq = CommentedSeq(items)
    seq.fa.set_flow_style()
    return seq


def _reason(error: Any) -> str:
    # Drop the generic parts of the location (the union tag and list index); never the input.
    loc = [str(p) for p in error.get("loc", ()) if p not in ("sources", 0, "http", "s3", "gcs")]
    message = str(error.get("msg", "invalid"))
    return f"{'.'.join(loc)}: {message}" if loc else message


def _ordered(value: dict[str, Any], order: Sequence[str], *, flow: bool) -> CommentedMap:
    out = CommentedMap()
    for key in order:
        if key in value:
            out[key] = value[key]
    if flow:
        out.fa.set_flow_style()
    return out


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _yaml() -> YAML:
    yaml = YAML(typ="rt")
    yaml.default_flow_style = False
    yaml.allow_unicode = True
    yaml.width = 4096
    yaml.indent(mapping=2, sequence=4, offset=2)
    return yaml


def _dump(doc: CommentedMap) -> str:
    """The file's text. It must read back, with the loader's YAML 1.1 reader, as exactly the
    values imported; should the emitter get one wrong, every string is written double-quoted."""
    plain = _plain(doc)
    text = _emit(_quote_ambiguous(doc))
    if _reads_back(text, plain):
        return text
    text = _emit(_quote_all(doc))
    if not _reads_back(text, plain):  # pragma: no cover - double quotes escape everything
        raise SymsyncError("import could not write a file that reads back as Sentry's values")
    return text


def _emit(doc: CommentedMap) -> str:
    buffer = io.StringIO()
    _yaml().dump(doc, buffer)
    return buffer.getvalue()


def _reads_back(text: str, plain: Any) -> bool:
    loader = getattr(pyyaml, "CSafeLoader", pyyaml.SafeLoader)
    try:
        return bool(pyyaml.load(text, Loader=loader) == plain)
    except pyyaml.YAMLError:
        return False


# The loader reads YAML 1.1 (PyYAML), where ruamel.yaml's YAML 1.2 output leaves `yes`, `on`,
# `off`, `1:30`, `0o17`, `=` ... plain: they would come back as booleans, numbers or errors.
_RESOLVER: Final = pyyaml.resolver.Resolver()
_STR_TAG: Final = "tag:yaml.org,2002:str"
_UNICODE_BREAKS: Final = frozenset("\x85\u2028\u2029")
# A plain scalar starting with one of these is read as YAML syntax (in flow collections,
# ruamel.yaml writes `? x` and `: x` plain, which a reader takes for a mapping).
_INDICATORS: Final = frozenset("-?:,[]{}#&*!|>'\"%@`")


def _quote_ambiguous(value: Any) -> Any:
    """``value`` with every string that a YAML 1.1 reader would not read back as that same
    string, as a plain scalar, forced into quotes (in place for mappings and sequences)."""
    if isinstance(value, dict):
        for key in value:
            value[key] = _quote_ambiguous(value[key])
    elif isinstance(value, list):
        for index, item in enumerate(value):
            value[index] = _quote_ambiguous(item)
    elif isinstance(value, str) and not isinstance(value, ScalarString):
        if any(c in _UNICODE_BREAKS for c in value):
            # ruamel.yaml writes these raw in single quotes, where a reader folds them; double
            # quotes escape them (\N, \L, \P).
            return DoubleQuotedScalarString(value)
        tag = _RESOLVER.resolve(pyyaml.ScalarNode, value, (True, False))  # type: ignore[no-untyped-call]
        if tag != _STR_TAG or value[:1] in _INDICATORS:
            return SingleQuotedScalarString(value)
    return value


def _quote_all(value: Any) -> Any:
    """``value`` with every string double-quoted (in place for mappings and sequences)."""
    if isinstance(value, dict):
        for key in value:
            value[key] = _quote_all(value[key])
    elif isinstance(value, list):
        for index, item in enumerate(value):
            value[index] = _quote_all(item)
    elif isinstance(value, str):
        return DoubleQuotedScalarString(str(value))
    return value
