"""Read the desired-state tree and check it with Sentry's rules, offline.

``configs/<organization>/<project>.yaml`` -> ``ProjectConfig`` with the origin (file, line,
column) of every value, or diagnostics ``PATH:LINE:COLUMN: message`` for everything that is
wrong, in every file, in one run. This is the entry point (``load_tree``, ``load_file``,
``load_bytes``); the three jobs it puts together each have their own module:

- ``reconciler.config.tree`` finds the project files, and words what is wrong with the tree's
  shape;
- ``reconciler.config.yamlread`` reads one file's YAML into plain values with the position of
  every value and key (PyYAML's C parser, one walk over the nodes; alias bombs refused);
- ``reconciler.config.wording`` words every problem as one ``PATH:LINE:COLUMN: message`` line, in
  particular pydantic's errors about the values.

How one file is read:

1. the bytes are decoded as UTF-8 (a bad byte is an error at its line and column);
2. ``yamlread`` composes and walks the document;
3. checks that pydantic cannot place (duplicate ids, unknown regions, NUL characters);
4. pydantic (``reconciler.config.project_file.ProjectFile``) validates the values, and
   ``wording`` maps its errors back to the recorded positions.
"""

from __future__ import annotations

import dataclasses
import gc
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from yaml.nodes import Node

from reconciler.config import yamlread
from reconciler.config.diagnostic import Diagnostic, diagnostic, diagnostic_order
from reconciler.config.org_file import OrgContext, check_builtin_list, expand
from reconciler.config.project_file import ProjectConfig, ProjectFile
from reconciler.config.tree import FoundFile, FoundTree, find_project_files
from reconciler.config.wording import (
    position_diagnostic,
    position_of,
    rejected_diagnostics,
    source_label,
    sources_of,
    validation_diagnostics,
    value_where,
)
from reconciler.config.yamlread import Document, Loc, Origins
from reconciler.sentry import spec

__all__ = [
    "MAX_FILE_BYTES",
    "Diagnostic",
    "FileResult",
    "LoadResult",
    "Origins",
    "collector_paused",
    "load_bytes",
    "load_file",
    "load_found",
    "load_tree",
]

# A source takes 100 to 500 bytes, so this leaves room for some 20,000 sources in one project.
# Parsing takes some hundreds of times a file's size in memory (``benchmarks/README.md``): a much
# larger file would take many seconds and gigabytes for no real use, so it is refused before
# parsing.
MAX_FILE_BYTES = 8 * 1024 * 1024


@dataclass
class LoadResult:
    """Everything ``load_tree`` found: the valid projects and every diagnostic."""

    projects: list[ProjectConfig] = field(default_factory=list)
    diagnostics: list[Diagnostic] = field(default_factory=list)
    files: int = 0

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.severity == "error"]

    @property
    def warnings(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.severity == "warning"]

    @property
    def sources(self) -> int:
        """Number of source entries in the valid projects."""
        return sum(len(p.file.sources) for p in self.projects)


@dataclass
class FileResult:
    """What one project file holds: its config when valid, and its diagnostics."""

    config: ProjectConfig | None
    diagnostics: list[Diagnostic]


def load_tree(config_dir: Path, *, keep_origins: bool = True) -> LoadResult:
    """Read and validate every project file under ``config_dir``.

    Never raises for bad content: every problem becomes a diagnostic. A missing or unreadable
    ``config_dir`` raises ``ConfigError``. ``keep_origins=False``: see ``load_found``.
    """
    with collector_paused():
        return _load_found(find_project_files(config_dir), keep_origins=keep_origins)


@contextmanager
def collector_paused(*, freeze: bool = False) -> Iterator[None]:
    """The cyclic garbage collector off while a tree is loaded.

    Loading allocates many small, acyclic, long-lived objects (values, positions, models); with
    the collector on, its full collections rescan all of them again and again, which makes a
    large tree markedly slower to load (``benchmarks/bench_scale.py`` measures ``validate``).

    ``freeze=True``, for a command's one run: what is alive at the end is moved out of the
    collector's sight for the rest of the process (``gc.freeze``), instead of being rescanned
    by the full collection that so many new objects trigger as soon as the collector is back
    on (a long pause holding the GIL, while the readers wait for it). Objects are still freed
    as usual when no longer referenced.
    """
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if freeze:
            gc.freeze()
        if gc_was_enabled:
            gc.enable()


def _load_found(found: FoundTree, *, keep_origins: bool) -> LoadResult:
    result = LoadResult(diagnostics=found.diagnostics, files=len(found.files))
    diagnostics = result.diagnostics
    for file, loaded in load_found(found, keep_origins=keep_origins):
        diagnostics.extend(loaded.diagnostics)
        if loaded.config is not None and file.well_named:
            result.projects.append(loaded.config)
    result.projects.sort(key=lambda p: (p.organization, p.project))
    diagnostics.sort(key=diagnostic_order)
    return result


