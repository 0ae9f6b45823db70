"""What the GitHub Actions runner reads from a step: workflow commands and the step summary.

No HTTP here (the REST API glue is ``reconciler.github.rest``), so ``validate`` can use it cheaply.

- ``annotation``: one ``::error file=...,line=...,col=...::message`` line, escaped the way the
  runner unescapes it (``%``, CR and LF everywhere; also ``:`` and ``,`` in properties), so a
  message can never end the command early or inject another one.
- ``append_step_summary``: markdown added to ``$GITHUB_STEP_SUMMARY``, kept within the runner's
  1 MiB limit for one step's summary, cut with a visible note when it would not fit.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Final, Literal

from reconciler.core.redact import redact_known

if TYPE_CHECKING:
    from reconciler.plan.model import Plan

# The runner refuses a step summary over 1 MiB (and then shows none of it).
STEP_SUMMARY_LIMIT: Final = 1024 * 1024

Level = Literal["error", "warning", "notice"]


def escape_data(text: str) -> str:
    """A workflow command's message: ``%``, CR and LF escaped."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    """A workflow command's property value: as data, and ``:`` and ``,`` too."""
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def annotation(level: Level, message: str, *, file: str, line: int, col: int) -> str:
    """``::error file=PATH,line=N,col=M::message``: GitHub shows it on that line of the diff."""
    props = f"file={escape_property(file)},line={line},col={col}"
    return f"::{level} {props}::{escape_data(message)}"


def cut_to_bytes(text: str, limit: int, note: str) -> str:
    """``text`` when it fits in ``limit`` UTF-8 bytes; else its start (whole lines, a code block
    cut open closed again), then ``note``, all within ``limit``."""
    if len(text.encode("utf-8")) <= limit:
        return text
    room = limit - len(note.encode("utf-8")) - 1  # the blank line before the note
    kept: list[str] = []
    used = 0
    fence: str | None = None
    for line in text.splitlines(keepends=True):
        after = _fence_after(fence, line.rstrip("\r\n"))
        size = len(line.encode("utf-8"))
        if used + size + (len(after) + 1 if after else 0) > room:
            break
        kept.append(line)
        used += size
        fence = after
    if fence is not None:
        kept.append(fence + "\n")
    return "".join(kept) + "\n" + note


def _fence_after(fence: str | None, line: str) -> str | None:
    """The code fence open after ``line`` (its backticks), given the one open before it."""
    if not line.startswith("```"):
        return fence
    ticks = line[: len(line) - len(line.lstrip("`"))]
    if fence is None:
        return ticks
    return None if line == fence else fence


def summary_path() -> Path | None:
    """``$GITHUB_STEP_SUMMARY``, when set (only inside a GitHub Actions step)."""
    value = os.environ.get("GITHUB_STEP_SUMMARY", "")
    return Path(value) if value else None


def append_step_summary(markdown: str, *, what: str = "the plan") -> bool:
    """Add ``markdown`` to the step summary when ``$GITHUB_STEP_SUMMARY`` is set.

    What the step already wrote counts against the 1 MiB limit; past it, the start is kept with
    a note that says so. Returns whether anything was written. A summary file that cannot be
    written is not an error of the command: its output is in the log all the same.
    """
    path = summary_path()
    if path is None:
        return False
    try:
        used = path.stat().st_size
    except OSError:
        used = 0
    note = (
        f"> **Cut:** {what} is longer than the room left in this step's summary "
        f"({STEP_SUMMARY_LIMIT // 1024} KiB for a step); the run log and the JSON plan have "
        "all of it.\n"
    )
    room = STEP_SUMMARY_LIMIT - used
    if room <= len(note.encode("utf-8")):
        return False
    text = markdown if markdown.endswith("\n") else markdown + "\n"
    text = cut_to_bytes(redact_known(text), room, note)
    try:
        with path.open("a", encoding="utf-8") as handle:
            handle.write(text)
    except OSError:
        return False
    return True


def append_plan_summary(plan: Plan) -> None:
    """``plan`` and ``apply``: the markdown plan in the step summary, when in a GitHub job."""
    if summary_path() is None:
        return
    from reconciler.plan.render import render_markdown

    # Rendered whole; append_step_summary cuts it to the room left, with its own note.
    append_step_summary(render_markdown(plan, limit=2**62))


def set_output(name: str, value: str) -> None:
    """A step output (``$GITHUB_OUTPUT``), when the variable is set."""
    path = os.environ.get("GITHUB_OUTPUT", "")
    if not path:
        return
    if "\n" in value or "\r" in value:
        raise ValueError(f"step output {name} must be one line")
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(f"{name}={value}\n")


# Set by a process that already printed the masks for the processes it starts.
MASKED_VARIABLE: Final = "SYMSYNC_MASKED"


def print_secret_masks() -> None:
    """In a GitHub Actions step (``GITHUB_ACTIONS=true``), ``::add-mask::VALUE`` on stdout for
    every value of ``SYMSYNC_SECRETS``, so the runner hides each one in every later line of the
    log. Written straight to the file descriptor, past symsync's own redaction (which would
    print the mask instead of the value); nothing is printed outside GitHub Actions, or when a
    parent symsync did it already. Call it before anything else is printed."""
    if os.environ.get("GITHUB_ACTIONS") != "true" or os.environ.get(MASKED_VARIABLE) == "true":
        return
    from reconciler.apply.secrets import mask_commands

    lines = mask_commands()
    if not lines:
        return
    sys.stdout.flush()
    os.write(1, ("\n".join(lines) + "\n").encode("utf-8", "replace"))


def set_plan_outputs(document: object) -> None:
    """The step outputs of a JSON plan: ``has-changes`` (``true``/``false``), ``creates``,
    ``updates`` (moves included) and ``deletes``."""
    summary = document.get("summary") if isinstance(document, dict) else None
    counts = summary if isinstance(summary, dict) else {}

    def count(key: str) -> int:
        value = counts.get(key, 0)
        return value if isinstance(value, int) and not isinstance(value, bool) else 0

    creates, updates, deletes = count("create"), count("update") + count("move"), count("delete")
    set_output("has-changes", "true" if creates + updates + deletes else "false")
    set_output("creates", str(creates))
    set_output("updates", str(updates))
    set_output("deletes", str(deletes))
