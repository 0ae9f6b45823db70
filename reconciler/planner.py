"""Make a Plan from the desired-state tree and Sentry: the part ``plan`` and ``apply`` share.

Only projects that have a file are read. Each project is read with exactly one GET; a project
whose GET fails is kept in the plan with its ``error``, and the others are planned as usual;
except for an ``AccountWideError`` (a bad token, Sentry unreachable, a URL that is not Sentry's
API), which is about every project: it leaves ``make_plan`` and ends the run with one message,
while the client's breaker fails the reads still queued at once.
"""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Protocol

from reconciler.api_errors import AccountWideError
from reconciler.differ import diff_project
from reconciler.errors import ConfigError, SymsyncError
from reconciler.limits import DEFAULT_MAX_DELETES, with_verdict
from reconciler.model import ProjectConfig
from reconciler.plan import Plan, ProjectPlan


class SourceReader(Protocol):
    def list_sources(self, org: str, project: str) -> list[dict[str, Any]]: ...


def match_projects(keys: Sequence[str], patterns: Sequence[str], *, where: str) -> list[str]:
    """The keys (``org/project``) that match any pattern; a pattern matching none is an error.

    Patterns are shell-style globs of ``ORG/PROJECT``: the organization and the project are
    matched separately, so ``*`` never crosses the ``/`` (``acme*`` does not select
    ``acme/ios``; ``*/*`` selects everything), as a shell matching the config paths would.
    """
    if not patterns:
        return list(keys)
    selected: set[str] = set()
    for pattern in patterns:
        parts = pattern.split("/")
        if len(parts) != 2 or not all(parts):
            raise SymsyncError(
                f"--project {pattern!r} is not ORG/PROJECT; give it as in "
                "configs/<org>/<project>.yaml (globs like `acme/*` or `*/ios` work)"
            )
        hits = [k for k in keys if _glob_match(k, parts[0], parts[1])]
        if not hits:
            raise SymsyncError(
                f"--project {pattern!r} matches no project in {where}; "
                "give ORG/PROJECT as in configs/<org>/<project>.yaml (globs like `acme/*` work)"
            )
        selected.update(hits)
    return [k for k in keys if k in selected]


def _glob_match(key: str, org_pattern: str, project_pattern: str) -> bool:
    org, _, project = key.partition("/")
    return fnmatch.fnmatchcase(org, org_pattern) and fnmatch.fnmatchcase(project, project_pattern)


def display_path(path: Path) -> str:
    """A path relative to the current directory when it is below it."""
    try:
        return os.path.relpath(path) if path.is_absolute() else str(path)
    except ValueError:
        return str(path)


def load_desired(
    config_dir: Path, patterns: Sequence[str], *, echo: Callable[[str], None]
) -> list[ProjectConfig]:
    """Load and validate the tree; print its diagnostics; refuse to go on if any is an error."""
    from reconciler.loader import load_tree

    result = load_tree(config_dir)
    for diagnostic in result.diagnostics:
        echo(str(diagnostic))
    if result.errors:
        raise ConfigError(
            f"{len(result.errors)} error(s) in {display_path(config_dir)}; nothing was planned. "
            "Fix them (`symsync validate` lists them) and run again."
        )
    configs = sorted(result.projects, key=lambda c: (c.organization, c.project))
    keys = match_projects([c.key for c in configs], patterns, where=display_path(config_dir))
    wanted = set(keys)
    return [c for c in configs if c.key in wanted]


def stops_the_run(exc: SymsyncError) -> bool:
    """Whether a failure to read one project is about the whole account (the token, the URL,
    the connection), so that every other project would fail the same way."""
    from reconciler.client import SentryAPIError

    # The client's own verdict, where it gives one (its ``AccountWideError``).
    if any(kind.__name__ == "AccountWideError" for kind in type(exc).__mro__):
        return True
    if not isinstance(exc, SentryAPIError):
        return False
    if exc.status == 401:
        return True
    # No answer at all: nothing listens there, the name does not resolve, TLS failed.
    return exc.status is None and str(exc).startswith("could not connect")


def plan_project(
    client: SourceReader,
    config: ProjectConfig,
    rotate: Mapping[str, Mapping[str, str]] | None = None,
) -> ProjectPlan:
    file = display_path(config.path)
    try:
        remote = client.list_sources(config.organization, config.project)
    except AccountWideError:
        raise  # not about this project: every other read fails the same way; one error stops
    except SymsyncError as exc:
        return ProjectPlan(
            organization=config.organization,
            project=config.project,
            file=file,
            error=f"could not read the remote sources: {exc}",
        )
    return diff_project(config, remote, file=file, rotate=rotate)


def make_plan(
    client: SourceReader,
    configs: Sequence[ProjectConfig],
    *,
    parallelism: int = 8,
    max_deletes: int = DEFAULT_MAX_DELETES,
    rotations: Mapping[str, Mapping[str, Mapping[str, str]]] | None = None,
) -> Plan:
    """One GET per project, projects in parallel; the result does not depend on timing.

    The plan carries the delete limits' verdict for a run allowed ``max_deletes``.
    ``rotations``: per project key, the secrets to send again (``reconciler.rotation``).
    """
    rotations = rotations or {}
    sentry_url = getattr(client, "base_url", None)  # recorded so a saved plan goes back there
    if not configs:
        return with_verdict(Plan(projects=(), sentry_url=sentry_url), max_deletes)
    with ThreadPoolExecutor(max_workers=max(1, min(parallelism, len(configs)))) as pool:
        projects = list(pool.map(lambda c: plan_project(client, c, rotations.get(c.key)), configs))
    return with_verdict(Plan(projects=tuple(projects), sentry_url=sentry_url), max_deletes)