def load_found(
    found: FoundTree, *, keep_origins: bool = True
) -> Iterator[tuple[FoundFile, FileResult]]:
    """Each readable file of a found tree with what it holds, one at a time, in tree order.

    A caller that only needs the values (``plan``, ``apply``) passes ``keep_origins=False``: the
    positions of a file's values are then dropped once the file has validated, which is most of
    what a loaded file costs in memory. The tree's own diagnostics stay in ``found``.
    """
    orgs: dict[str, OrgContext | None] = {}
    for file in found.files:
        if not file.readable:
            continue
        if file.organization not in orgs:
            org_file = found.org_files.get(file.organization)
            orgs[file.organization] = None
            if org_file is not None:
                orgs[file.organization], org_result = _load_org_found(org_file)
                yield org_file, org_result
        yield (
            file,
            load_file(
                Path(file.path),
                file.shown,
                file.organization,
                file.project,
                keep_origins=keep_origins,
                org=orgs[file.organization],
            ),
        )
    for organization, org_file in found.org_files.items():
        if organization not in orgs:  # an organization with no project file: still checked
            yield org_file, _load_org_found(org_file)[1]


def _load_org_found(org_file: FoundFile) -> tuple[OrgContext | None, FileResult]:
    if not org_file.readable:
        return None, FileResult(None, [])
    context, diagnostics = load_org_file(Path(org_file.path), org_file.shown)
    return context, FileResult(None, diagnostics)


def load_org_file(path: Path, shown: str) -> tuple[OrgContext | None, list[Diagnostic]]:
    """Read and check an organization's ``_org.yaml``: what its project files may take from it,
    and its diagnostics. None when it cannot be read at all."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        return None, [diagnostic(shown, 1, 1, f"cannot read file: {exc.strerror}")]
    if len(data) > MAX_FILE_BYTES:
        return None, [_too_large(shown)]
    text = _decoded(data, shown)
    if isinstance(text, Diagnostic):
        return None, [text]
    try:
        composed = yamlread.compose_document(text)
    except yamlread.YamlError as exc:
        return None, [diagnostic(shown, *exc.problem)]
    root = composed.root
    if root is None or yamlread.is_empty(root):
        return OrgContext(shown), []
    if not yamlread.is_mapping(root):
        mark = root.start_mark
        message = "`_org.yaml` must be a mapping with `sources:` and `defaults:` at the top"
        return None, [diagnostic(shown, mark.line + 1, mark.column + 1, message)]
    document = yamlread.read_values(root, len(text), composed)
    diagnostics = [diagnostic(shown, *problem) for problem in document.problems]
    if document.refused:
        return None, diagnostics
    return _checked_org(document, text, shown, root, diagnostics), diagnostics


def _checked_org(
    document: Document, text: str, shown: str, root: Node, diagnostics: list[Diagnostic]
) -> OrgContext:
    from reconciler.config.org_file import OrgFile, check_builtin_list

    diagnostics.extend(rejected_diagnostics(document, shown))
    definitions = sources_of(document.values)
    for index, entry in enumerate(definitions):
        if isinstance(entry, dict) and entry.get("state") == "absent":
            document.invalid.add(("sources", index))
            diagnostics.append(
                position_diagnostic(
                    shown,
                    position_of(("sources", index, "state"), document),
                    f"{source_label(document.values, index)}: a shared definition must not "
                    "carry `state: absent`: to delete a source in a project, write "
                    "`- {id: ID, state: absent}` in that project's file",
                )
            )
    _check_duplicate_ids(document, shown, diagnostics)
    _check_regions(document, shown, diagnostics)
    if "\\" in text:
        _check_nul_characters(document.values, (), document, shown, diagnostics)
    check_builtin_list(
        document, ("defaults", "builtin"), "`defaults.builtin`", shown, diagnostics, position_of
    )
    broken = {i for i, _ in enumerate(definitions) if ("sources", i) in document.invalid}
    try:
        OrgFile.model_validate(document.values)
    except ValidationError as exc:
        diagnostics.extend(validation_diagnostics(exc, document, shown, root))
        broken |= {
            err["loc"][1]
            for err in exc.errors()
            if len(err["loc"]) > 1 and err["loc"][0] == "sources" and isinstance(err["loc"][1], int)
        }
    context = _org_context(document, shown, broken, diagnostics)
    diagnostics.sort(key=diagnostic_order)
    return context


def _org_defaults(defaults: Any) -> Any:
    """The organization's defaults, validated on their own; None when they do not validate."""
    from reconciler.config.org_file import OrgDefaults

    if defaults is None:
        return OrgDefaults()
    try:
        return OrgDefaults.model_validate(defaults)
    except ValidationError:
        return None


