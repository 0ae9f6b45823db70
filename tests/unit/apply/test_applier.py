"""The applier against an in-memory Sentry: only the needed writes, secrets, isolation."""

from __future__ import annotations

import contextlib
import json
import threading

import pytest

from reconciler.apply.applier import apply_plan, request_body
from reconciler.core.errors import SecretMissingError
from reconciler.plan.differ import diff_project
from reconciler.plan.model import Plan
from reconciler.sentry import spec
from tests.support.plan_helpers import FakeSentry, http, project, redacted, s3


def _plan_for(fake: FakeSentry, configs) -> Plan:
    return Plan(
        projects=tuple(
            diff_project(c, fake.list_sources(c.organization, c.project)) for c in configs
        )
    )


def test_one_write_per_change_with_the_right_bodies():
    fake = FakeSentry(
        {
            "acme/ios": [
                http("keep-pw", password="stored-pw"),
                http("add-pw"),
                http("gone"),
                s3("typed", secret_key="stored-s3"),
            ]
        }
    )
    config = project(
        "acme",
        "ios",
        [
            http("keep-pw", name="renamed", password={"env": "PW"}),
            http("add-pw", password={"env": "PW"}),
            s3("new"),
            http("typed", password={"env": "PW"}),
            {"id": "gone", "state": "absent"},
        ],
    )
    plan = _plan_for(fake, [config])
    fake.calls.clear()
    env = {"PW": "pw-from-env", "S3_SECRET": "s3-from-env"}
    result = apply_plan(plan, fake, verify=False, env=env)
    assert result.exit_code == 0
    (res,) = result.projects
    assert (res.status, res.done, res.total) == ("applied", 5, 5)
    assert [(m, sid) for m, _, sid, _ in fake.calls] == [
        ("POST", None),
        ("PUT", "keep-pw"),
        ("PUT", "add-pw"),
        ("PUT", "typed"),
        ("DELETE", "gone"),
    ]
    bodies = {(c[0], c[2] or c[3]["id"]): c[3] for c in fake.calls}
    assert bodies[("POST", "new")]["secret_key"] == "s3-from-env"
    assert bodies[("PUT", "keep-pw")]["password"] == spec.hidden_secret()
    assert bodies[("PUT", "keep-pw")]["id"] == "keep-pw"
    assert bodies[("PUT", "keep-pw")]["name"] == "renamed"
    assert bodies[("PUT", "add-pw")]["password"] == "pw-from-env"
    assert bodies[("PUT", "typed")]["password"] == "pw-from-env"  # type changed: sent in clear
    stored = {s["id"]: s for s in fake.projects["acme/ios"]}
    assert stored["keep-pw"]["password"] == "stored-pw"
    assert "gone" not in stored
    # a second plan is empty
    assert not _plan_for(fake, [config]).has_changes


def test_a_missing_variable_anywhere_stops_every_project_before_any_write():
    fake = FakeSentry({"a/one": [], "a/two": [], "a/three": [http("z", password="stored")]})
    configs = [
        project("a", "one", [http("x", password={"env": "NEEDED_PW"}), s3("s")]),
        project("a", "two", [http("y")]),  # needs nothing, and is not written either
        project("a", "three", [http("z", name="n", password={"env": "KEPT_PW"})]),  # keeps
        project("a", "four", [http("w", password={"env": "OTHER_PW"})]),
    ]
    fake.projects["a/four"] = []
    plan = _plan_for(fake, configs)
    fake.calls.clear()
    with pytest.raises(SecretMissingError) as caught:
        apply_plan(plan, fake, verify=True, env={"NEEDED_PW": "", "S3_SECRET": "s3-value"})
    message = str(caught.value)
    assert "2 secret variable(s)" in message
    assert "NEEDED_PW: a/one source `x` password" in message
    assert "OTHER_PW: a/four source `w` password" in message
    assert "S3_SECRET" not in message and "KEPT_PW" not in message
    assert "nothing was written" in message
    assert fake.calls == []  # not even a read


def test_variables_resolve_from_symsync_secrets_after_the_environment():
    fake = FakeSentry({"a/one": []})
    configs = [project("a", "one", [http("x", password={"env": "PW"}), s3("s")])]
    plan = _plan_for(fake, configs)
    fake.calls.clear()
    bundle = json.dumps({"PW": "pw-from-bundle", "S3_SECRET": "s3-from-bundle"})
    # PW empty in the environment: the bundle's value counts; S3_SECRET set: it wins
    env = {"PW": "", "S3_SECRET": "s3-from-env", "SYMSYNC_SECRETS": bundle}
    result = apply_plan(plan, fake, verify=False, env=env)
    assert result.exit_code == 0
    bodies = {c[3]["id"]: c[3] for c in fake.calls if c[0] == "POST"}
    assert bodies["x"]["password"] == "pw-from-bundle"
    assert bodies["s"]["secret_key"] == "s3-from-env"


