"""Make a Plan from the desired-state tree and Sentry: one read per project, planned as it comes.

Only projects that have a file are read. Each project is read with exactly one GET; a project
whose GET fails is kept in the plan with its ``error``, and the others are planned as usual;
except for an ``AccountWideError`` (a bad token, Sentry unreachable, a URL that is not Sentry's
API), which is about every project: it leaves ``make_plan`` and ends the run with one message,
while the client's breaker fails the reads still queued at once.

A pipeline, not phases: the tree's files are found first (names only, which is what
``--project`` selects by), and every selected project's GET is handed to the read pool at once,
from its file's name, while the files are loaded one by one (and the loader and its models are
imported) in this thread. A project is planned as soon as both its answer and its file are in,
by whichever thread brings the second; no reader waits for a file. An invalid file anywhere
still means nothing is planned (``ConfigError``, exit 1, every diagnostic printed). Reads may
start before any file is checked because they are side-effect free: a read that turns out not to
be needed changes nothing in Sentry, and its answer is dropped with the plan that is never made.
"""

from __future__ import annotations

import contextlib
import itertools
import sys
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, InvalidStateError, ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from reconciler.config.diagnostic import display_path
from reconciler.config.selection import ProjectPattern
from reconciler.core import interrupt
from reconciler.core.errors import ConfigError, SymsyncError
from reconciler.plan.delete_limits import DEFAULT_MAX_DELETES
from reconciler.sentry.errors import AccountWideError

# The differ and the plan's models are imported once the first read has been sent (they are not
# needed before an answer comes): start-up imports only what the first request needs.
if TYPE_CHECKING:
    from reconciler.config.project_file import ProjectConfig
    from reconciler.plan.model import Plan, ProjectPlan

# Reads may run this many projects per reader ahead of the loading of the files.
READ_AHEAD_PER_READER = 4
# Seconds a thread may hold the GIL while others wait, during the loading of the tree.
LOADING_SWITCH_INTERVAL = 0.0005


class SourceReader(Protocol):
    def list_sources(self, org: str, project: str) -> list[dict[str, Any]]: ...


class BuiltinReader(Protocol):
    """What reading built-in repositories needs (``SentryClient`` has it)."""

    def builtin_sources(self, org: str, project: str) -> list[str]: ...

    def organization_builtin_keys(self, org: str) -> list[str]: ...


# A project's built-in repositories as Sentry holds them, and the keys its organization offers.
BuiltinRead = tuple[list[str], frozenset[str]]


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
        parsed = ProjectPattern.parse(pattern)
        if parsed is None:
            raise SymsyncError(
                f"--project {pattern!r} is not ORG/PROJECT; give it as in "
                "configs/<org>/<project>.yaml (globs like `acme/*` or `*/ios` work)"
            )
        hits = [k for k in keys if parsed.matches_key(k)]
        if not hits:
            raise SymsyncError(
                f"--project {pattern!r} matches no project in {where}; "
                "give ORG/PROJECT as in configs/<org>/<project>.yaml (globs like `acme/*` work)"
            )
        selected.update(hits)
    return [k for k in keys if k in selected]