def _org_context(
    document: Document,
    shown: str,
    broken: set[int],
    diagnostics: list[Diagnostic],
) -> OrgContext:
    from reconciler.config.org_file import suggestion

    context = OrgContext(shown)
    for index, entry in enumerate(sources_of(document.values)):
        source_id = entry.get("id") if isinstance(entry, dict) else None
        if not isinstance(source_id, str):
            continue
        if index in broken or source_id in context.definitions:
            context.broken.add(source_id)
        else:
            context.definitions[source_id] = entry
    defaults = document.values.get("defaults") if isinstance(document.values, dict) else None
    wanted = defaults.get("sources") if isinstance(defaults, dict) else None
    known = sorted([*context.definitions, *context.broken])
    for index, source_id in enumerate(wanted if isinstance(wanted, list) else []):
        if isinstance(source_id, str) and source_id not in known:
            hint = suggestion(source_id, known)
            diagnostics.append(
                position_diagnostic(
                    shown,
                    position_of(("defaults", "sources", index), document),
                    f"`defaults.sources` names `{source_id}`, which is not defined under "
                    f"`sources:` of this file{hint}",
                )
            )
    defaults_model = _org_defaults(defaults)
    if defaults_model is None:
        # Defaults that do not validate (reported above): every project that would take them
        # is left unplanned, and the tree is refused anyway.
        context.broken |= set(context.definitions)
        context.definitions.clear()
    else:
        context.default_sources = tuple(dict.fromkeys(defaults_model.sources or ()))
        if defaults_model.builtin is not None:
            context.default_builtin = tuple(defaults_model.builtin)
    return context


def load_file(
    path: Path,
    shown: str,
    organization: str,
    project: str,
    *,
    keep_origins: bool = True,
    org: OrgContext | None = None,
) -> FileResult:
    """Read, parse and validate one project file. ``shown`` is the path used in messages."""
    try:
        with path.open("rb") as stream:
            if os.fstat(stream.fileno()).st_size > MAX_FILE_BYTES:
                return FileResult(None, [_too_large(shown)])
            data = stream.read()
    except OSError as exc:
        return FileResult(None, [diagnostic(shown, 1, 1, f"cannot read file: {exc.strerror}")])
    return load_bytes(data, shown, organization, project, path, keep_origins=keep_origins, org=org)


def _too_large(shown: str) -> Diagnostic:
    return diagnostic(
        shown,
        1,
        1,
        f"file is larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB, far more than any project "
        "file needs: check that this is the right file, and trim it",
    )


def load_bytes(
    data: bytes,
    shown: str,
    organization: str,
    project: str,
    path: Path | None = None,
    *,
    keep_origins: bool = True,
    org: OrgContext | None = None,
) -> FileResult:
    """Parse and validate the content of one project file. Never raises for bad content.

    With ``keep_origins=False`` the config carries no origins (see ``load_found``). ``org`` is
    what the organization's ``_org.yaml`` defines.
    """
    if len(data) > MAX_FILE_BYTES:
        return FileResult(None, [_too_large(shown)])
    text = _decoded(data, shown)
    if isinstance(text, Diagnostic):
        return FileResult(None, [text])
    composed = _composed_mapping(text, shown)
    if isinstance(composed, Diagnostic):
        return FileResult(None, [composed])
    root = composed.root
    assert root is not None

    # Positions are recorded only when asked for: to word a problem, or to keep origins.
    document = yamlread.read_values(root, len(text), composed, lazy_positions=not keep_origins)
    diagnostics = [diagnostic(shown, *problem) for problem in document.problems]
    if document.refused:
        return FileResult(None, diagnostics)
    values = document.values
    own_builtin = isinstance(values, dict) and "builtin" in values
    expansion = expand(values, org, shown)
    if expansion.values is not values:
        document = dataclasses.replace(document, values=expansion.values)
        document.invalid.update(expansion.invalid)
        for loc, message in expansion.problems:
            diagnostics.append(position_diagnostic(shown, position_of(loc, document), message))
    if own_builtin:
        check_builtin_list(document, ("builtin",), "`builtin`", shown, diagnostics, position_of)
    model = _validated(document, text, shown, root, diagnostics)
    if model is None or expansion.uses_broken:
        return FileResult(None, diagnostics)
    config = ProjectConfig(
        organization=organization,
        project=project,
        path=path if path is not None else Path(shown),
        file=model,
        origins=Origins(shown, document.positions) if keep_origins else {},
        warnings=tuple(d for d in diagnostics if d.severity == "warning"),
    )
    return FileResult(config, diagnostics)


