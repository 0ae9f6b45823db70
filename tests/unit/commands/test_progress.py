"""Progress: a live display on a terminal only; in a CI log no per-write line and one totals line.

The CI-log behaviour is checked through the real CLI against the emulator (stderr is a pipe
there, as in CI); the terminal behaviour with a console that says it is one, and a fake clock,
and through the real CLI with its stderr on a pseudo-terminal.
"""

from __future__ import annotations

import io
import re
import signal
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from rich.console import Console

from reconciler.commands.progress import RunProgress, totals_line
from reconciler.core import interrupt
from reconciler.emulator.testing import serving_emulator
from tests.support.e2e_helpers import (
    EMULATOR_TOKEN,
    clean_env,
    on_a_terminal,
    state_doc,
    symsync,
    write_tree,
)

TOTALS = re.compile(
    r"^(plan|apply|import): (\d+) projects?, (\d+) requests?, (\d+) answered 429, "
    r"(\d+\.\d) s waiting for the rate limit, (\d+\.\d) s$",
    re.MULTILINE,
)


@dataclass
class _Counters:
    requests: int = 0
    rate_limited: int = 0
    rate_limit_wait: float = 0.0


class _Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _console(terminal: bool) -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    return Console(file=out, force_terminal=terminal, width=120, no_color=True), out


def test_totals_line_names_every_figure():
    line = totals_line("plan", 1000, _Counters(1003, 3, 2.04), 7.25)
    assert line == (
        "plan: 1000 projects, 1003 requests, 3 answered 429, "
        "2.0 s waiting for the rate limit, 7.2 s"
    )
    assert totals_line("apply", 1, _Counters(1, 0, 0.0), 0.04).startswith(
        "apply: 1 project, 1 request, "
    )


def test_in_a_ci_log_writes_are_not_listed_and_the_totals_come_last():
    console, out = _console(terminal=False)
    clock = _Clock()
    progress = RunProgress("apply", console=console, clock=clock)
    counters = _Counters()
    progress.attach(lambda: counters)
    progress.phase("apply", 500)
    for n in range(500):
        progress.event(f"acme/p{n}: created `s1`")
        progress.advance()
    counters.requests, counters.rate_limited, counters.rate_limit_wait = 1000, 2, 1.5
    clock.now += 12.34
    progress.finish(500)
    assert out.getvalue() == (
        "apply: 500 projects, 1000 requests, 2 answered 429, "
        "1.5 s waiting for the rate limit, 12.3 s\n"
    )


def test_verbose_lists_writes_in_a_ci_log_too():
    console, out = _console(terminal=False)
    progress = RunProgress("apply", console=console, verbose=True, clock=_Clock())
    progress.event("acme/ios: created `s1`")
    assert out.getvalue() == "acme/ios: created `s1`\n"


def test_on_a_terminal_the_display_shows_projects_and_requests_then_goes():
    console, out = _console(terminal=True)
    progress = RunProgress("plan", console=console, clock=_Clock())
    counters = _Counters(requests=7, rate_limited=1, rate_limit_wait=0.5)
    progress.attach(lambda: counters)
    progress.phase("plan", 20)
    for _ in range(5):
        progress.advance()
    progress.event("acme/ios: created `s1`")
    assert progress._display is not None
    progress._display.refresh()
    shown = out.getvalue()
    assert "5/20" in shown
    assert "7 requests, 1 x 429, 0.5 s waited for the limit" in shown
    assert "acme/ios: created `s1`" in shown
    progress.finish(20)
    assert progress._display is None
    assert out.getvalue().endswith(
        "plan: 20 projects, 7 requests, 1 answered 429, 0.5 s waiting for the rate limit, 0.0 s\n"
    )


def test_few_projects_get_no_live_display():
    console, _ = _console(terminal=True)
    progress = RunProgress("plan", console=console, clock=_Clock())
    progress.phase("plan", 3)
    assert progress._display is None


def test_a_signal_that_ends_the_run_clears_the_display_and_shows_the_cursor(tmp_path: Path):
    said: list[str] = []

    def exit_(code: int) -> None:
        said.append(f"exit {code}")

    with open(tmp_path / "terminal", "wb+", buffering=0) as terminal:
        console = Console(file=io.TextIOWrapper(terminal), force_terminal=True, width=120)
        with interrupt.handling("import", write=said.append, exit=exit_) as interrupts:
            progress = RunProgress("import", console=console, clock=_Clock())
            progress.phase("import", 20)
            before = terminal.tell()
            interrupts.handle(signal.SIGINT)
            cleared = (tmp_path / "terminal").read_bytes()[before:]
            progress.stop()
            end = terminal.tell()
            interrupts.handle(signal.SIGINT)  # the display is down: nothing more is written
            assert terminal.tell() == end
    # (one write: a refresh of the display, which runs on its own, cannot land inside it)
    assert b"\r\x1b[2K\x1b[?25h" in cleared
    assert said[:2] == ["SIGINT: import stopped; nothing was written.", "exit 130"]


