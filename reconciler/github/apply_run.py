"""``symsync github apply``: run apply and report the outcome on the pull requests.

apply runs as a child process of the same symsync, with the environment of this step less
``GITHUB_TOKEN`` (apply has no use for it). The child has a process group of its own, so it
hears a signal only from this process: a SIGINT or SIGTERM this process gets (sent to it alone,
or to its whole process group, as a CI runner's cancel and ``timeout`` do) is passed on once,
and the child finishes its writes in flight, prints its result table and exits 130 or 143.
Were it in this process's group, a group signal would reach it twice, the second time as late
as this process is slow to pass it on, and a late second signal means "exit at once". The
outcome is then posted as usual, within the few seconds a CI runner leaves.

Its stderr (progress, the result table, a refusal
naming what differs) is shown live and kept; its stdout (the markdown plan) is kept. The
comment says in its first line whether the plan was applied, refused or failed, then holds the
log and the plan, within GitHub's size limit.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import IO, Final

from reconciler.core import interrupt

# The log kept in the comment: its end, where the results and the reasons are.
LOG_LIMIT: Final = 20_000

OUTCOMES: Final[dict[int, str]] = {
    0: "applied",
    # An error before any write (a bad config, a missing secret, a project --expect could not
    # plan) writes nothing; a project failing while writing leaves the others applied.
    1: "failed: the log below says what was written, if anything",
    2: "failed",
    3: "refused: nothing was written for the refused projects (see the log below)",
    130: "interrupted (SIGINT) after finishing the writes in flight: the table in the log "
    "below says what was written and what was not",
    143: "interrupted (SIGTERM) after finishing the writes in flight: the table in the log "
    "below says what was written and what was not",
}


@dataclass(frozen=True)
class ApplyRun:
    exit_code: int
    stdout: str
    stderr: str


def reviewed_command(
    reviewed: Sequence[str], *, base: str | None, config_dir: str | None, url: str | None
) -> list[str]:
    """``symsync apply --reviewed PLANFILE... --base REV --yes --format markdown``; with no
    reviewed plan, ``apply --base REV`` alone (a manual run: the fresh plan as it is)."""
    checks = [arg for path in reviewed for arg in ("--reviewed", path)]
    return _apply_args(checks, base=base, config_dir=config_dir, url=url)


def apply_command(
    planfile: str, *, base: str | None, config_dir: str | None, url: str | None
) -> list[str]:
    """``symsync apply --expect PLANFILE --base REV --yes --format markdown``, as a child."""
    return _apply_args(["--expect", planfile], base=base, config_dir=config_dir, url=url)


def _apply_args(
    checks: Sequence[str], *, base: str | None, config_dir: str | None, url: str | None
) -> list[str]:
    """The child apply's command line: ``checks`` (what the fresh plan is held to), then the
    options both kinds of run share."""
    args = [sys.executable, "-m", "reconciler", "apply", *checks]
    if base:
        args += ["--base", base]
    args += ["--yes", "--format", "markdown"]
    if config_dir:
        args += ["--config-dir", config_dir]
    if url:
        args += ["--url", url]
    return args


def run_apply(args: Sequence[str]) -> ApplyRun:
    """Run apply; its stderr passes through to ours as it comes, and both streams are kept."""
    env = {k: v for k, v in os.environ.items() if k != "GITHUB_TOKEN"}
    env["SYMSYNC_MASKED"] = "true"  # this process printed the masks, before anything else
    process = subprocess.Popen(
        list(args),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        env=env,
        text=True,
        encoding="utf-8",
        errors="replace",
        process_group=0,  # signals reach it through _PassedOn only, once each
    )
    assert process.stdout is not None and process.stderr is not None
    err_lines: list[str] = []
    pump = threading.Thread(target=_tee, args=(process.stderr, err_lines), daemon=True)
    pump.start()
    with _PassedOn(process):
        out = process.stdout.read()
        code = process.wait()
    pump.join()
    return ApplyRun(exit_code=code, stdout=out, stderr="".join(err_lines))


class _PassedOn:
    """While the child runs, SIGINT and SIGTERM are passed on to it instead of ending this
    process (which must stay to report what the child wrote)."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self._process = process
        self._previous: dict[int, object] = {}

    def _forward(self, signum: int, frame: object) -> None:
        if self._process.poll() is None:
            with contextlib.suppress(OSError):  # it has just ended
                self._process.send_signal(signum)

    def __enter__(self) -> None:
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._previous[sig] = signal.signal(sig, self._forward)

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)  # type: ignore[arg-type]


def _tee(stream: IO[str], kept: list[str]) -> None:
    interrupt.signals_to_main_thread()  # the main thread passes them on
    for line in stream:
        kept.append(line)
        sys.stderr.write(line)
        sys.stderr.flush()


def _fence(text: str) -> str:
    longest = run = 0
    for char in text:
        run = run + 1 if char == "`" else 0
        longest = max(longest, run)
    return "`" * max(3, longest + 1)


def tail(text: str, limit: int) -> str:
    """The end of ``text`` within ``limit`` UTF-8 bytes, whole lines, saying what was left out."""
    data = text.encode("utf-8")
    if len(data) <= limit:
        return text
    end = data[-limit:].decode("utf-8", errors="ignore")
    if "\n" in end:
        end = end[end.index("\n") + 1 :]
    return f"[... {len(data) - len(end.encode('utf-8'))} bytes of the log left out ...]\n{end}"


def report(
    run: ApplyRun,
    *,
    sha: str | None,
    run_url: str | None,
    plan_run_url: str | None,
    notes: Sequence[str] = (),
) -> str:
    """The pull-request comment for one apply (without the marker line)."""
    outcome = OUTCOMES.get(run.exit_code, f"failed (exit code {run.exit_code})")
    head = [f"### symsync apply: {outcome}", ""]
    facts = []
    if sha:
        facts.append(f"merged commit `{sha[:12]}`")
    if run_url:
        facts.append(f"[apply run]({run_url})")
    if plan_run_url:
        facts.append(f"[plan run reviewed]({plan_run_url})")
    facts.append(f"exit code {run.exit_code}")
    head += [" · ".join(facts), ""]
    for note in notes:
        head += [note, ""]
    log = tail(run.stderr.rstrip("\n"), LOG_LIMIT)
    fence = _fence(log)
    head += [
        "<details open><summary>apply's log</summary>",
        "",
        f"{fence}text",
        log,
        fence,
        "",
        "</details>",
        "",
    ]
    return "\n".join(head) + "\n" + run.stdout


def outcome_notes(code: int, *, unreviewed: Sequence[int], manual: bool) -> list[str]:
    """What the merged pull requests are told to do next, for a refused apply."""
    notes: list[str] = []
    if unreviewed:
        numbers = ", ".join(f"#{n}" for n in unreviewed)
        notes.append(
            f"**No reviewed plan** for pull request(s) {numbers} (a fork's pull request is "
            "planned without Sentry's token, so nothing was reviewed): its changes cannot be "
            "applied automatically."
        )
    if code == 3 and not manual:
        notes.append(
            "**How to proceed:** review the fresh plan in the log below. To apply it as it is, "
            "run the apply workflow by hand (Actions, `symsync apply`, Run workflow), which the "
            "`sentry` environment's reviewers approve; to change it, open a pull request."
        )
    return notes
