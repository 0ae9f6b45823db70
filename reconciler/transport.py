"""How requests reach Sentry: one session, pacing, retries and deadlines.

:meth:`Transport.send` sends one request and returns its last :class:`Answer`, or raises
:class:`NoAnswer` when none came. It knows nothing of symbol sources or of error wording
(``reconciler.client`` and ``reconciler.api_errors`` do); what it guarantees:

- **One connection pool**, set up once (``requests``' adapter over urllib3): the token as the
  ``Authorization`` header (a ``~/.netrc`` entry cannot replace it), no cookies kept, redirects
  never followed, and the proxy and CA settings of the environment (``HTTPS_PROXY``,
  ``NO_PROXY``, ``REQUESTS_CA_BUNDLE``...) resolved once for the Sentry URL instead of twice on
  every request.
- **Pacing** per organization (:mod:`reconciler.pacing`), from Sentry's rate-limit headers.
- **A deadline for the whole answer.** Each attempt must be answered completely (connect,
  headers and body) within ``timeout`` seconds; a watchdog thread shuts the socket of an attempt
  that is still going at its deadline, so a server that trickles its answer a byte at a time is
  cut off like a silent one.
- **One retry budget per request.** 5xx answers, dropped connections and timeouts are retried
  with jittered exponential back-off while the next attempt can start within ``retry_budget``
  seconds of the first, and at most ``max_retries`` times. 429s do not count as failures: they
  wait for the rate-limit reset and are retried as long as Sentry keeps answering other requests
  to the organization (within a hard limit of ``RATE_LIMITED_FACTOR`` budgets); when nothing is
  granted, they use up the budget like failures.
- **A breaker.** Once :meth:`Transport.trip` is called with an error that concerns every
  request (a bad token, a URL that is not Sentry's API, a server that stopped answering),
  every later request fails at once with that error, without being sent.
"""

from __future__ import annotations

import contextlib
import dataclasses
import http.client
import itertools
import json
import logging
import math
import os
import random
import socket
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import quote, urlencode

import requests
import requests.utils
import urllib3.exceptions
from requests.adapters import HTTPAdapter
from requests.structures import CaseInsensitiveDict
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from reconciler import __version__
from reconciler.errors import SymsyncError
from reconciler.pacing import MAX_PLAUSIBLE_WAIT, Pacer, PacingStats
from reconciler.redact import secret_values

if TYPE_CHECKING:
    from reconciler.api_errors import AccountWideError

# The client's logger: `--verbose` shows one line per attempt.
log = logging.getLogger("reconciler.client")

USER_AGENT: Final = f"symsync/{__version__}"
DEFAULT_TIMEOUT: Final = 30.0
DEFAULT_RETRY_BUDGET: Final = 20.0
DEFAULT_MAX_RETRIES: Final = 8
# 500 is retried too: Sentry answers it for transient failures, and a write that failed with it
# is confirmed before it is reported (see reconciler.client).
RETRY_STATUSES: Final[frozenset[int]] = frozenset({429, 500, 502, 503, 504})
# Statuses after which a write may have been committed although the answer says otherwise.
UNCERTAIN_STATUSES: Final[frozenset[int]] = frozenset({500, 502, 503, 504})
# Attempts, at most, when the server could not be reached at all (refused, unknown host).
UNREACHED_ATTEMPTS: Final = 3
# The longest exponential back-off step.
MAX_BACKOFF: Final = 8.0
# A request refused with 429 while Sentry answers others keeps trying this many budgets, at most.
RATE_LIMITED_FACTOR: Final = 10
# The largest answer read (a list of sources is a few KiB; a page of projects tens of KiB).
MAX_BODY: Final = 32 * 1024 * 1024
CHUNK: Final = 64 * 1024


class _Secret:
    """A value that never shows in a repr, a str or a debugger's dump of the client."""

    __slots__ = ("value",)

    def __init__(self, value: str) -> None:
        self.value = value

    def __repr__(self) -> str:
        return "<secret>"

    __str__ = __repr__


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
class Failure:
    """Why an attempt got no answer."""

    reason: str
    reached_server: bool  # the request may have been received (a write may have happened)
    retryable: bool = True
    timed_out: bool = False


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


