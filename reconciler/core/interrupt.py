"""SIGINT and SIGTERM: stop a run cleanly, never in the middle of a write, never with a traceback.

A command that talks to Sentry runs inside :func:`handling`. A signal then does one of two things:

- **Exit at once** (the default: ``plan``, ``import``, and ``apply`` until its first write).
  Nothing is being written, so the process ends with a one-line note and exit code 130 (SIGINT)
  or 143 (SIGTERM). Requests in flight are reads and are simply abandoned. Code that writes a
  file (a saved plan, imported project files) runs inside :meth:`Interrupts.deferred`: a signal
  that arrives there takes effect when the file is complete.
- **Stop writing** (from :meth:`Interrupts.begin_writes` on, while ``apply`` writes). The first
  signal sets :attr:`Interrupts.stop`, which the applier checks before every write: no new write
  starts, each write in flight finishes (worker threads are never interrupted mid-request) and
  the client stops retrying and settles an uncertain write with one read. The command then prints
  its result table and exits 130 or 143. A second signal exits at once, unless it belongs to
  the same interrupt as the first: one that comes within :data:`BURST` seconds of it (a sender
  that signals the whole process group, like ``timeout``, delivers the signal twice), or a
  SIGTERM after a SIGINT (a CI runner's cancel sends SIGINT, then SIGTERM a few seconds later).
  Those are noted and change nothing.

Messages are written with ``os.write`` on file descriptor 2: a handler may run while the main
thread is inside a write to ``sys.stderr``, whose buffer does not allow a nested write. Before
each message, what registered with :func:`before_message` runs: a live progress display clears
its line (and, when the process is about to exit, shows the cursor again), since exiting at once
skips the code that would take it down.
"""

from __future__ import annotations

import contextlib
import functools
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from types import FrameType
from typing import Any, Final, ParamSpec, TypeVar

P = ParamSpec("P")
R = TypeVar("R")

SIGNALS: Final = (signal.SIGINT, signal.SIGTERM)
# A signal this many seconds or less after the first one is the same interrupt.
BURST: Final = 1.0


def exit_code_for(signum: int) -> int:
    """The shell's convention: 128 + the signal number (130 for SIGINT, 143 for SIGTERM)."""
    return 128 + signum


def signal_name(signum: int) -> str:
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"


def _write_stderr(message: str) -> None:
    with contextlib.suppress(OSError):
        os.write(2, (message + "\n").encode("utf-8", "replace"))


def _flush_and_exit(code: int) -> None:
    # A flush may fail when the main thread was interrupted inside a write: the output that
    # was complete is out, and exiting matters more.
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(code)


