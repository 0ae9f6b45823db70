"""The pipeline a team runs: the shipped workflows on a fake GitHub, the emulator as Sentry."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from reconciler.emulator.testing import running_emulator
from tests.support.actions_runner import Pipeline
from tests.support.e2e_helpers import state_doc
from tests.support.fake_github import running_fake_github

READ_TOKEN = "read-token-sentinel-5d1e"
WRITE_TOKEN = "write-token-sentinel-9a7c"
OWNER_TOKEN = "owner-token"
PASSWORD_1 = "password-one-sentinel-41f0"
PASSWORD_2 = "password-two-sentinel-77b3"


@contextmanager
def start_pipeline(
    tmp_path: Path,
    remote: dict[str, list[dict]],
    *emulator_args: str,
    secrets: dict[str, str] | None = None,
) -> Iterator[Pipeline]:
    tokens = [
        "--token", f"{READ_TOKEN}=project:read,org:read", "--token", WRITE_TOKEN,
        *emulator_args,
    ]  # fmt: skip
    bundle = json.dumps(secrets if secrets is not None else {"ACME_PW": PASSWORD_1})
    with (
        running_emulator(*tokens, state=state_doc(remote)) as sentry,
        running_fake_github(OWNER_TOKEN) as fake,
    ):
        pipeline = Pipeline(
            tmp_path,
            fake,
            sentry.url,
            secrets={"SENTRY_READ_TOKEN": READ_TOKEN},
            environment_secrets={"SENTRY_AUTH_TOKEN": WRITE_TOKEN, "SYMSYNC_SECRETS": bundle},
        )
        pipeline.sentry = sentry  # type: ignore[attr-defined]
        yield pipeline


@pytest.fixture
def pipeline(tmp_path: Path) -> Iterator[Pipeline]:
    with start_pipeline(tmp_path, {"acme/ios": [], "acme/android": []}) as started:
        yield started