def _decoded(data: bytes, shown: str) -> str | Diagnostic:
    """The file's text, or where it is not UTF-8."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        line_start = data.rfind(b"\n", 0, exc.start) + 1
        column = len(data[line_start : exc.start].decode("utf-8", "replace")) + 1
        return diagnostic(
            shown,
            line,
            column,
            f"file is not valid UTF-8 (byte 0x{data[exc.start]:02x}): save it as UTF-8",
        )


def _composed_mapping(text: str, shown: str) -> yamlread.Composed | Diagnostic:
    """The composed document, or why it is not one mapping (bad YAML, empty, something else)."""
    try:
        composed = yamlread.compose_document(text)
    except yamlread.YamlError as exc:
        return diagnostic(shown, *exc.problem)
    root = composed.root
    if root is None or yamlread.is_empty(root):
        return diagnostic(
            shown,
            1,
            1,
            "file is empty: a project file needs at least `sources:` (write `sources: []` to "
            "manage no sources), or delete the file to leave the project unmanaged",
        )
    if not yamlread.is_mapping(root):
        mark = root.start_mark
        return diagnostic(
            shown,
            mark.line + 1,
            mark.column + 1,
            "a project file must be a mapping with `sources:` at the top, not "
            f"{yamlread.node_kind(root)}",
        )
    return composed


def _validated(
    document: Document, text: str, shown: str, root: Node, diagnostics: list[Diagnostic]
) -> ProjectFile | None:
    """The file's model, or None when it has an error; every problem found (the checks pydantic
    cannot place, then pydantic's) added to ``diagnostics``, sorted."""
    diagnostics.extend(rejected_diagnostics(document, shown))
    _check_duplicate_ids(document, shown, diagnostics)
    _check_regions(document, shown, diagnostics)
    if "\\" in text:  # a NUL can only come from an escape in a double-quoted string
        _check_nul_characters(document.values, (), document, shown, diagnostics)
    try:
        model = ProjectFile.model_validate(document.values)
    except ValidationError as exc:
        diagnostics.extend(validation_diagnostics(exc, document, shown, root))
        if not any(d.severity == "error" for d in diagnostics):  # pragma: no cover - defensive
            diagnostics.append(diagnostic(shown, 1, 1, "invalid project file"))
        diagnostics.sort(key=diagnostic_order)
        return None
    diagnostics.sort(key=diagnostic_order)
    if any(d.severity == "error" for d in diagnostics):
        return None
    return model


# --------------------------------------------------------------------------------------------
# Checks on plain values that pydantic cannot place


def _check_duplicate_ids(document: Document, path: str, diagnostics: list[Diagnostic]) -> None:
    first: dict[str, Loc] = {}
    for index, entry in enumerate(sources_of(document.values)):
        if not isinstance(entry, dict):
            continue
        source_id = entry.get("id")
        if not isinstance(source_id, str):
            continue
        loc: Loc = ("sources", index, "id")
        if source_id in first:
            earlier = yamlread.line_of(position_of(first[source_id], document))
            diagnostics.append(
                position_diagnostic(
                    path,
                    position_of(loc, document),
                    f"source id `{source_id}` is used twice (first at line {earlier}): "
                    "ids must be unique in a file; rename one of them",
                )
            )
        else:
            first[source_id] = loc


def _check_nul_characters(
    value: Any, loc: Loc, document: Document, path: str, diagnostics: list[Diagnostic]
) -> None:
    """Sentry's rewritten endpoint refuses NUL characters in every string (a Django REST
    framework ``CharField`` rule); YAML lets ``"\\0"`` write one."""
    if isinstance(value, str):
        if "\0" in value:
            diagnostics.append(
                position_diagnostic(
                    path,
                    position_of(loc, document),
                    f"{value_where(document.values, loc)} holds a NUL character (`\\0`), which "
                    "Sentry refuses: remove it",
                )
            )
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_nul_characters(item, (*loc, key), document, path, diagnostics)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _check_nul_characters(item, (*loc, index), document, path, diagnostics)


def _check_regions(document: Document, path: str, diagnostics: list[Diagnostic]) -> None:
    """A well-formed region code that is not a known AWS region is a warning, not an error."""
    values = document.values
    for index, entry in enumerate(sources_of(values)):
        if not isinstance(entry, dict) or entry.get("type") != "s3":
            continue
        region = entry.get("region")
        if (
            isinstance(region, str)
            and region not in spec.KNOWN_AWS_REGIONS
            and spec.AWS_REGION_RE.fullmatch(region)
        ):
            diagnostics.append(
                position_diagnostic(
                    path,
                    position_of(("sources", index, "region"), document),
                    f"{source_label(values, index)}: region `{region}` is not a known AWS "
                    "region; Sentry accepts it, but check the spelling",
                    "warning",
                )
            )