# ------------------------------------------------------------------------- whole-answer deadline


class _Guard:
    """The deadline of one attempt; the connection(s) it used, for the watchdog to shut."""

    def __init__(self, deadline: float) -> None:
        self.deadline = deadline
        self.fired = False
        self.done = False
        self.lock = threading.Lock()
        self.connections: list[HTTPConnection] = []

    def attach(self, connection: HTTPConnection) -> None:
        with self.lock:
            connection._symsync_guard = self  # type: ignore[attr-defined]
            if connection not in self.connections:
                self.connections.append(connection)

    def fire(self) -> None:
        with self.lock:
            if self.done:
                return
            self.fired = True
            for connection in self.connections:
                if getattr(connection, "_symsync_guard", None) is not self:
                    continue  # already serving another attempt
                sock = getattr(connection, "sock", None)
                if sock is None:
                    continue
                # The plain socket's shutdown, also under TLS: it wakes a thread blocked in a
                # read on it, which then sees the end of the stream.
                with contextlib.suppress(OSError):
                    socket.socket.shutdown(sock, socket.SHUT_RDWR)

    def finish(self) -> None:
        with self.lock:
            self.done = True


_current = threading.local()


def _attach_current(connection: HTTPConnection) -> None:
    guard = getattr(_current, "guard", None)
    if isinstance(guard, _Guard):
        guard.attach(connection)


class _GuardedHTTPConnection(HTTPConnection):
    def connect(self) -> None:
        _attach_current(self)
        super().connect()

    def request(self, *args: Any, **kwargs: Any) -> None:
        _attach_current(self)
        super().request(*args, **kwargs)


class _GuardedHTTPSConnection(HTTPSConnection):
    def connect(self) -> None:
        _attach_current(self)
        super().connect()

    def request(self, *args: Any, **kwargs: Any) -> None:
        _attach_current(self)
        super().request(*args, **kwargs)


class _GuardedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _GuardedHTTPConnection


class _GuardedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _GuardedHTTPSConnection


_POOL_CLASSES: Final = {"http": _GuardedHTTPPool, "https": _GuardedHTTPSPool}


class _Adapter(HTTPAdapter):
    """Connections that the watchdog can shut, also through an HTTP(S) proxy."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = dict(_POOL_CLASSES)

    def proxy_manager_for(self, proxy: str, **kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **kwargs)
        if not proxy.lower().startswith("socks"):
            manager.pool_classes_by_scheme = dict(_POOL_CLASSES)
        return manager


class _Watchdog:
    """One thread that fires each guard at its deadline (real monotonic time). It is woken only
    when a deadline comes before the one it sleeps towards: with equal timeouts, once per
    timeout, not once per request."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._guards: set[_Guard] = set()
        self._thread: threading.Thread | None = None
        self._closed = False
        self._wake_at = math.inf

    @staticmethod
    def now() -> float:
        return time.monotonic()

    def watch(self, guard: _Guard) -> None:
        with self._cond:
            if self._closed:
                return
            self._guards.add(guard)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="symsync-deadlines", daemon=True
                )
                self._thread.start()
            if guard.deadline < self._wake_at:
                self._wake_at = guard.deadline
                self._cond.notify()

    def unwatch(self, guard: _Guard) -> None:
        guard.finish()
        with self._cond:
            self._guards.discard(guard)

    def _run(self) -> None:
        with self._cond:
            while not self._closed:
                now = self.now()
                for guard in [g for g in self._guards if g.deadline <= now]:
                    self._guards.discard(guard)
                    guard.fire()
                self._wake_at = min((g.deadline for g in self._guards), default=math.inf)
                timeout = None if self._wake_at == math.inf else max(self._wake_at - now, 0.0)
                self._cond.wait(timeout)

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify()


# --------------------------------------------------------------------------------- the session


