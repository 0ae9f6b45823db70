"""Carry out a Plan: one write per change, nothing more.

- Writes to one project go one at a time, in the plan's order: Sentry rewrites the project's
  whole list on every write, with no locking. Projects run in parallel.
- A PUT carries the complete desired source with ``"id"`` equal to ``?id=``. A secret that is
  set remotely and should stay is sent as Sentry's placeholder ``{"hidden-secret": true}``; the
  real value (``reconciler.apply.secrets``: the environment, then ``SYMSYNC_SECRETS``) is sent
  only where the plan says it is needed (a new source, a newly added secret, a type change).
- Every variable of every project is read before the first write anywhere; when any is
  missing, apply raises naming all of them, and nothing is written to any project.
- With ``verify=True`` (a saved plan), each project is read once more and its fingerprint
  compared with the plan's; a project that moved is refused, with what moved.
- A project that fails or is refused does not stop the others.
- Delete limits (``reconciler.plan.delete_limits``) are checked first, over the whole plan, with
  this run's ``max_deletes``: a run over a limit is refused whole, before any write anywhere.
- A move (``order: enforce``) is a DELETE of the source, then at once a POST of the desired
  source, one source at a time: a run killed between the two leaves a managed source missing,
  which the next plan simply creates again.
- Interrupts (``stop``, set by :mod:`reconciler.core.interrupt` on SIGINT/SIGTERM): the stop
  event is checked before every write, so once it is set no new write starts; a write in flight
  is never cut off, and the client settles it. A project stopped part-way is ``interrupted``,
  one that had not written yet is ``not started``; each names the source ids written and not
  written, which are exactly what a later plan shows as remaining.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from rich.markup import escape
from rich.table import Table

from reconciler.apply.secrets import SecretResolver, resolve_plan
from reconciler.core import interrupt
from reconciler.core.errors import EXIT_ERROR, EXIT_OK, EXIT_REFUSED, SymsyncError
from reconciler.core.redact import redact_known
from reconciler.plan.delete_limits import DEFAULT_MAX_DELETES, check_deletes
from reconciler.plan.model import (
    BuiltinChange,
    Change,
    DeleteLimits,
    Plan,
    ProjectPlan,
    describe_drift,
    fingerprint,
    remote_digests,
)
from reconciler.sentry import spec
from reconciler.sentry.errors import AccountWideError
from reconciler.sentry.settings import DEFAULT_PARALLELISM

# A project stopped by an error that is not about it (a bad token, Sentry unreachable): the
# command states that error once, below the table, rather than in every row.
STOPPED = "stopped: Sentry could not be used (the error is below the table)"

Status = Literal["applied", "unchanged", "failed", "refused", "interrupted", "not started"]


class StopFlag(Protocol):
    """Set when the run must stop writing (a ``threading.Event``)."""

    def is_set(self) -> bool: ...


class SourcesAPI(Protocol):
    """The part of ``SentryClient`` that applying needs."""

    def list_sources(self, org: str, project: str) -> list[dict[str, Any]]: ...

    def create_source(self, org: str, project: str, body: dict[str, Any]) -> dict[str, Any]: ...

    def update_source(
        self, org: str, project: str, source_id: str, body: dict[str, Any]
    ) -> dict[str, Any]: ...

    def delete_source(self, org: str, project: str, source_id: str) -> None: ...

    def builtin_sources(self, org: str, project: str) -> list[str]: ...

    def set_builtin_sources(self, org: str, project: str, keys: list[str]) -> list[str]: ...


@dataclass(frozen=True)
class ProjectResult:
    organization: str
    project: str
    status: Status
    done: int = 0
    total: int = 0
    message: str = ""
    written: tuple[str, ...] = ()  # "create `id`" for every change made, in order
    not_written: tuple[str, ...] = ()  # likewise for every change not made (interrupted runs)

    @property
    def key(self) -> str:
        return f"{self.organization}/{self.project}"


@dataclass(frozen=True)
class ApplyResult:
    projects: tuple[ProjectResult, ...]
    signal: int | None = None  # the signal that stopped the run (SIGINT, SIGTERM), if any

    def count(self, status: Status) -> int:
        return sum(1 for p in self.projects if p.status == status)

    @property
    def exit_code(self) -> int:
        """128 + the signal when interrupted (130, 143), else 1 if any project failed, else 3
        if any was refused, else 0 (the exit codes of ``reconciler.core.errors``)."""
        if self.signal is not None:
            return 128 + self.signal
        if self.count("failed"):
            return EXIT_ERROR
        if self.count("refused"):
            return EXIT_REFUSED
        return EXIT_OK


def request_body(change: Change, secrets: Mapping[str, str]) -> dict[str, Any]:
    """The complete source to send: placeholders where kept, values where needed."""
    if change.source is None:
        raise SymsyncError(f"the plan has no source for {change.action} of `{change.source_id}`")
    body = copy.deepcopy(change.source)
    body["id"] = change.source_id
    for field in spec.ALL_SECRET_FIELDS:
        if field not in body:
            continue
        ref = body[field]
        if change.secrets.get(field, "send") == "keep":
            body[field] = spec.hidden_secret()
        else:
            body[field] = secrets[ref["env"]]
    return body


class Applier:
    def __init__(
        self,
        client: SourcesAPI | None,
        *,
        verify: bool,
        parallelism: int = DEFAULT_PARALLELISM,
        env: Mapping[str, str] | None = None,
        on_event: Callable[[str], None] | None = None,
        max_deletes: int = DEFAULT_MAX_DELETES,
        stop: StopFlag | None = None,
        on_project: Callable[[ProjectResult], None] | None = None,
    ) -> None:
        self._client = client
        self._on_project = on_project
        self.stop = stop
        self.verify = verify
        self.max_deletes = max_deletes
        self.parallelism = max(1, parallelism)
        # The environment to resolve `{env: NAME}` in (with its SYMSYNC_SECRETS); None: ours.
        self.env = env
        self._secrets: Mapping[str, str] = {}
        self._on_event = on_event
        self._lock = threading.Lock()

    @property
    def client(self) -> SourcesAPI:
        if self._client is None:
            raise SymsyncError("internal error: a write was needed but no client was given")
        return self._client

    def _event(self, message: str) -> None:
        if self._on_event is not None:
            with self._lock:
                self._on_event(message)

    def apply(self, plan: Plan, *, signal: Callable[[], int | None] | None = None) -> ApplyResult:
        """Every project of the plan; ``signal`` tells, at the end, which signal set ``stop``."""
        limits = check_deletes(plan, self.max_deletes)
        if limits.refused:
            return self._refuse_all(plan, limits)
        # Every value of every project first: a missing one raises, and nothing is written.
        self._secrets = resolve_plan(plan, SecretResolver(self.env))
        with ThreadPoolExecutor(
            max_workers=self.parallelism, initializer=interrupt.signals_to_main_thread
        ) as pool:
            results = list(pool.map(self._apply_project, plan.projects))
        stopped_by = signal() if signal is not None and self._stopping() else None
        return ApplyResult(projects=tuple(results), signal=stopped_by)

    def _stopping(self) -> bool:
        return self.stop is not None and self.stop.is_set()

    @staticmethod
    def _refuse_all(plan: Plan, limits: DeleteLimits) -> ApplyResult:
        """The whole run refused by a delete limit: every project untouched, each told why.

        A project over its own limit is told that one, and the run's total when that is over
        too (raising only its own limit would not let it through); any other project is told
        every reason."""
        reasons = limits.lines()
        run_wide = [r for b, r in zip(limits.breaches, reasons, strict=True) if b.project is None]
        results: list[ProjectResult] = []
        for project in plan.projects:
            total = project.writes
            if project.error is not None:
                results.append(
                    ProjectResult(
                        project.organization,
                        project.project,
                        "failed",
                        total=total,
                        message=f"not planned: {project.error}",
                    )
                )
                continue
            own = [
                r for b, r in zip(limits.breaches, reasons, strict=True) if b.project == project.key
            ]
            why = "; ".join([*run_wide, *own] if own else reasons)
            results.append(
                ProjectResult(
                    project.organization,
                    project.project,
                    "refused",
                    total=total,
                    message=f"delete limit: {why}; nothing was written anywhere",
                )
            )
        return ApplyResult(projects=tuple(results))

    def _apply_project(self, project: ProjectPlan) -> ProjectResult:
        try:
            result = self._apply_project_unguarded(project)
        except Exception as exc:  # a bug must not stop the other projects, nor show a value
            result = ProjectResult(
                project.organization,
                project.project,
                "failed",
                total=project.writes,
                message=f"internal error: {type(exc).__name__} (a bug in symsync)",
            )
        if self._on_project is not None:
            self._on_project(result)
        return result

    def _apply_project_unguarded(self, project: ProjectPlan) -> ProjectResult:
        org, name = project.organization, project.project
        total = project.writes
        if project.error is not None:
            return ProjectResult(
                org, name, "failed", total=total, message=f"not planned: {project.error}"
            )
        if not project.has_changes:
            return ProjectResult(org, name, "unchanged", total=total)
        everything = tuple(_described(c) for c in project.changes)
        if project.builtin is not None:
            everything += (BUILTIN_WRITE,)
        if self._stopping():
            return ProjectResult(
                org, name, "not started", 0, total,
                f"not started: nothing written; not written: {', '.join(everything)}",
                not_written=everything,
            )  # fmt: skip
        if self.verify:
            moved = self._moved_since_planned(project)
            if moved is not None:
                return moved
        return self._write_changes(project, everything)

    def _moved_since_planned(self, project: ProjectPlan) -> ProjectResult | None:
        """A saved plan: the project read once more; refused if its remote state is not the one
        planned, failed if it cannot be read, None if it may be written."""
        org, name = project.organization, project.project
        total = project.writes
        try:
            remote = self.client.list_sources(org, name)
        except AccountWideError:
            return ProjectResult(org, name, "failed", total=total, message=STOPPED)
        except SymsyncError as exc:
            reason = f"could not read the remote state: {exc}"
            return ProjectResult(org, name, "failed", total=total, message=reason)
        if fingerprint(remote) == project.fingerprint:
            return self._builtin_moved(project)
        moved = describe_drift(project.remote_sources, remote_digests(remote))
        reason = (
            f"remote changed since the plan was made ({moved}); "
            "nothing written to it; run `symsync plan` again"
        )
        return ProjectResult(org, name, "refused", total=total, message=reason)

    def _builtin_moved(self, project: ProjectPlan) -> ProjectResult | None:
        """A saved plan that sets the built-in repositories: refused when Sentry no longer holds
        the list the plan saw."""
        if project.builtin is None:
            return None
        org, name = project.organization, project.project
        try:
            held = tuple(self.client.builtin_sources(org, name))
        except AccountWideError:
            return ProjectResult(org, name, "failed", total=project.writes, message=STOPPED)
        except SymsyncError as exc:
            reason = f"could not read the built-in repositories: {exc}"
            return ProjectResult(org, name, "failed", total=project.writes, message=reason)
        if held == project.builtin.before:
            return None
        reason = (
            f"built-in repositories changed since the plan was made (now: "
            f"{', '.join(held) or 'none'}); nothing written to it; run `symsync plan` again"
        )
        return ProjectResult(org, name, "refused", total=project.writes, message=reason)

    def _write_changes(self, project: ProjectPlan, everything: tuple[str, ...]) -> ProjectResult:
        """Every change of the project, in order, until one fails or the run is stopped; the
        built-in repositories last, in one PUT."""
        org, name = project.organization, project.project
        total = project.writes
        done = 0
        for change in _writes_of(project):
            if self._stopping():
                written, left = everything[:done], everything[done:]
                status: Status = "interrupted" if done else "not started"
                summary = f"interrupted after {done} of {total} writes" if done else "not started"
                return ProjectResult(
                    org, name, status, done, total,
                    f"{summary}; written: {', '.join(written) or 'nothing'}; "
                    f"not written: {', '.join(left)}",
                    written=written, not_written=left,
                )  # fmt: skip
            try:
                if isinstance(change, BuiltinChange):
                    self.client.set_builtin_sources(org, name, list(change.after))
                else:
                    self._write(org, name, change, self._secrets)
            except AccountWideError:
                applied = f" ({done} earlier change(s) applied)" if done else ""
                return ProjectResult(org, name, "failed", done, total, f"{STOPPED}{applied}")
            except SymsyncError as exc:
                applied = f" ({done} earlier change(s) applied)" if done else ""
                return ProjectResult(
                    org, name, "failed", done, total,
                    f"{_written_name(change)} failed: {exc}{applied}",
                )  # fmt: skip
            done += 1
            self._event(f"{project.key}: {_done_name(change)}")
        return ProjectResult(org, name, "applied", done, total, written=everything)

    def _write(self, org: str, name: str, change: Change, secrets: Mapping[str, str]) -> None:
        if change.action == "move":
            self._move(org, name, change, secrets)
        elif change.action == "create":
            self.client.create_source(org, name, request_body(change, secrets))
        elif change.action == "update":
            body = request_body(change, secrets)
            self.client.update_source(org, name, change.source_id, body)
        else:
            self.client.delete_source(org, name, change.source_id)

    def _move(self, org: str, name: str, change: Change, secrets: Mapping[str, str]) -> None:
        """DELETE, then at once POST the desired source: Sentry appends it at the end.

        The body is built first, so a bad plan fails before the DELETE. A run that dies between
        the two leaves the source missing, and the next plan creates it again.
        """
        body = request_body(change, secrets)
        self.client.delete_source(org, name, change.source_id)
        try:
            self.client.create_source(org, name, body)
        except SymsyncError as exc:
            raise SymsyncError(
                f"deleted to move it, then re-creating it failed: {exc}; "
                "the next apply creates it again"
            ) from None


def _described(change: Change) -> str:
    return f"{change.action} {change.source_id}"


BUILTIN_WRITE = "set builtin"


def _writes_of(project: ProjectPlan) -> list[Change | BuiltinChange]:
    writes: list[Change | BuiltinChange] = list(project.changes)
    if project.builtin is not None:
        writes.append(project.builtin)
    return writes


def _written_name(change: Change | BuiltinChange) -> str:
    if isinstance(change, BuiltinChange):
        return "setting the built-in repositories"
    return f"{change.action} `{change.source_id}`"


def _done_name(change: Change | BuiltinChange) -> str:
    if isinstance(change, BuiltinChange):
        return f"built-in repositories set ({change.describe()})"
    return f"{change.action}d `{change.source_id}`"


def apply_plan(
    plan: Plan,
    client: SourcesAPI | None,
    *,
    verify: bool,
    parallelism: int = DEFAULT_PARALLELISM,
    env: Mapping[str, str] | None = None,
    on_event: Callable[[str], None] | None = None,
    max_deletes: int = DEFAULT_MAX_DELETES,
    stop: StopFlag | None = None,
    signal: Callable[[], int | None] | None = None,
    on_project: Callable[[ProjectResult], None] | None = None,
) -> ApplyResult:
    return Applier(
        client,
        verify=verify,
        parallelism=parallelism,
        env=env,
        on_event=on_event,
        max_deletes=max_deletes,
        stop=stop,
        on_project=on_project,
    ).apply(plan, signal=signal)


_STATUS_STYLE = {
    "applied": "green",
    "unchanged": "dim",
    "failed": "bold red",
    "refused": "yellow",
    "interrupted": "bold yellow",
    "not started": "yellow",
}


def results_table(result: ApplyResult, *, unchanged: bool = True) -> Table:
    """The per-project result table printed (on stderr) at the end of apply; without the rows
    of unchanged projects unless ``unchanged`` (see :func:`unchanged_line`)."""
    table = Table(title="symsync apply", title_justify="left", show_lines=False)
    table.add_column("project", no_wrap=True)
    table.add_column("result", no_wrap=True)
    table.add_column("changes", justify="right", no_wrap=True)
    table.add_column("detail", overflow="fold")
    for p in sorted(result.projects, key=lambda r: (r.organization, r.project)):
        if not unchanged and p.status == "unchanged":
            continue
        table.add_row(
            p.key,
            f"[{_STATUS_STYLE[p.status]}]{p.status}[/]",
            f"{p.done}/{p.total}",
            escape(redact_known(p.message)),
        )
    return table


def unchanged_line(result: ApplyResult) -> str | None:
    """The one line that stands for the unchanged projects' rows when they are left out of the
    table: "38 projects unchanged"; None when there are none."""
    count = result.count("unchanged")
    if not count:
        return None
    return f"{count} project{'s' if count != 1 else ''} unchanged (-v lists them)"


def results_summary(result: ApplyResult) -> str:
    counts = (
        f"{result.count('applied')} applied, {result.count('unchanged')} unchanged, "
        f"{result.count('failed')} failed, {result.count('refused')} refused"
    )
    if result.signal is None:
        return f"Apply: {counts}."
    from reconciler.core.interrupt import signal_name

    return (
        f"Apply: {counts}, {result.count('interrupted')} interrupted, "
        f"{result.count('not started')} not started.\n"
        f"Stopped by {signal_name(result.signal)} after finishing the writes in flight; "
        "`symsync plan` shows what remains."
    )
