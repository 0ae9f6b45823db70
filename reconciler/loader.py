"""Read the desired-state tree and check it with Sentry's rules, offline.

``configs/<organization>/<project>.yaml`` -> ``ProjectConfig`` with the origin (file, line,
column) of every value, or diagnostics ``PATH:LINE:COLUMN: message`` for everything that is
wrong, in every file, in one run.

How a file is read, fast and with positions:

1. the bytes are decoded as UTF-8 (a bad byte is an error at its line and column);
2. PyYAML's C parser composes the document into nodes, which carry start marks; syntax errors,
   tabs and undefined aliases come back from it with a mark;
3. one walk over the nodes builds plain Python values and records the mark of every value and
   key, refusing duplicate keys, nulls, unknown tags, non-string keys and alias bombs (aliases
   are shared nodes in the composed graph, so the walk counts every node it visits against a
   budget instead of expanding without bound);
4. pydantic (``reconciler.model.ProjectFile``) validates the values; its error locations are
   mapped back to the recorded marks and turned into messages that name the field and the
   source id and say how to fix it.
"""

from __future__ import annotations

import difflib
import functools
import gc
import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import ValidationError
from pydantic_core import ErrorDetails
from yaml.constructor import SafeConstructor
from yaml.error import Mark
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from reconciler import spec
from reconciler.errors import ConfigError
from reconciler.model import (
    SOURCE_MODELS,
    UNMANAGED_POLICIES,
    Filters,
    Layout,
    Origin,
    ProjectConfig,
    ProjectFile,
)

__all__ = [
    "Diagnostic",
    "FileResult",
    "LoadResult",
    "Origins",
    "load_bytes",
    "load_file",
    "load_tree",
]

Severity = Literal["error", "warning"]
Loc = tuple[str | int, ...]

YAML_SUFFIXES = (".yaml", ".yml")
# Deepest nesting a project file needs is 5 (document, sources, source, filters, list).
MAX_DEPTH = 32
# How many values aliases may add beyond what the text itself holds.
ALIAS_ALLOWANCE = 100_000
# A source takes 100 to 500 bytes, so this leaves room for some 20,000 sources in one project.
# Parsing costs up to about 300 bytes of memory per byte of YAML: a much larger file would take
# many seconds and gigabytes for no real use, so it is refused before parsing.
MAX_FILE_BYTES = 8 * 1024 * 1024

_STR = "tag:yaml.org,2002:str"
_MAP = "tag:yaml.org,2002:map"
_SEQ = "tag:yaml.org,2002:seq"
_NULL = "tag:yaml.org,2002:null"
_MERGE = "tag:yaml.org,2002:merge"
_SAFE = SafeConstructor()
_SCALAR_CONSTRUCTORS: dict[str, Any] = {
    "tag:yaml.org,2002:bool": _SAFE.construct_yaml_bool,
    "tag:yaml.org,2002:int": _SAFE.construct_yaml_int,
    "tag:yaml.org,2002:float": _SAFE.construct_yaml_float,
    "tag:yaml.org,2002:timestamp": _SAFE.construct_yaml_timestamp,
    "tag:yaml.org,2002:binary": _SAFE.construct_yaml_binary,
}


class _Loader(yaml.CSafeLoader):
    """PyYAML's C parser and safe resolver, minus per-node Python work that never matters here.

    The C parser calls back into Python to resolve the tag of every scalar and to track paths for
    path resolvers. Without path resolvers (the safe loader has none), a plain scalar's tag
    depends on its text alone, so it is cached; this makes composing about 20% faster.
    """

    def descend_resolver(self, current_node: Any, current_index: Any) -> None:
        return None

    def ascend_resolver(self) -> None:
        return None

    def resolve(self, kind: type[Node], value: Any, implicit: Any) -> Any:
        if kind is ScalarNode and implicit[0]:
            return _plain_scalar_tag(value)
        return super().resolve(kind, value, implicit)  # type: ignore[no-untyped-call]


@functools.lru_cache(maxsize=4096)
def _plain_scalar_tag(value: str) -> str:
    tag = yaml.CSafeLoader.resolve(_RESOLVER, ScalarNode, value, (True, False))  # type: ignore[no-untyped-call]
    return str(tag)


_RESOLVER = yaml.CSafeLoader("")


@dataclass(frozen=True)
class Diagnostic:
    """One problem found in the tree, at a position in a file."""

    origin: Origin
    message: str
    severity: Severity = "error"

    def __str__(self) -> str:
        if self.severity == "warning":
            return f"{self.origin}: warning: {self.message}"
        return f"{self.origin}: {self.message}"


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


# --------------------------------------------------------------------------------------------
# The tree


def load_tree(config_dir: Path) -> LoadResult:
    """Read and validate every project file under ``config_dir``.

    Never raises for bad content: every problem becomes a diagnostic. A missing or unreadable
    ``config_dir`` raises ``ConfigError``.
    """
    shown = _display(config_dir)
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

    # The walk allocates many small, acyclic, long-lived objects (values, positions, models);
    # with the cyclic garbage collector on, its full collections rescan all of them again and
    # again, which made a 10,000-file tree about 1.5x slower (benchmarks/bench_validate.py).
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        return _load_entries(top, shown)
    finally:
        if gc_was_enabled:
            gc.enable()