def resolved_proxies(url: str) -> dict[str, str]:
    """The proxies the environment sets for ``url`` (``*_PROXY``, honouring ``NO_PROXY``)."""
    return dict(requests.utils.get_environ_proxies(url))


def resolved_verify() -> bool | str:
    """Certificate verification as ``requests`` reads it from the environment."""
    return os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True


class _Connection:
    """The connection settings of one Sentry, fixed when the client is made.

    Requests go straight to ``requests``' adapter (its urllib3 pool, its error types) with a
    request prepared here: a ``Session`` would merge its settings, read the environment (proxy
    variables, ``NO_PROXY``, CA bundles, ``~/.netrc``: twice per request), look for cookies and
    redirects on every request. Here the environment is read once, no cookie is kept, the token
    is the ``Authorization`` header (no ``.netrc`` entry can replace it), and redirects are
    never followed.
    """

    def __init__(self, base_url: str, token: _Secret, pool_size: int) -> None:
        self.proxies = resolved_proxies(base_url)
        self.verify = resolved_verify()
        self.adapter = _Adapter(
            pool_connections=4, pool_maxsize=max(pool_size, 1), max_retries=0, pool_block=False
        )
        self._token = token
        self.headers = {
            "User-Agent": USER_AGENT,
            "Accept": "application/json",
            "Accept-Encoding": requests.utils.DEFAULT_ACCEPT_ENCODING,
            "Connection": "keep-alive",
        }

    def request(
        self,
        method: str,
        url: str,
        data: bytes | None,
        timeout: float,
    ) -> requests.Response:
        prepared = requests.PreparedRequest()
        prepared.method = method
        prepared.url = url
        headers = CaseInsensitiveDict(self.headers)
        headers["Authorization"] = f"Bearer {self._token.value}"
        if data is not None:
            headers["Content-Type"] = "application/json"
            headers["Content-Length"] = str(len(data))
        elif method not in ("GET", "HEAD"):
            headers["Content-Length"] = "0"
        prepared.headers = headers
        prepared.body = data
        prepared.hooks = {"response": []}
        return self.adapter.send(
            prepared,
            stream=True,
            timeout=(timeout, timeout),
            verify=self.verify,
            cert=None,
            proxies=self.proxies,
        )

    def close(self) -> None:
        self.adapter.close()


class _BodyTooLarge(Exception):
    pass


