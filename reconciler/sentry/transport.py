"""How requests reach Sentry: pacing, retries, a retry budget and a breaker.

:meth:`Transport.send` sends one request and returns its last :class:`Answer`, or raises
:class:`NoAnswer` when none came. It knows nothing of symbol sources or of error wording
(``reconciler.sentry.client`` and ``reconciler.sentry.errors`` do); each attempt goes over the wire
through :mod:`reconciler.sentry.connection` (the pool, set up once, and the whole-answer deadline).
What it guarantees:

- **Pacing** per organization (:mod:`reconciler.sentry.pacing`), from Sentry's rate-limit headers;
  organizations whose answers show one shared window are paced as one.
- **A deadline for the whole answer**: each attempt is answered completely (connect, headers
  and body) within ``timeout`` seconds, or cut off.
- **One retry budget per request.** 5xx answers, dropped connections and timeouts are retried
  with jittered exponential back-off while the next attempt can start within ``retry_budget``
  seconds of the first, and at most ``max_retries`` times. 429s do not count as failures: they
  wait for the rate-limit reset and are retried as long as Sentry keeps answering other requests
  to the organization (within a hard limit of ``RATE_LIMITED_FACTOR`` budgets); when nothing is
  granted, they use up the budget like failures.
- **Settled before sent again.** A write whose attempt may have reached Sentry (a timeout, a
  connection dropped after sending, a 5xx) is settled by one read before it is sent again: a
  write found there is not sent again (:class:`WriteLanded`), so a slow Sentry does not get
  each write several times.
- **A breaker.** Once :meth:`Transport.trip` is called with an error that concerns every
  request (a bad token, a URL that is not Sentry's API, a server that stopped answering),
  every later request fails at once with that error, without being sent.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import logging
import math
import random
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any, Final, Protocol
from urllib.parse import quote, urlencode

import requests
import requests.utils

from reconciler.core.errors import SymsyncError
from reconciler.core.redact import secret_values
from reconciler.sentry.connection import AttemptFailed, Connection, Failure, Secret
from reconciler.sentry.pacing import MAX_PLAUSIBLE_WAIT, Pacer, PacingStats
from reconciler.sentry.settings import DEFAULT_RETRY_BUDGET, DEFAULT_TIMEOUT

# The client's logger: `--verbose` shows one line per attempt, each starting with this name.
LOGGER_NAME: Final = "reconciler.client"
log = logging.getLogger(LOGGER_NAME)

DEFAULT_MAX_RETRIES: Final = 8
# 500 is retried too: Sentry answers it for transient failures, and a write that failed with it
# is confirmed before it is reported (see reconciler.sentry.client).
RETRY_STATUSES: Final[frozenset[int]] = frozenset({429, 500, 502, 503, 504})
# Statuses after which a write may have been committed although the answer says otherwise.
UNCERTAIN_STATUSES: Final[frozenset[int]] = frozenset({500, 502, 503, 504})
# Attempts, at most, when the server could not be reached at all (refused, unknown host).
UNREACHED_ATTEMPTS: Final = 3
# The longest exponential back-off step.
MAX_BACKOFF: Final = 8.0
# A request refused with 429 while Sentry answers others keeps trying this many budgets, at most.
RATE_LIMITED_FACTOR: Final = 10


@dataclass(frozen=True)
class Answer:
    """The last answer to a request, read whole, after retries."""

    method: str
    path: str  # with the query, without the host
    status: int
    headers: Mapping[str, str]  # case-insensitive
    content: bytes
    attempts: int
    uncertain: bool  # an earlier attempt of this write may have reached Sentry
    secrets: tuple[str, ...]  # the token and the secret values sent, to mask in any message
    # A final 429 while no request to the organization was granted since this one started.
    nothing_granted: bool = False

    def json(self) -> Any:
        """The body as JSON; ``ValueError`` when it is not JSON."""
        return json.loads(self.content)

    def json_or_none(self) -> Any:
        if not self.content:
            return None
        try:
            return self.json()
        except ValueError:
            return None

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", errors="replace")

    @property
    def content_type(self) -> str:
        return self.headers.get("Content-Type", "").split(";", 1)[0].strip().lower()

    @property
    def links(self) -> dict[str, dict[str, str]]:
        """The ``Link`` header by ``rel``, as ``requests`` parses it."""
        header = self.headers.get("Link")
        if not header:
            return {}
        out: dict[str, dict[str, str]] = {}
        for link in requests.utils.parse_header_links(header):
            key = link.get("rel") or link.get("url")
            if key:
                out[key] = link
        return out


@dataclass(frozen=True)
class Route:
    """Where one organization's requests go: a base URL, and the token sent there."""

    base_url: str
    token: Secret

    def __repr__(self) -> str:
        return f"Route(base_url={self.base_url!r})"


