"""Keeping requests inside Sentry's rate limits, learned from its headers.

Sentry limits API traffic in fixed windows and says where each answer stands in
``X-Sentry-Rate-Limit-Limit`` (requests per window), ``-Remaining``, ``-Reset`` (the epoch second
the window ends), ``-ConcurrentLimit`` and ``-ConcurrentRemaining``. It keys a window by the
token's owner: a user auth token's requests all count in one window (per request method),
whatever organization they go to; an internal integration's token has one per organization. An
:class:`OrgPace` turns those headers into one decision per request: send now, or wait. The rules:

- **Learn first.** Until the first answer from an organization arrives, one request is in flight
  at a time (for at most ``PROBE_HOLD`` seconds): the first answer says what the limits are.
- **Stay inside the window.** Within a window, at most ``Limit`` requests go out: the window's
  use is the larger of what symsync sent into it and what Sentry said it counted
  (``Limit - Remaining``, which includes other clients). Once it is used up, requests wait for
  ``Reset``. Requests are not sent in the last moment before ``Reset`` (half the fastest round
  trip seen), where they could arrive in the next window without being counted there. Requests
  of every method count in one window: that stays inside Sentry's window of each method.
- **Stay under the concurrency cap.** At most ``ConcurrentLimit`` requests are in flight; a 429
  from the concurrency limiter lowers the cap by one, and answers without one raise it back.
- **A 429 waits until ``Reset``** (or a proxy's ``Retry-After``) for every request to that
  organization, not only the one refused. A reset that passed while the answer travelled means
  "retry now". A reset that had already passed by this clock when the request was sent means
  this clock runs ahead of Sentry's: later waits add a growing margin (``lag``).
- **Organizations are paced apart until their answers show one window.** Each organization
  starts with its own pace, and so runs in parallel with the others. An answer shows a shared
  window when Sentry counted in it more than any request of the organization's own could
  explain (``unexplained``: the count, less every request sent into the window and every one
  still unanswered when it began), and no more than the run's other organizations can: what
  symsync sent them into a window with the same ``Reset`` and ``Limit`` (each told by an answer
  of theirs), plus the most other clients were seen to use of it from their side. Separate
  windows never show such a count without another client in them: the one false alarm is a
  client using one organization's window while symsync sends to others in the same window, and
  it only slows the run (one pace keeps each of the windows inside its limit). From then on,
  every organization of the run (whose ``Limit`` is unknown or the same) goes by one
  :class:`OrgPace`, not only the two shown: a window shared by two organizations is the token
  owner's, and every organization the token reaches counts in it. Organizations seen later join
  it without a first request of their own. The merge keeps every count (requests in flight and
  sent into the window, holds, caps, margins; the strictest of each) and every request's place
  in line, and is never undone within a run.

Everything here is pure bookkeeping over a clock value passed in, so tests drive it with a fake
clock; :class:`Pacer` adds the locking and waiting for threads, and the merging.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final, TypeVar

_N = TypeVar("_N", int, float)

# Until the first answer of an organization, one request at a time, for at most this long.
PROBE_HOLD: Final = 2.0
# A reset or Retry-After further away than this is a broken header (a reset in milliseconds).
MAX_PLAUSIBLE_WAIT: Final = 3600.0
# The margin added after a reset when this clock proved to run ahead of Sentry's, at most.
MAX_LAG: Final = 2.0
LAG_STEP: Final = 0.05
# Requests are not sent this close before a window's end (at least; see OrgPace.edge).
MIN_EDGE: Final = 0.005
MAX_EDGE: Final = 0.25
# A window whose end no answer told is taken to last this long.
UNKNOWN_WINDOW: Final = 1.0
# Answers without a concurrency 429 that raise a lowered concurrency cap back by one.
CAP_RECOVERY: Final = 20
# Longest single wait for a slot (a re-check follows; answers wake waiters sooner).
SLOT_POLL: Final = 0.25


def _number(headers: Mapping[str, str], name: str) -> float | None:
    raw = headers.get(name)
    if raw is None:
        return None
    try:
        value = float(raw.strip())
    except ValueError:
        return None
    return value if math.isfinite(value) and value >= 0 else None


def _count(headers: Mapping[str, str], name: str) -> int | None:
    value = _number(headers, name)
    return int(value) if value is not None else None


@dataclass(frozen=True)
class RateLimitHeaders:
    """Sentry's rate-limit headers of one answer; ``None`` where absent or unreadable."""

    limit: int | None = None
    remaining: int | None = None
    reset: float | None = None
    concurrent_limit: int | None = None
    concurrent_remaining: int | None = None

    @classmethod
    def parse(cls, headers: Mapping[str, str]) -> RateLimitHeaders:
        limit = _count(headers, "X-Sentry-Rate-Limit-Limit")
        concurrent = _count(headers, "X-Sentry-Rate-Limit-ConcurrentLimit")
        return cls(
            limit=limit if limit else None,
            remaining=_count(headers, "X-Sentry-Rate-Limit-Remaining"),
            reset=_number(headers, "X-Sentry-Rate-Limit-Reset"),
            concurrent_limit=concurrent if concurrent else None,
            concurrent_remaining=_count(headers, "X-Sentry-Rate-Limit-ConcurrentRemaining"),
        )

    @property
    def concurrency_refusal(self) -> bool:
        """A 429 with these headers came from the concurrency limiter, not the window."""
        return self.concurrent_remaining == 0 and (self.remaining is None or self.remaining > 0)


