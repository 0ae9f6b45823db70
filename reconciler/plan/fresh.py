"""A fresh plan of the tree: select its files, connect to Sentry, read and plan every project.

What ``plan`` and a fresh ``apply`` do before they part ways, in this order: the tree's files
are found and ``--project`` selects among them; with ``--base`` or ``--rotate`` the whole tree is
loaded first (what to send again is decided over all of it); then the client is made, and the
planner reads every selected project while the files load. A client that cannot be made (no
token, a bad URL) is reported after the tree's own errors, which the user must fix anyway.

Progress goes to a display the caller hands in, the tree's diagnostics to its ``echo``: nothing
here prints. The warnings of the files planned are not echoed: they are part of the plan, which
the caller shows (they are echoed only when the run fails before there is a plan to show).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Final, Protocol

from reconciler.core.errors import SymsyncError
from reconciler.plan.delete_limits import DEFAULT_MAX_DELETES

if TYPE_CHECKING:
    from reconciler.config.run_settings import RunSettings
    from reconciler.plan.model import Plan
    from reconciler.plan.planner import DesiredTree
    from reconciler.sentry.client import SentryClient
    from reconciler.sentry.settings import ConnectionSettings
    from reconciler.sentry.transport import TransportStats

# The desired-state tree a command reads when ``--config-dir`` names none.
DEFAULT_CONFIG_DIR: Final = Path("configs")


class Progress(Protocol):
    """Where a run shows how far it is (the command's display on stderr)."""

    def attach(self, stats: Callable[[], TransportStats]) -> None:
        """Where the request counters come from (the client's ``stats``)."""

    def phase(self, description: str, total: int) -> None:
        """Start counting ``total`` projects."""

    def advance(self, *_: object) -> None:
        """One more project done."""

    def stop(self) -> None:
        """Take the display down."""


def run_settings(config_dir: Path, exclude: Sequence[str] = ()) -> RunSettings:
    """The settings file of ``config_dir`` with ``--exclude`` added; its problems (and a bad
    pattern) are a ``ConfigError``."""
    from reconciler.config.run_settings import require_run_settings

    return require_run_settings(config_dir).with_command_line(tuple(exclude))


def connect(settings: ConnectionSettings, desired: DesiredTree | None = None) -> SentryClient:
    """The client. When it cannot be made (no token, a bad URL) and ``desired`` is given, the
    tree's own errors are reported first: they are what the user must fix anyway."""
    from reconciler.sentry.client import SentryClient

    try:
        return SentryClient.from_env(settings)
    except SymsyncError:
        if desired is not None:
            desired.check()
        raise


def plan_tree(
    config_dir: Path,
    patterns: Sequence[str],
    settings: ConnectionSettings,
    *,
    progress: Progress,
    echo: Callable[[str], None],
    base: str | None = None,
    rotate_patterns: Sequence[str] = (),
    max_deletes: int | None = None,
    report_unfiled: bool = False,
    exclude: Sequence[str] = (),
) -> tuple[Plan, SentryClient]:
    """Plan the projects of ``config_dir`` that ``patterns`` select, against Sentry.

    ``echo`` prints the tree's diagnostics. The settings file (``symsync.yaml``) is read first:
    its ``exclude`` and ``exclude`` here leave projects out entirely, and ``max_deletes`` here
    (``--max-deletes``) overrides its own. The plan carries the delete limits' verdict for a
    run allowed that many deletes; with ``report_unfiled``, also the Sentry projects that have
    sources and no file. The client comes back open, for apply to write with (the caller closes
    it); if anything fails, it is closed here, after the display is taken down.
    """
    from reconciler.plan.planner import DesiredTree, make_plan, with_rotations

    run = run_settings(config_dir, exclude)
    desired = DesiredTree(config_dir, patterns, echo=echo, exclude=run.exclude)
    try:
        configs, rotations = with_rotations(desired, base=base, rotate_patterns=rotate_patterns)
        client = connect(settings, desired)
    except BaseException:
        desired.release_warnings()  # no plan will show them
        raise
    progress.attach(lambda: client.stats)
    try:
        try:
            progress.phase("plan", len(desired))
            plan = make_plan(
                client,
                configs,
                parallelism=settings.parallelism,
                max_deletes=run.max_deletes_or(max_deletes, DEFAULT_MAX_DELETES),
                rotations=rotations,
                on_project=progress.advance,
                keys=desired.keys(),
            )
            if report_unfiled:
                plan = _with_unfiled(
                    plan, client, config_dir, patterns, settings.parallelism, run.exclude
                )
        finally:
            progress.stop()
    except BaseException:
        client.close()
        desired.release_warnings()  # no plan will show them
        raise
    return plan, client


def _with_unfiled(
    plan: Plan,
    client: SentryClient,
    config_dir: Path,
    patterns: Sequence[str],
    parallelism: int,
    exclude: Sequence[str],
) -> Plan:
    """``plan`` and the Sentry projects that have sources and no file (``--report-unfiled``)."""
    from reconciler.plan.unfiled import find_unfiled

    unfiled = find_unfiled(client, config_dir, patterns, parallelism=parallelism, exclude=exclude)
    return plan.model_copy(
        update={"unfiled": unfiled.projects, "unfiled_errors": unfiled.errors or {}}
    )