def _load_entries(top: list[os.DirEntry[str]], shown: str) -> LoadResult:
    result = LoadResult()
    diagnostics = result.diagnostics
    for entry in top:
        name = entry.name
        if _ignored(name):
            continue
        org_shown = os.path.join(shown, name)
        if _is_dir(entry):
            org_ok = _check_slug(name, org_shown, "folder", "organization", diagnostics)
            _load_organization(entry.path, org_shown, name, org_ok, result)
        elif _yaml_suffix(name) is not None:
            diagnostics.append(
                _error(
                    org_shown,
                    1,
                    1,
                    "project file directly in the config directory: project files live at "
                    f"{shown}/<organization>/<project>.yaml; move it into its organization's "
                    "folder",
                )
            )
    result.projects.sort(key=lambda p: (p.organization, p.project))
    diagnostics.sort(key=_diagnostic_order)
    return result


def _load_organization(
    folder: str, shown: str, organization: str, org_ok: bool, result: LoadResult
) -> None:
    diagnostics = result.diagnostics
    try:
        entries = sorted(os.scandir(folder), key=lambda e: e.name)
    except OSError as exc:
        diagnostics.append(_error(shown, 1, 1, f"cannot read folder: {exc.strerror}"))
        return
    seen: dict[str, str] = {}
    for entry in entries:
        name = entry.name
        if _ignored(name):
            continue
        path_shown = os.path.join(shown, name)
        if _is_dir(entry):
            for deep in _yaml_files_below(entry.path, path_shown):
                diagnostics.append(
                    _error(
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
                _error(path_shown, 1, 1, "file extension must be `.yaml` or `.yml`, in lowercase")
            )
            file_ok = False
        if project in seen:
            diagnostics.append(
                _error(
                    path_shown,
                    1,
                    1,
                    f"project `{organization}/{project}` is also defined in {seen[project]}: "
                    "keep only one of the two files",
                )
            )
            file_ok = False
        seen.setdefault(project, path_shown)
        result.files += 1
        if not _is_file(entry):  # a FIFO would block the read; a dangling link has no content
            diagnostics.append(
                _error(path_shown, 1, 1, "not a regular file: make it a file, or remove it")
            )
            continue
        loaded = load_file(Path(entry.path), path_shown, organization, project)
        diagnostics.extend(loaded.diagnostics)
        if loaded.config is not None and org_ok and file_ok:
            result.projects.append(loaded.config)


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
        _error(
            shown,
            1,
            1,
            f"{what} name `{_printable(name)}` is not a valid {role} slug: use lowercase letters, "
            f"digits, `-` and `_`, starting with a letter or digit{hint}; names starting with "
            "`.` or `_` are ignored",
        )
    )
    return False


def _slugify(name: str) -> str:
    slug = re.sub(r"[^a-z0-9_-]+", "-", name.lower()).strip("-_")
    return slug if spec.SLUG_RE.fullmatch(slug) else ""


# Characters that would break the one-line-per-diagnostic output, or hide or reorder text on a
# terminal: control characters, line separators, invisible and bidirectional formatting marks
# (`sources\u200b:` looks exactly like `sources:`).
_CONTROL = re.compile(
    r"[\x00-\x1f\x7f-\x9f\xad\u061c\u180e\u200b-\u200f\u2028-\u202e\u2060-\u2064"
    r"\u2066-\u2069\ufeff]"
)


def _escape(match: re.Match[str]) -> str:
    return repr(match.group())[1:-1]


def _printable(text: str) -> str:
    """Text as one printable line: bytes that are not UTF-8 (in file names) and control
    characters (in names and values echoed from a file, like ``"a\\nb"``) are shown escaped."""
    text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    return _CONTROL.sub(_escape, text)


def _display(path: Path | str) -> str:
    try:
        return os.path.relpath(path)
    except ValueError:  # another drive on Windows
        return os.fspath(path)


def _diagnostic_order(d: Diagnostic) -> tuple[str, int, int]:
    return (d.origin.path, d.origin.line, d.origin.column)


def _error(
    path: str, line: int, column: int, message: str, severity: Severity = "error"
) -> Diagnostic:
    """A diagnostic that prints as one line, whatever names and values it quotes."""
    return Diagnostic(Origin(_printable(path), line, column), _printable(message), severity)


# --------------------------------------------------------------------------------------------
# One file


def load_file(path: Path, shown: str, organization: str, project: str) -> FileResult:
    """Read, parse and validate one project file. ``shown`` is the path used in messages."""
    try:
        with path.open("rb") as stream:
            if os.fstat(stream.fileno()).st_size > MAX_FILE_BYTES:
                return FileResult(None, [_too_large(shown)])
            data = stream.read()
    except OSError as exc:
        return FileResult(None, [_error(shown, 1, 1, f"cannot read file: {exc.strerror}")])
    return load_bytes(data, shown, organization, project, path)


def _too_large(shown: str) -> Diagnostic:
    return _error(
        shown,
        1,
        1,
        f"file is larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB, far more than any project "
        "file needs: check that this is the right file, and trim it",
    )