class _DeadlinePassed(Exception):
    pass


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
        self._token = _Secret(token)
        self._connection = _Connection(base_url, self._token, pool_size)
        self._pacer = Pacer(clock=clock, monotonic=monotonic, sleep=sleep, max_wait=max_wait)
        self._watchdog = _Watchdog()
        self._closed = threading.Event()
        self._lock = threading.Lock()
        self._breaker: AccountWideError | None = None
        self._last_answer: float | None = None
        self._sequence = itertools.count(1)

    def __repr__(self) -> str:
        return f"Transport(base_url={self.base_url!r})"

    @property
    def token_value(self) -> str:
        return self._token.value

    @property
    def stats(self) -> TransportStats:
        pacing: PacingStats = self._pacer.stats
        return TransportStats(pacing.requests, pacing.rate_limited, pacing.waited)

    def close(self) -> None:
        self._closed.set()
        self._watchdog.close()
        self._connection.close()

    # ------------------------------------------------------------------------------ breaker

    def trip(self, error: AccountWideError) -> None:
        """From now on every request fails at once with ``error``."""
        with self._lock:
            if self._breaker is None:
                self._breaker = error

    @property
    def tripped(self) -> AccountWideError | None:
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
    ) -> Answer:
        """Send one request with retries; its last answer. Raises :class:`NoAnswer` when no
        answer came, and the breaker's error once it has tripped."""
        self._check()
        full_path = path + (f"?{urlencode(query, quote_via=quote, safe='')}" if query else "")
        url = self.base_url + full_path
        data = None if body is None else json.dumps(body).encode()
        secrets = (self._token.value, *secret_values(body))
        ticket = self._pacer.ticket()
        uncertain = False
        attempt = failures = refusals = 0
        started: float | None = None
        started_clock = last_refusal = self._pacer.now()
        budget_end = hard_end = math.inf
        while True:
            permit = self._pacer.acquire(pace_key, ticket, stop=self._check)
            now = self._monotonic()
            if started is None:
                started = now
                budget_end = now + self.retry_budget
                hard_end = now + RATE_LIMITED_FACTOR * max(self.retry_budget, 1.0)
            attempt += 1
            began = time.monotonic()
            try:
                status, answer_headers, content = self._attempt(method, url, data)
            except _AttemptFailed as exc:
                self._pacer.dropped(permit)
                failure = exc.failure
                self._log(method, full_path, failure.reason, attempt, began)
                if failure.reached_server and method != "GET":
                    uncertain = True
                failures += 1
                last = self.max_retries + 1
                if not failure.reached_server:
                    # A server that refuses connections is down or the URL is wrong: a couple
                    # of quick retries cover a restart, more would only keep the user waiting.
                    last = min(last, UNREACHED_ATTEMPTS)
                delay = self._backoff_delay(failures)
                if (
                    not failure.retryable
                    or failures >= last
                    or self._monotonic() + delay > budget_end
                ):
                    raise NoAnswer(
                        method,
                        full_path,
                        failure,
                        attempts=attempt,
                        uncertain=uncertain,
                        secrets=secrets,
                        server_silent=self._silent_since(started),
                    ) from None
                log.debug("retrying %s %s in %.1f s (%s)", method, full_path, delay, failure.reason)
                self._sleep(delay)
                continue
            self._pacer.answered(permit, status, answer_headers)
            with self._lock:
                self._last_answer = self._monotonic()
            self._log(method, full_path, str(status), attempt, began)
            answer = Answer(
                method, full_path, status, answer_headers, content, attempt, uncertain, secrets
            )
            if status not in RETRY_STATUSES:
                return answer
            now = self._monotonic()
            if status == 429:
                refusals += 1
                end = budget_end
                granted = self._pacer.last_granted(pace_key)
                if granted is not None and granted >= last_refusal:
                    # Sentry answered other requests since this one was last refused: it only
                    # waits its turn, which costs none of its budget.
                    end = max(end, min(now + self.retry_budget, hard_end))
                    budget_end = end
                last_refusal = self._pacer.now()
                delay, waited_by_pacer = self._rate_limit_delay(pace_key, answer, refusals)
            else:
                waited_by_pacer = 0.0
                if status in UNCERTAIN_STATUSES and method != "GET":
                    uncertain = True
                failures += 1
                if failures > self.max_retries:
                    return answer
                end = budget_end
                delay = self._server_error_delay(answer, failures)
            if now + delay + waited_by_pacer > end:
                if status == 429:
                    granted = self._pacer.last_granted(pace_key)
                    nothing = granted is None or granted < started_clock
                    return dataclasses.replace(answer, nothing_granted=nothing)
                return answer
            log.debug(
                "retrying %s %s in %.1f s (status %d)",
                method,
                full_path,
                delay + waited_by_pacer,
                status,
            )
            if delay > 0:
                self._sleep(delay)

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
        self, pace_key: str, answer: Answer, refusals: int
    ) -> tuple[float, float]:
        """(seconds to sleep here, seconds the pacer will wait) after a 429.

        Sentry's reset is waited for by the pacer, for every request to the organization, and
        so is a proxy's ``Retry-After``. A reset that passed while the answer travelled means
        retry at once; when that keeps happening, or there is no usable header, back off."""
        retry_after = self._retry_after(answer)
        if retry_after is not None and retry_after > 0:
            self._pacer.retry_after(pace_key, retry_after)
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

    def _attempt(
        self, method: str, url: str, data: bytes | None
    ) -> tuple[int, Mapping[str, str], bytes]:
        """One attempt, answered whole within ``timeout`` seconds."""
        deadline = _Watchdog.now() + self.timeout
        guard = _Guard(deadline)
        self._watchdog.watch(guard)
        _current.guard = guard
        got_headers = False
        try:
            response = self._connection.request(method, url, data, self.timeout)
            got_headers = True
            try:
                content = _read_body(response, deadline)
            finally:
                response.close()
        except _FAILURES as exc:
            if guard.fired or isinstance(exc, _DeadlinePassed):
                raise _AttemptFailed(self._deadline_failure(exc, got_headers)) from None
            raise _AttemptFailed(describe_failure(exc, self.timeout)) from None
        finally:
            _current.guard = None
            self._watchdog.unwatch(guard)
        if guard.fired:
            raise _AttemptFailed(self._deadline_failure(None, got_headers))
        return response.status_code, response.headers, content

    def _deadline_failure(self, exc: BaseException | None, got_headers: bool) -> Failure:
        if isinstance(exc, requests.exceptions.ConnectTimeout):
            return Failure(
                f"no connection within {self.timeout:g} s", reached_server=False, timed_out=True
            )
        if got_headers:
            return Failure(
                f"the answer did not complete within {self.timeout:g} s",
                reached_server=True,
                timed_out=True,
            )
        return Failure(f"no answer within {self.timeout:g} s", reached_server=True, timed_out=True)


