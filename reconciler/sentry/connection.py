"""One attempt over the wire to one Sentry: the connection pool, and a whole-answer deadline.

- **Set up once.** Requests go straight to ``requests``' adapter (its urllib3 pool, its error
  types) with a request prepared here: a ``Session`` would merge its settings, read the
  environment (proxy variables, ``NO_PROXY``, CA bundles, ``~/.netrc``: twice per request), and
  look for cookies and redirects on every request. Here the environment is read once for the
  Sentry URL, no cookie is kept, the token is the ``Authorization`` header (no ``.netrc`` entry
  can replace it), and redirects are never followed.
- **A deadline for the whole answer.** ``requests``' timeout bounds each socket read, so a
  server that sends a byte now and then is never cut off by it. Every connection of the pool
  knows the attempt it serves (a thread-local :class:`Guard`), and one watchdog thread shuts the
  socket of an attempt still going at its deadline: the blocked read then ends and the attempt
  fails with the deadline as its reason. A connection already serving another attempt is never
  touched.
"""

from __future__ import annotations

import contextlib
import http.client
import math
import os
import socket
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import urlsplit

import requests
import requests.utils
import urllib3.exceptions
from requests.adapters import HTTPAdapter
from requests.structures import CaseInsensitiveDict
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from reconciler import __version__
from reconciler.core import interrupt

USER_AGENT: Final = f"symsync/{__version__}"
# The largest answer read (a list of sources is a few KiB; a page of projects tens of KiB).
MAX_BODY: Final = 32 * 1024 * 1024
CHUNK: Final = 64 * 1024


class Secret:
    """A value that never shows in a repr, a str or a debugger's dump of the client."""

    __slots__ = ("value",)

    def __init__(self, value: str) -> None:
        self.value = value

    def __repr__(self) -> str:
        return "<secret>"

    __str__ = __repr__


@dataclass(frozen=True)
class Failure:
    """Why an attempt got no answer."""

    reason: str
    reached_server: bool  # the request may have been received (a write may have happened)
    retryable: bool = True
    timed_out: bool = False


# ------------------------------------------------------------------------- whole-answer deadline


class Guard:
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
    if isinstance(guard, Guard):
        guard.attach(connection)


class GuardedHTTPConnection(HTTPConnection):
    """A connection that hands itself to the current attempt's watchdog before it connects and
    before each request, so the watchdog can cut it off at the attempt's deadline."""

    def connect(self) -> None:
        _attach_current(self)
        super().connect()

    def request(self, *args: Any, **kwargs: Any) -> None:
        _attach_current(self)
        super().request(*args, **kwargs)


class GuardedHTTPSConnection(GuardedHTTPConnection, HTTPSConnection):
    """The same for HTTPS: ``HTTPSConnection`` derives from ``HTTPConnection``, so the guard's
    methods come first in the resolution order and then hand over to TLS's own ``connect``."""


class GuardedHTTPPool(HTTPConnectionPool):
    ConnectionCls = GuardedHTTPConnection


class GuardedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = GuardedHTTPSConnection


_POOL_CLASSES: Final = {"http": GuardedHTTPPool, "https": GuardedHTTPSPool}


class GuardedAdapter(HTTPAdapter):
    """Connections that the watchdog can shut, also through an HTTP(S) proxy."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = dict(_POOL_CLASSES)

    def proxy_manager_for(self, proxy: str, **kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **kwargs)
        if not proxy.lower().startswith("socks"):
            manager.pool_classes_by_scheme = dict(_POOL_CLASSES)
        return manager


class Watchdog:
    """One thread that fires each guard at its deadline (real monotonic time). It is woken only
    when a deadline comes before the one it sleeps towards: with equal timeouts, once per
    timeout, not once per request."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._guards: set[Guard] = set()
        self._thread: threading.Thread | None = None
        self._closed = False
        self._wake_at = math.inf

    @staticmethod
    def now() -> float:
        return time.monotonic()

    def watch(self, guard: Guard) -> None:
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

    def unwatch(self, guard: Guard) -> None:
        guard.finish()
        with self._cond:
            self._guards.discard(guard)

    def _run(self) -> None:
        interrupt.signals_to_main_thread()
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

    @contextlib.contextmanager
    def guarding(self, deadline: float) -> Iterator[Guard]:
        """Within the block, this thread's connections are shut at ``deadline``
        (``Watchdog.now()`` time); ``guard.fired`` tells afterwards whether they were."""
        guard = Guard(deadline)
        self.watch(guard)
        _current.guard = guard
        try:
            yield guard
        finally:
            _current.guard = None
            self.unwatch(guard)


