"""Shared fixtures and hooks for every test module."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from reconciler.redact import forget_secrets
from tests.soak_support import summary_lines


@pytest.fixture(autouse=True)
def _no_secret_outlives_its_test() -> Iterator[None]:
    """The registry of secret values is process-wide: a value one test registers must not mask
    another test's output."""
    yield
    forget_secrets()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """After a run that included the seeded soak suites, what they did (``make soak``)."""
    lines = summary_lines()
    if lines:
        terminalreporter.section("soak counts")
        for line in lines:
            terminalreporter.write_line(line)
