"""The run-wide settings file, ``symsync.yaml`` at the root of the config directory.

Settings that a reviewed change must be able to carry, read by ``plan``, ``apply``, ``import``
and ``validate``:

- ``max_deletes: N``: the most sources one run may delete in total (``--max-deletes`` on the
  command line overrides it; 10 when neither says).
- ``exclude: [ORG/PROJECT, ...]``: shell-style globs, matched as ``--project`` matches; an
  excluded project is never read, written, imported or reported. ``--exclude`` adds to them.

The name is reserved at the root only (``symsync.yaml`` or ``symsync.yml``); a file of that name
in an organization's folder is that organization's project ``symsync``. A missing file means
the defaults. Every problem is a diagnostic with its file, line and column.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from reconciler.config import yamlread
from reconciler.config.diagnostic import Diagnostic, diagnostic, display_path
from reconciler.config.selection import ProjectPattern
from reconciler.config.tree import SETTINGS_NAMES
from reconciler.core.errors import ConfigError

MAX_SETTINGS_BYTES: Final = 1024 * 1024
_KEYS: Final = "`max_deletes` and `exclude`"


class RunSettingsFile(BaseModel):
    """``configs/symsync.yaml``: settings for every run over the tree."""

    model_config = ConfigDict(extra="forbid", strict=True, title="symsync settings file")

    max_deletes: int | None = Field(
        default=None,
        ge=0,
        description=(
            "The most sources one run may delete in total (default 10); `--max-deletes` "
            "overrides it."
        ),
    )
    exclude: list[str] = Field(
        default_factory=list,
        description=(
            "ORG/PROJECT patterns (shell-style globs per segment, like `acme/*`): projects that "
            "are never read, written, imported or reported. `--exclude` adds to them."
        ),
    )


@dataclass(frozen=True)
class RunSettings:
    """The settings of one run: the file's, with the command line's on top."""

    max_deletes: int | None = None
    exclude: tuple[str, ...] = ()
    path: str | None = None  # the file they came from, for messages
    diagnostics: list[Diagnostic] = field(default_factory=list)

    def excludes(self, key: str) -> bool:
        """Whether the project ``ORG/PROJECT`` is excluded from the run."""
        parsed = (ProjectPattern.parse(p) for p in self.exclude)
        return any(p is not None and p.matches_key(key) for p in parsed)

    def with_command_line(self, exclude: tuple[str, ...]) -> RunSettings:
        """These settings with ``--exclude`` patterns added."""
        bad = [p for p in exclude if ProjectPattern.parse(p) is None]
        if bad:
            raise ConfigError(
                f"--exclude {bad[0]!r}: give ORG/PROJECT, like `acme/ios` or `acme/*`"
            )
        return RunSettings(self.max_deletes, (*self.exclude, *exclude), self.path, self.diagnostics)

    def max_deletes_or(self, given: int | None, default: int) -> int:
        """``--max-deletes`` when given, else the file's, else ``default``."""
        if given is not None:
            return given
        return self.max_deletes if self.max_deletes is not None else default


def settings_path(config_dir: Path) -> Path | None:
    """The settings file of ``config_dir``, when there is one."""
    for name in SETTINGS_NAMES:
        path = config_dir / name
        if os.path.lexists(path):
            return path
    return None


def read_run_settings(config_dir: Path) -> RunSettings:
    """The settings of ``config_dir`` (defaults without a file), with every problem of the
    file as a diagnostic: never raises for its content."""
    path = settings_path(config_dir)
    if path is None:
        return RunSettings()
    shown = display_path(path)
    try:
        data = path.read_bytes()[: MAX_SETTINGS_BYTES + 1]
    except OSError as exc:
        return RunSettings(path=shown, diagnostics=[_at(shown, 1, 1, exc.strerror or "unreadable")])
    if len(data) > MAX_SETTINGS_BYTES:
        return RunSettings(path=shown, diagnostics=[_at(shown, 1, 1, "file is too large")])
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return RunSettings(path=shown, diagnostics=[_at(shown, 1, 1, "file is not UTF-8")])
    return _parsed(text, shown)


