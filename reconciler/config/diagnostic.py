"""A problem found in the desired-state tree, at a position in a file: ``PATH:LINE:COLUMN``.

The small part of the loader's wording that finding the files needs (``reconciler.config.tree``),
kept apart from ``reconciler.config.wording`` (which turns pydantic's validation errors into
messages) so that listing a tree imports neither pydantic nor the models: ``plan`` starts its
reads from the files' names while the models load.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

Severity = Literal["error", "warning"]


@dataclass(frozen=True, slots=True)
class Origin:
    """Where a value was written: a path relative to the current directory, 1-based."""

    path: str
    line: int
    column: int

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.column}"


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


# Characters that would break the one-line-per-diagnostic output, or hide or reorder text on a
# terminal: control characters, line separators, invisible and bidirectional formatting marks
# (`sources\u200b:` looks exactly like `sources:`).
_CONTROL = re.compile(
    r"[\x00-\x1f\x7f-\x9f\xad\u061c\u180e\u200b-\u200f\u2028-\u202e\u2060-\u2064"
    r"\u2066-\u2069\ufeff]"
)


def _escape(match: re.Match[str]) -> str:
    return repr(match.group())[1:-1]


def printable(text: str) -> str:
    """Text as one printable line: bytes that are not UTF-8 (in file names) and control
    characters (in names and values echoed from a file, like ``"a\\nb"``) are shown escaped."""
    text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    return _CONTROL.sub(_escape, text)


def display_path(path: Path | str) -> str:
    """A path as every message shows it: relative to the current directory (``../configs/x.yaml``
    for a tree beside it), so that it reads the same whichever way it was given."""
    try:
        return os.path.relpath(path)
    except ValueError:  # another drive on Windows
        return os.fspath(path)


def diagnostic_order(d: Diagnostic) -> tuple[str, int, int]:
    """Sort key: by file, then line, then column."""
    return (d.origin.path, d.origin.line, d.origin.column)


def diagnostic(
    path: str, line: int, column: int, message: str, severity: Severity = "error"
) -> Diagnostic:
    """A diagnostic that prints as one line, whatever names and values it quotes."""
    return Diagnostic(Origin(printable(path), line, column), printable(message), severity)