class Breaker(Protocol):
    """An error that stops every later request: each raises it again, as a new exception."""

    def again(self) -> Exception: ...


class NoAnswer(Exception):
    """Every attempt of a request failed without an answer."""

    def __init__(
        self,
        method: str,
        path: str,
        failure: Failure,
        *,
        attempts: int,
        uncertain: bool,
        secrets: tuple[str, ...],
        server_silent: bool,
    ) -> None:
        super().__init__(failure.reason)
        self.method = method
        self.path = path
        self.failure = failure
        self.attempts = attempts
        self.uncertain = uncertain
        self.secrets = secrets
        # Nothing at all was answered by the server while this request was trying: it is the
        # server (or the way to it) that is gone, not this one request.
        self.server_silent = server_silent


@dataclass(frozen=True)
class TransportStats:
    """Counters a progress display may read at any time."""

    requests: int  # attempts sent
    rate_limited: int  # 429 answers
    rate_limit_wait: float  # wall-clock seconds some request waited for Sentry's limits


@dataclass(slots=True)
class _Tries:
    """One request's attempts so far, and when its retries must end (monotonic seconds)."""

    method: str
    path: str  # with the query
    pace_key: str
    secrets: tuple[str, ...]
    started_clock: float  # the pacer's clock when the request was first asked for
    last_refusal: float  # the pacer's clock at its last 429 (at first, when it was asked for)
    attempt: int = 0
    failures: int = 0  # attempts without an answer, and 5xx answers
    refusals: int = 0  # 429 answers
    uncertain: bool = False  # an earlier attempt of this write may have reached Sentry
    unsettled: bool = False  # an uncertain attempt not yet settled by a read
    started: float | None = None  # when the first attempt went out
    budget_end: float = math.inf
    hard_end: float = math.inf
    pacer: Pacer | None = None  # the pacer of the token the request is sent with


# Reads whether a write whose attempt may have reached Sentry is there: what it found (the
# stored source, or True for a delete found done), or None when it is not (or cannot be read).
Settle = Callable[[], Any]


class WriteLanded(Exception):
    """An uncertain attempt of a write was found in Sentry by the read that settles it, so the
    write was not sent again. ``found`` is what the read found."""

    def __init__(self, found: Any, *, attempts: int) -> None:
        super().__init__("the write was found in Sentry")
        self.found = found
        self.attempts = attempts


# --------------------------------------------------------------------------------- the transport