class DesiredTree:
    """The project files of a tree that ``--project`` selects, loaded as they are iterated.

    Making one finds the files (a missing config directory raises ``ConfigError`` here) and
    matches the patterns against their names; nothing is read yet. ``load()`` then yields each
    selected project as soon as its file has validated, and once every file of the tree has been
    read, prints the tree's diagnostics and raises ``ConfigError`` if any is an error, or the
    ``--project`` error when a pattern matched nothing: whatever was yielded before that must
    then be thrown away.
    """

    def __init__(
        self,
        config_dir: Path,
        patterns: Sequence[str],
        *,
        echo: Callable[[str], None],
        exclude: Sequence[str] = (),
    ) -> None:
        from reconciler.config.selection import selects
        from reconciler.config.tree import find_project_files

        self.config_dir = config_dir
        self.echo = echo
        self._found = find_project_files(config_dir)
        # An excluded project's file is never read (its problems are validate's to report).
        self._found.files = [
            f
            for f in self._found.files
            if not (f.well_named and selects(exclude, f"{f.organization}/{f.project}"))
        ]
        names = sorted(
            f"{f.organization}/{f.project}"
            for f in self._found.files
            if f.well_named and f.readable
        )
        self._selection_error: SymsyncError | None = None
        try:
            self.selected = set(match_projects(names, patterns, where=display_path(config_dir)))
        except SymsyncError as exc:  # raised once the tree's own diagnostics are printed
            self._selection_error = exc
            self.selected = set()
        self._checked = False
        # The files whose warnings the plan carries (their projects were yielded), and those
        # warnings, printed only if no plan is shown (``release_warnings``).
        self._planned_files: set[str] = set()
        self._held: list[Any] = []

    def __len__(self) -> int:
        """How many projects ``load()`` yields when the tree is valid."""
        return len(self.selected)

    def keys(self) -> list[str]:
        """The projects ``load()`` yields when the tree is valid (``ORG/PROJECT``), in the order
        it yields them: known from the files' names, before any file is read."""
        keys = (f"{f.organization}/{f.project}" for f in self._found.files if f.readable)
        return list(dict.fromkeys(k for k in keys if k in self.selected))

    def load(self) -> Iterator[ProjectConfig]:
        from reconciler.config.diagnostic import diagnostic_order, printable
        from reconciler.config.loader import collector_paused, load_found

        found = self._found
        diagnostics = list(found.diagnostics)
        with collector_paused(freeze=True):
            # Positions are only needed to word diagnostics, which is done file by file.
            for file, loaded in load_found(found, keep_origins=False):
                diagnostics.extend(loaded.diagnostics)
                config = loaded.config
                if config is not None and file.well_named and config.key in self.selected:
                    self._planned_files.add(printable(file.shown))
                    yield config
        diagnostics.sort(key=diagnostic_order)
        self._finish(diagnostics)

    def check(self) -> None:
        """Load the whole tree only to report it: raises as ``load()`` does at its end."""
        for _ in self.load():
            pass

    def release_warnings(self) -> None:
        """Print the warnings the plan was to carry, when the run ends without showing one (an
        error about the whole account): each warning is still printed once."""
        held, self._held = self._held, []
        for diagnostic in held:
            self.echo(str(diagnostic))

    def _finish(self, diagnostics: Sequence[Any]) -> None:
        if self._checked:
            return
        self._checked = True
        errors = sum(1 for d in diagnostics if d.severity == "error")
        for diagnostic in diagnostics:
            # A valid tree is planned: the warnings of a planned file are in its plan, which
            # the run shows, so they are not printed here too.
            if not errors and diagnostic.origin.path in self._planned_files:
                self._held.append(diagnostic)
            else:
                self.echo(str(diagnostic))
        if errors:
            raise ConfigError(
                f"{errors} error(s) in {display_path(self.config_dir)}; nothing was planned. "
                "Fix them (`symsync validate` lists them) and run again."
            )
        if self._selection_error is not None:
            raise self._selection_error


def with_rotations(
    desired: DesiredTree, *, base: str | None, rotate_patterns: Sequence[str]
) -> tuple[Iterable[ProjectConfig], dict[str, Any]]:
    """The configs to plan, and the secrets to send again (``--base``, ``--rotate``).

    Without either, the configs stream from the tree as it loads (nothing to collect); with one,
    the whole tree is loaded first, since what to send again is decided over all of it (and its
    files at ``--base``).
    """
    if base is None and not rotate_patterns:
        return desired.load(), {}
    from reconciler.plan.rotation import collect

    configs = list(desired.load())
    return configs, collect(configs, desired.config_dir, base=base, patterns=rotate_patterns)


def load_desired(
    config_dir: Path, patterns: Sequence[str], *, echo: Callable[[str], None]
) -> list[ProjectConfig]:
    """Load and validate the tree; print its diagnostics; refuse to go on if any is an error."""
    configs = list(DesiredTree(config_dir, patterns, echo=echo).load())
    return sorted(configs, key=lambda c: (c.organization, c.project))