# --- through the real CLI -------------------------------------------------------------------


def _http(sid: str, name: str) -> dict[str, object]:
    return {"id": sid, "type": "http", "name": name, "url": f"https://{sid}.example/",
            "layout": {"type": "native", "casing": "default"}}  # fmt: skip


PROJECTS = [f"acme/p{n}" for n in range(12)]


@pytest.mark.e2e
def test_cli_in_a_ci_log_prints_results_and_one_totals_line_per_run(tmp_path: Path):
    configs = write_tree(
        tmp_path, {key: {"sources": [_http("a", "new"), _http("b", "b")]} for key in PROJECTS}
    )
    remote = state_doc({key: [_http("a", "old")] for key in PROJECTS})
    with serving_emulator(remote) as emu:
        env = clean_env(SENTRY_URL=emu.url, SENTRY_AUTH_TOKEN=EMULATOR_TOKEN)
        plan = symsync("plan", "--config-dir", str(configs), env=env)
        planned = len(emu.requests())
        applied = symsync("apply", "--yes", "--config-dir", str(configs), env=env)
        log = emu.requests()

    assert plan.returncode == 0, plan.stderr
    # projects, requests (as the emulator counted them), 429s
    assert [m.group(1, 2, 3, 4) for m in TOTALS.finditer(plan.stderr)] == [
        ("plan", "12", str(planned), "0")
    ]
    assert plan.stderr.strip().splitlines()[-1].startswith("plan: 12 projects")

    assert applied.returncode == 0, applied.stderr
    assert [m.group(1, 2, 3, 4) for m in TOTALS.finditer(applied.stderr)] == [
        ("apply", "12", str(len(log) - planned), "0")
    ]
    # No line per write or per request: 24 writes went out, the table tells the outcome.
    assert "created `" not in applied.stderr and "updated `" not in applied.stderr
    assert "GET /api" not in applied.stderr and "reconciler.client" not in applied.stderr
    assert applied.stderr.count("│ applied") == 12
    assert len([e for e in log if e["method"] != "GET"]) == 24
    assert applied.stderr.strip().splitlines()[-1].startswith("apply: 12 projects")


@pytest.mark.e2e
def test_cli_verbose_lists_each_write(tmp_path: Path):
    configs = write_tree(tmp_path, {"acme/ios": {"sources": [_http("a", "new")]}})
    with serving_emulator(state_doc({"acme/ios": []})) as emu:
        env = clean_env(SENTRY_URL=emu.url, SENTRY_AUTH_TOKEN=EMULATOR_TOKEN)
        applied = symsync("apply", "--yes", "--verbose", "--config-dir", str(configs), env=env)
    assert applied.returncode == 0, applied.stderr
    assert "acme/ios: created `a`" in applied.stderr


@pytest.mark.e2e
def test_cli_import_ends_with_the_totals_line(tmp_path: Path):
    remote = state_doc({"acme/ios": [_http("a", "A")], "acme/web": []})
    with serving_emulator(remote) as emu:
        env = clean_env(SENTRY_URL=emu.url, SENTRY_AUTH_TOKEN=EMULATOR_TOKEN)
        run = symsync("import", "--org", "acme", "--config-dir", str(tmp_path / "c"), env=env)
        sent = len(emu.requests())
    assert run.returncode == 0, run.stderr
    assert [m.group(1, 2, 3) for m in TOTALS.finditer(run.stderr)] == [("import", "2", str(sent))]
    assert run.stderr.strip().splitlines()[-1].startswith("import: 2 projects")


# --- import on a terminal and in a CI log -----------------------------------------------------

# Escape sequences, to read a terminal's output as text.
ESCAPES = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
IMPORTED = [f"acme/p{n:02}" for n in range(12)]


def _terminal_env(url: str) -> dict[str, str]:
    env = clean_env(SENTRY_URL=url, SENTRY_AUTH_TOKEN=EMULATOR_TOKEN, TERM="xterm-256color")
    for name in ("TTY_COMPATIBLE", "TTY_INTERACTIVE", "COLUMNS", "LINES"):
        env.pop(name, None)
    return env


