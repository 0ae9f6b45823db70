"""How the emulator keeps ``--state FILE``: a write journal beside the file, and the file itself.

The file keeps its documented format (``docs/emulator.md``, "The state file"), for seeding
and for reading. What changed is when it is written: rewriting the whole JSON file on every write
cost more with every project added, until the emulator, not the client, limited an apply at
scale. Now:

- A write is recorded in ``FILE.journal.sqlite3`` (module ``journal``): one SQLite transaction
  that replaces the written project's row, before the answer is sent. Its cost does not depend
  on the number of projects (``benchmarks/bench_emulator_writes.py`` measures it).
- A small state (its file at most ``SYNC_BYTES``, some 300 projects of 3 sources) is also
  written to the JSON file after every write, before the answer, as ``--state`` promises: a
  test or a user reading the file right after a write finds it there. At that size the cost
  is small, whatever the write.
- A larger one is rewritten in the background once writes pause (``IDLE_SECONDS``), at least
  every ``MAX_LAG_SECONDS`` while they do not, and on a clean stop (SIGINT/SIGTERM), which also
  deletes the journal. So after a clean stop the file alone is the complete state, and while the
  emulator runs the file is at most a moment behind; ``GET /_emulator/state`` is always current.
- At start, the file is read and the journal's newer rows are laid over it, so an answered write
  survives the emulator being killed (``kill -9``) at any moment. Each step is atomic: a journal
  row is one SQLite transaction; the JSON file is written to a temporary file in the same folder,
  flushed to disk and renamed over the old one.

The journal records which file its rows apply to (the SHA-256 of the file's bytes): rows are laid
over that file only. A seal beside it (``FILE.journal.seq``, module ``journal``) holds the number
of the last write recorded. At start, anything that would lose an answered write is an error
naming the file and what to do (``JournalError``), never a warning: a file changed by hand while
the journal held writes to it, a journal that is missing or cannot be read, or one holding fewer
writes than its seal says (a removed or damaged SQLite ``-wal``).

A write that cannot be recorded (a full or failing disk) raises ``NotDurable``: the server undoes
it and answers 503, and so for every write until one can be recorded again (said once on stderr
when refusing starts and when it ends). Reads go on meanwhile.

Why this design: an SQLite commit without an fsync costs a small fraction of what serving the
HTTP request costs the emulator, while an fsync per commit makes the slowest writes many times
slower on a shared disk. Appending JSON lines to a file would cost even less, but needs its own
compaction and torn-line handling, which SQLite's upsert and transactions give for free (one row
per project, so the journal stays small). Per-project files would make the state thousands of
files and still need the one-file view for inspection. ``synchronous=NORMAL`` (no fsync per
write) is what keeps the slowest writes fast: a committed row survives the process being killed,
which is the durability the emulator promises; after a power cut SQLite's database is still
whole, and only the last writes may be missing. (The figures behind these choices are in
``benchmarks/README.md``, "Measurements behind the design".)

A file without write permission (``chmod a-w``) is loaded and never written, nor is a journal
kept: the emulator serves from memory (noting it once on stderr at the first write). That is a
choice made by whoever made the file read-only; a folder that cannot be written is not: its
writes are refused with 503.

Threads: ``record`` runs with the state lock held (so rows are recorded in the order the writes
happened); the background export takes the state lock only to copy a reference to each
project's stored list (lists are replaced on a write, never changed in place), then makes the
text (cached per project) and writes the file without it.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import sqlite3
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Final

from reconciler.core.atomic import write_atomic
from reconciler.emulator.journal import (
    Base,
    Journal,
    Row,
    Seal,
    journal_path,
    remove_files,
    seal_path,
)

# A state whose JSON file is at most this large is written to it after every write.
SYNC_BYTES: Final = 256 * 1024
IDLE_SECONDS: Final = 0.5
MAX_LAG_SECONDS: Final = 10.0
JOIN_SECONDS: Final = 60.0

# Lays one journal row over the loaded state: (organization, project, symbol_sources JSON);
# answers whether that project exists.
Restore = Callable[[str, str, str], bool]
# Takes the state as it is (called with the state lock held, quick), and answers the function
# that writes it as the JSON file's text (called without the lock).
Snapshot = Callable[[], Callable[[], str]]


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def is_read_only(path: Path) -> bool:
    """A file that exists without any write permission bit (``chmod a-w``), or that this user
    cannot write (checked by mode, as ``root`` may write anything)."""
    try:
        mode = path.stat().st_mode
    except OSError:
        return False
    return not (mode & 0o222) or not os.access(path, os.W_OK)


class StateStore:
    """Keeps one ``--state`` file and its journal; see the module docstring."""

    def __init__(
        self,
        path: Path,
        lock: threading.RLock,
        snapshot: Snapshot,
        file_digest: str | None,
        *,
        idle_seconds: float | None = None,
        max_lag_seconds: float | None = None,
        sync_bytes: int | None = None,
    ) -> None:
        """``file_digest`` is the digest of the file the state was loaded from, or ``None`` when
        the state did not come from the file (it is then written in full at the first write)."""
        self.path = path
        self.journal_path = journal_path(path)
        self.read_only = is_read_only(path)
        self._lock = lock  # the state's lock
        self._snapshot = snapshot
        self._base_digest = file_digest
        self._idle = IDLE_SECONDS if idle_seconds is None else idle_seconds
        self._max_lag = MAX_LAG_SECONDS if max_lag_seconds is None else max_lag_seconds
        self._sync_bytes = SYNC_BYTES if sync_bytes is None else sync_bytes
        try:  # the size of the file the state was loaded from; after each export, the new one
            self._size = path.stat().st_size
        except OSError:
            self._size = 0
        self._journal: Journal | None = None
        self._db_lock = threading.Lock()
        self._export_lock = threading.Lock()
        self._seq = 0  # the last write recorded
        self._exported_seq = 0  # the last write the JSON file holds
        self._warned = False
        self._refusing = False  # the last write could not be saved
        self._seal = Seal(seal_path(path))
        self._closed = False
        self._wake = threading.Condition(threading.Lock())
        self._last_write = 0.0
        self._last_export = time.monotonic()
        self._flusher: threading.Thread | None = None
        self._flusher_waiting = False  # waiting for a write, with no deadline

    # -- start --------------------------------------------------------------------------------

    def recover(self, restore: Restore) -> None:
        """Lays the journal's rows that the file does not hold over the loaded state.

        Raises ``JournalError`` when writes would be lost: the journal is gone or damaged (its
        seal says it recorded more), or it holds writes for another file than the one found."""
        if self.read_only:
            if self.journal_path.exists():
                self._warn(
                    f"note: {self.path} is read-only; the writes recorded in "
                    f"{self.journal_path.name} are not applied"
                )
            return
        self._remove_stale_temporary_files()
        try:
            sealed = Seal.read(self._seal.path)
        except (OSError, ValueError, UnicodeDecodeError):
            raise self._refusal(f"{self._seal.path} is damaged") from None
        if not self.journal_path.exists():
            if sealed:
                raise self._refusal(
                    f"{self.journal_path} is missing, but it had recorded {sealed} write(s)"
                )
            self._seal.remove()  # a seal of no write
            return
        if self._base_digest is None:
            raise self._refusal(
                f"{self.journal_path} holds writes, but {self.path} is missing (or the state "
                "was not read from it)"
            )
        try:
            journal, after, rows = self._read_journal(sealed)
        except JournalError:
            raise
        except (sqlite3.Error, OSError) as exc:
            raise self._refusal(f"cannot read {self.journal_path}: {exc}") from None
        for row in rows:
            if not restore(row.organization, row.project, row.symbol_sources):
                journal.close()
                raise self._refusal(
                    f"{self.journal_path.name} holds a write to {row.organization}/"
                    f"{row.project}, which {self.path} does not have"
                )
        self._journal = journal
        self._exported_seq = after
        self._seq = max([after, *(row.seq for row in rows)])
        if rows:
            self._last_write = time.monotonic()
            self._start_flusher()

    def _read_journal(self, sealed: int | None) -> tuple[Journal, int, list[Row]]:
        """The open journal, the last write the file holds, and the rows after it."""
        assert self._base_digest is not None
        loaded = Base(self._base_digest, 0)
        journal = Journal.open(self.journal_path, loaded)
        try:
            last = journal.last_seq()
            if sealed is not None and last < sealed:
                raise self._refusal(
                    f"{self.journal_path} is damaged or was replaced: it holds writes up to "
                    f"#{last}, but recorded {sealed} (is its -wal file missing or damaged?)"
                )
            meta = journal.meta()
            if meta.base.digest == self._base_digest:
                after = meta.base.seq
            elif meta.pending is not None and meta.pending.digest == self._base_digest:
                # Stopped between renaming the new file into place and noting it.
                journal.end_export(meta.pending)
                after = meta.pending.seq
            else:
                pending = journal.count()
                if pending:
                    raise self._refusal(
                        f"{self.path} changed since {self.journal_path.name} recorded "
                        f"{pending} write(s) to it"
                    )
                journal.reset(loaded)
                after = 0
            return journal, after, list(journal.rows(after))
        except BaseException:
            journal.close()
            raise

    def _refusal(self, reason: str) -> JournalError:
        return JournalError(
            f"{reason}; starting would lose writes the emulator answered. Restore the files "
            f"as they were; or, to start from {self.path} alone and lose those writes, delete "
            f"{self.journal_path.name}* and {self._seal.path.name} beside it; or give --fresh "
            "to start with an empty instance"
        )

    # -- writes -------------------------------------------------------------------------------

    def record(self, organization: str, project: str, symbol_sources: str) -> None:
        """Makes one project's new list durable before the write is answered. Call with the
        state lock held. Raises ``NotDurable`` when it cannot: the write must then be undone
        and refused."""
        if self.read_only:
            self._warn(f"note: {self.path} is read-only: writes are kept in memory, not saved")
            return
        self._seq += 1
        if self._closed or self._base_digest is None:
            # A write still in flight while stopping, or a state that did not come from the
            # file: the whole file is written now (this write included, as it is in memory).
            if not self._export(warn=False, failure=self._refuse_writes):
                self._seq -= 1
                raise NotDurable(str(self.path))
            self._saved_again()
            return
        try:
            with self._db_lock:
                if self._journal is None:
                    journal = Journal.open(self.journal_path, Base(self._base_digest, 0))
                    # Any rows there were left by a run whose file is not this one.
                    journal.reset(Base(self._base_digest, self._exported_seq))
                    self._journal = journal
                self._journal.record(organization, project, self._seq, symbol_sources)
        except (sqlite3.Error, OSError) as exc:
            self._seq -= 1
            self._refuse_writes(self.journal_path, exc)
            raise NotDurable(str(self.journal_path)) from None
        self._saved_again()
        try:
            self._seal.write(self._seq)
        except OSError as exc:  # the write is in the journal: only the seal lags
            self._warn(f"warning: cannot update {self._seal.path} ({exc})")
        self._last_write = time.monotonic()
        if self._size <= self._sync_bytes:
            self._export(warn=True)  # a small state: the file too, before the answer
            return
        with self._wake:
            if self._flusher_waiting:  # else it wakes by itself when its deadline comes
                self._wake.notify()
        if self._flusher is None:
            self._start_flusher()

    def _refuse_writes(self, where: Path, exc: BaseException) -> None:
        """Says once, when writes start failing, that they are refused from now on."""
        if not self._refusing:
            self._refusing = True
            print(
                f"warning: cannot save a write to {where} ({exc}); writes are refused (503) "
                "and not applied until one can be saved again; reads go on",
                file=sys.stderr,
                flush=True,
            )

    def _saved_again(self) -> None:
        if self._refusing:
            self._refusing = False
            print("note: writes are saved again", file=sys.stderr, flush=True)

    # -- exports ------------------------------------------------------------------------------

    def flush(self) -> bool:
        """Writes the JSON file now if it lacks a write; answers whether the file is current."""
        return self._export(warn=True)

    def _export(
        self, *, warn: bool, failure: Callable[[Path, BaseException], None] | None = None
    ) -> bool:
        """Writes the whole state to the JSON file, atomically, and forgets the journal rows it
        now holds. Lock order: state lock, then export lock (taken before the state lock is let
        go, so two exports never interleave)."""
        with self._lock:
            self._export_lock.acquire()
            seq = self._seq
            if seq == self._exported_seq and self._base_digest is not None:
                self._export_lock.release()
                return True
            write = self._snapshot()
        try:
            data = write().encode("utf-8")
            self._size = len(data)
            new = Base(digest(data), seq)
            try:
                with self._db_lock:
                    if self._journal is not None:
                        self._journal.begin_export(new)
                # Mode 0600: the file holds the secrets in clear.
                write_atomic(self.path, data, mode=0o600)
                with self._db_lock:
                    if self._journal is not None:
                        self._journal.end_export(new)
            except (sqlite3.Error, OSError) as exc:
                if failure is not None:
                    failure(self.path, exc)
                elif warn:
                    self._warn(
                        f"warning: cannot write {self.path} ({exc}); the writes are kept in "
                        f"{self.journal_path.name} until it can"
                    )
                return False
            self._base_digest = new.digest
            self._exported_seq = seq
            self._last_export = time.monotonic()
            return True
        finally:
            self._export_lock.release()

    def _start_flusher(self) -> None:
        self._flusher = threading.Thread(
            target=self._flush_when_idle, name="state-flusher", daemon=True
        )
        self._flusher.start()

    def _flush_when_idle(self) -> None:
        while True:
            with self._wake:
                while not self._closed and self._seq == self._exported_seq:
                    self._flusher_waiting = True
                    self._wake.wait()
                    self._flusher_waiting = False
                while not self._closed:
                    now = time.monotonic()
                    due = min(self._last_write + self._idle, self._last_export + self._max_lag)
                    if now >= due:
                        break
                    self._wake.wait(due - now)
                if self._closed:
                    return
            self._export(warn=True)

    # -- stop ---------------------------------------------------------------------------------

    def close(self) -> None:
        """Writes the complete state to the JSON file and deletes the journal (a clean stop).
        If the file cannot be written, the journal is kept, so the writes are not lost."""
        with self._wake:
            if self._closed:
                return
            self._closed = True
            self._wake.notify_all()
        if self._flusher is not None:
            self._flusher.join(timeout=JOIN_SECONDS)
        if self.read_only:
            return
        with self._lock:
            written = self._seq == self._exported_seq or self._export(warn=True)
            with self._db_lock:
                if self._journal is not None:
                    if written:
                        self._journal.remove()
                        self._seal.remove()
                    else:
                        self._journal.close()
                        self._seal.close()
                    self._journal = None

    # -- helpers ------------------------------------------------------------------------------

    def _warn(self, message: str) -> None:
        if not self._warned:
            self._warned = True
            print(message, file=sys.stderr, flush=True)

    def _remove_stale_temporary_files(self) -> None:
        """Temporary files of an export that a kill interrupted."""
        prefix = f".{self.path.name}."  # as ``reconciler.core.atomic`` names them
        with contextlib.suppress(OSError), os.scandir(self.path.parent) as entries:
            for entry in entries:
                if entry.name.startswith(prefix) and entry.name.endswith(".tmp"):
                    with contextlib.suppress(OSError):
                        os.unlink(entry.path)


class JournalError(OSError):
    """The journal beside the state file cannot be used without losing writes."""


class NotDurable(Exception):
    """A write that could not be made durable: it must be undone and refused, not answered."""


def remove_saved_writes(state_path: Path) -> None:
    """Deletes the journal and its seal beside ``state_path`` (``--fresh``)."""
    remove_files(journal_path(state_path))
    with contextlib.suppress(FileNotFoundError):
        seal_path(state_path).unlink()


__all__ = [
    "JournalError",
    "NotDurable",
    "StateStore",
    "digest",
    "is_read_only",
    "remove_files",
    "remove_saved_writes",
]
