"""Waiting for something that should end, without measuring how fast it was."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


def ends_within(seconds: float, action: Callable[[], T]) -> T:
    """Runs ``action`` in a thread and returns its result (or raises what it raised).

    The test fails if ``action`` is still running after ``seconds``: a generous wait for
    something that should end far sooner (a deadline that cuts a silent server off, a parser
    that refuses an alias bomb), so a slow machine never fails it, a hang always does."""
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["value"] = action()
        except BaseException as exc:  # handed to the caller
            outcome["error"] = exc

    thread = threading.Thread(target=run, name="ends-within", daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"still running after {seconds} s"
    if "error" in outcome:
        raise outcome["error"]
    value: T = outcome["value"]
    return value