def plan_project(
    client: SourceReader,
    config: ProjectConfig,
    rotate: Mapping[str, Mapping[str, str]] | None = None,
) -> ProjectPlan:
    """Read one project and plan it."""
    builtins = None
    if config.builtin is not None:
        builtins = _read_builtins(client, config.organization, config.project, _OrgKeys())
    remote = _read(client, config.organization, config.project)
    return _plan_read(config, remote, rotate, builtins, served_by(client, config.organization))


class _OrgKeys:
    """The keys each organization offers, read once per organization and run, whichever
    thread asks first; the others wait for its answer."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._answers: dict[str, Future[frozenset[str]]] = {}

    def get(self, client: Any, org: str) -> frozenset[str]:
        with self._lock:
            answer = self._answers.get(org)
            mine = answer is None
            if answer is None:
                answer = self._answers[org] = Future()
        if mine:
            try:
                answer.set_result(frozenset(client.organization_builtin_keys(org)))
            except BaseException as exc:
                answer.set_exception(exc)
        return answer.result()


def _read_builtins(
    client: Any, org: str, project: str, org_keys: _OrgKeys
) -> BuiltinRead | SymsyncError:
    """The project's built-in repositories and its organization's keys, or why they could not
    be read (an ``AccountWideError`` is raised, as for the sources)."""
    try:
        offered = org_keys.get(client, org)
        return client.builtin_sources(org, project), offered
    except AccountWideError:
        raise
    except SymsyncError as exc:
        return exc


def _read(client: SourceReader, org: str, project: str) -> list[dict[str, Any]] | SymsyncError:
    """The project's remote sources, or why they could not be read. A failure that is about the
    whole account (``AccountWideError``) is raised: every other read fails the same way."""
    try:
        return client.list_sources(org, project)
    except AccountWideError:
        raise
    except SymsyncError as exc:
        return exc


def _plan_read(
    config: ProjectConfig,
    remote: list[dict[str, Any]] | SymsyncError,
    rotate: Mapping[str, Mapping[str, str]] | None,
    builtins: BuiltinRead | SymsyncError | None = None,
    served_by: str | None = None,
) -> ProjectPlan:
    """The project's plan from its answer; ``served_by`` is the URL that answered."""
    file = display_path(config.path)
    error = None
    if isinstance(remote, SymsyncError):
        error = f"could not read the remote sources: {remote}"
    elif isinstance(builtins, SymsyncError):
        error = f"could not read the built-in repositories: {builtins}"
    if error is not None:
        from reconciler.plan.model import ProjectPlan

        return ProjectPlan(
            organization=config.organization,
            project=config.project,
            file=file,
            error=error,
            warnings=_file_warnings(config),
        )
    assert not isinstance(remote, SymsyncError)
    from reconciler.plan.differ import diff_project

    project = diff_project(config, remote, file=file, rotate=rotate, sentry_url=served_by)
    if config.warnings:
        project = project.model_copy(
            update={"warnings": (*_file_warnings(config), *project.warnings)}
        )
    if builtins is None or isinstance(builtins, SymsyncError) or config.builtin is None:
        return project
    if project.error is not None:
        return project
    from reconciler.plan.builtin import BuiltinRefused, diff_builtin

    held, offered = builtins
    try:
        change = diff_builtin(config.organization, config.builtin, held, offered)
    except BuiltinRefused as exc:
        return project.model_copy(update={"changes": (), "error": str(exc)})
    return project.model_copy(update={"builtin": change, "builtin_seen": tuple(held)})


def _file_warnings(config: ProjectConfig) -> tuple[Any, ...]:
    """The warnings of the project's file, as the plan carries them (with their position)."""
    from reconciler.plan.model import PlanWarning

    return tuple(
        PlanWarning(
            file=w.origin.path, line=w.origin.line, column=w.origin.column, message=w.message
        )
        for w in config.warnings
    )