def load_bytes(
    data: bytes, shown: str, organization: str, project: str, path: Path | None = None
) -> FileResult:
    """Parse and validate the content of one project file. Never raises for bad content."""
    if len(data) > MAX_FILE_BYTES:
        return FileResult(None, [_too_large(shown)])
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        line_start = data.rfind(b"\n", 0, exc.start) + 1
        column = len(data[line_start : exc.start].decode("utf-8", "replace")) + 1
        return FileResult(
            None,
            [
                _error(
                    shown,
                    line,
                    column,
                    f"file is not valid UTF-8 (byte 0x{data[exc.start]:02x}): save it as UTF-8",
                )
            ],
        )

    try:
        root = yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as exc:
        return FileResult(None, [_yaml_error(exc, text, shown)])
    except yaml.YAMLError as exc:  # reader errors: control characters and the like
        return FileResult(None, [_reader_error(exc, text, shown)])

    if root is None or (root.__class__ is ScalarNode and root.tag == _NULL and not root.value):
        return FileResult(
            None,
            [
                _error(
                    shown,
                    1,
                    1,
                    "file is empty: a project file needs at least `sources:` (write "
                    "`sources: []` to manage no sources), or delete the file to leave the "
                    "project unmanaged",
                )
            ],
        )
    if root.__class__ is not MappingNode or root.tag != _MAP:
        mark = root.start_mark
        return FileResult(
            None,
            [
                _error(
                    shown,
                    mark.line + 1,
                    mark.column + 1,
                    f"a project file must be a mapping with `sources:` at the top, not "
                    f"{_node_kind(root)}",
                )
            ],
        )

    builder = _Builder(shown, len(text))
    try:
        values = builder.build(root, (), 0)
    except _Refused:
        return FileResult(None, builder.diagnostics)

    builder.report_pending(values)
    diagnostics = builder.diagnostics
    _check_duplicate_ids(values, builder, diagnostics)
    _check_regions(values, builder, diagnostics)
    if "\\" in text:  # a NUL can only come from an escape in a double-quoted string
        _check_nul_characters(values, (), values, builder, diagnostics)
    try:
        model = ProjectFile.model_validate(values)
    except ValidationError as exc:
        diagnostics.extend(_validation_diagnostics(exc, values, builder))
        if not any(d.severity == "error" for d in diagnostics):  # pragma: no cover - defensive
            diagnostics.append(_error(shown, 1, 1, "invalid project file"))
        diagnostics.sort(key=_diagnostic_order)
        return FileResult(None, diagnostics)
    diagnostics.sort(key=_diagnostic_order)
    if any(d.severity == "error" for d in diagnostics):
        return FileResult(None, diagnostics)
    config = ProjectConfig(
        organization=organization,
        project=project,
        path=path if path is not None else Path(shown),
        file=model,
        origins=Origins(shown, builder.positions),
    )
    return FileResult(config, diagnostics)


def _line(position: int) -> int:
    return (position >> 32) + 1


def _column(position: int) -> int:
    return (position & 0xFFFFFFFF) + 1


class Origins(Mapping[Loc, Origin]):
    """Origins of the values of one file, made on demand from packed positions."""

    __slots__ = ("_marks", "_path")

    def __init__(self, path: str, marks: dict[Loc, int]) -> None:
        self._path = path
        self._marks = marks

    def __getitem__(self, loc: Loc) -> Origin:
        position = self._marks[loc]
        return Origin(self._path, _line(position), _column(position))

    def __iter__(self) -> Iterator[Loc]:
        return iter(self._marks)

    def __len__(self) -> int:
        return len(self._marks)


def _yaml_error(exc: yaml.MarkedYAMLError, text: str, shown: str) -> Diagnostic:
    mark = exc.problem_mark or exc.context_mark
    line, column = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
    problem = exc.problem or "invalid YAML"
    at = _char_at(text, mark)
    if at == "\t" or "tab" in problem:
        message = "tab character: YAML does not allow tabs for indentation; indent with spaces"
    elif problem.startswith("but found another document"):
        message = (
            "a project file holds a single YAML document: remove the `---` separator and "
            "everything after it, or move it to its own file"
        )
    elif problem.startswith("found undefined alias"):
        message = (
            "alias refers to an anchor that is not defined above it: define `&name` before "
            "using `*name`"
        )
    elif exc.context and "duplicate anchor" in exc.context and exc.context_mark is not None:
        first = exc.context_mark
        message = (
            f"anchor defined twice (first at line {first.line + 1}, column {first.column + 1}): "
            "give each `&name` a different name"
        )
    elif problem.startswith("exceeded maximum nesting depth"):
        message = "YAML nested too deeply: a project file needs only a few levels"
    else:
        message = f"invalid YAML: {problem}"
        cm = exc.context_mark
        if exc.context and cm is not None:
            if (cm.line, cm.column) != (line - 1, column - 1):
                message += f" ({exc.context} at line {cm.line + 1}, column {cm.column + 1})"
            else:
                message += f" ({exc.context})"
    return _error(shown, line, column, message)


