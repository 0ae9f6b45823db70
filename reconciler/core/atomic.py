"""Atomic file writes: a reader sees the old file or the whole new one, never a part.

The data (text, or bytes) goes to a temporary file beside the target (same folder, so the rename
stays on one file system), is flushed to disk, gets its mode, and is renamed over the target;
the folder is then flushed too, so that the rename itself survives a crash of the machine.
The temporary name starts with a dot, so the loader ignores one left behind by a crash.

- ``write_atomic(path, data)``: one file.
- ``stage(path, data)`` then ``os.replace(tmp, path)``: for a caller that writes several files
  and renames them only once all of them are staged (``symsync import``).
"""

from __future__ import annotations

import contextlib
import io
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO


def default_mode(path: Path) -> int:
    """The mode ``path`` has, or the one a new file would get under the current umask."""
    try:
        return path.stat().st_mode & 0o777
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


# Writes the text of a file to the stream it is given, for a text too large to build in memory.
Writer = Callable[[IO[str]], None]


def stage(path: Path, data: str | bytes | Writer, *, mode: int | None = None) -> Path:
    """``data`` (text as UTF-8, line ends as given) in a new temporary file beside ``path``,
    flushed to disk, with ``mode`` (default: the mode ``path`` has or would get). Returns the
    temporary file; the caller renames it over ``path`` or removes it. Raises ``OSError``,
    leaving nothing behind. ``data`` may also be a function that writes the text to the (UTF-8)
    stream it is given."""
    directory = path.parent if str(path.parent) else Path(".")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as handle:
            if isinstance(data, (str, bytes)):
                handle.write(data.encode("utf-8") if isinstance(data, str) else data)
            else:
                text = io.TextIOWrapper(handle, encoding="utf-8", newline="")
                data(text)
                text.flush()
                text.detach()
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, default_mode(path) if mode is None else mode)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return Path(tmp)


def write_atomic(path: Path, data: str | bytes | Writer, *, mode: int | None = None) -> None:
    """Replace ``path`` with ``data`` atomically. Raises ``OSError``, leaving nothing behind and
    ``path`` as it was."""
    tmp = stage(path, data, mode=mode)
    try:
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_folder(path.parent if str(path.parent) else Path("."))


def fsync_folder(folder: Path) -> None:
    """Flush a folder's entries (a rename into it) to disk; best effort where the file system
    cannot."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