def require_run_settings(config_dir: Path) -> RunSettings:
    """The settings of ``config_dir``; a ``ConfigError`` listing the file's problems when it has
    any (a run must not go on with settings it cannot read)."""
    settings = read_run_settings(config_dir)
    errors = [d for d in settings.diagnostics if d.severity == "error"]
    if errors:
        raise ConfigError("\n".join(str(d) for d in errors))
    return settings


def _at(shown: str, line: int, column: int, message: str) -> Diagnostic:
    return diagnostic(shown, line, column, message)


def _parsed(text: str, shown: str) -> RunSettings:
    try:
        composed = yamlread.compose_document(text)
    except yamlread.YamlError as exc:
        return RunSettings(path=shown, diagnostics=[diagnostic(shown, *exc.problem)])
    root = composed.root
    if root is None or yamlread.is_empty(root):
        return RunSettings(path=shown)
    if not yamlread.is_mapping(root):
        mark = root.start_mark
        message = f"the settings file must be a mapping of {_KEYS}"
        return RunSettings(
            path=shown, diagnostics=[_at(shown, mark.line + 1, mark.column + 1, message)]
        )
    document = yamlread.read_values(root, len(text), composed)
    diagnostics = [diagnostic(shown, *problem) for problem in document.problems]
    diagnostics += [
        _at_loc(shown, document, loc, f"`{'.'.join(map(str, loc))}` {message}")
        for loc, _, message in document.rejected
    ]
    if document.refused or diagnostics:
        return RunSettings(path=shown, diagnostics=diagnostics)
    try:
        model = RunSettingsFile.model_validate(document.values)
    except ValidationError as exc:
        found = [_worded(shown, document, error) for error in exc.errors()]
        return RunSettings(path=shown, diagnostics=found)
    for index, pattern in enumerate(model.exclude):
        if ProjectPattern.parse(pattern) is None:
            diagnostics.append(
                _at_loc(
                    shown,
                    document,
                    ("exclude", index),
                    f"`exclude` entry {pattern!r} is not ORG/PROJECT: give a pattern like "
                    "`acme/ios` or `acme/*`",
                )
            )
    if diagnostics:
        return RunSettings(path=shown, diagnostics=diagnostics)
    return RunSettings(model.max_deletes, tuple(model.exclude), shown)


def _at_loc(
    shown: str, document: yamlread.Document, loc: tuple[Any, ...], message: str
) -> Diagnostic:
    positions = document.positions
    while loc and loc not in positions:
        loc = loc[:-1]
    position = positions.get(loc, 0) if loc else positions.get((), 0)
    return _at(shown, yamlread.line_of(position), yamlread.column_of(position), message)


def _worded(shown: str, document: yamlread.Document, error: Any) -> Diagnostic:
    loc = tuple(error.get("loc", ()))
    kind = error.get("type", "")
    if kind == "extra_forbidden" and loc:
        key = str(loc[-1])
        position = document.key_positions.get(loc, document.positions.get(loc, 0))
        message = f"unknown key `{key}`: the settings file takes only {_KEYS}"
        return _at(shown, yamlread.line_of(position), yamlread.column_of(position), message)
    name = str(loc[0]) if loc else "the file"
    if name == "max_deletes":
        message = "`max_deletes` must be a whole number, 0 or more, like `max_deletes: 12`"
    elif name == "exclude" and len(loc) == 1:
        message = "`exclude` must be a list of ORG/PROJECT patterns, like `exclude: [acme/legacy]`"
    elif name == "exclude":
        message = "each `exclude` entry must be a string, an ORG/PROJECT pattern like `acme/*`"
    else:
        message = f"the settings file must be a mapping of {_KEYS}"
    return _at_loc(shown, document, loc, message)


def settings_json_schema() -> dict[str, Any]:
    """The JSON Schema of the settings file."""
    schema = RunSettingsFile.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return schema
