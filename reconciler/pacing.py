"""Keeping each organization's requests inside Sentry's rate limits, learned from its headers.

Sentry limits API traffic per organization in fixed windows and says where each answer stands in
``X-Sentry-Rate-Limit-Limit`` (requests per window), ``-Remaining``, ``-Reset`` (the epoch second
the window ends), ``-ConcurrentLimit`` and ``-ConcurrentRemaining`` (reference section 7). An
:class:`OrgPace` turns those into one decision per request: send now, or wait. The rules:

- **Learn first.** Until the first answer from an organization arrives, one request is in flight
  at a time (for at most ``PROBE_HOLD`` seconds): the first answer says what the limits are.
- **Stay inside the window.** Within a window, at most ``Limit`` requests go out: the window's
  use is the larger of what symsync sent into it and what Sentry said it counted
  (``Limit - Remaining``, which includes other clients). Once it is used up, requests wait for
  ``Reset``. Requests are not sent in the last moment before ``Reset`` (half the fastest round
  trip seen), where they could arrive in the next window without being counted there.
- **Stay under the concurrency cap.** At most ``ConcurrentLimit`` requests are in flight; a 429
  from the concurrency limiter lowers the cap by one, and answers without one raise it back.
- **A 429 waits until ``Reset``** (or a proxy's ``Retry-After``) for every request to that
  organization, not only the one refused. A reset that passed while the answer travelled means
  "retry now". A reset that had already passed by this clock when the request was sent means
  this clock runs ahead of Sentry's: later waits add a growing margin (``lag``).

Everything here is pure bookkeeping over a clock value passed in, so tests drive it with a fake
clock; :class:`Pacer` adds the locking and waiting for threads.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Final

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
    order: int = 0  # how many requests were sent to the organization, this one included


@dataclass(frozen=True)
class Hold:
    """Not yet: wait ``seconds``; ``for_slot`` when an answer may end the wait sooner."""

    seconds: float
    for_slot: bool


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

    def _new_window(self, now: float) -> None:
        self.window_started = now
        self.window_first = self.total_sent
        self.sent = 0
        self.others = 0

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
                return Hold(started + PROBE_HOLD - now, for_slot=True)
        cap = self.cap if self.cap is not None else self.concurrent_limit
        if cap is not None and self.in_flight >= cap:
            return Hold(SLOT_POLL, for_slot=True)
        if self.limit is None:
            return None
        if self.window_end is not None and now >= self.window_end - self.edge:
            # Too close to the end: the request could arrive in the next window.
            return Hold(self.window_end + self.lag - now, for_slot=False)
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
        if refused and headers.concurrency_refusal:
            self.cap = max(1, self.in_flight)
            self.cap_credit = 0
        elif self.cap is not None:
            self.cap_credit += 1
            if self.cap_credit >= CAP_RECOVERY:
                self.cap_credit = 0
                self.cap += 1
                if self.concurrent_limit is None or self.cap >= self.concurrent_limit:
                    self.cap = None
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
            self._new_window(now)
            if used is not None:
                self._saw_count(used)
        # reset < window_end: an answer from an earlier window; nothing to learn.

    def retry_after(self, now: float, seconds: float) -> None:
        """A proxy's ``Retry-After``: no request to this organization before it."""
        self.not_before = max(self.not_before, now + min(seconds, self.max_wait))


@dataclass
class PacingStats:
    requests: int = 0
    rate_limited: int = 0
    waited: float = 0.0  # wall-clock seconds during which some request waited for a limit


@dataclass
class _Queue:
    pace: OrgPace
    waiting: list[int] = field(default_factory=list)  # tickets, oldest first


class Pacer:
    """:class:`OrgPace` per organization, shared by threads. Requests to one organization go
    out in the order they first asked (a retried request keeps its place), so a request that
    was refused is not overtaken for ever by newer ones."""

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
        self._queues: dict[str, _Queue] = {}
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
            queue = self._queues[key] = _Queue(OrgPace(max_wait=self._max_wait))
        return queue

    def pace(self, key: str) -> OrgPace:
        with self._cond:
            return self._queue(key).pace

    def acquire(self, key: str, ticket: int, *, stop: Callable[[], None] | None = None) -> Permit:
        """Wait until a request to ``key`` may go; ``stop`` is called between waits and may
        raise to give up."""
        with self._cond:
            queue = self._queue(key)
            _insert(queue.waiting, ticket)
        waiting_for_limit = False
        try:
            while True:
                if stop is not None:
                    stop()
                with self._cond:
                    first = queue.waiting[0] == ticket
                    hold = queue.pace.hold(self._clock()) if first else Hold(SLOT_POLL, True)
                    if hold is None:
                        queue.waiting.remove(ticket)
                        permit = queue.pace.send(key, self._clock())
                        self.stats.requests += 1
                        self._cond.notify_all()
                        return permit
                    if first and not waiting_for_limit:
                        waiting_for_limit = True
                        self._start_limit_wait()
                    if hold.for_slot:
                        self._cond.wait(min(hold.seconds, SLOT_POLL))
                        continue
                self._sleep(hold.seconds)
        finally:
            with self._cond:
                if ticket in queue.waiting:
                    queue.waiting.remove(ticket)
                if waiting_for_limit:
                    self._end_limit_wait()
                self._cond.notify_all()

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
            pace = self._queue(permit.key).pace
            pace.answered(permit, self._clock(), status, RateLimitHeaders.parse(headers))
            if status == 429:
                self.stats.rate_limited += 1
            self._cond.notify_all()

    def dropped(self, permit: Permit) -> None:
        with self._cond:
            self._queue(permit.key).pace.dropped(permit)
            self._cond.notify_all()

    def retry_after(self, key: str, seconds: float) -> None:
        with self._cond:
            self._queue(key).pace.retry_after(self._clock(), seconds)

    def last_granted(self, key: str) -> float | None:
        """When ``key`` last got an answer that was not a 429 (this pacer's clock)."""
        with self._cond:
            return self._queue(key).pace.last_granted

    def now(self) -> float:
        return self._clock()


def _insert(tickets: list[int], ticket: int) -> None:
    """Keep ``tickets`` sorted (they are few: at most one per thread)."""
    index = len(tickets)
    while index > 0 and tickets[index - 1] > ticket:
        index -= 1
    tickets.insert(index, ticket)
