"""How a run over many projects tells its progress, on stderr.

- On a terminal: a live display (rich) of the projects done out of the total, the requests sent,
  the 429 answers seen and the time spent waiting for Sentry's rate limit; the per-write lines
  of apply scroll above it. Colour follows rich's rules, so ``NO_COLOR`` turns it off.
- In a CI log (stderr is not a terminal): nothing while the run goes, no line per request and
  none per write (``--verbose`` brings both back), so a run over thousands of projects stays
  readable; the command's own results (apply's table, warnings, errors) are printed as before.
- Either way, at the end: one line with the totals, in a fixed form a log search can rely on::

      plan: 1000 projects, 1000 requests, 0 answered 429, 0.0 s waiting for the rate limit, 7.1 s

The counters come from the client (``SentryClient.stats``); a run that never needed a client
(a saved plan with nothing to change) counts no request.

A signal that ends the run at once (``reconciler.core.interrupt``) skips the code that takes the
display down: while one is drawn, the signal handler first clears its line and shows the cursor
again, so the terminal is left as it was, with the handler's message on a line of its own.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
import threading
import time
from collections.abc import Callable
from types import TracebackType
from typing import TYPE_CHECKING, Protocol

from reconciler.core import interrupt

if TYPE_CHECKING:  # rich is imported only when a console may be a terminal, or is given
    from rich.console import Console
    from rich.progress import Progress, TaskID


# Fewer projects than this finish before a live display would be worth drawing.
LIVE_FROM_PROJECTS = 10
# Back to the start of the line, erase it; show the cursor (a live display hides it).
_CLEAR_LINE = b"\r\x1b[2K"
_SHOW_CURSOR = b"\x1b[?25h"


class Counters(Protocol):
    """What the client counts (``reconciler.sentry.transport.TransportStats``)."""

    @property
    def requests(self) -> int: ...

    @property
    def rate_limited(self) -> int: ...

    @property
    def rate_limit_wait(self) -> float: ...


class _NoCounters:
    requests = 0
    rate_limited = 0
    rate_limit_wait = 0.0


Stats = Callable[[], Counters]


def totals_line(verb: str, projects: int, counters: Counters, seconds: float) -> str:
    """The final line of a run."""
    return (
        f"{verb}: {projects} project{'s' if projects != 1 else ''}, "
        f"{counters.requests} request{'s' if counters.requests != 1 else ''}, "
        f"{counters.rate_limited} answered 429, "
        f"{counters.rate_limit_wait:.1f} s waiting for the rate limit, {seconds:.1f} s"
    )


def _live_display(console: Console, stats: Stats) -> Progress:
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        ProgressColumn,
        Task,
        TextColumn,
        TimeElapsedColumn,
    )
    from rich.text import Text

    class CountersColumn(ProgressColumn):
        def render(self, task: Task) -> Text:
            c = stats()
            return Text(
                f"{c.requests} requests, {c.rate_limited} x 429, "
                f"{c.rate_limit_wait:.1f} s waited for the limit",
                style="progress.data.speed",
                no_wrap=True,
            )

    return Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(bar_width=20),
        MofNCompleteColumn(),
        TextColumn("projects"),
        CountersColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    )


def _file_descriptor(console: Console) -> int | None:
    """The terminal's file descriptor under ``console`` (None for an in-memory file)."""
    with contextlib.suppress(AttributeError, ValueError, io.UnsupportedOperation):
        return console.file.fileno()
    return None


def _surely_no_terminal(stream: object) -> bool:
    """True where rich would not take ``stream`` for a terminal (so no live display) whatever
    else it checks: it is no TTY, and neither ``TTY_COMPATIBLE=1`` nor a non-empty
    ``FORCE_COLOR`` says to treat it as one. A CI log is such a stream; rich is then not even
    imported."""
    if os.environ.get("TTY_COMPATIBLE") == "1" or os.environ.get("FORCE_COLOR"):
        return False
    isatty = getattr(stream, "isatty", None)
    try:
        return not (callable(isatty) and isatty())
    except (OSError, ValueError):
        return True


