"""One apply from start to end: get its plan, check it, resolve its secrets, carry it out.

The command line hands in what it was asked (:class:`ApplyOptions`) and shows what happens;
the work between is here, in the order the command calls it:

1. :func:`prepare_apply` checks the options, reads the reviewed plan of ``--expect`` and
   ``SYMSYNC_SECRETS`` (a malformed one stops apply before anything is read), then reads the
   saved PLANFILE (``--project`` selects in it; a client is made only when it has changes, and
   only for the Sentry it was planned against) or makes a fresh plan of the tree. Either way
   the plan carries the verdict of this run's delete limits.
2. :meth:`PreparedApply.expect_refusal`: with ``--expect``, why the fresh plan may not be
   applied: a project it could not read (an error), or changes other than the reviewed ones.
3. :meth:`PreparedApply.resolve_secrets`: every variable of every project, before anyone is
   asked to confirm; a missing one stops the whole apply.
4. :meth:`PreparedApply.carry_out`: from here on a signal stops new writes (and retries)
   instead of ending the process; the applier writes and says what it wrote.

A :class:`PreparedApply` holds the client: leaving it (``with``) closes it, and a
``prepare_apply`` that fails closes the client it made.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

from reconciler.apply.applier import ApplyResult, ProjectResult, apply_plan
from reconciler.apply.secrets import (
    SecretResolver,
    check_plan_shows_no_secret,
    remember_values,
    resolve_plan,
)
from reconciler.config.diagnostic import display_path
from reconciler.config.selection import selects
from reconciler.core import interrupt
from reconciler.core.errors import EXIT_ERROR, EXIT_REFUSED, RefusedError, SymsyncError
from reconciler.plan.delete_limits import DEFAULT_MAX_DELETES, with_verdict
from reconciler.plan.expect import differences, limit_differences, unbound, unplanned, unreviewed
from reconciler.plan.fresh import DEFAULT_CONFIG_DIR, Progress, connect, plan_tree
from reconciler.plan.model import Plan
from reconciler.plan.planner import DesiredTree, match_projects
from reconciler.sentry.settings import ConnectionSettings

# The differences a refusal names, at most (the first ones, in project and source order).
MAX_SHOWN = 20

if TYPE_CHECKING:
    from reconciler.sentry.client import SentryClient
    from reconciler.sentry.errors import AccountWideError


@dataclass(frozen=True)
class ApplyOptions:
    """What apply was asked: a saved ``planfile``, or a fresh plan of ``config_dir`` (by default
    ``configs``) compared with the reviewed plan of ``expect`` when given."""

    planfile: Path | None = None
    expect: Path | None = None
    reviewed: tuple[Path, ...] = ()  # --reviewed: every change must be in one of these
    config_dir: Path | None = None
    patterns: tuple[str, ...] = ()
    excludes: tuple[str, ...] = ()
    max_deletes: int | None = None  # --max-deletes; else the settings file's, else the default
    base: str | None = None
    rotate_patterns: tuple[str, ...] = ()
    settings: ConnectionSettings = field(default_factory=ConnectionSettings)

    def check(self) -> None:
        """Refuse options that contradict each other."""
        if self.reviewed and (self.planfile is not None or self.expect is not None):
            raise SymsyncError(
                "--reviewed applies a fresh plan whose every change was reviewed; give it "
                "without PLANFILE and without --expect"
            )
        if self.planfile is None:
            return
        if self.expect is not None:
            raise SymsyncError(
                "give either PLANFILE (apply that saved plan) or --expect PLANFILE (apply a fresh "
                "plan if it equals the reviewed one), not both"
            )
        if self.base is not None or self.rotate_patterns:
            flag = "--base" if self.base is not None else "--rotate"
            raise SymsyncError(
                f"{flag} decides what a fresh plan sends; a saved plan already says it. "
                f"Give {flag} to `symsync plan --out`, or apply without PLANFILE"
            )


@dataclass(frozen=True)
class ExpectRefusal:
    """Why ``--expect`` lets nothing be written: the lines to show, and the exit code."""

    exit_code: int
    lines: tuple[str, ...]


def max_deletes_of(options: ApplyOptions) -> int:
    """The run's limit on deletes: ``--max-deletes``, else ``max_deletes`` of the settings file
    of the config directory, else the default."""
    if options.max_deletes is not None:
        return options.max_deletes
    from reconciler.config.run_settings import require_run_settings

    settings = require_run_settings(options.config_dir or DEFAULT_CONFIG_DIR)
    return settings.max_deletes_or(None, DEFAULT_MAX_DELETES)


def read_plan_file(path: Path) -> Plan:
    """A JSON plan that ``plan --out`` saved; a clear error when it cannot be read."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SymsyncError(
            f"{path}: no such plan file; make one with `symsync plan --out`"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise SymsyncError(f"{path}: cannot read the plan file: {reason}") from None
    return Plan.loads(text, where=display_path(path))


