"""pytest hooks shared by every suite."""

from __future__ import annotations

import pytest

from tests.soak_support import summary_lines


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """After a run that included soak suites, what they did (``make soak`` prints this)."""
    lines = summary_lines()
    if lines:
        terminalreporter.section("soak counts")
        for line in lines:
            terminalreporter.write_line(line)