@dataclass(frozen=True)
class Permit:
    """One request let through: what it was counted against."""

    key: str
    sent_at: float
    window_end: float | None  # the window it was counted in; None: a window whose end is unknown
    after_reset: float | None  # the end of the window before, when it was sent after that reset
    order: int = 0  # how many requests were sent under its pace, this one included


@dataclass(frozen=True)
class Hold:
    """Not yet: wait ``seconds``; ``for_slot`` when an answer may end the wait sooner.
    ``limited`` when Sentry's limits are the cause (a 429's reset, a window or a concurrency
    cap its headers showed used up), not symsync's own caution (the first answer of an
    organization awaited, the last moment of a window skipped)."""

    seconds: float
    for_slot: bool
    limited: bool = True


@dataclass
class OrgPace:
    """The pacing state of one organization. Times are this clock's epoch seconds."""

    max_wait: float = 60.0
    learned: bool = False
    probe_started: float | None = None
    limit: int | None = None
    window_end: float | None = None
    window_started: float | None = None
    previous_end: float | None = None
    sent: int = 0  # requests sent into the current window
    total_sent: int = 0
    window_first: int = 0  # total_sent when the current window began
    # Requests of other clients Sentry counted in this window, at least: an answer's count
    # minus every request of ours that could have been counted before it (those sent before
    # it, and those sent while it was on its way, which may have overtaken it).
    others: int = 0
    # For telling whether other organizations share this window (see Pacer): requests of ours
    # sent before the window began and unanswered then (they may be counted in it), and the
    # most an answer counted in it beyond every request of ours that could have been counted.
    carried: int = 0
    previous_sent: int = 0  # requests sent into the window before this one, carried included
    unexplained: int = 0
    concurrent_limit: int | None = None
    cap: int | None = None
    cap_credit: int = 0
    in_flight: int = 0
    not_before: float = 0.0
    lag: float = 0.0
    fastest_round_trip: float | None = None
    last_granted: float | None = None  # when the last answer other than a 429 came

    @property
    def used(self) -> int:
        """Requests counted in the current window: what symsync sent into it, and what other
        clients used of it as far as Sentry's answers show."""
        return self.sent + self.others

    def _saw_count(self, counted: int) -> None:
        ours = self.total_sent - self.window_first
        self.others = max(self.others, counted - ours)
        self.unexplained = max(self.unexplained, counted - ours - self.carried)

    def _new_window(self, now: float, carried: int | None = None) -> None:
        self.window_started = now
        self.previous_sent = self.sent + self.carried
        self.window_first = self.total_sent
        self.sent = 0
        self.others = 0
        self.carried = self.in_flight if carried is None else carried
        self.unexplained = 0

    @property
    def edge(self) -> float:
        if self.fastest_round_trip is None:
            return MIN_EDGE
        return min(max(self.fastest_round_trip / 2, MIN_EDGE), MAX_EDGE)

    def _roll(self, now: float) -> None:
        """Move into the next window once the current one has ended."""
        if self.window_end is not None and now >= self.window_end + self.lag:
            self.previous_end = self.window_end
            self.window_end = None
            self._new_window(now)
        elif (
            self.window_end is None
            and self.window_started is not None
            and self.limit is not None
            and self.in_flight == 0
            and self.used >= self.limit
            and now >= self.window_started + UNKNOWN_WINDOW
        ):
            # The window was used up and no answer told when it ends (no headers any more).
            self._new_window(now)

    def hold(self, now: float) -> Hold | None:
        """``None`` when a request may go now, else how long to wait."""
        self._roll(now)
        if now < self.not_before:
            return Hold(self.not_before - now, for_slot=False)
        if not self.learned and self.in_flight > 0:
            started = self.probe_started if self.probe_started is not None else now
            if now < started + PROBE_HOLD:
                return Hold(started + PROBE_HOLD - now, for_slot=True, limited=False)
        cap = self.cap if self.cap is not None else self.concurrent_limit
        if cap is not None and self.in_flight >= cap:
            return Hold(SLOT_POLL, for_slot=True)
        if self.limit is None:
            return None
        if self.window_end is not None and now >= self.window_end - self.edge:
            # Too close to the end: the request could arrive in the next window.
            return Hold(
                self.window_end + self.lag - now, for_slot=False, limited=self.used >= self.limit
            )
        if self.used < self.limit:
            return None
        if self.window_end is not None:
            return Hold(self.window_end + self.lag - now, for_slot=False)
        # Used up, end unknown: an answer in flight will tell it.
        return Hold(SLOT_POLL, for_slot=True)

    def send(self, key: str, now: float) -> Permit:
        """Count a request that goes out now (after :meth:`hold` said ``None``)."""
        self._roll(now)
        if not self.learned and self.in_flight == 0:
            self.probe_started = now
        self.in_flight += 1
        self.sent += 1
        self.total_sent += 1
        after = self.previous_end if self.window_end is None else None
        return Permit(key, now, self.window_end, after, self.total_sent)

    def dropped(self, permit: Permit) -> None:
        """The request got no answer (it still counts against its window)."""
        self.in_flight = max(self.in_flight - 1, 0)

    def answered(self, permit: Permit, now: float, status: int, headers: RateLimitHeaders) -> None:
        self.in_flight = max(self.in_flight - 1, 0)
        self.learned = True
        round_trip = max(now - permit.sent_at, 0.0)
        if self.fastest_round_trip is None or round_trip < self.fastest_round_trip:
            self.fastest_round_trip = round_trip
        if headers.concurrent_limit is not None:
            self.concurrent_limit = headers.concurrent_limit
        refused = status == 429
        if not refused:
            self.last_granted = now
        self._adjust_cap(refused and headers.concurrency_refusal)
        reset = headers.reset
        if reset is not None and not (reset - now <= MAX_PLAUSIBLE_WAIT):
            reset = None  # a broken header: hours away (milliseconds?)
        if reset is not None and permit.after_reset is None and reset <= permit.sent_at:
            # Sent after this window's end by this clock, yet counted in it: this clock runs
            # ahead of Sentry's.
            self.lag = min(MAX_LAG, max(self.lag * 2, LAG_STEP))
        if headers.limit is not None:
            self.limit = headers.limit
        if self.limit is not None and reset is not None:
            self._learn_window(permit, now, reset, headers, refused)
        if refused and reset is not None and not headers.concurrency_refusal and reset > now:
            self.not_before = max(self.not_before, min(reset + self.lag, now + self.max_wait))

    def _adjust_cap(self, concurrency_refused: bool) -> None:
        """A concurrency 429 lowers the cap to the requests still in flight; every
        ``CAP_RECOVERY`` answers without one raise it by one, up to Sentry's own limit."""
        if concurrency_refused:
            self.cap = max(1, self.in_flight)
            self.cap_credit = 0
        elif self.cap is not None:
            self.cap_credit += 1
            if self.cap_credit >= CAP_RECOVERY:
                self.cap_credit = 0
                self.cap += 1
                if self.concurrent_limit is None or self.cap >= self.concurrent_limit:
                    self.cap = None

    def _learn_window(
        self,
        permit: Permit,
        now: float,
        reset: float,
        headers: RateLimitHeaders,
        refused: bool,
    ) -> None:
        assert self.limit is not None
        used: int | None = None
        if headers.remaining is not None:
            used = self.limit - headers.remaining
        if refused and not headers.concurrency_refusal:
            used = self.limit
        if self.window_end is None:
            if self.previous_end is not None and reset <= self.previous_end:
                if permit.after_reset is not None and reset >= permit.after_reset:
                    # Sent in what this clock took for a new window, counted in the old one:
                    # go back to it, and wait longer after resets from now on.
                    self.lag = min(MAX_LAG, max(self.lag * 2, LAG_STEP))
                    self.window_end = reset
                    self.previous_end = None
                    self.carried += self.previous_sent
                    if used is not None:
                        self._saw_count(used)
                return  # else an answer from an earlier window
            self.window_end = reset
            if used is not None:
                self._saw_count(used)
        elif reset == self.window_end:
            if used is not None:
                self._saw_count(used)
        elif reset > self.window_end:
            # Sentry is already in a later window (this clock is behind, or windows are short).
            self.previous_end = self.window_end
            self.window_end = reset
            # The request answered was counted in the new window, like those still in flight.
            self._new_window(now, carried=self.in_flight + 1)
            if used is not None:
                self._saw_count(used)
        # reset < window_end: an answer from an earlier window; nothing to learn.

    def retry_after(self, now: float, seconds: float) -> None:
        """A proxy's ``Retry-After``: no request to this organization before it."""
        self.not_before = max(self.not_before, now + min(seconds, self.max_wait))

    @classmethod
    def merged(cls, paces: Sequence[OrgPace], now: float) -> OrgPace:
        """One pace for organizations found to share one window, from each one's state.

        Requests in flight stay counted (each answer or drop takes one off the sum), the window
        keeps every request sent into it and the most Sentry was seen to count in it, and every
        hold, cap and margin is the strictest of theirs."""
        for pace in paces:
            pace._roll(now)
        ends = [p.window_end for p in paces if p.window_end is not None]
        end = max(ends, default=None)
        # The paces whose current window may be that one: the same end, or an end not told yet.
        # The others are still in an earlier window (waiting out a lag): their requests were
        # counted there, but those in flight may be counted in this one.
        current = [p for p in paces if p.window_end is None or p.window_end == end]
        earlier = [p for p in paces if p.window_end is not None and p.window_end != end]
        into = cls(max_wait=min(p.max_wait for p in paces))
        into.learned = any(p.learned for p in paces)
        if not into.learned:
            into.probe_started = min(
                (p.probe_started for p in paces if p.probe_started is not None), default=None
            )
        limits = [p.limit for p in paces if p.window_end == end and p.limit is not None]
        limits += [p.limit for p in paces if p.limit is not None]
        into.limit = limits[0] if limits else None
        into.window_end = end
        into.window_started = max(
            (p.window_started for p in current if p.window_started is not None), default=None
        )
        into.previous_end = max(
            (p.previous_end for p in paces if p.previous_end is not None), default=None
        )
        into.sent = sum(p.sent for p in current)
        into.total_sent = sum(p.total_sent for p in paces)
        into.window_first = into.total_sent - into.sent
        # Each pace's use of the window (what it sent, and what Sentry counted beyond that) is
        # a use of the common window: the largest of them, or all that was sent, stands.
        into.others = max(0, max((p.used for p in current), default=0) - into.sent)
        into.carried = sum(p.carried for p in current) + sum(p.in_flight for p in earlier)
        ours = into.sent + into.carried
        into.unexplained = max(
            0,
            max((p.unexplained + p.sent + p.carried for p in current), default=0) - ours,
        )
        into.previous_sent = sum(p.previous_sent for p in paces)
        into.concurrent_limit = _least(p.concurrent_limit for p in paces)
        into.cap = _least(p.cap for p in paces)
        into.in_flight = sum(p.in_flight for p in paces)
        into.not_before = max(p.not_before for p in paces)
        into.lag = max(p.lag for p in paces)
        into.fastest_round_trip = _least(p.fastest_round_trip for p in paces)
        into.last_granted = max(
            (p.last_granted for p in paces if p.last_granted is not None), default=None
        )
        return into