def check_same_sentry(plan: Plan, sentry_url: str, planfile: Path) -> None:
    """A saved plan describes one Sentry's state: refuse to carry it out against another."""
    if plan.sentry_url is not None and plan.sentry_url != sentry_url:
        raise RefusedError(
            f"{display_path(planfile)} was planned against {plan.sentry_url}, not {sentry_url}; "
            "nothing was written. Apply it with --url or SENTRY_URL set to where it was "
            "planned, or run `symsync plan` against this Sentry"
        )


def check_same_regions(plan: Plan, url_now: Callable[[str], str | None], planfile: Path) -> None:
    """A saved plan describes each organization as the URL that served it showed it (its
    region): refuse to carry it out when one is served elsewhere now. ``url_now`` tells where
    an organization is served now (``None``: it cannot be; its projects fail on their own)."""
    moved: list[str] = []
    planned = {(p.organization, p.sentry_url) for p in plan.projects if p.sentry_url is not None}
    for org, url in sorted(planned):
        now = url_now(org)
        if now is not None and now != url:
            moved.append(f"organization `{org}` was planned at {url} and is served by {now} now")
    if moved:
        raise RefusedError(
            f"{display_path(planfile)} was planned against another region: {'; '.join(moved)}; "
            "nothing was written. Run `symsync plan` again where it will be applied"
        )


def _where_now(client: SentryClient, *, look_up: bool) -> Callable[[str], str | None]:
    """Where the client serves an organization: looked up now when ``look_up`` (a saved plan,
    before any write), else as the fresh plan's reads found it."""
    name = "organization_url" if look_up else "served_by"
    tell = getattr(client, name, None)  # a stand-in client in tests may not tell
    if not callable(tell):
        return lambda _org: None

    def where(org: str) -> str | None:
        try:
            url = tell(org)
        except SymsyncError:
            # Sentry cannot be used (a refused token): the applier reports it, project by
            # project, as it does for any write it cannot send.
            return None
        return url if isinstance(url, str) else None

    return where


def _reviewed_keys(reviewed: Plan, fresh: Plan, patterns: Sequence[str]) -> list[str]:
    """The reviewed plan's projects to compare: all of them, or with --project the ones the
    patterns select (a project whose file is gone is still compared)."""
    keys = [p.key for p in reviewed.projects]
    if not patterns:
        return keys
    planned = {p.key for p in fresh.projects}
    return [k for k in keys if k in planned or selects(patterns, k)]


@contextlib.contextmanager
def _closed_on_failure(client: SentryClient | None) -> Iterator[None]:
    try:
        yield
    except BaseException:
        if client is not None:
            client.close()
        raise


def _saved_plan(
    options: ApplyOptions, planfile: Path, *, progress: Progress, echo: Callable[[str], None]
) -> tuple[Plan, SentryClient | None]:
    """The saved plan (what ``--project`` selects of it), with the client to carry it out: none
    when it has nothing to change. A plan with changes is checked against the files at hand
    first: each change must be what they give (see ``bind_to_files``)."""
    plan = read_plan_file(planfile)
    if options.patterns:
        keys = [p.key for p in plan.projects]
        plan = plan.select(match_projects(keys, options.patterns, where=display_path(planfile)))
    if not plan.has_changes:
        return with_verdict(plan, max_deletes_of(options)), None
    plan, client = bind_to_files(plan, options, planfile, progress=progress, echo=echo)
    # The verdict of this run's limits, with each project's limit as its file says (the
    # applier checks the same again before its first write).
    return with_verdict(plan, max_deletes_of(options)), client