# --------------------------------------------------------------------------------- the pool


def resolved_proxies(url: str) -> dict[str, str]:
    """The proxies the environment sets for ``url`` (``*_PROXY``, honouring ``NO_PROXY``)."""
    return dict(requests.utils.get_environ_proxies(url))


def resolved_verify() -> bool | str:
    """Certificate verification as ``requests`` reads it from the environment."""
    return os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True


class Connection:
    """The connection settings of one Sentry, fixed when the client is made.

    Requests go straight to ``requests``' adapter (its urllib3 pool, its error types) with a
    request prepared here: a ``Session`` would merge its settings, read the environment (proxy
    variables, ``NO_PROXY``, CA bundles, ``~/.netrc``: twice per request), look for cookies and
    redirects on every request. Here the environment is read once, no cookie is kept, the token
    is the ``Authorization`` header (no ``.netrc`` entry can replace it), and redirects are
    never followed.
    """

    def __init__(self, base_url: str, token: Secret, pool_size: int, timeout: float) -> None:
        self.timeout = timeout
        self.watchdog = Watchdog()
        self.proxies = resolved_proxies(base_url)
        # Per origin (an organization's region is another one), each read once.
        self._proxies_by_origin = {_origin(base_url): self.proxies}
        self._proxies_lock = threading.Lock()
        self.verify = resolved_verify()
        self.adapter = GuardedAdapter(
            pool_connections=4, pool_maxsize=max(pool_size, 1), max_retries=0, pool_block=False
        )
        self._token = token
        self.headers = {
            "User-Agent": USER_AGENT,
            "Accept": "application/json",
            "Accept-Encoding": requests.utils.DEFAULT_ACCEPT_ENCODING,
            "Connection": "keep-alive",
        }

    def proxies_for(self, url: str) -> dict[str, str]:
        """The proxies the environment sets for ``url``'s origin (read once per origin)."""
        origin = _origin(url)
        with self._proxies_lock:
            proxies = self._proxies_by_origin.get(origin)
            if proxies is None:
                proxies = self._proxies_by_origin[origin] = resolved_proxies(origin)
            return proxies

    def _request(
        self, method: str, url: str, data: bytes | None, token: Secret
    ) -> requests.Response:
        timeout = self.timeout
        prepared = requests.PreparedRequest()
        prepared.method = method
        prepared.url = url
        headers = CaseInsensitiveDict(self.headers)
        headers["Authorization"] = f"Bearer {token.value}"
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
            proxies=self.proxies_for(url),
        )

    def attempt(
        self, method: str, url: str, data: bytes | None, token: Secret | None = None
    ) -> tuple[int, Mapping[str, str], bytes]:
        """One attempt, answered whole within ``timeout`` seconds, with ``token`` (by default
        the connection's own)."""
        deadline = Watchdog.now() + self.timeout
        got_headers = False
        with self.watchdog.guarding(deadline) as guard:
            try:
                response = self._request(method, url, data, token or self._token)
                got_headers = True
                try:
                    content = _read_body(response, deadline)
                finally:
                    response.close()
            except _FAILURES as exc:
                if guard.fired or isinstance(exc, _DeadlinePassed):
                    raise AttemptFailed(self._deadline_failure(exc, got_headers)) from None
                raise AttemptFailed(describe_failure(exc, self.timeout)) from None
        if guard.fired:
            raise AttemptFailed(self._deadline_failure(None, got_headers))
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

    def close(self) -> None:
        self.watchdog.close()
        self.adapter.close()


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