def _reader_error(exc: yaml.YAMLError, text: str, shown: str) -> Diagnostic:
    position = getattr(exc, "position", None)
    if isinstance(position, int) and 0 <= position <= len(text):
        line = text.count("\n", 0, position) + 1
        column = position - (text.rfind("\n", 0, position) + 1) + 1
    else:
        line, column = 1, 1
    character = getattr(exc, "character", None)
    code = f" (U+{character:04X})" if isinstance(character, int) else ""
    return _error(
        shown,
        line,
        column,
        f"character{code} not allowed in YAML: remove it (control characters are not allowed)",
    )


def _char_at(text: str, mark: Mark | None) -> str:
    if mark is None:
        return ""
    index = mark.index
    return text[index] if 0 <= index < len(text) else ""


def _node_kind(node: Node) -> str:
    if node.__class__ is SequenceNode:
        return "a list"
    if node.__class__ is MappingNode:
        return "a mapping"
    return {
        _STR: "a string",
        _NULL: "null",
        "tag:yaml.org,2002:bool": "a boolean",
        "tag:yaml.org,2002:int": "a number",
        "tag:yaml.org,2002:float": "a number",
    }.get(node.tag, "a value")


# --------------------------------------------------------------------------------------------
# Nodes -> values, with positions


class _Refused(Exception):
    """The file cannot be walked any further (alias bomb, nesting)."""


class _Invalid:
    """Stands for a value that was already reported; pydantic errors about it are dropped."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "<invalid>"


INVALID: Any = _Invalid()


class _Builder:
    """One walk over a composed document: plain values, marks of values and keys, errors."""

    __slots__ = (
        "budget",
        "diagnostics",
        "invalid",
        "key_positions",
        "path",
        "pending",
        "positions",
    )

    def __init__(self, path: str, text_length: int) -> None:
        self.path = path
        # Without aliases a document has fewer nodes than characters; aliases may add a bounded
        # number of values on top.
        self.budget = 2 * text_length + ALIAS_ALLOWANCE
        # Positions of every value and every mapping key, by location, each packed in one int
        # (0-based line << 32 | 0-based column): cheap to make and keep, and not tracked by the
        # garbage collector the way the parser's Mark objects are.
        self.positions: dict[Loc, int] = {}
        self.key_positions: dict[Loc, int] = {}
        self.diagnostics: list[Diagnostic] = []
        self.invalid: set[Loc] = set()
        self.pending: list[tuple[Loc, Mark, str]] = []

    def error(self, mark: Mark, message: str) -> None:
        self.diagnostics.append(_error(self.path, mark.line + 1, mark.column + 1, message))

    def reject(self, loc: Loc, mark: Mark, problem: str) -> Any:
        """Report a bad value once the whole document is known, and stand in for it."""
        self.pending.append((loc, mark, problem))
        self.invalid.add(loc)
        return INVALID

    def report_pending(self, values: Any) -> None:
        for loc, mark, problem in self.pending:
            self.error(mark, f"{_value_where(values, loc)} {problem}")

    def build(self, node: Node, loc: Loc, depth: int) -> Any:
        self.budget -= 1
        if self.budget < 0:
            self.error(
                node.start_mark,
                "YAML aliases expand this file beyond a sane size (an alias bomb?): refusing "
                "to expand it; use fewer or smaller aliases",
            )
            raise _Refused
        mark = node.start_mark
        self.positions[loc] = mark.line << 32 | mark.column
        cls = node.__class__
        if cls is ScalarNode:
            if node.tag == _STR:
                return node.value
            return self.scalar(node, loc)
        if depth >= MAX_DEPTH:
            self.error(
                node.start_mark,
                "nested too deeply (an alias that refers to itself?): a project file needs "
                "only a few levels",
            )
            raise _Refused
        if cls is MappingNode:
            if node.tag != _MAP:
                return self.reject(loc, node.start_mark, _tag_message(node.tag))
            return self.mapping(node, loc, depth + 1)
        if node.tag != _SEQ:
            return self.reject(loc, node.start_mark, _tag_message(node.tag))
        build = self.build
        return [build(item, (*loc, index), depth + 1) for index, item in enumerate(node.value)]

    def scalar(self, node: Node, loc: Loc) -> Any:
        tag = node.tag
        if tag == _NULL:
            if _under_secret(loc) and loc[3] != "env":
                # `password: {s3cr3t}` is a key with a null value: report the key (without
                # showing it), not the null.
                return INVALID
            if loc == ("sources",):
                return self.reject(
                    loc, node.start_mark, "must not be null: write `sources: []` to manage none"
                )
            return self.reject(
                loc,
                node.start_mark,
                "must not be null: give it a value, or remove "
                + ("the key" if loc and isinstance(loc[-1], str) else "the item"),
            )
        constructor = _SCALAR_CONSTRUCTORS.get(tag)
        if constructor is None:
            return self.reject(loc, node.start_mark, _tag_message(tag))
        try:
            return constructor(node)
        except Exception:  # PyYAML's constructors raise many kinds for text their tag rejects
            kind = tag.rsplit(":", 1)[-1]
            return self.reject(
                loc,
                node.start_mark,
                f"is not a valid {kind}: fix the value, or remove the `!!{kind}` tag",
            )

    def mapping(self, node: Node, loc: Loc, depth: int) -> Any:
        result: dict[str, Any] = {}
        merges: list[Node] | None = None
        positions = self.key_positions
        build = self.build
        for key_node, value_node in node.value:
            if key_node.__class__ is ScalarNode and key_node.tag == _STR:
                key = key_node.value
                key_loc = (*loc, key)
                if key in result:
                    first = _line(positions[key_loc])
                    shown = f" `{key}`" if _may_show_key(key_loc) else ""
                    self.error(
                        key_node.start_mark,
                        f"duplicate key{shown} (first at line {first}): YAML keys must be "
                        "unique; remove one of them",
                    )
                    continue
                mark = key_node.start_mark
                positions[key_loc] = mark.line << 32 | mark.column
                result[key] = build(value_node, key_loc, depth)
            elif key_node.tag == _MERGE:
                if merges is not None:
                    self.error(
                        key_node.start_mark,
                        "duplicate key `<<`: YAML keys must be unique; merge several mappings "
                        "with one key, like `<<: [*first, *second]`",
                    )
                    continue
                merges = [value_node]
            else:
                self.error(
                    key_node.start_mark,
                    f"keys must be strings, not {_node_kind(key_node)}: put the key in quotes",
                )
        if merges:
            self.merge(result, merges, loc, depth)
        return result

    def merge(self, result: dict[str, Any], merges: list[Node], loc: Loc, depth: int) -> None:
        """YAML merge keys (``<<: *defaults``): keys written here win over merged ones."""
        targets: list[Node] = []
        for value in merges:
            if value.__class__ is SequenceNode:
                targets.extend(value.value)
            else:
                targets.append(value)
        n = len(loc)
        for target in targets:
            if target.__class__ is not MappingNode:
                self.error(target.start_mark, "`<<` merges only mappings: give it `*anchor`")
                continue
            # A merge is a level of its own: a mapping that merges itself (`&a {<<: *a}`) or a
            # long chain of merges must end in an error, not in Python's recursion limit.
            self.budget -= 1
            if depth >= MAX_DEPTH or self.budget < 0:
                self.error(
                    target.start_mark,
                    "`<<` merges nested too deeply (a mapping that merges itself?): a project "
                    "file needs only a few levels",
                )
                raise _Refused
            saved = self.positions, self.key_positions
            self.positions, self.key_positions = {}, {}
            try:
                merged = self.mapping(target, loc, depth + 1)
                positions, key_positions = self.positions, self.key_positions
            finally:
                self.positions, self.key_positions = saved
            added = {key for key in merged if key not in result}
            for key in added:
                result[key] = merged[key]
            for marks, into in ((positions, self.positions), (key_positions, self.key_positions)):
                for sub_loc, mark in marks.items():
                    if len(sub_loc) > n and sub_loc[n] in added:
                        into[sub_loc] = mark


def _under_secret(loc: Loc) -> bool:
    """True for a location inside a secret field's value: ("sources", 0, "password", ...)."""
    return len(loc) >= 4 and loc[0] == "sources" and loc[2] in spec.ALL_SECRET_FIELDS


