"""Shared fixtures and hooks for every test module."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from reconciler.core.redact import forget_secrets
from reconciler.sentry.client import SentryClient
from tests.support.fake_sentry import CLIENT_TOKEN, FakeSentry, FakeTime, fake_sentry
from tests.support.soak_support import summary_lines


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


# A fake Sentry on loopback, a fake clock, and a client of the one through the other: what the
# client and transport suites share. A module that needs another `fake` defines its own.
@pytest.fixture
def fake() -> Iterator[FakeSentry]:
    with fake_sentry() as server:
        yield server


@pytest.fixture
def ftime() -> FakeTime:
    return FakeTime()


@pytest.fixture
def client(fake: FakeSentry, ftime: FakeTime) -> Iterator[SentryClient]:
    with SentryClient(fake.url, CLIENT_TOKEN, timeout=5, max_retries=5, **ftime.kwargs()) as c:
        yield c