class RunProgress:
    """The progress of one command's run. Thread-safe: workers call ``advance`` and ``event``.

    ``stats`` is set once the client exists (``attach``); ``clock`` is for tests.
    """

    def __init__(
        self,
        verb: str,
        *,
        verbose: bool = False,
        console: Console | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.verb = verb
        self.verbose = verbose
        self._console = console
        self._clock = clock
        self._started = clock()
        self._stats: Stats = _NoCounters
        self._lock = threading.Lock()
        self._display: Progress | None = None
        self._task: TaskID | None = None
        self._forget_signal_hook: Callable[[], None] | None = None

    @property
    def console(self) -> Console:
        """rich's console on stderr, made when first needed."""
        if self._console is None:
            from rich.console import Console

            self._console = Console(stderr=True, highlight=False)
        return self._console

    @property
    def _plain_stderr(self) -> bool:
        """Whether stderr is surely no terminal, with no console given: rich is not needed."""
        return self._console is None and _surely_no_terminal(sys.stderr)

    @property
    def live(self) -> bool:
        """Whether stderr is a terminal that a live display may be drawn on."""
        if self._plain_stderr:
            return False
        return self.console.is_terminal and not self.console.is_dumb_terminal

    def attach(self, stats: Stats) -> None:
        """Where the request counters come from (the client's ``stats``)."""
        self._stats = stats

    def counters(self) -> Counters:
        return self._stats()

    def phase(self, description: str, total: int) -> None:
        """Start counting ``total`` projects (a new line of the display on a terminal)."""
        with self._lock:
            if not self.live or total < LIVE_FROM_PROJECTS:
                self._task = None
                return
            if self._display is None:
                self._display = _live_display(self.console, self.counters)
                fd = _file_descriptor(self.console)
                if fd is not None:
                    self._forget_signal_hook = interrupt.before_message(
                        lambda exiting: self._clear_for_signal(fd, exiting)
                    )
                self._display.start()
            elif self._task is not None:
                self._display.update(self._task, visible=False)
            self._task = self._display.add_task(description, total=total)

    def advance(self, *_: object) -> None:
        """One more project done (whatever the caller passes, its result, is not needed)."""
        with self._lock:
            if self._display is not None and self._task is not None:
                self._display.advance(self._task)

    def event(self, message: str) -> None:
        """A line about one write: shown on a terminal or with ``--verbose``, never in a CI log
        otherwise (a thousand-project apply would print a thousand of them)."""
        if not (self.live or self.verbose):
            return
        with self._lock:
            self.console.print(message, markup=False, highlight=False, soft_wrap=True)

    def stop(self) -> None:
        """Take the live display down (before printing results under it)."""
        with self._lock:
            if self._display is not None:
                self._display.stop()
                self._display = None
                self._task = None
            if self._forget_signal_hook is not None:
                self._forget_signal_hook()
                self._forget_signal_hook = None

    def _clear_for_signal(self, fd: int, exiting: bool) -> None:
        """In the signal handler, before its message: no lock (the interrupted thread may hold
        one), one write straight to the terminal."""
        if self._display is not None:
            os.write(fd, _CLEAR_LINE + (_SHOW_CURSOR if exiting else b""))

    def finish(self, projects: int) -> str:
        """Stop the display and print the totals line; returns it."""
        self.stop()
        line = totals_line(self.verb, projects, self.counters(), self._clock() - self._started)
        if self._plain_stderr:
            # Words and numbers of this module's own: nothing for rich to escape or style.
            sys.stderr.write(line + "\n")
            sys.stderr.flush()
        else:
            self.console.print(line, markup=False, highlight=False, soft_wrap=True)
        return line

    def __enter__(self) -> RunProgress:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