def test_no_variable_needed_to_keep_a_secret():
    fake = FakeSentry({"a/b": [http("x", password="stored")]})
    plan = _plan_for(fake, [project("a", "b", [http("x", name="n", password={"env": "PW"})])])
    result = apply_plan(plan, fake, verify=False, env={})
    assert result.projects[0].status == "applied"


def test_stale_saved_plan_is_refused_and_nothing_written():
    fake = FakeSentry({"a/moved": [http("x")], "a/still": [http("y")]})
    configs = [
        project("a", "moved", [http("x", name="new")]),
        project("a", "still", [http("y", name="new")]),
    ]
    plan = Plan.loads(_plan_for(fake, configs).dumps())
    fake.projects["a/moved"].append(http("hand-made"))
    fake.calls.clear()
    result = apply_plan(plan, fake, verify=True, env={})
    moved, still = sorted(result.projects, key=lambda r: r.key)
    assert moved.status == "refused"
    assert "added `hand-made`" in moved.message
    assert still.status == "applied"
    assert [c[0] for c in fake.calls if c[1] == "a/moved"] == ["GET"]
    assert [c[0] for c in fake.calls if c[1] == "a/still"] == ["GET", "PUT"]
    assert result.exit_code == 3


def test_failing_write_stops_that_project_only():
    fake = FakeSentry({"a/bad": [], "a/good": []})
    configs = [
        project("a", "bad", [http("x"), http("y")]),
        project("a", "good", [http("z")]),
    ]
    plan = _plan_for(fake, configs)
    fake.fail[("POST", "a/bad")] = "Sentry answered 500"
    fake.calls.clear()
    result = apply_plan(plan, fake, verify=False, env={})
    bad, good = sorted(result.projects, key=lambda r: r.key)
    assert bad.status == "failed" and "create `x` failed: Sentry answered 500" in bad.message
    assert [c[0] for c in fake.calls if c[1] == "a/bad"] == ["POST"]  # `y` not attempted
    assert good.status == "applied"
    assert result.exit_code == 1


def test_failed_and_refused_gives_exit_1():
    fake = FakeSentry({"a/x": [], "a/y": []})
    configs = [project("a", "x", [http("p")]), project("a", "y", [http("q")])]
    plan = Plan.loads(_plan_for(fake, configs).dumps())
    fake.projects["a/x"].append(http("other"))
    fake.fail[("POST", "a/y")] = "boom"
    result = apply_plan(plan, fake, verify=True, env={})
    assert {r.status for r in result.projects} == {"refused", "failed"}
    assert result.exit_code == 1


def test_project_that_could_not_be_planned_is_failed_without_requests():
    fake = FakeSentry({"a/x": []})
    fake.fail[("GET", "a/x")] = "the token is invalid or expired"
    config = project("a", "x", [http("p")])
    from reconciler.plan.planner import plan_project

    plan = Plan(projects=(plan_project(fake, config),))
    assert "the token is invalid" in (plan.projects[0].error or "")
    fake.calls.clear()
    result = apply_plan(plan, fake, verify=False, env={})
    assert result.projects[0].status == "failed"
    assert fake.calls == []


def test_unchanged_projects_are_not_read_again():
    fake = FakeSentry({"a/x": [http("p")]})
    plan = _plan_for(fake, [project("a", "x", [http("p")])])
    fake.calls.clear()
    result = apply_plan(Plan.loads(plan.dumps()), fake, verify=True, env={})
    assert result.projects[0].status == "unchanged"
    assert result.exit_code == 0
    assert fake.calls == []


class OverlapFake(FakeSentry):
    """Counts the writes in flight, per project and in all. The first writes wait at a barrier
    that lets them go only once ``overlap`` of them are in flight at once (it breaks after 10 s
    if they never are, and ``overlapped`` stays unset)."""

    def __init__(self, projects, overlap: int) -> None:
        super().__init__(projects)
        self.in_flight: dict[str, int] = {}
        self.max_per_project = 0
        self.max_total = 0
        self._gate = threading.Lock()
        self.overlapped = threading.Event()
        self._barrier = threading.Barrier(overlap, action=self.overlapped.set, timeout=10)

    def create_source(self, org, project, body):
        key = f"{org}/{project}"
        with self._gate:
            self.in_flight[key] = self.in_flight.get(key, 0) + 1
            self.max_per_project = max(self.max_per_project, self.in_flight[key])
            self.max_total = max(self.max_total, sum(self.in_flight.values()))
        if not self.overlapped.is_set():
            with contextlib.suppress(threading.BrokenBarrierError):
                self._barrier.wait()
        with self._gate:
            self.in_flight[key] -= 1
        return super().create_source(org, project, body)