def _may_show_key(loc: Loc) -> bool:
    """False for keys written under a secret field, where a pasted secret may end up."""
    return not (
        len(loc) >= 4 and loc[0] == "sources" and loc[2] in spec.ALL_SECRET_FIELDS
    ) and not (len(loc) >= 2 and loc[-2] in spec.ALL_SECRET_FIELDS)


def _tag_message(tag: str) -> str:
    shown = "!!" + tag[18:] if tag.startswith("tag:yaml.org,2002:") else tag
    return f"has an unsupported YAML tag `{shown}`: remove the tag"


# --------------------------------------------------------------------------------------------
# Checks on plain values that pydantic cannot place


def _sources(values: Any) -> list[Any]:
    sources = values.get("sources") if isinstance(values, dict) else None
    return sources if isinstance(sources, list) else []


def _check_duplicate_ids(values: Any, builder: _Builder, diagnostics: list[Diagnostic]) -> None:
    first: dict[str, Loc] = {}
    for index, entry in enumerate(_sources(values)):
        if not isinstance(entry, dict):
            continue
        source_id = entry.get("id")
        if not isinstance(source_id, str):
            continue
        loc: Loc = ("sources", index, "id")
        if source_id in first:
            earlier = _line(builder.positions[first[source_id]])
            position = builder.positions[loc]
            diagnostics.append(
                _error(
                    builder.path,
                    _line(position),
                    _column(position),
                    f"source id `{source_id}` is used twice (first at line {earlier}): "
                    "ids must be unique in a file; rename one of them",
                )
            )
        else:
            first[source_id] = loc


def _check_nul_characters(
    value: Any, loc: Loc, values: Any, builder: _Builder, diagnostics: list[Diagnostic]
) -> None:
    """Sentry's rewritten endpoint refuses NUL characters in every string (a Django REST
    framework ``CharField`` rule); YAML lets ``"\\0"`` write one."""
    if isinstance(value, str):
        if "\0" in value:
            position = _mark_for(loc, builder)
            diagnostics.append(
                _error(
                    builder.path,
                    _line(position),
                    _column(position),
                    f"{_value_where(values, loc)} holds a NUL character (`\\0`), which Sentry "
                    "refuses: remove it",
                )
            )
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_nul_characters(item, (*loc, key), values, builder, diagnostics)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _check_nul_characters(item, (*loc, index), values, builder, diagnostics)