class _BodyTooLarge(Exception):
    pass


class _DeadlinePassed(Exception):
    pass


_FAILURES: Final = (
    requests.RequestException,
    urllib3.exceptions.HTTPError,
    http.client.HTTPException,
    _BodyTooLarge,
    _DeadlinePassed,
    OSError,
)


class AttemptFailed(Exception):
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


_Kinds = type[BaseException] | tuple[type[BaseException], ...]
_UNRESOLVED: Final = Failure("the host name could not be resolved", reached_server=False)
# What an attempt's exception says by its own type, checked in this order. A type whose
# meaning depends on what it wraps (a connection error, a cut-off body) is looked up in
# ``_BY_CAUSE`` first, then in ``_BY_WRAPPER``.
_BY_TYPE: Final[tuple[tuple[_Kinds, Failure], ...]] = (
    (
        _BodyTooLarge,
        Failure(
            f"the answer was larger than {MAX_BODY // (1024 * 1024)} MiB",
            reached_server=True,
            retryable=False,
        ),
    ),
    (
        requests.exceptions.ConnectTimeout,
        Failure("timed out while connecting", reached_server=False, timed_out=True),
    ),
    (
        requests.exceptions.SSLError,
        Failure("TLS handshake failed", reached_server=False, retryable=False),
    ),
    (
        (requests.exceptions.InvalidURL, requests.exceptions.InvalidHeader),
        Failure("invalid request", reached_server=False, retryable=False),
    ),
    (
        requests.exceptions.ContentDecodingError,
        Failure("the answer could not be decoded", reached_server=True),
    ),
)
# What an exception wraps (requests -> urllib3 -> socket errors), checked for each cause in turn.
_BY_CAUSE: Final[tuple[tuple[_Kinds, Failure], ...]] = (
    (ConnectionRefusedError, Failure("connection refused", reached_server=False)),
    (socket.gaierror, _UNRESOLVED),
    ((ConnectionResetError, BrokenPipeError), Failure("connection reset", reached_server=True)),
    (
        http.client.RemoteDisconnected,
        Failure("connection closed without an answer", reached_server=True),
    ),
    (http.client.IncompleteRead, Failure("the answer was cut off", reached_server=True)),
)
# urllib3's wrapper of a failed name lookup, known by its name (urllib3 1.x lacks the class).
_NAME_RESOLUTION: Final = "NameResolutionError"
# A wrapper whose causes said nothing more.
_BY_WRAPPER: Final[tuple[tuple[type[BaseException], Failure], ...]] = (
    (
        requests.exceptions.ChunkedEncodingError,
        Failure("the answer was cut off", reached_server=True),
    ),
    (requests.exceptions.ConnectionError, Failure("connection failed", reached_server=True)),
)


def describe_failure(exc: BaseException, timeout: float) -> Failure:
    """Why an attempt that raised ``exc`` got no answer, and whether it may have reached the
    server (for a write: whether it may have happened)."""
    if isinstance(exc, requests.exceptions.ReadTimeout):  # the one reason worded per attempt
        return Failure(f"no answer within {timeout:g} s", reached_server=True, timed_out=True)
    for kinds, failure in _BY_TYPE:
        if isinstance(exc, kinds):
            return failure
    for cause in _causes(exc):
        if type(cause).__name__ == _NAME_RESOLUTION:
            return _UNRESOLVED
        for kinds, failure in _BY_CAUSE:
            if isinstance(cause, kinds):
                return failure
    for kind, failure in _BY_WRAPPER:
        if isinstance(exc, kind):
            return failure
    return Failure(type(exc).__name__, reached_server=True)
