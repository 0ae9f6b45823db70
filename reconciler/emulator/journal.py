"""The write journal beside ``--state FILE``: the writes not yet in the JSON file.

An SQLite database (``FILE.journal.sqlite3``, with SQLite's own ``-wal`` and ``-shm`` files) of
one row per project written since the JSON file was last written: the project's whole
``symbol_sources`` list as JSON text, secrets in clear, and the write's sequence number. A
later write to the same project replaces its row, so the journal never holds more than one row
per project, however many writes it records.

It also records which JSON file its rows apply to (``base_digest``: the SHA-256 of the file's
bytes, and ``base_seq``: the last write that file holds), and, while a new JSON file is being
written, the digest and sequence number of that file (``pending_*``). ``persistence`` uses these
to decide at start which rows are newer than the file it finds.

Every method is one SQLite transaction. The connection is shared between threads, so the
caller serialises calls (``persistence`` holds a lock around each).
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final

SUFFIX: Final = ".journal.sqlite3"
# SQLite's own files next to the database in WAL mode (and a rollback journal, should one
# ever be left by an older SQLite).
SQLITE_SIDE_FILES: Final[tuple[str, ...]] = ("-wal", "-shm", "-journal")

_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS writes (
    organization   TEXT    NOT NULL,
    project        TEXT    NOT NULL,
    seq            INTEGER NOT NULL,
    symbol_sources TEXT    NOT NULL,
    PRIMARY KEY (organization, project)
);
"""


SEAL_SUFFIX: Final = ".journal.seq"


def journal_path(state_path: Path) -> Path:
    return state_path.with_name(state_path.name + SUFFIX)


def seal_path(state_path: Path) -> Path:
    return state_path.with_name(state_path.name + SEAL_SUFFIX)


