"""The pipeline converges: each story drives the shipped workflows (plan on a pull request,
apply on the merge, a manual apply, drift) against a fake GitHub that enforces each job's
`permissions:` and keeps one pending run per concurrency group, and the emulator as Sentry.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.support.actions_runner import Pipeline
from tests.workflows.conftest import (
    OWNER_TOKEN,
    PASSWORD_1,
    PASSWORD_2,
    READ_TOKEN,
    WRITE_TOKEN,
)

pytestmark = pytest.mark.e2e

WRITES = ("POST", "PUT", "DELETE")
IOS = "configs/acme/ios.yaml"


def source(sid: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": sid, "type": "http", "name": f"{sid} server", "url": f"https://{sid}.example/",
        "layout": {"type": "native"}, **extra,
    }  # fmt: skip


def project(*sources: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"sources": list(sources), **extra}


def remote(pipeline: Pipeline, key: str = "acme/ios") -> dict[str, dict[str, Any]]:
    org, name = key.split("/")
    state = pipeline.sentry.state()  # type: ignore[attr-defined]
    found = state["organizations"][org]["projects"][name]["symbol_sources"]
    return {s["id"]: s for s in found}


def writes(pipeline: Pipeline) -> list[tuple[str, str]]:
    log = pipeline.sentry.requests()  # type: ignore[attr-defined]
    return [(e["method"], e["path"]) for e in log if e["method"] in WRITES]


def comment(pipeline: Pipeline, number: int, kind: str) -> str:
    found = [
        c["body"]
        for c in pipeline.fake.comments.get(number, [])
        if c["body"].startswith(f"<!-- symsync:{kind} -->")
    ]
    assert len(found) == 1, f"{len(found)} {kind} comments on #{number}"
    return str(found[0])


def unmasked(log: str) -> str:
    """A log as the runner shows it: its `::add-mask::` commands are consumed, not shown."""
    return "\n".join(ln for ln in log.splitlines() if not ln.startswith("::add-mask::"))


def no_secret_anywhere(pipeline: Pipeline) -> None:
    """No token or secret value in any step's output, comment, issue or summary."""
    texts = [unmasked(r.log()) + r.summary + json.dumps(r.outputs) for r in pipeline.results]
    texts += [c["body"] for cs in pipeline.fake.comments.values() for c in cs]
    texts += [json.dumps(i) for i in pipeline.fake.issues]
    for text in texts:
        for secret in (READ_TOKEN, WRITE_TOKEN, PASSWORD_1, PASSWORD_2, OWNER_TOKEN):
            assert secret not in text


def no_permission_denied(pipeline: Pipeline) -> None:
    denied = [(r.method, r.path) for r in pipeline.fake.denied]
    assert not denied, f"requests beyond the job's permissions: {denied}"


def test_a_rotation_by_pull_request_reaches_sentry(pipeline: Pipeline) -> None:
    pipeline.seed({IOS: project(source("sym", password={"env": "ACME_PW", "version": 1}))})
    pipeline.dispatch("symsync-apply.yml")  # the first apply: creates the source
    first = pipeline.run()
    assert first.conclusion == "success", first.log()
    assert remote(pipeline)["sym"]["password"] == PASSWORD_1

    pipeline.environment_secrets["SYMSYNC_SECRETS"] = json.dumps({"ACME_PW": PASSWORD_2})
    pull = pipeline.open_pull(
        {IOS: project(source("sym", password={"env": "ACME_PW", "version": 2}))}
    )
    plan = pipeline.run()
    assert plan.conclusion == "success", plan.log()
    body = comment(pipeline, pull.number, "plan")
    assert "version 1 -> 2" in body  # the reviewed plan shows the rotation
    assert plan.outputs["has-changes"] == "true" and plan.outputs["updates"] == "1"

    pipeline.merge(pull)
    applied = pipeline.run()
    assert applied.conclusion == "success", applied.log()
    assert remote(pipeline)["sym"]["password"] == PASSWORD_2
    assert "applied" in comment(pipeline, pull.number, "apply").splitlines()[1]
    # Each value of SYMSYNC_SECRETS is masked before anything else is printed.
    step = applied.step("symsync apply --reviewed")
    assert step.stdout.splitlines()[0] == f"::add-mask::{PASSWORD_2}"
    no_secret_anywhere(pipeline)
    no_permission_denied(pipeline)
