"""Pacing from Sentry's rate-limit headers, driven by a fake clock: no test sleeps.

The simulation at the end plays a whole run against a model of Sentry's fixed-window and
concurrency limiters (what the emulator does, as Sentry does) and checks the pacer's targets:
at most 1 % of answers are 429s while at least 90 % of the limit is used."""

from __future__ import annotations

import heapq
import math
import random
import threading
from dataclasses import dataclass, field

import pytest

from reconciler.sentry.pacing import (
    PROBE_HOLD,
    SLOT_POLL,
    Hold,
    OrgPace,
    Pacer,
    Permit,
    RateLimitHeaders,
)

T0 = 1_000_000.0


def headers(limit=40, remaining=39, reset=T0 + 1, concurrent=None, concurrent_remaining=None):
    return RateLimitHeaders(limit, remaining, reset, concurrent, concurrent_remaining)


def go(pace: OrgPace, now: float) -> Permit:
    assert pace.hold(now) is None
    return pace.send("acme", now)


def test_parses_sentrys_headers_and_ignores_garbage():
    parsed = RateLimitHeaders.parse(
        {
            "X-Sentry-Rate-Limit-Limit": "40",
            "X-Sentry-Rate-Limit-Remaining": "12",
            "X-Sentry-Rate-Limit-Reset": "1000001",
            "X-Sentry-Rate-Limit-ConcurrentLimit": "25",
            "X-Sentry-Rate-Limit-ConcurrentRemaining": "24",
        }
    )
    assert parsed == RateLimitHeaders(40, 12, 1_000_001.0, 25, 24)
    broken = RateLimitHeaders.parse(
        {"X-Sentry-Rate-Limit-Limit": "nan", "X-Sentry-Rate-Limit-Reset": "-5"}
    )
    assert broken == RateLimitHeaders()


def test_without_headers_nothing_is_paced_after_the_first_answer():
    pace = OrgPace()
    first = go(pace, T0)
    # Until the first answer, one request at a time (for a while).
    hold = pace.hold(T0)
    assert hold is not None and hold.for_slot
    pace.answered(first, T0 + 0.01, 200, RateLimitHeaders())
    permits = [go(pace, T0 + 0.01) for _ in range(100)]
    assert len(permits) == 100


def test_the_first_request_does_not_hold_the_others_for_ever():
    pace = OrgPace()
    go(pace, T0)
    assert pace.hold(T0 + PROBE_HOLD - 0.1) is not None
    assert pace.hold(T0 + PROBE_HOLD) is None


def test_requests_stay_inside_the_window_and_wait_for_its_reset():
    pace = OrgPace()
    first = go(pace, T0)
    pace.answered(first, T0 + 0.01, 200, headers(limit=5, remaining=4, reset=T0 + 1))
    for _ in range(4):
        go(pace, T0 + 0.02)
    hold = pace.hold(T0 + 0.02)
    assert hold == Hold(pytest.approx(0.98), for_slot=False)
    # At the reset, a new window: five more.
    for _ in range(5):
        go(pace, T0 + 1)
    assert pace.hold(T0 + 1) is not None


def test_what_other_clients_used_counts_too():
    pace = OrgPace()
    first = go(pace, T0)
    # Sentry counted 38 of 40 already: someone else is using the organization's limit.
    pace.answered(first, T0 + 0.01, 200, headers(limit=40, remaining=2, reset=T0 + 1))
    go(pace, T0 + 0.02)
    go(pace, T0 + 0.02)
    assert pace.hold(T0 + 0.02) is not None


def test_no_request_goes_out_just_before_the_reset():
    """It could arrive after the reset and count in the next window, unseen."""
    pace = OrgPace()
    first = go(pace, T0)
    pace.answered(first, T0 + 0.02, 200, headers(limit=40, remaining=39, reset=T0 + 1))
    assert pace.hold(T0 + 0.5) is None
    hold = pace.hold(T0 + 0.995)
    assert hold is not None and not hold.for_slot and hold.seconds == pytest.approx(0.005)


def test_the_concurrency_cap_is_kept():
    pace = OrgPace()
    first = go(pace, T0)
    pace.answered(
        first, T0 + 0.01, 200, headers(remaining=39, concurrent=3, concurrent_remaining=2)
    )
    in_flight = [go(pace, T0 + 0.01) for _ in range(3)]
    hold = pace.hold(T0 + 0.01)
    assert hold is not None and hold.for_slot
    pace.answered(in_flight[0], T0 + 0.02, 200, headers(remaining=35, concurrent=3))
    assert pace.hold(T0 + 0.02) is None