def bind_to_files(
    plan: Plan,
    options: ApplyOptions,
    planfile: Path,
    *,
    progress: Progress,
    echo: Callable[[str], None],
) -> tuple[Plan, SentryClient]:
    """Plans the saved plan's projects afresh from the files at hand and refuses (exit 3,
    nothing written anywhere) a saved plan whose changes they do not give: edited by hand, or
    made from other files. Answers the plan carrying its files' delete limits, and the client.
    """
    config_dir = options.config_dir or DEFAULT_CONFIG_DIR
    probe = connect(options.settings)  # nothing is read from another Sentry
    try:
        check_same_sentry(plan, probe.base_url, planfile)
    finally:
        probe.close()
    tree = set(DesiredTree(config_dir, (), echo=lambda _line: None).keys())
    # Only the projects the saved plan changes are planned again: one it leaves alone is left
    # alone whatever its file says, and reading it would cost a request for nothing.
    keys = [p.key for p in plan.projects if p.has_changes and p.key in tree]
    missing = [p.key for p in plan.projects if p.key not in tree]
    if keys:
        fresh, client = plan_tree(config_dir, keys, options.settings, progress=progress, echo=echo)
    else:
        fresh, client = Plan(), connect(options.settings)
        progress.attach(lambda: client.stats)
    with _closed_on_failure(client):
        if client.stopped_by is not None:  # a bad token, Sentry unreachable: said once
            raise client.stopped_by.again()
        changing = plan.model_copy(update={"projects": [p for p in plan.projects if p.changes]})
        check_same_regions(changing, _where_now(client, look_up=True), planfile)
        broken = unplanned(fresh)
        if broken:
            raise SymsyncError(
                f"apply: {display_path(planfile)} cannot be checked against "
                f"{display_path(config_dir)}: the fresh plan could not read {len(broken)} "
                "project(s); nothing was written anywhere:\n"
                + "\n".join(f"  {line}" for line in broken)
            )
        lines = unbound(plan, fresh, missing)
        if lines:
            shown = lines[:MAX_SHOWN]
            more = len(lines) - len(shown)
            raise RefusedError(
                f"{display_path(planfile)} makes changes the files in "
                f"{display_path(config_dir)} do not give (edited, or made from other files); "
                "nothing was written anywhere:\n"
                + "\n".join(f"  {line}" for line in shown)
                + (f"\n  ... and {more} more" if more else "")
                + "\nRun `symsync plan --out` again from these files and apply that plan."
            )
    limits = {p.key: p.max_deletes for p in fresh.projects}
    projects = tuple(
        p.model_copy(update={"max_deletes": limits.get(p.key, p.max_deletes)})
        for p in plan.projects
    )
    return plan.model_copy(update={"projects": projects}), client


def _fresh_plan(
    options: ApplyOptions,
    reviewed: Plan | None,
    *,
    progress: Progress,
    echo: Callable[[str], None],
) -> tuple[Plan, SentryClient, Plan | None]:
    """A fresh plan of the tree, the client that read it, and the reviewed plan of ``--expect``
    as the fresh one is compared with it: planned against the same Sentry, and only the projects
    ``--project`` selects."""
    plan, client = plan_tree(
        options.config_dir or DEFAULT_CONFIG_DIR,
        options.patterns,
        options.settings,
        progress=progress,
        echo=echo,
        base=options.base,
        rotate_patterns=options.rotate_patterns,
        max_deletes=options.max_deletes,
        exclude=options.excludes,
    )
    if reviewed is None or options.expect is None:
        return plan, client, None
    with _closed_on_failure(client):
        check_same_sentry(reviewed, client.base_url, options.expect)
        reviewed = reviewed.select(_reviewed_keys(reviewed, plan, options.patterns))
        check_same_regions(reviewed, _where_now(client, look_up=False), options.expect)
    return plan, client, reviewed


def prepare_apply(
    options: ApplyOptions, *, progress: Progress, echo: Callable[[str], None]
) -> PreparedApply:
    """The plan to apply, checked, and the client to write with.

    ``progress`` shows the planning of a fresh plan; ``echo`` prints the tree's diagnostics and
    notes, on stderr.
    """
    options.check()
    reviewed = read_plan_file(options.expect) if options.expect is not None else None
    reviewed_set = tuple(read_plan_file(path) for path in options.reviewed)
    # A malformed SYMSYNC_SECRETS stops apply here, before anything is read or written.
    secrets = SecretResolver()
    client: SentryClient | None
    if options.planfile is not None:
        plan, client = _saved_plan(options, options.planfile, progress=progress, echo=echo)
    else:
        plan, client, reviewed = _fresh_plan(options, reviewed, progress=progress, echo=echo)
    with _closed_on_failure(client):
        for path, one in zip(options.reviewed, reviewed_set, strict=True):
            if client is not None:
                check_same_sentry(one, client.base_url, path)
        remember_values(plan)
        check_plan_shows_no_secret(plan)
    prepared = PreparedApply(plan, client, options=options, reviewed=reviewed, secrets=secrets)
    prepared.reviewed_set = reviewed_set if options.reviewed else None
    return prepared


