"""order: enforce: the reorder plan, and a proof by exhaustive search that it is minimal."""

from __future__ import annotations

import itertools
from collections import deque

import pytest

from reconciler.plan.ordering import order_after, plan_order


def test_longest_prefix_in_stored_order_stays():
    r = plan_order(["a", "b", "c", "d"], ["a", "x", "b", "d", "c"])
    assert r.kept == ("a", "b", "c")  # x is unmanaged: it does not break the prefix
    assert r.moved == ("d",)
    assert r.created == ()
    assert r.order_writes == 2
    r = plan_order(["a", "b", "c", "d"], ["a", "c", "x", "b", "d"])
    assert (r.kept, r.moved) == (("a", "b"), ("c", "d"))


def test_a_new_source_ends_the_prefix():
    r = plan_order(["a", "new", "b"], ["a", "b"])
    assert (r.kept, r.moved, r.created) == (("a",), ("b",), ("new",))
    r = plan_order(["new", "a", "b"], ["a", "b"])
    assert (r.kept, r.moved, r.created) == ((), ("a", "b"), ("new",))


def test_already_in_order_moves_nothing():
    r = plan_order(["a", "b", "c"], ["z", "a", "y", "b", "c", "gone"])
    assert (r.kept, r.moved, r.created) == (("a", "b", "c"), (), ())
    r = plan_order(["a", "b", "new"], ["a", "b"])
    assert (r.kept, r.moved, r.created) == (("a", "b"), (), ("new",))


def test_reversed_keeps_only_the_first():
    r = plan_order(["c", "b", "a"], ["a", "b", "c"])
    assert (r.kept, r.moved) == (("c",), ("b", "a"))


def test_order_after():
    assert order_after(["a", "x", "b", "c"], ["b", "gone"], ["new", "b"]) == [
        "a", "x", "c", "new", "b",
    ]  # fmt: skip


def _managed(order: list[str], managed: set[str]) -> tuple[str, ...]:
    return tuple(s for s in order if s in managed)


def _fewest_writes(remote: tuple[str, ...], desired: tuple[str, ...]) -> int:
    """Breadth-first search over every sequence of DELETEs and POSTs (a PUT never moves a
    source): the fewest writes that make the managed order ``desired``, keeping every
    unmanaged source."""
    managed = set(desired)
    goal = desired
    seen = {remote}
    queue = deque([(remote, 0)])
    while queue:
        state, cost = queue.popleft()
        if _managed(list(state), managed) == goal:  # POST never duplicates: ids are unique
            return cost
        steps = []
        for sid in state:
            if sid in managed:  # deleting an unmanaged source is not allowed
                steps.append(tuple(s for s in state if s != sid))
        for sid in desired:
            if sid not in state:
                steps.append((*state, sid))
        for nxt in steps:
            if nxt not in seen:
                seen.add(nxt)
                queue.append((nxt, cost + 1))
    raise AssertionError("unreachable")


def _cases():
    # Every permutation of up to 4 managed sources, each possibly missing in Sentry, with an
    # unmanaged source at every place.
    for n in range(1, 5):
        ids = [f"s{i}" for i in range(n)]
        for remote_perm in itertools.permutations(ids):
            for missing_mask in range(2 ** min(n, 2)):
                missing = {ids[i] for i in range(min(n, 2)) if missing_mask >> i & 1}
                present = [s for s in remote_perm if s not in missing]
                for slot in range(len(present) + 1):
                    remote = (*present[:slot], "u", *present[slot:])
                    yield remote, tuple(ids)


CASES = list(_cases())


def test_minimal_against_exhaustive_search():
    assert len(CASES) > 300
    for remote, desired in CASES:
        r = plan_order(desired, [s for s in remote])
        ours = r.order_writes + len(r.created)
        assert ours == _fewest_writes(remote, desired), (remote, desired, r)
        # and our writes do reach the file's order, the unmanaged source kept
        after = order_after(remote, r.moved, [s for s in desired if s not in r.kept])
        assert _managed(after, set(desired)) == desired
        assert "u" in after


@pytest.mark.parametrize("n", [5, 8])
def test_no_creates_costs_two_per_source_after_the_prefix(n):
    for perm in itertools.islice(itertools.permutations(range(n)), 500):
        remote = [f"s{i}" for i in perm]
        desired = [f"s{i}" for i in range(n)]
        r = plan_order(desired, remote)
        assert r.order_writes == 2 * (n - len(r.kept))