class Seal:
    """The number of the last write the journal recorded, kept outside the journal.

    SQLite cannot tell that its ``-wal`` file was removed or damaged: it opens the database
    without the writes that file held. The seal can: it is written after each journal commit
    (one small ``pwrite`` in place, no fsync: it survives the emulator being killed, as the
    journal does), so a journal whose last write is older than the seal has lost writes, and a
    seal without a journal means the journal is gone. A clean stop removes it with the journal.
    """

    WIDTH: Final = 20

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    @classmethod
    def read(cls, path: Path) -> int | None:
        """The sealed write number; ``None`` without a seal. Raises ``ValueError`` when the
        seal holds no number (and ``OSError`` when it cannot be read)."""
        try:
            text = path.read_bytes()
        except FileNotFoundError:
            return None
        return int(text.decode("ascii").strip() or "0")

    def write(self, seq: int) -> None:
        if self._fd is None:
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        os.pwrite(self._fd, f"{seq:0{self.WIDTH}d}\n".encode("ascii"), 0)

    def close(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = None

    def remove(self) -> None:
        self.close()
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()


@dataclass(frozen=True)
class Base:
    """Which JSON file the rows apply to: its digest and the last write it holds."""

    digest: str
    seq: int


@dataclass(frozen=True)
class Meta:
    base: Base
    pending: Base | None  # a JSON file being written, until it is in place


@dataclass(frozen=True)
class Row:
    organization: str
    project: str
    seq: int
    symbol_sources: str


class Journal:
    """One open journal database."""

    def __init__(self, path: Path, connection: sqlite3.Connection) -> None:
        self.path = path
        self._db = connection

    @classmethod
    def open(cls, path: Path, base: Base) -> Journal:
        """Opens the journal at ``path``, creating it for ``base`` when it does not exist.

        Raises ``sqlite3.Error`` (or ``OSError``) when it cannot be opened or is not a journal.
        """
        # Secrets are in clear: the database is created private, and SQLite gives its -wal and
        # -shm files the database's permissions.
        os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
        connection = sqlite3.connect(
            path, isolation_level=None, check_same_thread=False, timeout=5.0
        )
        try:
            # WAL: a commit appends to one file; NORMAL: no fsync per commit. A committed write
            # is in the operating system's hands when the commit returns, so it survives the
            # emulator being killed; SQLite keeps the database whole across a power cut too, and
            # may then lose only the last writes (see persistence's docstring for the figures).
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=NORMAL")
            with _transaction(connection):
                for statement in _SCHEMA.split(";"):
                    if statement.strip():
                        connection.execute(statement)
                connection.execute(
                    "INSERT OR IGNORE INTO meta (key, value) VALUES ('base_digest', ?)",
                    (base.digest,),
                )
                connection.execute(
                    "INSERT OR IGNORE INTO meta (key, value) VALUES ('base_seq', ?)",
                    (str(base.seq),),
                )
        except BaseException:
            connection.close()
            raise
        journal = cls(path, connection)
        journal.meta()  # a database that is not a journal fails here, not later
        return journal

    def meta(self) -> Meta:
        values = dict(self._db.execute("SELECT key, value FROM meta").fetchall())
        try:
            base = Base(str(values["base_digest"]), int(values["base_seq"]))
            pending = None
            if "pending_digest" in values:
                pending = Base(str(values["pending_digest"]), int(values["pending_seq"]))
        except (KeyError, ValueError) as exc:
            raise sqlite3.DatabaseError(f"not a state journal: {exc}") from None
        return Meta(base, pending)

    def rows(self, after: int) -> Iterator[Row]:
        """The rows of writes after ``after``, oldest first."""
        cursor = self._db.execute(
            "SELECT organization, project, seq, symbol_sources FROM writes WHERE seq > ? "
            "ORDER BY seq",
            (after,),
        )
        for organization, project, seq, sources in cursor:
            yield Row(str(organization), str(project), int(seq), str(sources))

    def last_seq(self) -> int:
        """The number of the last write this journal knows of: recorded, or held by the file
        it applies to (or by the file being written)."""
        meta = self.meta()
        (latest,) = self._db.execute("SELECT MAX(seq) FROM writes").fetchone()
        known = [meta.base.seq, int(latest or 0)]
        if meta.pending is not None:
            known.append(meta.pending.seq)
        return max(known)

    def count(self) -> int:
        (count,) = self._db.execute("SELECT COUNT(*) FROM writes").fetchone()
        return int(count)

    def record(self, organization: str, project: str, seq: int, symbol_sources: str) -> None:
        """Records one project's new list (one transaction: in the journal once it returns)."""
        self._db.execute(
            "INSERT INTO writes (organization, project, seq, symbol_sources) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (organization, project) DO UPDATE SET "
            "seq = excluded.seq, symbol_sources = excluded.symbol_sources",
            (organization, project, seq, symbol_sources),
        )

    def begin_export(self, pending: Base) -> None:
        """Notes the JSON file about to replace the current one."""
        with _transaction(self._db):
            self._set("pending_digest", pending.digest)
            self._set("pending_seq", str(pending.seq))

    def end_export(self, base: Base) -> None:
        """The JSON file ``base`` is in place: forget the rows it holds."""
        with _transaction(self._db):
            self._set("base_digest", base.digest)
            self._set("base_seq", str(base.seq))
            self._db.execute("DELETE FROM meta WHERE key IN ('pending_digest', 'pending_seq')")
            self._db.execute("DELETE FROM writes WHERE seq <= ?", (base.seq,))

    def reset(self, base: Base) -> None:
        """Drops every row: the journal now applies to ``base``."""
        with _transaction(self._db):
            self._db.execute("DELETE FROM writes")
            self._db.execute("DELETE FROM meta WHERE key IN ('pending_digest', 'pending_seq')")
            self._set("base_digest", base.digest)
            self._set("base_seq", str(base.seq))

    def close(self) -> None:
        self._db.close()

    def remove(self) -> None:
        """Closes the database and deletes its files."""
        self.close()
        remove_files(self.path)

    def _set(self, key: str, value: str) -> None:
        self._db.execute(
            "INSERT INTO meta (key, value) VALUES (?, ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, value),
        )


def remove_files(path: Path) -> None:
    for name in (path.name, *(path.name + side for side in SQLITE_SIDE_FILES)):
        with contextlib.suppress(FileNotFoundError):
            (path.parent / name).unlink()


@contextlib.contextmanager
def _transaction(connection: sqlite3.Connection) -> Iterator[None]:
    connection.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        connection.execute("ROLLBACK")
        raise
    connection.execute("COMMIT")
