"""Shared by the soak suites (``make soak``): seed counts, the counts printed at the end, and
killing the real CLI at a random moment.

``SYMSYNC_SOAK_SEEDS`` (environment) sets how many seeds each suite runs (``make soak``: 50).
Every suite adds what it did to :data:`COUNTS`; tests/conftest.py prints them after the run:
inputs tried, faults injected, kills, sources lost (must be 0) and leaks (must be 0).
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

SEEDS_VARIABLE = "SYMSYNC_SOAK_SEEDS"
DEFAULT_SEEDS = 3

# The keys, in the order they are printed.
INPUTS = "inputs tried"
FAULTS = "faults injected"
KILLS = "kills"
LOST = "sources lost"
LEAKS = "leaks"
ORDER = (INPUTS, FAULTS, KILLS, LOST, LEAKS)

COUNTS: Counter[str] = Counter()
_lock = threading.Lock()


def seeds(salt: int = 0) -> list[int]:
    """The seeds a suite runs: ``SYMSYNC_SOAK_SEEDS`` of them (default 3), the same each run."""
    count = int(os.environ.get(SEEDS_VARIABLE, "") or DEFAULT_SEEDS)
    return [salt * 1_000_003 + n for n in range(count)]


def count(key: str, amount: int = 1) -> None:
    with _lock:
        COUNTS[key] += amount


def summary_lines() -> list[str]:
    with _lock:
        if not COUNTS:
            return []
        return [f"{key}: {COUNTS[key]}" for key in ORDER]


def leaks_in(outputs: Iterable[str], sentinels: Iterable[str]) -> list[str]:
    """Every sentinel found in any output (each finding counted as a leak)."""
    found = [s for text in outputs for s in sentinels if s in text]
    count(LEAKS, len(found))
    return found


@dataclass(frozen=True)
class Killed:
    """A CLI run killed with SIGKILL ``after`` seconds (or that ended by itself before)."""

    after: float
    killed: bool
    returncode: int
    stderr: str


def run_and_kill(args: list[str], *, env: dict[str, str], after: float) -> Killed:
    """Start ``python -m reconciler *args``, SIGKILL it ``after`` seconds later (unless it has
    ended by then), wait for it. Nothing of it survives: no cleanup, no result table."""
    process = subprocess.Popen(
        [sys.executable, "-m", "reconciler", *args],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    killed = False
    try:
        try:
            process.wait(timeout=after)
        except subprocess.TimeoutExpired:
            process.kill()
            killed = True
            count(KILLS)
        _, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    return Killed(after, killed, process.returncode, stderr)


def random_moment(rng: random.Random, longest: float) -> float:
    """A moment to kill at: anywhere from start-up to the end of the longest expected run."""
    return rng.uniform(0.0, longest)