def served_by(client: object, org: str) -> str | None:
    """The URL that served ``org``'s reads, when the client tells (``SentryClient.served_by``)."""
    tell = getattr(client, "served_by", None)
    url = tell(org) if callable(tell) else None
    return url if isinstance(url, str) else None


class _Pending:
    """One project on its way into the plan: its answer and its file arrive in either order,
    from two threads; whichever comes second plans it."""

    __slots__ = ("builtins", "config", "key", "lock", "plan", "remote")

    def __init__(self, key: str) -> None:
        self.key = key
        self.lock = threading.Lock()
        self.config: ProjectConfig | None = None
        self.remote: list[dict[str, Any]] | SymsyncError | None = None
        # The built-in repositories, for a file that manages them (read once its file is in).
        self.builtins: BuiltinRead | SymsyncError | None = None
        self.plan: Future[ProjectPlan] = Future()

    def planned(self, project: ProjectPlan) -> None:
        """The project's plan is made: keep it, and let go of the file and the answers."""
        self.plan.set_result(project)
        self.config = self.remote = self.builtins = None

    def arrive(
        self,
        *,
        config: ProjectConfig | None = None,
        remote: list[dict[str, Any]] | SymsyncError | None = None,
        builtins: BuiltinRead | SymsyncError | None = None,
    ) -> bool:
        """Records what came; answers whether everything the project needs is now in."""
        with self.lock:
            if config is not None:
                self.config = config
            if remote is not None:
                self.remote = remote
            if builtins is not None:
                self.builtins = builtins
            if self.config is None or self.remote is None:
                return False
            return self.config.builtin is None or self.builtins is not None


def make_plan(
    client: SourceReader,
    configs: Iterable[ProjectConfig],
    *,
    parallelism: int = 8,
    max_deletes: int = DEFAULT_MAX_DELETES,
    rotations: Mapping[str, Mapping[str, Mapping[str, str]]] | None = None,
    on_project: Callable[[ProjectPlan], None] | None = None,
    keys: Sequence[str] = (),
) -> Plan:
    """One GET per project, projects in parallel; the result does not depend on timing.

    ``configs`` may be a ``DesiredTree``'s ``load()``, and ``keys`` its ``keys()``: the projects
    it will yield, in that order, known from the files' names. Their reads start at once, before
    any file is read (and before the loader and its models are even imported); each project is
    planned once both its answer and its file are in, and no reader ever waits for a file. A
    project yielded that ``keys`` did not name is read when it is yielded. If the iteration
    raises (an invalid tree), the reads not yet started are dropped and the error goes on; no
    plan is made. ``on_project`` is called with each project's plan as it is made (from the
    thread that brought the second of its answer and its file), for a progress display.

    The plan carries the delete limits' verdict for a run allowed ``max_deletes``.
    ``rotations``: per project key, the secrets to send again (``reconciler.plan.rotation``).
    """
    sentry_url = getattr(client, "base_url", None)  # recorded so a saved plan goes back there
    pipeline = _Pipeline(
        client, parallelism=parallelism, rotations=rotations or {}, on_project=on_project
    )
    pipeline.read_ahead(keys)
    yielded: list[_Pending] = []
    with _short_switch_interval():
        try:
            for config in configs:
                yielded.append(pipeline.file_loaded(config))
        except BaseException:
            pipeline.shutdown()
            raise
    try:
        # Named in ``keys`` but not yielded (a file that did not validate cannot be, as the
        # iteration then raised): nothing to plan.
        projects = [pending.plan.result() for pending in yielded]
    finally:
        pipeline.shutdown()
    from reconciler.plan.delete_limits import with_verdict
    from reconciler.plan.model import Plan

    return with_verdict(Plan(projects=tuple(projects), sentry_url=sentry_url), max_deletes)


@contextlib.contextmanager
def _short_switch_interval() -> Iterator[None]:
    """While this thread loads files (pure Python, holding the GIL), a reader whose answer has
    arrived would wait up to the switch interval (5 ms) for the GIL on every request."""
    switch_interval = sys.getswitchinterval()
    sys.setswitchinterval(min(switch_interval, LOADING_SWITCH_INTERVAL))
    try:
        yield
    finally:
        sys.setswitchinterval(switch_interval)


