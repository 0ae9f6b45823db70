"""Delete limits: the verdict on a plan, and the applier refusing a run before any write."""

from __future__ import annotations

import json

import pytest

from reconciler.apply.applier import apply_plan
from reconciler.plan.delete_limits import DEFAULT_MAX_DELETES, check_deletes
from reconciler.plan.differ import diff_project
from reconciler.plan.model import Plan
from reconciler.plan.render import render
from tests.support.plan_helpers import FakeSentry, http, project


def _plan(fake: FakeSentry, *configs) -> Plan:
    return Plan(
        projects=tuple(
            diff_project(c, fake.list_sources(c.organization, c.project)) for c in configs
        )
    )


def _deleting(name: str, held: int, deletes: int, **top):
    """A project holding ``held`` sources whose file deletes ``deletes`` of them."""
    remote = [http(f"s{i}") for i in range(held)]
    desired = [{"id": f"s{i}", "state": "absent"} for i in range(deletes)]
    desired += [http(f"s{i}") for i in range(deletes, held)]
    return remote, project("acme", name, desired, **top)


@pytest.mark.parametrize(
    ("held", "deletes", "refused"),
    [
        (6, 3, False),  # exactly half passes: "more than half" is strict
        (6, 4, True),
        (4, 2, False),
        (4, 3, True),
        (5, 2, False),
        (5, 3, True),
        (3, 3, False),  # fewer than 4 sources: no half rule
        (2, 2, False),
        (10, 5, False),
        (10, 6, True),
    ],
)
def test_half_rule(held, deletes, refused):
    remote, config = _deleting("ios", held, deletes)
    verdict = check_deletes(_plan(FakeSentry({"acme/ios": remote}), config))
    assert verdict.refused is refused
    assert verdict.deletes == deletes
    if refused:
        (breach,) = verdict.breaches
        assert (breach.rule, breach.project, breach.limit) == ("half", "acme/ios", held // 2)
        assert breach.message == (
            f"acme/ios: {deletes} of its {held} sources deleted, more than half"
        )
        assert breach.allow == f"max_deletes: {deletes} in configs/acme/ios.yaml"


def test_file_limit_replaces_the_half_rule_both_ways():
    remote, loose = _deleting("ios", 6, 5, max_deletes=5)
    assert not check_deletes(_plan(FakeSentry({"acme/ios": remote}), loose)).refused
    remote, tight = _deleting("ios", 3, 2, max_deletes=1)  # small project, own limit applies
    verdict = check_deletes(_plan(FakeSentry({"acme/ios": remote}), tight))
    (breach,) = verdict.breaches
    assert breach.rule == "file"
    assert breach.message == "acme/ios: 2 deletes, more than its max_deletes 1"
    assert breach.allow == "max_deletes: 2 in configs/acme/ios.yaml"
    remote, zero = _deleting("ios", 3, 1, max_deletes=0)
    assert check_deletes(_plan(FakeSentry({"acme/ios": remote}), zero)).refused


def test_run_total_counts_every_project_and_only_the_flag_raises_it():
    fake = FakeSentry({})
    configs = []
    for i in range(4):  # 4 projects x 3 deletes of 8 sources: each under half, 12 in total
        remote, config = _deleting(f"p{i}", 8, 3)
        fake.projects[f"acme/p{i}"] = remote
        configs.append(config)
    plan = _plan(fake, *configs)
    verdict = check_deletes(plan)
    assert verdict.max_deletes == DEFAULT_MAX_DELETES == 10
    (breach,) = verdict.breaches
    assert (breach.rule, breach.project, breach.deletes) == ("run", None, 12)
    assert breach.message == "12 deletes, more than --max-deletes 10"
    assert breach.allow == "--max-deletes 12, or max_deletes: 12 in configs/symsync.yaml"
    assert not check_deletes(plan, 12).refused
    assert check_deletes(plan, 11).refused


def test_flag_does_not_lift_a_project_limit():
    remote, config = _deleting("ios", 6, 4)
    plan = _plan(FakeSentry({"acme/ios": remote}), config)
    assert [b.rule for b in check_deletes(plan, 1000).breaches] == ["half"]
    assert [b.rule for b in check_deletes(plan, 3).breaches] == ["run", "half"]


def test_creates_updates_and_unmanaged_kept_are_never_limited():
    remote = [http(f"s{i}") for i in range(4)]
    desired = [http(f"s{i}", name="renamed") for i in range(4)]
    desired += [http(f"new{i}") for i in range(20)]
    plan = _plan(FakeSentry({"acme/ios": remote}), project("acme", "ios", desired))
    verdict = check_deletes(plan, 0)
    assert not verdict.refused and verdict.deletes == 0


def test_unmanaged_delete_counts():
    remote = [http(f"s{i}") for i in range(6)]
    config = project("acme", "ios", [http("s0")], unmanaged="delete")
    verdict = check_deletes(_plan(FakeSentry({"acme/ios": remote}), config))
    assert [(b.rule, b.deletes) for b in verdict.breaches] == [("half", 5)]


def test_every_format_shows_the_verdict():
    remote, config = _deleting("ios", 6, 4)
    plan = _plan(FakeSentry({"acme/ios": remote}), config)
    plan = plan.model_copy(update={"limits": check_deletes(plan)})
    line = (
        "apply would refuse: acme/ios: 4 of its 6 sources deleted, more than half "
        "(to allow it: max_deletes: 4 in configs/acme/ios.yaml)"
    )
    assert line in render(plan, "text").splitlines()
    assert "apply would refuse: acme/ios: 4 of its 6 sources deleted" in render(plan, "markdown")
    # the JSON plan says it in the same words, with what allows it
    assert json.loads(render(plan, "json"))["limits"]["verdict"] == [line]
    limits = Plan.loads(render(plan, "json")).limits
    assert limits is not None and limits.refused
    assert limits.breaches[0].allow == "max_deletes: 4 in configs/acme/ios.yaml"


def test_a_refused_run_writes_nothing_anywhere():
    remote, over = _deleting("ios", 6, 4)
    fake = FakeSentry({"acme/ios": remote, "acme/web": [http("w")]})
    fine = project("acme", "web", [http("w", name="renamed"), http("new")])
    plan = _plan(fake, over, fine)
    fake.calls.clear()
    result = apply_plan(plan, fake, verify=False, env={})
    assert fake.calls == []
    assert result.exit_code == 3
    by_key = {r.key: r for r in result.projects}
    assert by_key["acme/ios"].status == by_key["acme/web"].status == "refused"
    assert "4 of its 6 sources deleted" in by_key["acme/ios"].message
    assert "nothing was written anywhere" in by_key["acme/web"].message
    # the project's own key lets it through
    remote, allowed = _deleting("ios", 6, 4, max_deletes=4)
    fake = FakeSentry({"acme/ios": remote})
    result = apply_plan(_plan(fake, allowed), fake, verify=False, env={})
    assert result.exit_code == 0
    assert [c[0] for c in fake.calls if c[0] != "GET"] == ["DELETE"] * 4


def test_a_project_over_its_own_limit_is_also_told_the_run_total():
    # acme/ios breaks its own limit and the run's --max-deletes: its row names both, since
    # raising only its max_deletes would still be refused
    remote, over = _deleting("ios", 6, 4)
    fake = FakeSentry({"acme/ios": remote})
    plan = _plan(fake, over)
    fake.calls.clear()
    result = apply_plan(plan, fake, verify=False, env={}, max_deletes=2)
    (row,) = result.projects
    assert row.status == "refused" and fake.calls == []
    assert (
        "4 deletes, more than --max-deletes 2 "
        "(to allow it: --max-deletes 4, or max_deletes: 4 in configs/symsync.yaml)" in row.message
    )
    assert "acme/ios: 4 of its 6 sources deleted, more than half" in row.message


def test_one_delete_over_a_zero_limit_is_said_in_the_singular():
    remote = [http("a"), http("c")]
    config = project("acme", "ios", [http("a"), {"id": "c", "state": "absent"}], max_deletes=0)
    verdict = check_deletes(_plan(FakeSentry({"acme/ios": remote}), config), max_deletes=0)
    assert verdict.lines() == [
        "1 delete, more than --max-deletes 0 "
        "(to allow it: --max-deletes 1, or max_deletes: 1 in configs/symsync.yaml)",
        "acme/ios: 1 delete, more than its max_deletes 0 "
        "(to allow it: max_deletes: 1 in configs/acme/ios.yaml)",
    ]
