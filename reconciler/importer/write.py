"""Write the rendered project files, all or nothing, and the JSON Schema file beside them.

Files are written only when every project was read, every file rendered and no existing file is
in the way (unless ``force``): :func:`refuse_conflicts` says which are. Then every file goes to a
temporary file beside it, and only when all were written are they renamed into place: a reader
never sees half a file, and a failure leaves nothing behind.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

from reconciler.config.diagnostic import display_path
from reconciler.config.project_file import project_file_json_schema
from reconciler.core.atomic import stage
from reconciler.core.errors import SymsyncError
from reconciler.importer.convert import SCHEMA_FILE, ImportedFile


class ImportConflictError(SymsyncError):
    """Files already exist where import would write."""


class FilesToWrite(Protocol):
    """What :func:`write_files` writes (``reconciler.importer.read.ImportResult`` is one)."""

    @property
    def files(self) -> Sequence[ImportedFile]: ...

    # The JSON Schema the files' first line points editors to, when it is not there yet.
    @property
    def schema_path(self) -> Path | None: ...

    @property
    def schema_text(self) -> str: ...


def target_path(config_dir: Path, org: str, project: str) -> Path:
    """``<dir>/<org>/<project>.yaml``, or the existing ``.yml`` file of that project."""
    yml = config_dir / org / f"{project}.yml"
    yaml_path = config_dir / org / f"{project}.yaml"
    if yml.exists() and not yaml_path.exists():
        return yml
    return yaml_path


def missing_schema(config_dir: Path) -> tuple[Path, str] | None:
    """Where the JSON Schema file goes and its text, when ``config_dir`` does not hold it yet."""
    schema_path = config_dir / SCHEMA_FILE
    if schema_path.exists():
        return None
    return schema_path, json.dumps(project_file_json_schema(), indent=2) + "\n"


def refuse_conflicts(files: Sequence[ImportedFile], *, force: bool) -> None:
    """Raise :class:`ImportConflictError` when a file exists where one of ``files`` would go,
    unless ``force``."""
    conflicts = [f.path for f in files if f.path.exists()]
    if conflicts and not force:
        listed = ", ".join(display_path(p) for p in conflicts)
        raise ImportConflictError(
            f"not overwriting existing project files: {listed}; move them away or pass --force "
            "(nothing was written)"
        )


def write_files(result: FilesToWrite) -> None:
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
            staged.append((_stage(path, text, made), path))
        for tmp, path in staged:
            _replace(tmp, path, replaced)
            replaced.append(path)
    finally:
        if len(replaced) < len(staged) or len(staged) < len(todo):
            for tmp, _ in staged:
                tmp.unlink(missing_ok=True)
            for folder in reversed(made):
                with contextlib.suppress(OSError):
                    folder.rmdir()  # only empty folders go; folders with files stay


def _stage(path: Path, text: str, made: list[Path]) -> Path:
    """Write ``text`` to a temporary file beside ``path`` (its folders made, and added to
    ``made``); the temporary file."""
    try:
        if path.is_dir():
            raise IsADirectoryError(errno.EISDIR, "it is a folder")
        made.extend(_make_folders(path.parent))
        return stage(path, text)
    except OSError as exc:
        raise SymsyncError(
            f"could not write {display_path(path)}: {exc.strerror or exc}; nothing was written"
        ) from None


def _replace(tmp: Path, path: Path, replaced: Sequence[Path]) -> None:
    """Rename the staged ``tmp`` over ``path``; ``replaced``: the files renamed before it."""
    try:
        os.replace(tmp, path)
    except OSError as exc:  # pragma: no cover - a rename beside a written file
        done = ", ".join(display_path(p) for p in replaced) or "none"
        raise SymsyncError(
            f"could not write {display_path(path)}: {exc.strerror or exc}; files written "
            f"before it: {done}"
        ) from None


def _make_folders(folder: Path) -> list[Path]:
    """Create ``folder`` and its missing parents; the ones created, outermost first."""
    missing: list[Path] = []
    current = folder
    while not current.exists():
        missing.append(current)
        current = current.parent
    folder.mkdir(parents=True, exist_ok=True)
    return list(reversed(missing))