class _Pipeline:
    """The reads of one ``make_plan``, running ahead of the loading of the files, and the
    projects on their way into the plan."""

    __slots__ = (
        "ahead", "client", "on_project", "org_keys", "pendings", "pool", "rotations", "window"
    )  # fmt: skip

    def __init__(
        self,
        client: SourceReader,
        *,
        parallelism: int,
        rotations: Mapping[str, Mapping[str, Mapping[str, str]]],
        on_project: Callable[[ProjectPlan], None] | None,
    ) -> None:
        self.client = client
        self.rotations = rotations
        self.on_project = on_project
        self.pool = ThreadPoolExecutor(
            max_workers=max(1, parallelism), initializer=interrupt.signals_to_main_thread
        )
        self.pendings: dict[str, _Pending] = {}  # every project whose read has started
        self.ahead: Iterator[str] = iter(())
        self.org_keys = _OrgKeys()
        # Reads run at most this many projects ahead of the loading: enough to keep every
        # reader busy while the loader is imported and the first files load, and few enough
        # that answers waiting for their files stay a handful however large the tree (against
        # a fast Sentry, the loading is what paces the reads).
        self.window = READ_AHEAD_PER_READER * max(1, parallelism)

    def read_ahead(self, keys: Sequence[str]) -> None:
        """Start the reads of the first ``keys``, the projects the files will bring in order."""
        self.ahead = iter(dict.fromkeys(keys))
        self._read_more(self.window)

    def file_loaded(self, config: ProjectConfig) -> _Pending:
        """A project's file is in: plan it if its answer is too, and read one more ahead."""
        # Not started yet: not named in ``keys``, or further ahead than read so far.
        pending = self.pendings.get(config.key) or self._start(config.key)
        if config.builtin is not None:
            self.pool.submit(self._fetch_builtins, pending, config)
        if pending.arrive(config=config):
            self._plan(pending)
        self._read_more(1)
        return pending

    def shutdown(self) -> None:
        """Wait for the reads in flight; drop those not started."""
        self.pool.shutdown(wait=True, cancel_futures=True)

    def _start(self, key: str) -> _Pending:
        pending = self.pendings[key] = _Pending(key)
        self.pool.submit(self._fetch, pending)
        return pending

    def _read_more(self, count: int) -> None:
        for key in itertools.islice(self.ahead, count):
            if key not in self.pendings:
                self._start(key)

    def _fetch(self, pending: _Pending) -> None:
        org, _, name = pending.key.partition("/")
        self._deliver(pending, lambda: pending.arrive(remote=_read(self.client, org, name)))

    def _fetch_builtins(self, pending: _Pending, config: ProjectConfig) -> None:
        org, name = config.organization, config.project
        self._deliver(
            pending,
            lambda: pending.arrive(builtins=_read_builtins(self.client, org, name, self.org_keys)),
        )

    def _deliver(self, pending: _Pending, read_and_arrive: Callable[[], bool]) -> None:
        """Reads one of a project's answers into ``pending``; the project is planned by
        whichever thread brings the last of its parts. A read that ends the run (an
        ``AccountWideError``) is the project's outcome too, and is raised."""
        try:
            complete = read_and_arrive()
        except BaseException as exc:
            with contextlib.suppress(InvalidStateError):
                pending.plan.set_exception(exc)
            raise
        if complete:
            self._plan(pending)

    def _plan(self, pending: _Pending) -> None:
        """Plans a project whose answer and file are both in (in whichever thread brought the
        second of them); its place in the plan is ``pending.plan``."""
        assert pending.config is not None and pending.remote is not None
        org = pending.config.organization
        project = _plan_read(
            pending.config,
            pending.remote,
            self.rotations.get(pending.key),
            pending.builtins,
            served_by(self.client, org),
        )
        pending.planned(project)
        if self.on_project is not None:
            self.on_project(project)
