"""apply --expect: what counts as the same changes."""

from __future__ import annotations

from reconciler.plan.differ import diff_project
from reconciler.plan.expect import differences, unplanned
from reconciler.plan.model import Plan, ProjectPlan
from tests.support.plan_helpers import http, project, redacted


def _plan(desired, remote, **top) -> Plan:
    config = project("acme", "ios", desired, **top)
    return Plan(projects=(diff_project(config, [redacted(s) for s in remote]),))


def test_same_changes_whatever_else_differs():
    desired = [http("a", name="new"), http("b")]
    reviewed = _plan(desired, [http("a", name="old")])
    # a source kept unmanaged appeared since: not a change, so not a difference
    fresh = _plan(desired, [http("a", name="old"), http("hand")])
    assert fresh.projects[0].fingerprint != reviewed.projects[0].fingerprint
    assert differences(reviewed, fresh) == []


def test_each_difference_names_project_source_and_field():
    reviewed = _plan([http("a", name="new"), http("b")], [http("a", name="old")])
    fresh = _plan([http("a", name="new"), http("b")], [http("a", name="else"), http("b")])
    assert differences(reviewed, fresh) == [
        'acme/ios: update `a` field `name`: reviewed "old" -> "new"; now "else" -> "new"',
        "acme/ios: create `b`: in the reviewed plan, not in the fresh one",
    ]
    gone = _plan([http("a", name="new"), {"id": "c", "state": "absent"}], [http("c")])
    assert differences(reviewed, gone) == [
        "acme/ios: create `a`: in the fresh plan, not in the reviewed one",
        "acme/ios: update `a`: in the reviewed plan, not in the fresh one",
        "acme/ios: create `b`: in the reviewed plan, not in the fresh one",
        "acme/ios: delete `c`: in the fresh plan, not in the reviewed one",
    ]


def test_a_rotation_differs_an_unreadable_project_is_not_compared():
    config = project("acme", "ios", [http("a", password={"env": "PW"})])
    remote = [redacted(http("a", password="x"))]
    plain = Plan(projects=(diff_project(config, remote),))
    rotated = Plan(projects=(diff_project(config, remote, rotate={"a": {"password": "why"}}),))
    (line,) = differences(plain, rotated)
    assert line.startswith("acme/ios: update `a`: in the fresh plan")
    broken = Plan(projects=(ProjectPlan(organization="acme", project="ios", error="HTTP 500"),))
    # unknown changes are not a difference (exit 3) but an error (exit 1): unplanned() says so
    assert differences(plain, broken) == []
    assert unplanned(broken) == ["acme/ios: HTTP 500"]
    assert unplanned(plain) == []
    assert differences(plain, Plan()) == []  # nothing to do was reviewed, nothing is planned
    assert differences(rotated, Plan()) == [
        "acme/ios: has changes in the reviewed plan, but no project file now"
    ]