def test_a_concurrency_429_lowers_the_cap_until_answers_come_back():
    pace = OrgPace()
    first = go(pace, T0)
    pace.answered(first, T0 + 0.01, 200, headers(remaining=39, concurrent=4))
    permits = [go(pace, T0 + 0.01) for _ in range(4)]
    pace.answered(
        permits[0], T0 + 0.02, 429, headers(remaining=30, concurrent=4, concurrent_remaining=0)
    )
    # Three still in flight and the cap is now three.
    assert pace.hold(T0 + 0.02) is not None
    pace.answered(permits[1], T0 + 0.03, 200, headers(remaining=29, concurrent=4))
    assert pace.hold(T0 + 0.03) is None


def test_a_429_holds_every_request_until_the_reset():
    pace = OrgPace()
    first = go(pace, T0)
    pace.answered(first, T0 + 0.01, 429, headers(limit=40, remaining=0, reset=T0 + 1))
    hold = pace.hold(T0 + 0.01)
    assert hold is not None and hold.seconds == pytest.approx(0.99)
    assert pace.hold(T0 + 1) is None


def test_a_reset_that_passed_while_the_answer_travelled_means_go_now():
    pace = OrgPace()
    first = go(pace, T0 + 0.99)
    pace.answered(first, T0 + 1.02, 429, headers(limit=40, remaining=0, reset=T0 + 1))
    assert pace.hold(T0 + 1.02) is None
    assert pace.lag == 0


def test_a_clock_ahead_of_sentrys_learns_to_wait_longer():
    """Sent after the reset by this clock, yet counted in the old window by Sentry's."""
    pace = OrgPace()
    first = go(pace, T0)
    pace.answered(first, T0 + 0.01, 200, headers(limit=2, remaining=1, reset=T0 + 1))
    go(pace, T0 + 0.02)
    late = go(pace, T0 + 1.0)  # a new window, by this clock
    pace.answered(late, T0 + 1.01, 429, headers(limit=2, remaining=0, reset=T0 + 1))
    assert pace.lag > 0
    hold = pace.hold(T0 + 1.01)
    assert hold is not None and not hold.for_slot


def test_a_retry_after_holds_the_organization():
    pace = OrgPace()
    pace.retry_after(T0, 3)
    assert pace.hold(T0 + 2.9) is not None
    assert pace.hold(T0 + 3) is None


# ------------------------------------------------------------------------ the simulation