def _check_regions(values: Any, builder: _Builder, diagnostics: list[Diagnostic]) -> None:
    for index, entry in enumerate(_sources(values)):
        if not isinstance(entry, dict) or entry.get("type") != "s3":
            continue
        region = entry.get("region")
        if (
            isinstance(region, str)
            and region not in spec.KNOWN_AWS_REGIONS
            and spec.AWS_REGION_RE.fullmatch(region)
        ):
            position = builder.positions[("sources", index, "region")]
            diagnostics.append(
                _error(
                    builder.path,
                    _line(position),
                    _column(position),
                    f"{_source_label(values, index)}: region `{region}` is not a known AWS "
                    "region; Sentry accepts it, but check the spelling",
                    "warning",
                )
            )


# --------------------------------------------------------------------------------------------
# pydantic errors -> diagnostics

_SOURCE_TAGS = frozenset(SOURCE_MODELS)
_ARTICLE = {"http": "an", "s3": "an", "gcs": "a"}
_MISSING_HINTS: dict[str, str] = {
    "id": "give it an id that is unique in this file, like `id: acme-symbols`",
    "layout": "add `layout: {type: native}` (or the layout the store uses)",
    "url": "add `url: https://...`, the address of the symbol server",
    "bucket": "add `bucket: <bucket name>`",
    "region": "add `region: <AWS region>`, like `region: us-east-1`",
    "access_key": "add `access_key: <AWS access key id>`",
    "secret_key": "add `secret_key: {env: NAME}`, naming the variable that holds it",
    "client_email": "add `client_email: <service account e-mail>`",
    "private_key": "add `private_key: {env: NAME}`, naming the variable that holds it",
}
# `sources` first: every file has it.
_TOP_LEVEL_KEYS = ("sources", *(key for key in ProjectFile.model_fields if key != "sources"))
_CHOICES: dict[str, tuple[str, ...]] = {
    "unmanaged": UNMANAGED_POLICIES,
    "state": ("present", "absent"),
    "type": spec.SOURCE_TYPES,
    "casing": spec.CASINGS,
    "filetypes": spec.FILETYPES,
}


def _validation_diagnostics(
    exc: ValidationError, values: dict[str, Any], builder: _Builder
) -> list[Diagnostic]:
    out: list[Diagnostic] = []
    seen: set[tuple[int, str]] = set()
    invalid = builder.invalid
    errors = [
        (*_strip_tag(err["loc"]), err)
        for err in exc.errors(include_url=False, include_context=True, include_input=True)
    ]
    # `urll: ...` gives "unknown key `urll`; did you mean `url`?": no need to also say that
    # `url` is missing.
    misspelled = {
        (*loc[:-1], close)
        for loc, tag, err in errors
        if err["type"] == "extra_forbidden"
        and (close := _misspelled(str(loc[-1]), loc[:-1], tag)) is not None
    }
    # A secret mapping with keys other than `env` (Sentry's `{hidden-secret: true}`, a pasted
    # value) gets one message about those keys, not also one about the missing `env`.
    odd_secrets = {
        (*loc[:-1], "env")
        for loc, _, err in errors
        if err["type"] == "extra_forbidden" and len(loc) == 4 and _under_secret(loc)
    }
    for loc, tag, err in errors:
        kind = err["type"]
        if kind == "duplicate_id":
            continue  # reported with its position by _check_duplicate_ids
        if kind == "missing" and (loc in misspelled or loc in odd_secrets):
            continue
        if any(loc[: len(bad)] == bad for bad in invalid):
            continue
        if kind == "source_type" and (*loc, "type") in invalid:
            continue
        position, message = _describe(err, loc, tag, values, builder)
        if (position, message) in seen:
            continue
        seen.add((position, message))
        out.append(_error(builder.path, _line(position), _column(position), message))
    return out


def _strip_tag(loc: tuple[str | int, ...]) -> tuple[Loc, str | None]:
    """Remove the union tag pydantic puts in locations: ('sources', 0, 'http', 'url')."""
    if (
        len(loc) >= 3
        and loc[0] == "sources"
        and isinstance(loc[1], int)
        and isinstance(loc[2], str)
        and loc[2] in _SOURCE_TAGS
    ):
        return (*loc[:2], *loc[3:]), loc[2]
    return tuple(loc), None


def _mark_for(loc: Loc, builder: _Builder) -> int:
    positions = builder.positions
    while loc not in positions and loc:
        loc = loc[:-1]
    return positions[loc]


