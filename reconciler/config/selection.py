"""Which projects a run takes: shell-style globs of ``ORG/PROJECT``, one segment at a time.

``--project``, ``--exclude``, ``--rotate`` and the comparison of a reviewed plan all select
projects the same way: the organization and the project are matched separately, so ``*`` never
crosses the ``/`` (``acme*`` does not select ``acme/ios``; ``*/*`` selects everything), as a
shell matching the config paths would.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable
from dataclasses import dataclass


def split_pattern(pattern: str, segments: int) -> list[str] | None:
    """The ``/``-separated segments of ``pattern``, or ``None`` unless there are exactly
    ``segments`` of them and none is empty."""
    parts = pattern.split("/")
    return parts if len(parts) == segments and all(parts) else None


@dataclass(frozen=True)
class ProjectPattern:
    """One ``ORG/PROJECT`` glob."""

    org: str
    project: str

    @classmethod
    def parse(cls, pattern: str) -> ProjectPattern | None:
        """The pattern, or ``None`` when it is not two non-empty segments."""
        parts = split_pattern(pattern, 2)
        return cls(parts[0], parts[1]) if parts is not None else None

    def matches(self, org: str, project: str) -> bool:
        return fnmatch.fnmatchcase(org, self.org) and fnmatch.fnmatchcase(project, self.project)

    def matches_key(self, key: str) -> bool:
        """Whether it selects the project ``ORG/PROJECT``."""
        org, _, project = key.partition("/")
        return self.matches(org, project)

    def may_match_in(self, org: str) -> bool:
        """Whether it could select some project of the organization ``org``."""
        return fnmatch.fnmatchcase(org, self.org)


def selects(patterns: Iterable[str], key: str) -> bool:
    """Whether any of the ``ORG/PROJECT`` patterns selects the project ``key``."""
    parsed = (ProjectPattern.parse(pattern) for pattern in patterns)
    return any(p is not None and p.matches_key(key) for p in parsed)