class Interrupts:
    """What a SIGINT or SIGTERM does right now; see the module docstring.

    ``write`` and ``exit`` are for tests: the defaults write to file descriptor 2 and end the
    process with ``os._exit`` (worker threads may be blocked in a socket read that nothing else
    would end promptly).
    """

    def __init__(
        self,
        *,
        what: str = "the command",
        write: Callable[[str], None] = _write_stderr,
        exit: Callable[[int], None] = _flush_and_exit,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.what = what
        self._clock = clock
        self._first: tuple[int, float] | None = None  # the first signal and when it came
        self.stop = threading.Event()
        self.signum: int | None = None
        self._write = write
        self._exit = exit
        self._writing = False
        self._deferring = 0
        self._pending: int | None = None
        self._before_message: list[Callable[[bool], None]] = []

    @property
    def exit_code(self) -> int | None:
        """130 or 143 once a signal asked the run to stop, else ``None``."""
        return None if self.signum is None else exit_code_for(self.signum)

    def before_message(self, callback: Callable[[bool], None]) -> Callable[[], None]:
        """``callback(exiting)`` runs in the handler before each message it writes; ``exiting``
        says whether the process ends right after. It may run while the main thread holds any
        lock, so it must take none (one ``os.write`` is the way). Returns what removes it."""
        self._before_message.append(callback)

        def remove() -> None:
            with contextlib.suppress(ValueError):
                self._before_message.remove(callback)

        return remove

    def _say(self, message: str, *, exiting: bool) -> None:
        for callback in list(self._before_message):
            with contextlib.suppress(Exception):  # the message and the exit matter more
                callback(exiting)
        self._write(message)

    def handle(self, signum: int, frame: FrameType | None = None) -> None:
        """The signal handler (runs in the main thread, between two Python bytecodes)."""
        name = signal_name(signum)
        if self._same_interrupt(signum):
            return
        if self.stop.is_set():
            self._say(
                f"{name} again: exiting at once. A write in flight may or may not have "
                "been made; run `symsync plan` to see what Sentry holds.",
                exiting=True,
            )
            self._exit(exit_code_for(signum))
            return
        if self._writing:
            self.signum = signum
            self.stop.set()
            self._say(
                f"{name}: no new write starts; finishing the writes in flight, then printing "
                "the results. Press Ctrl-C again to exit at once.",
                exiting=False,
            )
            return
        if self._deferring:
            if self._pending is None:
                self._pending = signum
                self._say(
                    f"{name}: stopping once the file being written is complete.", exiting=False
                )
            return
        self.signum = signum
        self.stop.set()
        self._say(f"{name}: {self.what} stopped; nothing was written.", exiting=True)
        self._exit(exit_code_for(signum))

    def _same_interrupt(self, signum: int) -> bool:
        """Whether ``signum`` repeats the interrupt already under way (see the module
        docstring); the first signal of a run is remembered here."""
        now = self._clock()
        if self._first is None:
            self._first = (signum, now)
            return False
        first, at = self._first
        if now - at <= BURST:
            return True
        if first == signal.SIGINT and signum == signal.SIGTERM:
            self._say(
                f"{signal_name(signum)} after {signal_name(first)}: the same interrupt; still "
                "finishing the writes in flight.",
                exiting=False,
            )
            return True
        return False

    def begin_writes(self) -> threading.Event:
        """From now on, until the command ends, a first signal sets the returned stop event
        instead of exiting (the command then reports what it wrote, and exits 130 or 143)."""
        self._writing = True
        return self.stop

    @contextlib.contextmanager
    def deferred(self, done: str = "the file was written") -> Iterator[None]:
        """A signal that arrives while the body runs takes effect when it is complete."""
        self._deferring += 1
        try:
            yield
        finally:
            self._deferring -= 1
            pending, self._pending = self._pending, None
            if pending is not None and not self._deferring:
                self.signum = pending
                self.stop.set()
                self._say(
                    f"{signal_name(pending)}: {self.what} stopped after {done}.", exiting=True
                )
                self._exit(exit_code_for(pending))


_current: Interrupts | None = None


def current() -> Interrupts | None:
    """The handler installed by :func:`handling`, if a command runs inside one."""
    return _current


@contextlib.contextmanager
def handling(what: str, **kwargs: Any) -> Iterator[Interrupts]:
    """Install SIGINT and SIGTERM handlers for the duration of a command.

    Outside the main thread (a test calling a command in a thread), signals cannot be caught:
    the returned object still works as a stop event, and nothing is installed.
    """
    global _current
    interrupts = Interrupts(what=what, **kwargs)
    previous: dict[signal.Signals, Any] = {}
    if threading.current_thread() is threading.main_thread():
        for sig in SIGNALS:
            previous[sig] = signal.signal(sig, interrupts.handle)
    outer, _current = _current, interrupts
    try:
        yield interrupts
    finally:
        _current = outer
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def handled(what: str) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Decorator: the command runs inside :func:`handling` (see :func:`current`)."""

    def decorate(function: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(function)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            with handling(what):
                return function(*args, **kwargs)

        return wrapper

    return decorate


def signals_to_main_thread() -> None:
    """Block SIGINT and SIGTERM in the calling thread (a worker), so that the kernel delivers
    them to the main thread. A signal taken by a worker would only set Python's flag: the main
    thread, blocked waiting for the workers, would run the handler once they are all done, too
    late to stop the next write. Every worker thread calls this first (``ThreadPoolExecutor``'s
    ``initializer``)."""
    with contextlib.suppress(AttributeError, OSError, ValueError):
        signal.pthread_sigmask(signal.SIG_BLOCK, set(SIGNALS))


def before_message(callback: Callable[[bool], None]) -> Callable[[], None]:
    """:meth:`Interrupts.before_message` of the installed handler (nothing without one); returns
    what removes ``callback``."""
    interrupts = _current
    if interrupts is None:
        return lambda: None
    return interrupts.before_message(callback)


def begin_writes() -> threading.Event:
    """:meth:`Interrupts.begin_writes` of the installed handler (a plain event without one)."""
    return _current.begin_writes() if _current is not None else threading.Event()


def received() -> int | None:
    """The signal that asked the running command to stop, if any."""
    return _current.signum if _current is not None else None


def exit_code() -> int | None:
    """130 or 143 once a signal asked the running command to stop, else ``None``."""
    return _current.exit_code if _current is not None else None


@contextlib.contextmanager
def deferred(done: str = "the file was written") -> Iterator[None]:
    """:meth:`Interrupts.deferred` of the installed handler; nothing when none is installed."""
    interrupts = _current
    if interrupts is None:
        yield
        return
    with interrupts.deferred(done):
        yield
