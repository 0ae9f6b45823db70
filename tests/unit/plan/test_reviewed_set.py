"""apply --reviewed: every change of the fresh plan must be in one of the reviewed plans."""

from __future__ import annotations

from reconciler.plan.differ import diff_project
from reconciler.plan.expect import unreviewed
from reconciler.plan.model import Plan
from tests.support.plan_helpers import http, project, redacted


def _plan(desired, remote, rotate=None, name: str = "ios") -> Plan:
    config = project("acme", name, desired)
    return Plan(projects=(diff_project(config, [redacted(s) for s in remote], rotate=rotate),))


def test_changes_of_several_reviewed_plans_together() -> None:
    a = _plan([http("a", name="A"), http("b")], [http("a"), http("b")])
    b = _plan([http("a"), http("b", url="https://b2.example/")], [http("a"), http("b")])
    fresh = _plan(
        [http("a", name="A"), http("b", url="https://b2.example/")], [http("a"), http("b")]
    )
    assert unreviewed([a, b], fresh) == []


def test_a_reviewed_change_sentry_already_holds_is_done() -> None:
    reviewed = _plan([http("a", name="A"), http("b", name="B")], [http("a"), http("b")])
    fresh = _plan([http("a", name="A"), http("b", name="B")], [http("a", name="A"), http("b")])
    assert unreviewed([reviewed], fresh) == []


def test_an_edit_in_sentry_after_the_review_is_named() -> None:
    reviewed = _plan([http("a", name="A")], [http("a")])
    fresh = _plan([http("a", name="A")], [http("a", name="edited", url="https://x.example/")])
    assert unreviewed([reviewed], fresh) == [
        'acme/ios: update `a` field `name`: "edited" -> "A" was not reviewed',
        'acme/ios: update `a` field `url`: "https://x.example/" -> "https://a.example/" '
        "was not reviewed",
    ]


def test_a_change_in_no_reviewed_plan_and_no_plan_at_all() -> None:
    fresh = _plan([http("a"), http("new")], [http("a")])
    assert unreviewed([], fresh) == ["acme/ios: create `new` in no reviewed plan"]
    other = _plan([http("x")], [], name="android")
    assert unreviewed([other], fresh) == ["acme/ios: create `new` in no reviewed plan"]


def test_a_rotation_is_reviewed_by_field_variable_and_version() -> None:
    secret = {"env": "PW", "version": 3}
    remote = [http("a", password={"hidden-secret": True})]
    step = {"a": {"password": "version 2 -> 3"}}
    reviewed = _plan([http("a", password=secret)], remote, step)
    whole = {"a": {"password": "version 1 -> 3"}}  # the dropped apply's rotation too
    fresh = _plan([http("a", password=secret)], remote, whole)
    assert unreviewed([reviewed], fresh) == []
    older = {"a": {"password": "version 1 -> 2"}}
    other = _plan([http("a", password={"env": "PW", "version": 2})], remote, older)
    assert unreviewed([other], fresh) == [
        "acme/ios: update `a` field `password`: rotation version 1 -> 3 was not reviewed",
    ]