def test_projects_in_parallel_writes_within_a_project_sequential():
    fake = OverlapFake({f"a/p{i}": [] for i in range(6)}, overlap=3)
    configs = [project("a", f"p{i}", [http("x"), http("y"), http("z")]) for i in range(6)]
    plan = _plan_for(fake, configs)
    result = apply_plan(plan, fake, verify=False, parallelism=3, env={})
    assert result.exit_code == 0
    assert fake.overlapped.is_set(), "three writes were never in flight at once"
    assert fake.max_per_project == 1
    assert fake.max_total <= 3


def test_request_body_is_complete_and_holds_no_reference():
    fake = FakeSentry({"a/b": [redacted(http("x"))]})
    plan = _plan_for(fake, [project("a", "b", [s3("x")])])
    (change,) = plan.projects[0].changes
    body = request_body(change, {"S3_SECRET": "v"})
    assert body == {
        "id": "x",
        "type": "s3",
        "name": "x bucket",
        "bucket": "x-bucket",
        "region": "us-east-1",
        "access_key": "AKIAEXAMPLE",
        "secret_key": "v",
        "layout": {"type": "unified", "casing": "default"},
    }
    assert change.source["secret_key"] == {"env": "S3_SECRET"}  # the plan is untouched


def test_a_move_deletes_then_recreates_with_its_secret():
    fake = FakeSentry({"acme/ios": [http("b", password="old"), http("a")]})
    config = project("acme", "ios", [http("a"), http("b", password={"env": "PW"})], order="enforce")
    plan = _plan_for(fake, [config])
    fake.calls.clear()
    result = apply_plan(plan, fake, verify=False, env={"PW": "pw-from-env"})
    assert result.exit_code == 0
    assert [(m, sid) for m, _, sid, _ in fake.calls] == [("DELETE", "b"), ("POST", None)]
    assert fake.calls[1][3]["password"] == "pw-from-env"
    assert [s["id"] for s in fake.projects["acme/ios"]] == ["a", "b"]


def test_a_move_whose_recreate_fails_says_the_next_apply_restores_it():
    fake = FakeSentry({"acme/ios": [http("b"), http("a")]})
    config = project("acme", "ios", [http("a"), http("b")], order="enforce")
    plan = _plan_for(fake, [config])
    fake.fail[("POST", "acme/ios")] = "Sentry said no"
    (res,) = apply_plan(plan, fake, verify=False, env={}).projects
    assert res.status == "failed"
    assert "move `b` failed" in res.message and "the next apply creates it again" in res.message
    del fake.fail[("POST", "acme/ios")]
    again = _plan_for(fake, [config])
    assert [(c.action, c.source_id) for c in again.projects[0].changes] == [("create", "b")]


class _WithBuiltins(FakeSentry):
    def __init__(self, held: dict[str, list[str]]) -> None:
        super().__init__({})
        self.held = held

    def builtin_sources(self, org: str, project: str) -> list[str]:
        self.calls.append(("GET details", f"{org}/{project}", None, None))
        return list(self.held[f"{org}/{project}"])

    def set_builtin_sources(self, org: str, project: str, keys: list[str]) -> list[str]:
        self.calls.append(("PUT details", f"{org}/{project}", None, {"keys": keys}))
        self.held[f"{org}/{project}"] = list(keys)
        return list(keys)


def _builtin_plan() -> Plan:
    from reconciler.plan.model import BuiltinChange

    changed = diff_project(project("acme", "ios", []), []).model_copy(
        update={
            "builtin": BuiltinChange(before=("unity",), after=("microsoft", "nuget")),
            "builtin_seen": ("unity",),
        }
    )
    same = diff_project(project("acme", "web", []), []).model_copy(
        update={"builtin_seen": ("nuget",)}
    )
    return Plan(projects=(changed, same))


def test_builtins_are_set_with_one_put_per_project_whose_list_changes():
    fake = _WithBuiltins({"acme/ios": ["unity"], "acme/web": ["nuget"]})
    result = apply_plan(_builtin_plan(), fake, verify=False, env={})
    assert result.exit_code == 0
    assert [(m, k) for m, k, _, _ in fake.calls] == [("PUT details", "acme/ios")]
    assert fake.held["acme/ios"] == ["microsoft", "nuget"]
    assert {p.key: p.status for p in result.projects} == {
        "acme/ios": "applied",
        "acme/web": "unchanged",
    }


def test_a_saved_plan_is_refused_where_the_builtins_moved_since():
    fake = _WithBuiltins({"acme/ios": ["steam"], "acme/web": ["nuget"]})
    result = apply_plan(Plan.loads(_builtin_plan().dumps()), fake, verify=True, env={})
    (ios,) = [p for p in result.projects if p.key == "acme/ios"]
    assert ios.status == "refused" and "built-in repositories changed" in ios.message
    assert fake.held["acme/ios"] == ["steam"]
    assert not any(m == "PUT details" for m, _, _, _ in fake.calls)
