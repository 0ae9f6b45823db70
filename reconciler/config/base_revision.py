"""``--base REV``: the project files as they were at a git revision.

Runs ``git`` in the config directory's repository: ``rev-parse`` to find the repository and the
commit, then one ``git cat-file --batch`` for every file (the equivalent of
``git show REV:PATH`` per file, in one process). A file missing at REV is new there.
"""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from pathlib import Path

from reconciler.core.errors import SymsyncError

GIT_TIMEOUT = 60.0


def _git(
    args: Sequence[str], cwd: Path, stdin: bytes | None = None
) -> subprocess.CompletedProcess[bytes]:
    try:
        return subprocess.run(
            ["git", *args],
            cwd=cwd,
            input=stdin,
            capture_output=True,
            timeout=GIT_TIMEOUT,
            check=False,
        )
    except FileNotFoundError:
        raise SymsyncError("--base needs git, and no `git` command was found") from None
    except subprocess.TimeoutExpired:
        raise SymsyncError(f"--base: git did not answer within {GIT_TIMEOUT:.0f} s") from None


def _first_line(output: bytes) -> str:
    text = output.decode("utf-8", "replace").strip()
    return text.splitlines()[0] if text else "no message"


def files_at(rev: str, config_dir: Path, paths: Sequence[Path]) -> dict[Path, bytes | None]:
    """The content of each path at ``rev`` (None where the file did not exist there)."""
    if not rev or rev.startswith("-"):
        raise SymsyncError(f"--base {rev!r} is not a git revision (like `HEAD~1` or a commit id)")
    if not config_dir.is_dir():
        raise SymsyncError(f"--base: the config directory {config_dir} does not exist")
    top = _git(["rev-parse", "--show-toplevel"], config_dir)
    if top.returncode != 0:
        raise SymsyncError(
            f"--base {rev}: {config_dir} is not in a git repository "
            f"(git: {_first_line(top.stderr)}); --base reads the files as committed at REV"
        )
    root = Path(top.stdout.decode("utf-8", "replace").strip()).resolve()
    commit = _git(
        ["rev-parse", "--verify", "--quiet", "--end-of-options", f"{rev}^{{commit}}"], root
    )
    if commit.returncode != 0:
        raise SymsyncError(
            f"--base {rev}: no such commit in the git repository at {root}; give a revision "
            "that exists there (a shallow CI clone may need `fetch-depth: 0`)"
        )
    sha = commit.stdout.decode().strip()
    relative: list[str] = []
    for path in paths:
        try:
            relative.append(path.resolve().relative_to(root).as_posix())
        except ValueError:
            raise SymsyncError(f"--base: {path} is outside the git repository at {root}") from None
    if not relative:
        return {}
    request = "".join(f"{sha}:{rel}\n" for rel in relative).encode("utf-8")
    batch = _git(["cat-file", "--batch"], root, stdin=request)
    if batch.returncode != 0:
        raise SymsyncError(
            f"--base {rev}: git could not read the files ({_first_line(batch.stderr)})"
        )
    return dict(zip(paths, _parse_batch(batch.stdout, len(relative)), strict=True))


def _parse_batch(output: bytes, count: int) -> list[bytes | None]:
    """``git cat-file --batch`` output: per request ``<oid> <type> <size>\\n<content>\\n`` or
    ``<name> missing\\n``."""
    out: list[bytes | None] = []
    at = 0
    for _ in range(count):
        end = output.index(b"\n", at)
        header = output[at:end].split(b" ")
        at = end + 1
        if header[-1] in (b"missing", b"ambiguous") or len(header) != 3:
            out.append(None)
            continue
        kind, size = header[1], int(header[2])
        content = output[at : at + size]
        at += size + 1
        out.append(content if kind == b"blob" else None)
    return out