def _describe(
    err: ErrorDetails, loc: Loc, tag: str | None, values: dict[str, Any], builder: _Builder
) -> tuple[int, str]:
    kind = err["type"]
    value = err.get("input")
    in_source = len(loc) >= 2 and loc[0] == "sources" and isinstance(loc[1], int)
    prefix = f"{_source_label(values, loc[1])}: " if in_source else ""
    rel = loc[2:] if in_source else loc
    name = _field_name(rel)

    if kind == "missing":
        container = loc[:-1]
        missing = str(loc[-1])
        mark = _mark_for(container, builder)
        if not in_source:
            return mark, (
                f"`{missing}` is required: list the project's sources under `sources:`, or "
                "write `sources: []` to manage none"
            )
        if len(rel) == 1 and tag in _ARTICLE:
            hint = _MISSING_HINTS.get(missing, f"add `{missing}`")
            return mark, f"{prefix}`{missing}` is required for {_ARTICLE[tag]} {tag} source: {hint}"
        if len(rel) == 1:
            return mark, f"{prefix}`{missing}` is required: say which source to delete"
        if rel[:1] == ("layout",):
            return mark, (
                f"{prefix}`{name}` is required: one of {_choices(spec.LAYOUT_TYPES)}, like "
                "`layout: {type: native}`"
            )
        if rel and str(rel[0]) in spec.ALL_SECRET_FIELDS:
            return mark, f"{prefix}`{name}` is required: write `{rel[0]}: {{env: NAME}}`"
        return mark, f"{prefix}`{name}` is required"

    if kind == "extra_forbidden":
        key_position = builder.key_positions.get(loc)
        mark = key_position if key_position is not None else _mark_for(loc, builder)
        return mark, prefix + _unknown_key_message(str(loc[-1]), loc[:-1], tag, in_source)

    if kind == "source_type":
        entry = value if isinstance(value, dict) else None
        if entry is None:
            return _mark_for(loc, builder), (
                f"{prefix}each entry of `sources` must be a mapping with `id` and `type`, not "
                f"{_value_kind(value)}"
            )
        state = entry.get("state", "present")
        if "type" not in entry and state is not INVALID and state not in ("present", "absent"):
            # `state: absnet` is more likely the mistake than a missing `type`.
            return _mark_for((*loc, "state"), builder), _choice_message(
                prefix, "state", state, ("present", "absent")
            )
        if "type" not in entry:
            return _mark_for(loc, builder), (
                f"{prefix}`type` is required: add `type: http`, `type: s3` or `type: gcs`, or "
                "`state: absent` to delete the source"
            )
        return _mark_for((*loc, "type"), builder), _choice_message(
            prefix, "type", entry["type"], spec.SOURCE_TYPES
        )

    mark = _mark_for(loc, builder)
    ctx = err.get("ctx") or {}
    if kind == "secret_literal":
        return mark, (
            f"{prefix}`{name}` must be a reference like `{{env: NAME}}`, not a literal: "
            "secrets never go into git; put the secret in an environment variable and name it"
        )
    if kind == "literal_error":
        last = next((str(p) for p in reversed(rel) if isinstance(p, str)), "")
        choices = _CHOICES.get(last)
        if last == "type" and rel[:1] == ("layout",):
            choices = spec.LAYOUT_TYPES
        if choices is None:
            choices = tuple(re.findall(r"'([^']*)'", str(ctx.get("expected", ""))))
        return mark, _choice_message(prefix, name, value, choices)
    if kind == "string_type":
        return mark, f"{prefix}`{name}` must be a string, not {_value_kind(value)}{_quote(value)}"
    if kind == "bool_type":
        if isinstance(value, str):
            # Suggest the YAML 1.2 spelling that editors (and JSON Schema) read as a boolean.
            meant = {"y": "true", "yes": "true", "on": "true", "true": "true"}.get(
                value.strip().lower()
            ) or {"n": "false", "no": "false", "off": "false", "false": "false"}.get(
                value.strip().lower()
            )
            hint = f"`{meant}`" if meant else "`true` or `false`"
            return mark, (
                f"{prefix}`{name}` must be `true` or `false`, not the string `{value}`: write "
                f"{hint} without quotes"
            )
        return mark, f"{prefix}`{name}` must be `true` or `false`, not {_value_kind(value)}"
    if kind == "list_type":
        example = {
            "sources": "a list of sources (write `sources: []` for none)",
            "filetypes": "a list, like `[pe, pdb]`",
            "path_patterns": 'a list, like `["*.dll"]`',
            "platforms": "a list, like `[ios, macos]`",
        }.get(str(rel[-1]) if rel else "", "a list")
        return mark, f"{prefix}`{name}` must be {example}, not {_value_kind(value)}"
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        example = {
            "layout": "a mapping, like `{type: native}`",
            "filters": "a mapping with `filetypes`, `path_patterns` or `requires_checksum`",
        }.get(str(rel[-1]) if rel else "", "a mapping")
        return mark, f"{prefix}`{name}` must be {example}, not {_value_kind(value)}"
    if kind == "string_pattern_mismatch":  # the only pattern is SecretRef.env
        return mark, (
            f"{prefix}`{name}` must name an environment variable (letters, digits and `_`, "
            "not starting with a digit), like `ACME_SYMBOLS_PASSWORD`"
        )
    if kind == "blank":
        return mark, f"{prefix}`{name}` must not be blank"
    if kind == "reserved_id":
        return mark, (
            f"source id `{value}` starts with `sentry`, which Sentry reserves for its own "
            "sources: choose another id"
        )
    if kind == "region":
        return mark, (
            f"{prefix}`region` `{value}` is not an AWS region code: use a code like `us-east-1`"
        )
    return mark, f"{prefix}`{name}`: {err['msg']}"