class Transport:
    """Sends requests to one Sentry; shared by every thread of a command."""

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        retry_budget: float = DEFAULT_RETRY_BUDGET,
        max_retries: int = DEFAULT_MAX_RETRIES,
        backoff: float = 0.5,
        max_wait: float = 60.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
        jitter: Callable[[], float] = random.random,
        pool_size: int = 64,
    ) -> None:
        self.base_url = base_url
        self.timeout = timeout
        self.retry_budget = retry_budget
        self.max_retries = max(0, max_retries)
        self.backoff = backoff
        self.max_wait = max_wait
        self._sleep = sleep
        self._clock = clock
        self._monotonic = monotonic
        self._jitter = jitter
        self._token = Secret(token)
        self._connection = Connection(base_url, self._token, pool_size, timeout)
        self.route = Route(base_url, self._token)
        self._closed = threading.Event()
        self._lock = threading.Lock()
        # Sentry keys a rate-limit window by the token's owner: each token is paced on its own,
        # so organizations with their own tokens never wait for each other's windows.
        self._pacers: dict[str, Pacer] = {}
        self._pacer = self.pacer_for(self._token)
        self._breaker: Breaker | None = None
        self._last_answer: float | None = None
        self._sequence = itertools.count(1)
        # Set by an interrupted apply (reconciler.core.interrupt): no request is retried any more,
        # and a wait before a retry ends at once; the last answer or failure stands.
        self.stop: threading.Event | None = None

    def __repr__(self) -> str:
        return f"Transport(base_url={self.base_url!r})"

    @property
    def token_value(self) -> str:
        return self._token.value

    @property
    def stats(self) -> TransportStats:
        with self._lock:
            pacers = list(self._pacers.values())
        every: list[PacingStats] = [pacer.stats for pacer in pacers]
        return TransportStats(
            sum(p.requests for p in every),
            sum(p.rate_limited for p in every),
            # Each token's waits, added up: two tokens waiting at once count twice.
            sum(p.waited for p in every),
        )

    def pacer_for(self, token: Secret) -> Pacer:
        """The pacer of ``token``'s rate-limit window (one per token, made on first use)."""
        with self._lock:
            pacer = self._pacers.get(token.value)
            if pacer is None:
                pacer = self._pacers[token.value] = Pacer(
                    clock=self._clock,
                    monotonic=self._monotonic,
                    sleep=self._sleep,
                    max_wait=self.max_wait,
                )
            return pacer

    def close(self) -> None:
        self._closed.set()
        self._connection.close()

    # ------------------------------------------------------------------------------ breaker

    def trip(self, error: Breaker) -> None:
        """From now on every request fails at once with ``error`` (the client trips it with an
        account-wide error: a refused token, a URL that is not Sentry's API)."""
        with self._lock:
            if self._breaker is None:
                self._breaker = error

    @property
    def tripped(self) -> Breaker | None:
        return self._breaker

    def _check(self) -> None:
        if self._closed.is_set():
            raise SymsyncError("the Sentry client was closed")
        breaker = self._breaker
        if breaker is not None:
            raise breaker.again()

    # --------------------------------------------------------------------------------- send

    def send(
        self,
        method: str,
        path: str,
        *,
        pace_key: str,
        query: Mapping[str, str] | None = None,
        body: Any = None,
        settle: Settle | None = None,
        route: Route | None = None,
    ) -> Answer:
        """Send one request with retries; its last answer. Raises :class:`NoAnswer` when no
        answer came, and the breaker's error once it has tripped. ``route`` says where it goes
        and with which token (by default the transport's own URL and token).

        ``settle`` (for a write) reads whether the write is already in Sentry: it is called
        once after each attempt that may have reached Sentry (a timeout, a connection dropped
        after sending, a 5xx), before the write is sent again; when it finds the write, the
        write is not sent again and :class:`WriteLanded` carries what it found."""
        self._check()
        route = route or self.route
        full_path = path + (f"?{urlencode(query, quote_via=quote, safe='')}" if query else "")
        url = route.base_url + full_path
        data = None if body is None else json.dumps(body).encode()
        secrets = (route.token.value, *secret_values(body))
        pacer = self.pacer_for(route.token)
        ticket = pacer.ticket()
        now = pacer.now()
        tries = _Tries(method, full_path, pace_key, secrets, started_clock=now, last_refusal=now)
        tries.pacer = pacer
        while True:
            if tries.unsettled and settle is not None:
                tries.unsettled = False
                found = settle()
                if found is not None:
                    raise WriteLanded(found, attempts=tries.attempt)
            permit = pacer.acquire(pace_key, ticket, stop=self._check)
            self._begin_attempt(tries)
            began = time.monotonic()
            try:
                status, answer_headers, content = self._connection.attempt(
                    method, url, data, route.token
                )
            except AttemptFailed as exc:
                pacer.dropped(permit)
                self._log(method, full_path, exc.failure.reason, tries.attempt, began)
                self._retry_failure(tries, exc.failure)  # or raises NoAnswer
                continue
            pacer.answered(permit, status, answer_headers)
            with self._lock:
                self._last_answer = self._monotonic()
            self._log(method, full_path, str(status), tries.attempt, began)
            answer = Answer(
                method, full_path, status, answer_headers, content, tries.attempt,
                tries.uncertain, secrets,
            )  # fmt: skip
            if status not in RETRY_STATUSES:
                return answer
            final = self._retry_answer(tries, answer)
            if final is not None:
                return final

    def _begin_attempt(self, tries: _Tries) -> None:
        """Count an attempt about to go out; the first one starts the retry budget."""
        now = self._monotonic()
        if tries.started is None:
            tries.started = now
            tries.budget_end = now + self.retry_budget
            tries.hard_end = now + RATE_LIMITED_FACTOR * max(self.retry_budget, 1.0)
        tries.attempt += 1

    def _retry_failure(self, tries: _Tries, failure: Failure) -> None:
        """After an attempt that got no answer: wait to retry it, or raise :class:`NoAnswer`
        when it is not retried (not retryable, too many failures, no budget left, stopped)."""
        if failure.reached_server and tries.method != "GET":
            tries.uncertain = tries.unsettled = True
        tries.failures += 1
        last = self.max_retries + 1
        if not failure.reached_server:
            # A server that refuses connections is down or the URL is wrong: a couple of quick
            # retries cover a restart, more would only keep the user waiting.
            last = min(last, UNREACHED_ATTEMPTS)
        delay = self._backoff_delay(tries.failures)
        if (
            not failure.retryable
            or tries.failures >= last
            or self._monotonic() + delay > tries.budget_end
            or not self._wait_to_retry(delay, tries.method, tries.path, failure.reason)
        ):
            raise NoAnswer(
                tries.method,
                tries.path,
                failure,
                attempts=tries.attempt,
                uncertain=tries.uncertain,
                secrets=tries.secrets,
                server_silent=self._silent_since(tries.started),
            ) from None

    def _retry_answer(self, tries: _Tries, answer: Answer) -> Answer | None:
        """After a 429 or a 5xx: wait to retry (``None``), or the answer that stands when it is
        not retried (too many failures, no budget left, stopped)."""
        now = self._monotonic()
        if answer.status == 429:
            end, delay, waited_by_pacer = self._after_refusal(tries, answer, now)
        else:
            if answer.status in UNCERTAIN_STATUSES and tries.method != "GET":
                tries.uncertain = tries.unsettled = True
            tries.failures += 1
            if tries.failures > self.max_retries:
                return answer
            end, delay, waited_by_pacer = (
                tries.budget_end,
                self._server_error_delay(answer, tries.failures),
                0.0,
            )
        if now + delay + waited_by_pacer > end:
            if answer.status == 429:
                granted = self._pacer_of(tries).last_granted(tries.pace_key)
                nothing = granted is None or granted < tries.started_clock
                return dataclasses.replace(answer, nothing_granted=nothing)
            return answer
        shown = delay + waited_by_pacer
        reason = f"status {answer.status}"
        if not self._wait_to_retry(delay, tries.method, tries.path, reason, shown):
            # Stopped: this answer stands, and a write it may hide is settled by the caller.
            return dataclasses.replace(answer, uncertain=tries.uncertain)
        return None

    def _after_refusal(
        self, tries: _Tries, answer: Answer, now: float
    ) -> tuple[float, float, float]:
        """(when the retries must end, seconds to sleep here, seconds the pacer will wait)
        after a 429."""
        tries.refusals += 1
        end = tries.budget_end
        pacer = self._pacer_of(tries)
        granted = pacer.last_granted(tries.pace_key)
        if granted is not None and granted >= tries.last_refusal:
            # Sentry answered other requests since this one was last refused: it only waits its
            # turn, which costs none of its budget.
            end = max(end, min(now + self.retry_budget, tries.hard_end))
            tries.budget_end = end
        tries.last_refusal = pacer.now()
        delay, waited_by_pacer = self._rate_limit_delay(
            pacer, tries.pace_key, answer, tries.refusals
        )
        return end, delay, waited_by_pacer

    def _pacer_of(self, tries: _Tries) -> Pacer:
        return tries.pacer if tries.pacer is not None else self._pacer

    def _wait_to_retry(
        self, delay: float, method: str, path: str, reason: str, shown: float | None = None
    ) -> bool:
        """Wait ``delay`` seconds before retrying; ``False`` (retry nothing) when ``stop`` is
        set before or during the wait."""
        stop = self.stop
        if stop is not None and stop.is_set():
            return False
        log.debug(
            "retrying %s %s in %.1f s (%s)", method, path, delay if shown is None else shown, reason
        )
        if delay > 0:
            if stop is None:
                self._sleep(delay)
            elif stop.wait(delay):
                return False
        return True

    def _silent_since(self, started: float | None) -> bool:
        with self._lock:
            last = self._last_answer
        return last is None or started is None or last < started

    def _log(self, method: str, path: str, outcome: str, attempt: int, began: float) -> None:
        if log.isEnabledFor(logging.DEBUG):
            elapsed = (time.monotonic() - began) * 1000
            log.debug("%s %s -> %s (attempt %d, %.0f ms)", method, path, outcome, attempt, elapsed)

    # ------------------------------------------------------------------------------- delays

    def _backoff_delay(self, step: int) -> float:
        """Exponential back-off, each step cut by up to half at random ("equal jitter"), so
        that threads that failed together do not all come back at the same moment."""
        size = min(self.backoff * (2 ** min(step - 1, 16)), MAX_BACKOFF, self.max_wait)
        return float(size * (1.0 - 0.5 * self._jitter()))

    def _retry_after(self, answer: Answer) -> float | None:
        """A plausible ``Retry-After`` (seconds or an HTTP date) in seconds from now."""
        value = answer.headers.get("Retry-After")
        if not value:
            return None
        seconds = _retry_after_seconds(value, self._clock())
        if seconds is None or not math.isfinite(seconds) or seconds > MAX_PLAUSIBLE_WAIT:
            return None
        return min(max(seconds, 0.0), self.max_wait)

    def _rate_limit_delay(
        self, pacer: Pacer, pace_key: str, answer: Answer, refusals: int
    ) -> tuple[float, float]:
        """(seconds to sleep here, seconds the pacer will wait) after a 429.

        Sentry's reset is waited for by the pacer, for every request to the organization, and
        so is a proxy's ``Retry-After``. A reset that passed while the answer travelled means
        retry at once; when that keeps happening, or there is no usable header, back off."""
        retry_after = self._retry_after(answer)
        if retry_after is not None and retry_after > 0:
            pacer.retry_after(pace_key, retry_after)
            return 0.0, retry_after
        reset = answer.headers.get("X-Sentry-Rate-Limit-Reset")
        if reset is not None:
            try:
                wait = float(reset) - self._clock()
            except ValueError:
                wait = math.nan
            if math.isfinite(wait) and wait <= MAX_PLAUSIBLE_WAIT:
                if wait > 0:
                    return 0.0, min(wait, self.max_wait)
                if refusals == 1:
                    return 0.0, 0.0
                return self._backoff_delay(refusals - 1), 0.0
        return self._backoff_delay(refusals), 0.0

    def _server_error_delay(self, answer: Answer, failures: int) -> float:
        retry_after = self._retry_after(answer)
        if retry_after is not None and retry_after > 0:
            return retry_after
        return self._backoff_delay(failures)

    # ------------------------------------------------------------------------------ attempt


def _retry_after_seconds(value: str, now: float) -> float | None:
    """``Retry-After`` as seconds from now: delay-seconds or an HTTP date."""
    try:
        return float(value)
    except ValueError:
        pass
    try:
        return parsedate_to_datetime(value).timestamp() - now
    except (TypeError, ValueError, IndexError):
        return None