class PreparedApply:
    """A checked plan and the client to carry it out with (None when there is nothing to
    write); a context manager that closes the client."""

    def __init__(
        self,
        plan: Plan,
        client: SentryClient | None,
        *,
        options: ApplyOptions,
        reviewed: Plan | None,
        secrets: SecretResolver,
    ) -> None:
        self.plan = plan
        self.client = client
        self.options = options
        self.reviewed = reviewed  # what --expect compares with, as --project selects it
        self.reviewed_set: tuple[Plan, ...] | None = None  # what --reviewed checks against
        self._secrets = secrets

    @property
    def refused(self) -> bool:
        """Whether the delete limits refuse the whole run (nothing is then written)."""
        return self.plan.limits is not None and self.plan.limits.refused

    @property
    def needs_confirmation(self) -> bool:
        """Whether anything would be written, so someone must say yes first."""
        return self.plan.has_changes and not self.refused

    @property
    def stopped_by(self) -> AccountWideError | None:
        """The error about all of Sentry (a bad token, Sentry unreachable) that stopped the
        client's requests, if any."""
        return self.client.stopped_by if self.client is not None else None

    def expect_refusal(self) -> ExpectRefusal | None:
        """With ``--expect`` or ``--reviewed``, why the fresh plan may not be applied; None when
        it may."""
        if self.reviewed_set is not None:
            return self._reviewed_refusal(self.reviewed_set)
        if self.reviewed is None:
            return None
        expect = self.options.expect
        broken = unplanned(self.plan)
        if broken:
            # Not a difference: the changes of these projects are unknown, so the fresh plan
            # cannot be compared with the reviewed one. An API failure: exit 1.
            return ExpectRefusal(
                EXIT_ERROR,
                (
                    "error: apply --expect: the fresh plan could not read "
                    f"{len(broken)} project(s), so it cannot be compared with {expect}; "
                    "nothing was written anywhere:",
                    *(f"  {line}" for line in broken),
                    "Run apply --expect again once Sentry answers for them.",
                ),
            )
        differ = differences(self.reviewed, self.plan)
        differ += limit_differences(self.reviewed, self.plan)
        if not differ:
            return None
        return ExpectRefusal(
            EXIT_REFUSED,
            (
                f"apply --expect: the fresh plan differs from {expect}; "
                "nothing was written anywhere:",
                *(f"  {line}" for line in differ),
                "Review the fresh plan (`symsync plan`) and apply that one.",
            ),
        )

    def _reviewed_refusal(self, reviewed: tuple[Plan, ...]) -> ExpectRefusal | None:
        broken = unplanned(self.plan)
        if broken:
            return ExpectRefusal(
                EXIT_ERROR,
                (
                    f"error: apply --reviewed: the fresh plan could not read {len(broken)} "
                    "project(s), so its changes cannot be checked; nothing was written anywhere:",
                    *(f"  {line}" for line in broken),
                    "Run apply again once Sentry answers for them.",
                ),
            )
        missing = unreviewed(reviewed, self.plan)
        if not missing:
            return None
        return ExpectRefusal(
            EXIT_REFUSED,
            (
                f"apply --reviewed: {len(missing)} change(s) of the fresh plan are in none of the "
                f"{len(reviewed)} reviewed plan(s); nothing was written anywhere:",
                *(f"  {line}" for line in missing),
                "Review the fresh plan (`symsync plan`) and apply it on purpose, or change the "
                "files (or Sentry) until the plan shows only reviewed changes.",
            ),
        )

    def resolve_secrets(self) -> None:
        """Read every variable of every project now: a missing one stops it all here, before
        anyone is asked. A run the delete limits refuse sends nothing, so needs none."""
        if not self.refused:
            resolve_plan(self.plan, self._secrets)

    def carry_out(
        self,
        *,
        on_event: Callable[[str], None] | None = None,
        on_project: Callable[[ProjectResult], None] | None = None,
    ) -> ApplyResult:
        """Write the plan. ``on_event`` hears of each write, ``on_project`` of each project
        done (from the worker threads)."""
        # From here on a signal stops new writes (and retries) instead of ending the process.
        stop = interrupt.begin_writes()
        if self.client is not None:
            self.client.stop_retrying_on(stop)
        return apply_plan(
            self.plan,
            self.client,
            verify=self.options.planfile is not None,
            parallelism=self.options.settings.parallelism,
            on_event=on_event,
            on_project=on_project,
            max_deletes=max_deletes_of(self.options),
            stop=stop,
            signal=interrupt.received,
        )

    def close(self) -> None:
        if self.client is not None:
            self.client.close()

    def __enter__(self) -> PreparedApply:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