@pytest.mark.e2e
def test_cli_import_on_a_terminal_shows_its_progress_then_the_totals(tmp_path: Path):
    remote = state_doc({key: [_http("a", key)] for key in IMPORTED})
    with serving_emulator(remote) as emu:
        code, shown = on_a_terminal(
            "import", "--org", "acme", "--config-dir", str(tmp_path / "c"),
            env=_terminal_env(emu.url),
        )  # fmt: skip
        sent = len(emu.requests())
    assert code == 0, shown
    text = ESCAPES.sub("", shown).replace("\r\n", "\n")
    # The live line: what it reads, projects done out of the total, the client's counters.
    assert re.search(r"import \S*\s+0/12 projects \d+ requests?, 0 x 429", text), text
    assert re.search(r"import \S*\s+12/12 projects \d+ requests, 0 x 429, 0\.0 s waited", text)
    # Taken down (the cursor shown again) before the results are printed under it.
    assert shown.index("\x1b[?25h") < shown.index("wrote ")
    assert text.count("wrote ") == 13
    assert [m.group(1, 2, 3, 4) for m in TOTALS.finditer(text)] == [
        ("import", "12", str(sent), "0")
    ]
    assert text.rstrip().splitlines()[-1].startswith("import: 12 projects")
    assert EMULATOR_TOKEN not in shown
    assert sorted(p.stem for p in (tmp_path / "c" / "acme").iterdir()) == [
        key.split("/")[1] for key in IMPORTED
    ]


@pytest.mark.e2e
def test_cli_import_in_a_ci_log_draws_no_display(tmp_path: Path):
    remote = state_doc({key: [] for key in IMPORTED})
    with serving_emulator(remote) as emu:
        env = clean_env(SENTRY_URL=emu.url, SENTRY_AUTH_TOKEN=EMULATOR_TOKEN)
        run = symsync("import", "--org", "acme", "--config-dir", str(tmp_path / "c"), env=env)
        sent = len(emu.requests())
    assert run.returncode == 0, run.stderr
    assert "\x1b" not in run.stderr and "\r" not in run.stderr
    assert "/12" not in run.stderr and " x 429" not in run.stderr and "━" not in run.stderr
    assert [m.group(1, 2, 3, 4) for m in TOTALS.finditer(run.stderr)] == [
        ("import", "12", str(sent), "0")
    ]
    lines = run.stderr.splitlines()
    assert lines[-1].startswith("import: 12 projects")
    # Nothing but the results and the totals: no line per request or per project read.
    assert [line for line in lines if not line.startswith("wrote ")] == [lines[-1]]


@pytest.mark.e2e
def test_cli_import_interrupted_on_a_terminal_leaves_it_clean(tmp_path: Path):
    remote = state_doc({key: [] for key in IMPORTED})
    # Every answer takes a second: the display is up, every read still in flight, at the signal.
    with serving_emulator(remote, latency_ms=1000) as emu:
        code, shown = on_a_terminal(
            "import", "--org", "acme", "--config-dir", str(tmp_path / "c"),
            env=_terminal_env(emu.url), interrupt_at="0/12",
        )  # fmt: skip
    assert code == 130, shown
    # The display's line is cleared and the cursor shown again; the message stands alone.
    assert "\x1b[?25l" in shown
    assert shown.endswith("\r\x1b[2K\x1b[?25hSIGINT: import stopped; nothing was written.\r\n")
    assert "Traceback" not in shown
    assert not (tmp_path / "c").exists()


def _stderr_pipe(monkeypatch: pytest.MonkeyPatch) -> io.StringIO:
    """stderr as a CI log has it: a stream that is no terminal."""
    err = io.StringIO()
    monkeypatch.setattr(sys, "stderr", err)
    monkeypatch.delenv("FORCE_COLOR", raising=False)
    monkeypatch.delenv("TTY_COMPATIBLE", raising=False)
    return err


def test_in_a_ci_log_the_totals_line_is_printed_as_is(monkeypatch: pytest.MonkeyPatch) -> None:
    err = _stderr_pipe(monkeypatch)
    clock = _Clock()
    progress = RunProgress("plan", clock=clock)
    progress.attach(lambda: _Counters(12, 1, 0.5))
    progress.phase("plan", 50)
    assert not progress.live
    clock.now += 3.25
    progress.finish(12)
    assert err.getvalue() == (
        "plan: 12 projects, 12 requests, 1 answered 429, 0.5 s waiting for the rate limit, 3.2 s\n"
    )


@pytest.mark.parametrize(("variable", "value"), [("FORCE_COLOR", "1"), ("TTY_COMPATIBLE", "1")])
def test_a_variable_that_makes_rich_see_a_terminal_still_gets_the_live_display(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    _stderr_pipe(monkeypatch)
    monkeypatch.setenv(variable, value)
    monkeypatch.delenv("TERM", raising=False)
    progress = RunProgress("plan", clock=_Clock())
    assert progress.live  # rich's own rule decides, as it would on a terminal
    progress.stop()
