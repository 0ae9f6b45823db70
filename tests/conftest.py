"""Shared fixtures for every test module."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from reconciler.redact import forget_secrets


@pytest.fixture(autouse=True)
def _no_secret_outlives_its_test() -> Iterator[None]:
    """The registry of secret values is process-wide: a value one test registers must not mask
    another test's output."""
    yield
    forget_secrets()