def _least(values: Iterable[_N | None]) -> _N | None:
    return min((v for v in values if v is not None), default=None)


@dataclass
class PacingStats:
    requests: int = 0
    rate_limited: int = 0
    # Wall-clock seconds during which some request waited because of Sentry's limits (a 429's
    # reset, a window or a concurrency cap its headers showed used up); never symsync's own
    # caution, like the wait for an organization's first answer.
    waited: float = 0.0


@dataclass(eq=False)
class _Queue:
    """The pace of one window, and the tickets waiting for it, oldest first. Organizations
    found to share a window share one queue."""

    pace: OrgPace
    waiting: list[int] = field(default_factory=list)


class Pacer:
    """:class:`OrgPace` per organization (per window, once organizations are found to share
    one), shared by threads. Requests to one window go out in the order they first asked (a
    retried request keeps its place), so a request that was refused is not overtaken for ever
    by newer ones."""

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        max_wait: float = 60.0,
    ) -> None:
        self._clock = clock
        self._monotonic = monotonic
        self._sleep = sleep
        self._max_wait = max_wait
        self._cond = threading.Condition()
        self._queues: dict[str, _Queue] = {}  # by organization; shared ones appear under each
        self._groups: list[_Queue] = []  # each queue once
        self._shared: _Queue | None = None  # the window organizations were found to share
        self._tickets = 0
        self._limit_waiters = 0
        self._limit_wait_started = 0.0
        self.stats = PacingStats()

    def ticket(self) -> int:
        with self._cond:
            self._tickets += 1
            return self._tickets

    def _queue(self, key: str) -> _Queue:
        queue = self._queues.get(key)
        if queue is None:
            # Once organizations are found to share a window, a new one joins it: the token's
            # window is not one per organization, and its limits are known already.
            queue = self._shared
            if queue is None:
                queue = _Queue(OrgPace(max_wait=self._max_wait))
                self._groups.append(queue)
            self._queues[key] = queue
        return queue

    def pace(self, key: str) -> OrgPace:
        """The pace ``key``'s requests go by (one object for organizations that share it)."""
        with self._cond:
            return self._queue(key).pace

    def shares(self, key: str, other: str) -> bool:
        """Whether ``key`` and ``other`` are paced as one window."""
        with self._cond:
            return self._queue(key) is self._queue(other)

    def waiting(self, key: str) -> list[int]:
        """The tickets waiting for ``key``'s window, oldest first."""
        with self._cond:
            return list(self._queue(key).waiting)

    def join(self, key: str, ticket: int) -> None:
        """Put ``ticket`` in line for ``key``'s window (in the order of tickets)."""
        with self._cond:
            _insert(self._queue(key).waiting, ticket)

    def poll(self, key: str, ticket: int) -> Permit | Hold | None:
        """One look: a :class:`Permit` when ``ticket`` is first in line and may go (it leaves the
        line), the :class:`Hold` when it is first and may not, ``None`` when it is not first."""
        with self._cond:
            queue = self._queue(key)  # each time: the organization's window may have been merged
            if not queue.waiting or queue.waiting[0] != ticket:
                return None
            hold = queue.pace.hold(self._clock())
            if hold is not None:
                return hold
            queue.waiting.pop(0)
            permit = queue.pace.send(key, self._clock())
            self.stats.requests += 1
            self._cond.notify_all()
            return permit

    def leave(self, key: str, ticket: int) -> None:
        """Take ``ticket`` out of line, if it is still in it."""
        with self._cond:
            waiting = self._queue(key).waiting
            if ticket in waiting:
                waiting.remove(ticket)
            self._cond.notify_all()

    def acquire(self, key: str, ticket: int, *, stop: Callable[[], None] | None = None) -> Permit:
        """Wait until a request to ``key`` may go; ``stop`` is called between waits and may
        raise to give up."""
        self.join(key, ticket)
        waiting_for_limit = False
        try:
            while True:
                if stop is not None:
                    stop()
                with self._cond:
                    step = self.poll(key, ticket)
                    if isinstance(step, Permit):
                        return step
                    # Only a wait that Sentry's limits cause counts as waiting for them.
                    limited = step is not None and step.limited
                    if limited != waiting_for_limit:
                        waiting_for_limit = limited
                        (self._start_limit_wait if limited else self._end_limit_wait)()
                    if step is None or step.for_slot:
                        wait = SLOT_POLL if step is None else min(step.seconds, SLOT_POLL)
                        self._cond.wait(wait)
                        continue
                self._sleep(step.seconds)
        finally:
            with self._cond:
                self.leave(key, ticket)
                if waiting_for_limit:
                    self._end_limit_wait()

    def _start_limit_wait(self) -> None:
        if self._limit_waiters == 0:
            self._limit_wait_started = self._monotonic()
        self._limit_waiters += 1

    def _end_limit_wait(self) -> None:
        self._limit_waiters -= 1
        if self._limit_waiters == 0:
            self.stats.waited += max(self._monotonic() - self._limit_wait_started, 0.0)

    def answered(self, permit: Permit, status: int, headers: Mapping[str, str]) -> None:
        with self._cond:
            queue = self._queue(permit.key)
            queue.pace.answered(permit, self._clock(), status, RateLimitHeaders.parse(headers))
            if status == 429:
                self.stats.rate_limited += 1
            self._find_sharing(queue)
            self._cond.notify_all()

    def dropped(self, permit: Permit) -> None:
        with self._cond:
            self._queue(permit.key).pace.dropped(permit)
            self._cond.notify_all()

    def retry_after(self, key: str, seconds: float) -> None:
        with self._cond:
            self._queue(key).pace.retry_after(self._clock(), seconds)

    def last_granted(self, key: str) -> float | None:
        """When ``key``'s window last got an answer that was not a 429 (this pacer's clock)."""
        with self._cond:
            return self._queue(key).pace.last_granted

    def now(self) -> float:
        return self._clock()

    # ------------------------------------------------------------------------ shared windows

    def _find_sharing(self, queue: _Queue) -> None:
        """After an answer in ``queue``'s window: merge the windows shown to be one."""
        end, limit = queue.pace.window_end, queue.pace.limit
        if end is None or limit is None or len(self._groups) < 2:
            return
        alike = [g for g in self._groups if g.pace.window_end == end and g.pace.limit == limit]
        if len(alike) < 2:
            return
        ours = [g.pace.sent + g.pace.carried for g in alike]
        total = sum(ours)
        seen = sorted((g.pace.others for g in alike), reverse=True)
        for group, own in zip(alike, ours, strict=True):
            unexplained = group.pace.unexplained
            if unexplained <= 0:
                continue
            # What the other organizations sent into this window, and the most other clients
            # were seen to use of it from their side.
            most_seen = seen[1] if group.pace.others == seen[0] else seen[0]
            if unexplained <= total - own + most_seen:
                self._merge([g for g in self._groups if g.pace.limit in (None, limit)])
                return

    def _merge(self, groups: list[_Queue]) -> None:
        pace = OrgPace.merged([g.pace for g in groups], self._clock())
        # Tickets are numbered in the order requests first asked: sorting keeps each line's order.
        into = _Queue(pace, sorted(t for g in groups for t in g.waiting))
        for key, queue in self._queues.items():
            if any(queue is g for g in groups):
                self._queues[key] = into
        self._groups = [g for g in self._groups if not any(g is m for m in groups)] + [into]
        self._shared = into
        self._cond.notify_all()


def _insert(tickets: list[int], ticket: int) -> None:
    """Keep ``tickets`` sorted (they are few: at most one per thread)."""
    index = len(tickets)
    while index > 0 and tickets[index - 1] > ticket:
        index -= 1
    tickets.insert(index, ticket)