@dataclass
class SentryModel:
    """Fixed windows aligned to the epoch, counted on arrival (429s count too), and a
    concurrency limit; the emulator's limiter."""

    limit: int
    window: float
    concurrent: int
    latency: float
    counts: dict[int, int] = field(default_factory=dict)
    in_flight: int = 0

    def arrive(self, now: float) -> tuple[int, RateLimitHeaders]:
        bucket = int(now // self.window)
        count = self.counts.get(bucket, 0) + 1
        self.counts[bucket] = count
        self.in_flight += 1
        refused = count > self.limit or self.in_flight > self.concurrent
        return 429 if refused else 200, RateLimitHeaders(
            self.limit,
            max(self.limit - count, 0),
            float(math.ceil((bucket + 1) * self.window)),
            self.concurrent,
            max(self.concurrent - self.in_flight, 0),
        )


class _Events:
    """The simulations' timeline: events by time, those at the same time in the order pushed."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, str, int, object]] = []
        self._seq = 0

    def __bool__(self) -> bool:
        return bool(self._heap)

    def push(self, at: float, kind: str, worker: int, data: object = None) -> None:
        self._seq += 1
        heapq.heappush(self._heap, (at, self._seq, kind, worker, data))

    def pop(self) -> tuple[float, str, int, object]:
        at, _, kind, worker, data = heapq.heappop(self._heap)
        return at, kind, worker, data


def simulate(
    *, workers: int, requests: int, limit: int, window: float, concurrent: int, start: float
) -> tuple[int, int, float]:
    """(answers, 429s, seconds) for ``requests`` requests from ``workers`` threads."""
    sentry = SentryModel(limit, window, concurrent, latency=0.02)
    pace = OrgPace()
    # Requests sent together arrive in any order (threads, connections): a transit time of
    # 0.5 to 3 ms, drawn from a seeded generator.
    transit = random.Random(7)

    def one_way() -> float:
        return transit.uniform(0.0005, 0.003)

    events = _Events()
    push = events.push

    remaining = requests
    answers = refused = 0
    slot_waiters: list[int] = []
    end = start
    for worker in range(workers):
        push(start, "ready", worker)
    busy = set()
    sending = set()
    while events:
        now, kind, worker, data = events.pop()
        if kind == "ready":
            if worker in sending:
                continue
            if worker not in busy:
                if remaining == 0:
                    continue
                remaining -= 1
                busy.add(worker)
            hold = pace.hold(now)
            if hold is None:
                permit = pace.send("acme", now)
                sending.add(worker)
                push(now + one_way(), "arrive", worker, permit)
            elif hold.for_slot:
                slot_waiters.append(worker)
                push(now + hold.seconds, "ready", worker)
            else:
                push(now + hold.seconds, "ready", worker)
        elif kind == "arrive":
            status, answer_headers = sentry.arrive(now)
            push(now + sentry.latency, "leave", worker, (data, status, answer_headers))
        elif kind == "leave":
            sentry.in_flight -= 1
            push(now + one_way(), "answer", worker, data)
        elif kind == "answer":
            permit, status, answer_headers = data  # type: ignore[misc]
            pace.answered(permit, now, status, answer_headers)
            sending.discard(worker)
            answers += 1
            end = now
            if status == 429:
                refused += 1
            else:
                busy.discard(worker)
            push(now, "ready", worker)
            for waiter in slot_waiters:
                push(now, "ready", waiter)
            slot_waiters.clear()
    return answers, refused, end - start


@pytest.mark.parametrize("workers", [8, 32])
@pytest.mark.parametrize("start", [T0, T0 + 0.37, T0 + 0.999])
def test_a_run_at_the_limit_sees_next_to_no_429s(workers, start):
    """The pacer's target, 400 requests at `--rate-limit 40/1 --concurrent-limit 25`: at most
    1 % of answers are 429s, at least 90 % of 40 requests per second."""
    answers, refused, seconds = simulate(
        workers=workers, requests=400, limit=40, window=1.0, concurrent=25, start=start
    )
    assert refused <= 0.01 * answers
    assert (answers - refused) / seconds >= 0.9 * 40


def test_a_small_limit_and_a_tight_concurrency_cap():
    answers, refused, seconds = simulate(
        workers=32, requests=60, limit=10, window=1.0, concurrent=5, start=T0 + 0.5
    )
    assert refused <= 1
    assert answers - refused == 60
    assert seconds <= 6.5


# ------------------------------------------------------- organizations that share a window


class FakeClock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def as_headers(parsed: RateLimitHeaders) -> dict[str, str]:
    """Sentry's headers as they come over the wire."""
    named = {
        "X-Sentry-Rate-Limit-Limit": parsed.limit,
        "X-Sentry-Rate-Limit-Remaining": parsed.remaining,
        "X-Sentry-Rate-Limit-Reset": parsed.reset,
        "X-Sentry-Rate-Limit-ConcurrentLimit": parsed.concurrent_limit,
        "X-Sentry-Rate-Limit-ConcurrentRemaining": parsed.concurrent_remaining,
    }
    return {name: str(value) for name, value in named.items() if value is not None}


@dataclass
class MultiRun:
    pacer: Pacer
    answers: int
    refused: int
    seconds: float
    # Requests that arrived in each window of each limiter (symsync's and other clients').
    arrivals: dict[tuple[int, int], int]

    def busiest(self, model: SentryModel) -> int:
        return max(n for (which, _), n in self.arrivals.items() if which == id(model))

    def in_one_window(self) -> dict[int, int]:
        """Arrivals per window, every limiter together."""
        out: dict[int, int] = {}
        for (_, bucket), n in self.arrivals.items():
            out[bucket] = out.get(bucket, 0) + n
        return out


def simulate_orgs(
    jobs: list[str],
    *,
    workers: int,
    limiters: dict[str, SentryModel],
    start: float,
    pacer: Pacer | None = None,
    clock: FakeClock | None = None,
    others: dict[str, int] | None = None,
) -> MultiRun:
    """``jobs`` (one organization each, taken in order by ``workers`` threads) through one
    :class:`Pacer`, against the limiter ``limiters`` names for each organization: one
    object for several organizations is a window they share. ``others``: another client
    sends that many requests a second, evenly spread, into that organization's window."""
    clock = clock if clock is not None else FakeClock(start)
    clock.now = max(clock.now, start)
    pacer = pacer if pacer is not None else Pacer(clock=clock, monotonic=clock)
    transit = random.Random(11)
    events = _Events()
    push = events.push

    arrivals: dict[tuple[int, int], int] = {}

    def count(model: SentryModel, at: float) -> None:
        key = (id(model), int(at // model.window))
        arrivals[key] = arrivals.get(key, 0) + 1

    pending = list(jobs)
    job: dict[int, tuple[str, int]] = {}  # worker -> (organization, ticket)
    answers = refused = 0
    slot_waiters: set[int] = set()
    end = start
    for worker in range(workers):
        push(start, "ready", worker)
    for key, per_second in (others or {}).items():
        push(start, "other", -1, (limiters[key], 1 / per_second))
    while events:
        now, kind, worker, data = events.pop()
        clock.now = now
        if kind == "other":
            model, every = data  # type: ignore[misc]
            if pending or job:
                bucket = int(now // model.window)
                model.counts[bucket] = model.counts.get(bucket, 0) + 1
                count(model, now)
                push(now + every, "other", -1, data)
        elif kind == "ready":
            if worker not in job:
                if not pending:
                    continue
                key = pending.pop(0)
                ticket = pacer.ticket()
                pacer.join(key, ticket)
                job[worker] = (key, ticket)
            key, ticket = job[worker]
            step = pacer.poll(key, ticket)
            if isinstance(step, Permit):
                push(now + transit.uniform(0.0005, 0.003), "arrive", worker, step)
            elif step is None or step.for_slot:
                slot_waiters.add(worker)
                push(now + (SLOT_POLL if step is None else step.seconds), "ready", worker)
            else:
                push(now + step.seconds, "ready", worker)
        elif kind == "arrive":
            model = limiters[job[worker][0]]
            count(model, now)
            status, answer_headers = model.arrive(now)
            push(now + model.latency, "leave", worker, (data, status, answer_headers))
        elif kind == "leave":
            limiters[job[worker][0]].in_flight -= 1
            push(now + transit.uniform(0.0005, 0.003), "answer", worker, data)
        elif kind == "answer":
            permit, status, answer_headers = data  # type: ignore[misc]
            pacer.answered(permit, status, as_headers(answer_headers))
            answers += 1
            end = now
            if status == 429:
                refused += 1
                pacer.join(*job[worker])  # a retry keeps its place
            else:
                del job[worker]
            push(now, "ready", worker)
            for waiter in slot_waiters:
                push(now, "ready", waiter)
            slot_waiters.clear()
    return MultiRun(pacer, answers, refused, end - start, arrivals)


def two_orgs(requests: int) -> list[str]:
    """Requests to two organizations, interleaved (projects of both in one run)."""
    return ["acme" if i % 2 == 0 else "globex" for i in range(requests)]


@pytest.mark.parametrize("start", [T0, T0 + 0.37, T0 + 0.999])
@pytest.mark.parametrize("workers", [8, 32])
def test_organizations_that_share_a_window_are_paced_as_one(workers, start):
    """A user token: Sentry counts both organizations' requests in one window (and one
    concurrency limit). Once that shows, no window holds more than its limit."""
    shared = SentryModel(limit=40, window=1.0, concurrent=25, latency=0.02)
    run = simulate_orgs(
        two_orgs(400), workers=workers, limiters={"acme": shared, "globex": shared}, start=start
    )
    assert run.pacer.shares("acme", "globex")
    assert run.refused <= 1
    assert run.busiest(shared) <= 40 + run.refused
    assert (run.answers - run.refused) / run.seconds >= 0.9 * 40


@pytest.mark.parametrize("workers", [8, 32])
def test_organizations_with_their_own_windows_stay_independent(workers):
    """An internal integration's token: one window per organization. Each organization uses
    its own limit, in parallel: together more than one organization's limit."""
    acme = SentryModel(limit=40, window=1.0, concurrent=25, latency=0.02)
    globex = SentryModel(limit=40, window=1.0, concurrent=25, latency=0.02)
    run = simulate_orgs(
        two_orgs(800), workers=workers, limiters={"acme": acme, "globex": globex}, start=T0
    )
    assert not run.pacer.shares("acme", "globex")
    assert run.refused == 0
    assert run.busiest(acme) <= 40 and run.busiest(globex) <= 40
    assert max(run.in_one_window().values()) > 40
    if workers == 32:
        assert (run.answers - run.refused) / run.seconds >= 0.9 * 80


def test_another_client_on_one_organizations_window_merges_nothing():
    """Another client uses acme's window while symsync sends only to acme (globex was done
    in an earlier window): nothing explains the extra requests but that client, and acme is
    paced exactly as if globex had never been seen."""

    def run_acme(after_globex: bool) -> tuple[Pacer, MultiRun]:
        clock = FakeClock(T0)
        pacer = Pacer(clock=clock, monotonic=clock)
        acme = SentryModel(limit=40, window=1.0, concurrent=25, latency=0.02)
        globex = SentryModel(limit=40, window=1.0, concurrent=25, latency=0.02)
        limiters = {"acme": acme, "globex": globex}
        if after_globex:
            simulate_orgs(
                ["globex"] * 10, workers=8, limiters=limiters, start=T0, pacer=pacer, clock=clock
            )
        run = simulate_orgs(
            ["acme"] * 200,
            workers=16,
            limiters=limiters,
            start=T0 + 1.2,
            pacer=pacer,
            clock=clock,
            others={"acme": 15},
        )
        return pacer, run

    pacer, run = run_acme(after_globex=True)
    assert not pacer.shares("acme", "globex")
    assert pacer.pace("globex").total_sent == 10
    _, alone = run_acme(after_globex=False)
    assert (run.answers, run.refused, run.seconds) == (alone.answers, alone.refused, alone.seconds)


def test_a_merge_from_another_client_only_slows_the_run():
    """The one false alarm: another client uses acme's window while symsync also sends to
    globex (in its own window). The two are paced as one from then on: slower, and still
    no window over its limit."""
    acme = SentryModel(limit=40, window=1.0, concurrent=25, latency=0.02)
    globex = SentryModel(limit=40, window=1.0, concurrent=25, latency=0.02)
    run = simulate_orgs(
        two_orgs(400),
        workers=16,
        limiters={"acme": acme, "globex": globex},
        start=T0,
        others={"acme": 10},
    )
    assert run.pacer.shares("acme", "globex")
    assert run.refused <= 1
    assert run.busiest(acme) <= 40 and run.busiest(globex) <= 40


def shared_window_pacer() -> tuple[FakeClock, Pacer, list[Permit]]:
    """acme learned its window (40 a second, 2 in flight at most) and has two requests in
    flight; globex's first request is in flight. Nothing is merged yet."""
    clock = FakeClock(T0)
    pacer = Pacer(clock=clock, monotonic=clock)
    first = pacer.acquire("acme", pacer.ticket())
    clock.now = T0 + 0.02
    pacer.answered(first, 200, as_headers(headers(limit=40, remaining=39, concurrent=2)))
    in_flight = [pacer.acquire("acme", pacer.ticket()) for _ in range(2)]
    in_flight.append(pacer.acquire("globex", pacer.ticket()))
    assert not pacer.shares("acme", "globex")
    return clock, pacer, in_flight


def test_requests_in_flight_across_a_merge_are_answered_into_it():
    clock, pacer, (a1, a2, g1) = shared_window_pacer()
    clock.now = T0 + 0.04
    # Sentry counted four in the window: acme's three and globex's one.
    pacer.answered(g1, 200, as_headers(headers(limit=40, remaining=36, concurrent=2)))
    assert pacer.shares("acme", "globex")
    pace = pacer.pace("globex")
    assert pace.in_flight == 2 and pace.sent == 4 and pace.used == 4
    pacer.answered(a1, 200, as_headers(headers(limit=40, remaining=36, concurrent=2)))
    pacer.dropped(a2)
    assert pace.in_flight == 0 and pace.used == 4
    # Dropped or answered once more by mistake: never below zero.
    pacer.dropped(a2)
    assert pace.in_flight == 0
    assert pacer.last_granted("acme") == pacer.last_granted("globex") == T0 + 0.04


def test_waiting_requests_keep_their_order_across_a_merge():
    clock, pacer, (a1, _, g1) = shared_window_pacer()
    # acme is at its concurrency cap, globex waits for its first answer: all four wait.
    tickets = {}
    for name in ("acme", "globex", "acme", "globex"):
        ticket = pacer.ticket()
        tickets[ticket] = name
        pacer.join(name, ticket)
    order = list(tickets)
    assert isinstance(pacer.poll("acme", order[0]), Hold)
    assert isinstance(pacer.poll("globex", order[1]), Hold)
    clock.now = T0 + 0.04
    pacer.answered(g1, 200, as_headers(headers(limit=40, remaining=36, concurrent=2)))
    assert pacer.shares("acme", "globex")
    assert pacer.waiting("acme") == pacer.waiting("globex") == order
    # Two in flight (acme's), one answer frees a slot: the oldest goes first, whatever its
    # organization, and the rest wait their turn.
    pacer.answered(a1, 200, as_headers(headers(limit=40, remaining=35, concurrent=2)))
    assert pacer.poll("globex", order[1]) is None
    assert isinstance(pacer.poll("acme", order[0]), Permit)
    assert isinstance(pacer.poll("globex", order[1]), Hold)
    assert pacer.waiting("acme") == order[1:]


def test_after_a_merge_a_new_organization_needs_no_first_answer_of_its_own():
    clock, pacer, (a1, a2, g1) = shared_window_pacer()
    clock.now = T0 + 0.04
    for permit, remaining in ((g1, 36), (a1, 36), (a2, 36)):
        pacer.answered(permit, 200, as_headers(headers(limit=40, remaining=remaining)))
    assert pacer.shares("acme", "initech")
    # Not one request until its first answer: as many as the window's cap of two allows.
    permits = [pacer.poll("initech", t) for t in _joined(pacer, "initech", 3)]
    assert [isinstance(p, Permit) for p in permits] == [True, True, False]


def _joined(pacer: Pacer, key: str, n: int) -> list[int]:
    tickets = [pacer.ticket() for _ in range(n)]
    for ticket in tickets:
        pacer.join(key, ticket)
    return tickets


# ------------------------------------------------- what counts as waiting for the rate limit


def test_only_holds_that_sentrys_limits_cause_are_limited():
    pace = OrgPace()
    first = go(pace, T0)
    probe = pace.hold(T0)  # the first answer awaited: symsync's own caution
    assert probe is not None and not probe.limited
    pace.answered(first, T0 + 0.02, 200, headers(limit=3, remaining=2, reset=T0 + 1))
    edge = pace.hold(T0 + 0.995)  # the window's last moment skipped, the window not used up
    assert edge is not None and not edge.limited
    go(pace, T0 + 0.1)
    go(pace, T0 + 0.1)
    used_up = pace.hold(T0 + 0.1)  # three of three used: Sentry's limit
    assert used_up is not None and used_up.limited
    assert pace.hold(T0 + 0.995) == Hold(pytest.approx(0.005), for_slot=False, limited=True)
    refused = OrgPace()
    pace_429 = go(refused, T0)
    refused.answered(pace_429, T0 + 0.01, 429, headers(limit=40, remaining=0, reset=T0 + 2))
    hold = refused.hold(T0 + 0.01)
    assert hold is not None and hold.limited


def test_a_429s_reset_is_counted_as_waiting_for_the_rate_limit():
    clock = FakeClock(T0)

    def sleep(seconds: float) -> None:
        clock.now += seconds

    pacer = Pacer(clock=clock, monotonic=clock, sleep=sleep)
    first = pacer.acquire("acme", pacer.ticket())
    clock.now += 0.01
    pacer.answered(first, 429, as_headers(headers(limit=40, remaining=0, reset=T0 + 2)))
    pacer.acquire("acme", pacer.ticket())
    assert clock.now == pytest.approx(T0 + 2)
    assert pacer.stats.waited == pytest.approx(1.99)


def test_waiting_for_the_first_answer_is_not_waiting_for_the_rate_limit():
    """Against a Sentry that sends no rate-limit header and never answers 429, the figure stays
    0.0 however long the first answer takes."""
    held = threading.Event()

    class Watched(Pacer):
        def poll(self, key: str, ticket: int) -> Permit | Hold | None:
            step = super().poll(key, ticket)
            if isinstance(step, Hold):
                held.set()
            return step

    clock = FakeClock(T0)
    pacer = Watched(clock=clock, monotonic=clock)
    first = pacer.acquire("acme", pacer.ticket())
    second_ticket = pacer.ticket()
    got: list[Permit] = []
    waiter = threading.Thread(target=lambda: got.append(pacer.acquire("acme", second_ticket)))
    waiter.start()
    assert held.wait(timeout=30)  # the second request is held until the first answer
    clock.now += 1.5  # a slow first answer, without any rate-limit header
    pacer.answered(first, 200, {})
    waiter.join(timeout=30)
    assert not waiter.is_alive() and len(got) == 1
    assert pacer.stats.waited == 0.0
