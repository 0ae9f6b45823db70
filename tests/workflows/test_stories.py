"""The pipeline converges: each story drives the shipped workflows (plan on a pull request,
apply on the merge, a manual apply, drift) against a fake GitHub that enforces each job's
`permissions:` and keeps one pending run per concurrency group, and the emulator as Sentry.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
from typing import Any

import pytest
import requests

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


def edit_in_sentry(pipeline: Pipeline, key: str, sid: str, **fields: Any) -> None:
    """Someone changes a source in Sentry by hand (its UI)."""
    org, name = key.split("/")
    url = pipeline.sentry.url  # type: ignore[attr-defined]
    current = dict(remote(pipeline, key)[sid])
    current.pop("password", None)
    answer = requests.put(
        f"{url}/api/0/projects/{org}/{name}/symbol-sources/",
        params={"id": sid},
        json={**current, **fields},
        headers={"Authorization": f"Bearer {WRITE_TOKEN}"},
        timeout=10,
    )
    assert answer.status_code == 200, answer.text


def test_two_close_merges_both_reach_sentry(pipeline: Pipeline) -> None:
    pipeline.seed({IOS: project()})
    a = pipeline.open_pull({IOS: project(source("a"))})
    b = pipeline.open_pull({"configs/acme/android.yaml": project(source("b"))})
    assert [r.conclusion for r in pipeline.drain()] == ["success", "success"]
    pipeline.merge(a)
    pipeline.merge(b)  # the second apply waits for the first
    results = pipeline.drain()
    assert [r.conclusion for r in results] == ["success", "success"], results[-1].log()
    assert set(remote(pipeline)) == {"a"} and set(remote(pipeline, "acme/android")) == {"b"}
    for pull in (a, b):
        assert "applied" in comment(pipeline, pull.number, "apply").splitlines()[1]
    no_permission_denied(pipeline)


def test_a_pull_request_planned_before_another_is_applied(pipeline: Pipeline) -> None:
    pipeline.seed({IOS: project()})
    a = pipeline.open_pull({IOS: project(source("a"))})
    pipeline.drain()
    b = pipeline.open_pull({"configs/acme/android.yaml": project(source("b"))})
    pipeline.drain()
    pipeline.merge(a)  # its apply is queued, not run yet
    pipeline.push_to(b, {}, rebase=True)  # b now holds a's change too, and is planned again
    (plan_b,) = pipeline.drain(only="symsync-plan")
    # b's reviewed plan carries a's change too
    assert "https://a.example/" in comment(pipeline, b.number, "plan")
    (apply_a,) = pipeline.drain()
    assert apply_a.conclusion == "success"
    pipeline.merge(b)
    apply_b = pipeline.run()
    assert apply_b.conclusion == "success", apply_b.log()  # a's change is done, not a difference
    assert set(remote(pipeline, "acme/android")) == {"b"}
    assert plan_b.conclusion == "success"


def test_a_dropped_middle_apply_is_caught_up_by_the_next(pipeline: Pipeline) -> None:
    pipeline.seed({IOS: project()})
    files = [IOS, "configs/acme/android.yaml", "configs/acme/ios.yaml"]
    a = pipeline.open_pull({files[0]: project(source("a"))})
    b = pipeline.open_pull({files[1]: project(source("b"))})
    pipeline.drain()
    pipeline.merge(a)
    pipeline.merge(b)
    third = pipeline.open_pull({})
    pipeline.push_to(third, {IOS: project(source("a"), source("c"))}, rebase=True)
    pipeline.drain(only="symsync-plan")
    pipeline.merge(third)  # GitHub keeps one pending apply: b's is dropped
    assert len([r for r in pipeline.groups.cancelled if r.name.startswith("symsync-apply")]) == 1
    results = pipeline.drain()
    assert [r.conclusion for r in results] == ["success", "success"], results[-1].log()
    assert set(remote(pipeline)) == {"a", "c"}
    assert set(remote(pipeline, "acme/android")) == {"b"}  # b's change, caught up
    assert "applied" in comment(pipeline, b.number, "apply").splitlines()[1]


def test_an_edit_in_sentry_after_review_is_refused_then_a_manual_run_converges(
    pipeline: Pipeline,
) -> None:
    pipeline.seed({IOS: project(source("sym"))})
    pipeline.dispatch("symsync-apply.yml")
    assert pipeline.run().conclusion == "success"
    pull = pipeline.open_pull({IOS: project(source("sym", name="Renamed"))})
    pipeline.drain()
    edit_in_sentry(pipeline, "acme/ios", "sym", url="https://elsewhere.example/")
    before = len(writes(pipeline))
    pipeline.merge(pull)
    refused = pipeline.run()
    assert refused.conclusion == "failure"
    assert refused.step("symsync apply --reviewed").exit_code == 3
    assert len(writes(pipeline)) == before  # nothing written anywhere
    told = comment(pipeline, pull.number, "apply")
    assert "refused" in told.splitlines()[1]
    assert "field `url`" in told and "was not reviewed" in told
    assert "run the apply workflow by hand" in told
    assert remote(pipeline)["sym"]["url"] == "https://elsewhere.example/"

    pipeline.dispatch("symsync-apply.yml")  # a person reviewed the fresh plan, and starts it
    manual = pipeline.run()
    assert manual.conclusion == "success", manual.log()
    assert remote(pipeline)["sym"]["url"] == "https://sym.example/"
    assert remote(pipeline)["sym"]["name"] == "Renamed"
    assert "https://sym.example/" in manual.summary  # the summary shows the plan it applied
    no_secret_anywhere(pipeline)


def test_a_forks_pull_request_is_refused_with_the_way_out(pipeline: Pipeline) -> None:
    pipeline.seed({IOS: project()})
    pull = pipeline.open_pull({IOS: project(source("forked"))}, fork=True)
    plan = pipeline.run()
    assert plan.conclusion == "success"  # validated; no token, so not planned
    assert plan.step("Is a Sentry token").outputs["configured"] == "false"
    assert pull.number not in pipeline.fake.comments
    pipeline.merge(pull)
    refused = pipeline.run()
    assert refused.step("symsync apply --reviewed").exit_code == 3
    assert writes(pipeline) == []
    told = comment(pipeline, pull.number, "apply")
    assert f"No reviewed plan** for pull request(s) #{pull.number}" in told
    assert "run the apply workflow by hand" in told
    pipeline.dispatch("symsync-apply.yml")
    assert pipeline.run().conclusion == "success"
    assert set(remote(pipeline)) == {"forked"}


def test_a_cleanup_of_12_sources_allowed_by_the_settings_file(tmp_path: Any) -> None:
    from tests.workflows.conftest import start_pipeline

    names = [f"s{i:02d}" for i in range(14)]
    sentry_sources = [
        {"id": n, "type": "http", "name": f"{n} server", "url": f"https://{n}.example/",
         "layout": {"type": "native", "casing": "default"}}
        for n in names
    ]  # fmt: skip
    with start_pipeline(tmp_path, {"acme/ios": sentry_sources}) as pipeline:
        pipeline.seed({IOS: project(*(source(n) for n in names))})
        cleanup = project(
            *(source(n) for n in names[:2]),
            *({"id": n, "state": "absent"} for n in names[2:]),
            max_deletes=12,
        )
        pull = pipeline.open_pull({IOS: cleanup})
        pipeline.run()
        verdict = comment(pipeline, pull.number, "plan")
        assert "apply would refuse: 12 deletes" in verdict  # the delete verdict, and the way
        assert "max\\_deletes: 12 in configs/symsync.yaml" in verdict
        pipeline.push_to(pull, {"configs/symsync.yaml": {"max_deletes": 12}})
        plan = pipeline.run()
        assert plan.outputs["deletes"] == "12"
        assert "apply would refuse" not in comment(pipeline, pull.number, "plan")
        pipeline.merge(pull)
        applied = pipeline.run()
        assert applied.conclusion == "success", applied.log()
        assert set(remote(pipeline)) == set(names[:2])


def test_drift_leaves_an_excluded_project_out_and_keeps_one_issue(tmp_path: Any) -> None:
    from tests.workflows.conftest import start_pipeline

    sentry = {
        "acme/ios": [{"id": "sym", "type": "http", "name": "sym server",
                      "url": "https://drifted.example/", "layout": {"type": "native"}}],
        "acme/legacy": [{"id": "old", "type": "http", "name": "old",
                         "url": "https://old.example/", "layout": {"type": "native"}}],
    }  # fmt: skip
    with start_pipeline(tmp_path, sentry) as pipeline:
        pipeline.seed({
            IOS: project(source("sym")),
            "configs/acme/gone.yaml": project(source("x")),  # Sentry has no such project
            "configs/symsync.yaml": {"exclude": ["acme/gone", "acme/legacy"]},
        })  # fmt: skip
        pipeline.schedule_drift()
        first = pipeline.run()
        assert first.conclusion == "success", first.log()
        assert first.outputs["has-changes"] == "true" and first.outputs["updates"] == "1"
        (issue,) = pipeline.fake.issues
        assert issue["state"] == "open" and issue["labels"] == [{"name": "symsync-drift"}]
        assert "gone" not in issue["body"] and "legacy" not in issue["body"]
        assert "/artifacts/" in issue["body"]  # the JSON plan this run uploaded

        edit_in_sentry(pipeline, "acme/ios", "sym", url="https://sym.example/")
        pipeline.schedule_drift()
        assert pipeline.run().outputs["has-changes"] == "false"
        assert issue["state"] == "closed"

        edit_in_sentry(pipeline, "acme/ios", "sym", name="drifted again")
        pipeline.schedule_drift()
        pipeline.run()
        assert len(pipeline.fake.issues) == 1 and issue["state"] == "open"  # reopened, not new
        assert any("again" in c["body"] for c in pipeline.fake.comments[issue["number"]])
        no_permission_denied(pipeline)


def test_a_broken_push_replaces_the_plan_in_the_same_comment(pipeline: Pipeline) -> None:
    pipeline.seed({IOS: project()})
    pull = pipeline.open_pull({IOS: project(source("a"))})
    good = pipeline.run()
    first = comment(pipeline, pull.number, "plan")
    head = pipeline.fake.pulls[pull.number]["head"]["sha"]
    assert f"commit `{head[:7]}`" in first and " UTC" in first and "https://a.example/" in first
    assert good.outputs["creates"] == "1"

    pipeline.push_to(pull, {IOS: "sources:\n  - id: a\n    type: http\n    url: [\n"})
    broken = pipeline.run()
    assert broken.conclusion == "failure"
    text = comment(pipeline, pull.number, "plan")  # still one comment, edited
    head = pipeline.fake.pulls[pull.number]["head"]["sha"]
    assert "the files do not validate" in text and f"commit `{head[:7]}`" in text
    assert "configs/acme/ios.yaml:" in text and "https://a.example/" not in text

    pipeline.push_to(pull, {IOS: project(source("b"))})
    pipeline.vars["SENTRY_URL"] = "http://127.0.0.1:9"  # Sentry cannot be reached
    unreachable = pipeline.run()
    assert unreachable.conclusion == "failure"
    text = comment(pipeline, pull.number, "plan")
    assert "the plan could not be made" in text and "error" in text


def test_a_cancel_mid_apply_finishes_the_writes_in_flight_and_reports(tmp_path: Any) -> None:
    from tests.workflows.conftest import start_pipeline

    with start_pipeline(tmp_path, {"acme/ios": []}, "--latency-ms", "150") as pipeline:
        pipeline.seed({IOS: project()})
        pull = pipeline.open_pull({IOS: project(*(source(f"s{i}") for i in range(8)))})
        pipeline.run()

        def cancel(process: subprocess.Popen[str]) -> None:
            # GitHub's cancel: SIGINT to the whole process group once a write is under way,
            # then SIGTERM (GitHub waits 7.5 s; the order is what matters here).
            while not writes(pipeline):
                if process.poll() is not None:
                    return
                threading.Event().wait(0.02)
            os.killpg(process.pid, signal.SIGINT)
            os.killpg(process.pid, signal.SIGTERM)

        pipeline.while_running["symsync apply --reviewed"] = cancel
        pipeline.merge(pull)
        result = pipeline.run()
        step = result.step("symsync apply --reviewed")
        assert step.exit_code == 130, f"exit {step.exit_code}: {step.stderr}"
        assert "Traceback" not in step.stderr
        assert "not started" in step.stderr or "skipped" in step.stderr  # the result table
        created = set(remote(pipeline))
        assert 1 <= len(created) < 8, f"{sorted(created)}: {step.stderr}"
        told = comment(pipeline, pull.number, "apply")
        assert "interrupted (SIGINT)" in told and "what was written and what was not" in told


def test_a_pull_request_naming_the_write_token_is_refused_with_nothing_sent(
    pipeline: Pipeline,
) -> None:
    pipeline.seed({IOS: project()})
    evil = source("evil", url="https://attacker.example/", username="x",
                  password={"env": "SENTRY_AUTH_TOKEN"})  # fmt: skip
    pull = pipeline.open_pull({IOS: project(evil)})
    plan = pipeline.run()
    assert plan.conclusion == "failure"
    text = comment(pipeline, pull.number, "plan")
    assert "configs/acme/ios.yaml:" in text and "SENTRY_AUTH_TOKEN" in text
    assert "name a variable of your own" in text
    pipeline.merge(pull)  # merged anyway
    applied = pipeline.run()
    assert applied.step("symsync apply --reviewed").exit_code == 1
    assert writes(pipeline) == []

    # A name that is no credential but that the runner holds: in the action, secrets come
    # from SYMSYNC_SECRETS only, so it is missing, and nothing is written.
    second = pipeline.open_pull({IOS: project(source("sneaky", password={"env": "HOME"}))})
    pipeline.run()
    pipeline.merge(second)
    refused = pipeline.run()
    step = refused.step("symsync apply --reviewed")
    assert step.exit_code == 1 and "SYMSYNC_SECRETS_ONLY" in step.stderr
    assert writes(pipeline) == []
    no_secret_anywhere(pipeline)