_FAILURES: Final = (
    requests.RequestException,
    urllib3.exceptions.HTTPError,
    http.client.HTTPException,
    _BodyTooLarge,
    _DeadlinePassed,
    OSError,
)


class _AttemptFailed(Exception):
    def __init__(self, failure: Failure) -> None:
        super().__init__(failure.reason)
        self.failure = failure


def _read_body(response: requests.Response, deadline: float) -> bytes:
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_content(CHUNK):
        size += len(chunk)
        if size > MAX_BODY:
            raise _BodyTooLarge
        chunks.append(chunk)
        if time.monotonic() > deadline:
            raise _DeadlinePassed
    return b"".join(chunks)


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


def _causes(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and everything it wraps (requests -> urllib3 -> socket errors)."""
    stack: list[BaseException] = [exc]
    seen: set[int] = set()
    while stack:
        current = stack.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        for attr in ("reason", "__cause__", "__context__"):
            nested = getattr(current, attr, None)
            if isinstance(nested, BaseException):
                stack.append(nested)
        stack.extend(arg for arg in current.args if isinstance(arg, BaseException))


def describe_failure(exc: BaseException, timeout: float) -> Failure:
    if isinstance(exc, _BodyTooLarge):
        return Failure(
            f"the answer was larger than {MAX_BODY // (1024 * 1024)} MiB",
            reached_server=True,
            retryable=False,
        )
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return Failure("timed out while connecting", reached_server=False, timed_out=True)
    if isinstance(exc, requests.exceptions.ReadTimeout):
        return Failure(f"no answer within {timeout:g} s", reached_server=True, timed_out=True)
    if isinstance(exc, requests.exceptions.SSLError):
        return Failure("TLS handshake failed", reached_server=False, retryable=False)
    if isinstance(exc, requests.exceptions.InvalidURL | requests.exceptions.InvalidHeader):
        return Failure("invalid request", reached_server=False, retryable=False)
    if isinstance(exc, requests.exceptions.ContentDecodingError):
        return Failure("the answer could not be decoded", reached_server=True)
    for cause in _causes(exc):
        if isinstance(cause, ConnectionRefusedError):
            return Failure("connection refused", reached_server=False)
        if isinstance(cause, socket.gaierror) or type(cause).__name__ == "NameResolutionError":
            return Failure("the host name could not be resolved", reached_server=False)
        if isinstance(cause, ConnectionResetError | BrokenPipeError):
            return Failure("connection reset", reached_server=True)
        if isinstance(cause, http.client.RemoteDisconnected):
            return Failure("connection closed without an answer", reached_server=True)
        if isinstance(cause, http.client.IncompleteRead):
            return Failure("the answer was cut off", reached_server=True)
    if isinstance(exc, requests.exceptions.ChunkedEncodingError):
        return Failure("the answer was cut off", reached_server=True)
    if isinstance(exc, requests.exceptions.ConnectionError):
        return Failure("connection failed", reached_server=True)
    return Failure(type(exc).__name__, reached_server=True)