def _source_label(values: Any, index: str | int) -> str:
    sources = _sources(values)
    if isinstance(index, int) and 0 <= index < len(sources):
        entry = sources[index]
        source_id = entry.get("id") if isinstance(entry, dict) else None
        if isinstance(source_id, str) and source_id.strip():
            return f"source `{source_id}`"
    return f"source #{index + 1 if isinstance(index, int) else index}"


def _field_name(rel: Loc) -> str:
    out = ""
    for position, part in enumerate(rel):
        if position == 1 and rel[0] in spec.ALL_SECRET_FIELDS and part != "env":
            return f"{out}.<key>"  # whatever was written under a secret field stays unshown
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else part
    return out or "source"


def _value_where(values: Any, loc: Loc) -> str:
    """How a message names a value: "source `x`: `layout.casing`" or "`unmanaged`"."""
    if len(loc) >= 2 and loc[0] == "sources" and isinstance(loc[1], int):
        label = _source_label(values, loc[1])
        return f"{label}: `{_field_name(loc[2:])}`" if len(loc) > 2 else f"{label}:"
    return f"`{_field_name(loc)}`" if loc else "the document"


def _known_keys(container: Loc, tag: str | None) -> list[str] | None:
    """Keys a mapping at ``container`` may hold; None where a suggestion makes no sense."""
    if not container:
        return list(ProjectFile.model_fields)
    if len(container) == 2 and container[0] == "sources":
        return None if tag == "absent" else list(SOURCE_MODELS[tag or "http"].model_fields)
    part = container[-1]
    if part == "layout":
        return list(Layout.model_fields)
    if part == "filters":
        return list(Filters.model_fields)
    return None


def _misspelled(key: str, container: Loc, tag: str | None) -> str | None:
    """The known key that an unknown key is probably a typo of."""
    candidates = _known_keys(container, tag)
    close = difflib.get_close_matches(key, candidates or [], n=1, cutoff=0.6)
    return close[0] if close else None


def _unknown_key_message(key: str, container: Loc, tag: str | None, in_source: bool) -> str:
    candidates = _known_keys(container, tag) or []
    close = _misspelled(key, container, tag)
    suggestion = f"; did you mean `{close}`?" if close else ""
    if not container:
        return (
            f"unknown top-level key `{key}`: a project file holds only "
            f"{_choices(_TOP_LEVEL_KEYS, 'and')}{suggestion}"
        )
    if in_source and len(container) == 2:
        if tag == "absent":
            return (
                f"`{key}` does not belong in an `absent` entry: it carries only `id` and "
                "`state`; remove the key"
            )
        owners = [t for t in spec.SOURCE_TYPES if t != tag and key in SOURCE_MODELS[t].model_fields]
        if owners:
            return (
                f"`{key}` is not a field of {_ARTICLE.get(tag or '', 'a')} {tag} source (it "
                f"belongs to {' and '.join(owners)} sources): remove it, or change `type`"
            )
        return f"unknown key `{key}` in {_ARTICLE.get(tag or '', 'a')} {tag} source" + (
            suggestion or f"; known keys: {', '.join(candidates)}"
        )
    part = str(container[-1])
    if part in spec.ALL_SECRET_FIELDS:
        if key == spec.HIDDEN_SECRET_KEY:
            return (
                f"`{part}` holds Sentry's `{{{key}: true}}` placeholder, which stands for a "
                f"secret Sentry does not show: write `{part}: {{env: NAME}}`, naming the "
                "environment variable that holds the secret"
            )
        # The key is not shown: a secret pasted as `password: {s3cr3t}` becomes a key.
        return (
            f"`{part}` holds a key other than `env`: a secret reference holds only `env`, like "
            f"`{part}: {{env: NAME}}`"
        )
    return f"unknown key `{key}` in `{part}`" + (
        suggestion or f"; known keys: {', '.join(candidates)}"
    )


def _did_you_mean(word: str, candidates: list[str]) -> str:
    close = difflib.get_close_matches(word, candidates, n=1, cutoff=0.6)
    return f"; did you mean `{close[0]}`?" if close else ""


def _choices(choices: tuple[str, ...], last: str = "or") -> str:
    quoted = [f"`{c}`" for c in choices]
    if len(quoted) <= 2:
        return f" {last} ".join(quoted)
    return ", ".join(quoted[:-1]) + f" {last} {quoted[-1]}"


def _choice_message(prefix: str, name: str, value: Any, choices: tuple[str, ...]) -> str:
    shown = f"`{value}`" if isinstance(value, str) else _value_kind(value)
    message = f"{prefix}`{name}` must be {_choices(choices)}, not {shown}"
    if isinstance(value, str):
        message += _did_you_mean(value, list(choices)) or _did_you_mean(
            value.lower(), list(choices)
        )
    return message


def _value_kind(value: Any) -> str:
    if value is INVALID:
        return "an invalid value"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, datetime | date):
        return "a date"
    if isinstance(value, bytes):
        return "binary data"
    return "a value of another kind"


def _quote(value: Any) -> str:
    if isinstance(value, bool | int | float | date):
        return ": put it in quotes"
    return ""
