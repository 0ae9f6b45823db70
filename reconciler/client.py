"""The one way symsync talks to Sentry: :class:`SentryClient`.

Every request goes through :meth:`SentryClient._send`, which owns the base URL, the bearer token,
the User-Agent, timeouts, retries with back-off, the debug log line and, with
:meth:`SentryClient._error`, the mapping of failures to :class:`SentryAPIError`.

Retries are done here rather than with urllib3's ``Retry``: a retried write needs decisions that
urllib3 cannot make (reference section 1 and 11). A POST whose first attempt may have reached
Sentry (a 5xx, a dropped connection) can answer "duplicate id" on its retry; symsync always sends
its own ``id``, so the client then reads that id back and reports success when the source holds
what was sent, instead of reporting a failure or writing twice. The same goes for a PUT that hid
a committed write and a DELETE whose retry finds the source already gone.

The client only uses request patterns that behave the same in Sentry's two endpoint generations
(reference section 11) and branches on status codes, not on bodies.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import logging
import math
import random
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from http.cookiejar import DefaultCookiePolicy
from types import TracebackType
from typing import Any, Final
from urllib.parse import quote, urlencode, urlsplit

import requests
import requests.auth
from requests.adapters import HTTPAdapter

from reconciler import __version__, spec
from reconciler.errors import SymsyncError
from reconciler.redact import (
    redact_data,
    redact_text,
    register_secret,
    secret_values,
    truncate,
)

log = logging.getLogger(__name__)

DEFAULT_URL: Final = "https://sentry.io"
TOKEN_VARIABLE: Final = "SENTRY_AUTH_TOKEN"
URL_VARIABLE: Final = "SENTRY_URL"
USER_AGENT: Final = f"symsync/{__version__}"

# 500 is retried too: Sentry answers it for transient failures, and a write that failed with it
# is confirmed before it is reported (see the module docstring).
RETRY_STATUSES: Final[frozenset[int]] = frozenset({429, 500, 502, 503, 504})
# Statuses after which a write may have been committed although the answer says otherwise.
_UNCERTAIN_STATUSES: Final[frozenset[int]] = frozenset({500, 502, 503, 504})
# Attempts, at most, when the server could not be reached at all (refused, unknown host).
UNREACHED_ATTEMPTS: Final = 3
# The longest exponential back-off step: all retries of a request stay under a minute.
MAX_BACKOFF: Final = 8.0
# A rate-limit reset or Retry-After further away than this is taken for a broken header.
MAX_PLAUSIBLE_WAIT: Final = 3600.0
# Waits until a rate-limit reset are spread over up to this many seconds after it.
RESET_SPREAD: Final = 1.0
BODY_LIMIT: Final = 500
# Visible ASCII only: Sentry's tokens are hex or `sntry?_` followed by base64.
_TOKEN_RE: Final = re.compile(r"[\x21-\x7e]+")
MAX_PAGES: Final = 10_000


class SentryAPIError(SymsyncError):
    """A request to Sentry failed. ``str()`` is a message a user can act on.

    ``status`` is ``None`` when no answer came (no connection, or every attempt dropped).
    ``body`` is the last response body, redacted and truncated. ``uncertain`` is true for a write
    that may have been committed by an earlier attempt although it is reported as failed.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int | None,
        method: str,
        path: str,
        body: str = "",
        attempts: int = 1,
        uncertain: bool = False,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.method = method
        self.path = path
        self.body = body
        self.attempts = attempts
        self.uncertain = uncertain


class _Secret:
    """A value that never shows in a repr, a str or a debugger's dump of the client."""

    __slots__ = ("value",)

    def __init__(self, value: str) -> None:
        self.value = value

    def __repr__(self) -> str:
        return "<secret>"

    __str__ = __repr__


class _BearerAuth(requests.auth.AuthBase):
    def __init__(self, token: _Secret) -> None:
        self._token = token

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"Bearer {self._token.value}"
        return request

    def __repr__(self) -> str:
        return "<bearer token>"


@dataclass(frozen=True)
class _Exchange:
    """The last answer of a request, after retries."""

    response: requests.Response
    path: str  # with the query, without the host
    attempts: int
    uncertain: bool  # an earlier attempt of this write may have reached Sentry
    secrets: tuple[str, ...]  # the token and the secret values sent, to mask in any message


@dataclass(frozen=True)
class _Target:
    """What a request is about, for error messages."""

    org: str
    project: str | None = None
    source_id: str | None = None

    @property
    def project_key(self) -> str:
        return f"{self.org}/{self.project}"


class SentryClient:
    """A thread-safe client for Sentry's project symbol-sources API.

    One ``requests.Session`` is shared by every thread: its connection pool (urllib3) is
    thread-safe, holds at least ``pool_size`` connections per host, and the session keeps no
    cookies, so no state is shared between requests beyond the pooled connections.
    """

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        timeout: float = 30.0,
        max_retries: int = 8,
        backoff: float = 0.5,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
        jitter: Callable[[], float] = random.random,
        pool_size: int = 64,  # as many as `--parallelism` allows: none is opened twice
        max_wait: float = 60.0,
    ) -> None:
        self.base_url = _check_base_url(base_url)
        self.host = urlsplit(self.base_url).netloc
        if not token:
            raise SymsyncError(f"{TOKEN_VARIABLE} is not set: give it a Sentry auth token")
        if not _TOKEN_RE.fullmatch(token):
            # It goes into a header: a line break or a non-ASCII letter would fail deep in
            # http.client, with the token in the exception's text.
            raise SymsyncError(
                f"{TOKEN_VARIABLE} holds characters no Sentry auth token has (spaces, line "
                "breaks, control or non-ASCII characters): copy the token again"
            )
        self._token = _Secret(token)
        self.timeout = timeout
        self.max_retries = max(0, max_retries)
        self.backoff = backoff
        self.max_wait = max_wait
        self._sleep = sleep
        self._jitter = jitter
        self._clock = clock
        self._session = requests.Session()
        self._session.cookies.set_policy(DefaultCookiePolicy(allowed_domains=[]))
        self._session.trust_env = True
        adapter = HTTPAdapter(
            pool_connections=4, pool_maxsize=max(pool_size, 1), max_retries=0, pool_block=False
        )
        self._session.mount("https://", adapter)
        self._session.mount("http://", adapter)
        # As the session's auth, so that a ~/.netrc entry for the host cannot replace it.
        self._session.auth = _BearerAuth(self._token)
        self._session.headers.update({"User-Agent": USER_AGENT, "Accept": "application/json"})
        self._closed = threading.Event()

    @classmethod
    def from_env(cls, url: str | None = None, **kwargs: Any) -> SentryClient:
        """A client configured like every command: ``url`` (``--url``), else ``SENTRY_URL``,
        else sentry.io; the token from ``SENTRY_AUTH_TOKEN``."""
        import os

        base = url or os.environ.get(URL_VARIABLE, "").strip() or DEFAULT_URL
        token = os.environ.get(TOKEN_VARIABLE, "").strip()
        if not token:
            raise SymsyncError(
                f"{TOKEN_VARIABLE} is not set: export it with a Sentry auth token that has the "
                "project:read scope (project:write to create and update sources, project:admin "
                "to delete them)"
            )
        # Masked from here on wherever it shows, even as the URL (SENTRY_URL=$SENTRY_AUTH_TOKEN).
        register_secret(token, TOKEN_VARIABLE)
        return cls(base, token, **kwargs)

    def __repr__(self) -> str:
        return f"SentryClient(base_url={self.base_url!r})"

    def close(self) -> None:
        self._closed.set()
        self._session.close()

    def __enter__(self) -> SentryClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # ---------------------------------------------------------------- the symbol-sources API

    def list_sources(self, org: str, project: str) -> list[dict[str, Any]]:
        """Every source of the project, in Sentry's order, secrets as the placeholder."""
        target = _Target(org, project)
        exchange = self._send("GET", _sources_path(org, project), target=target)
        if exchange.response.status_code != 200:
            raise self._error(exchange, target)
        data = self._json(exchange)
        if not isinstance(data, list) or not all(isinstance(s, dict) for s in data):
            raise self._unexpected(exchange, "a list of sources")
        return data

    def get_source(self, org: str, project: str, source_id: str) -> dict[str, Any] | None:
        """The source with this id, or ``None`` when the project has no such source."""
        target = _Target(org, project, source_id)
        exchange = self._send(
            "GET", _sources_path(org, project), query={"id": source_id}, target=target
        )
        status = exchange.response.status_code
        if status == 200:
            data = self._json(exchange)
            # Sentry answers a one-element list; take a bare object too. A server (or a proxy)
            # that ignored `?id=` answers the whole list: pick the source by its id.
            if isinstance(data, dict):
                data = [data]
            if not isinstance(data, list) or not all(isinstance(s, dict) for s in data):
                raise self._unexpected(exchange, "a source")
            return next((s for s in data if s.get("id") == source_id), None)
        if status == 404:
            # Both an unknown source and an unknown project answer 404. Sentry's endpoint says
            # the former in its own `{"error": ...}` envelope; anything else is settled by
            # reading the list, which fails with a clear message for an unknown project.
            parsed = _json_or_none(exchange.response)
            if isinstance(parsed, dict) and "error" in parsed:
                return None
            return next(
                (s for s in self.list_sources(org, project) if s.get("id") == source_id), None
            )
        raise self._error(exchange, target)

    def create_source(self, org: str, project: str, body: dict[str, Any]) -> dict[str, Any]:
        """POST a new source (``body`` carries its own ``id``); the stored source, redacted."""
        source_id = _body_id(body)
        target = _Target(org, project, source_id)
        try:
            exchange = self._send("POST", _sources_path(org, project), body=body, target=target)
        except SentryAPIError as exc:
            if exc.uncertain and (found := self._confirm_written(org, project, body)) is not None:
                return found
            raise
        status = exchange.response.status_code
        if status in (200, 201):
            return self._source_from(exchange)
        if exchange.uncertain and (status == 400 or status >= 500):
            # The retry of a write that may have been committed: "duplicate id" (a 400, with or
            # without a message) or a 500 that hid the write. Read it back.
            remote = self._read_back(org, project, source_id)
            if remote is not None and _same_source(remote, body):
                return remote
            if status == 400 and remote is not None:
                raise SentryAPIError(
                    f"source `{source_id}` already exists in {target.project_key} with other "
                    "content than symsync sent (an earlier attempt of this request may have "
                    "reached Sentry, or someone else created it); run `symsync plan` again",
                    status=status,
                    method="POST",
                    path=exchange.path,
                    body=self._body_text(exchange),
                    attempts=exchange.attempts,
                    uncertain=True,
                )
        raise self._error(exchange, target)

    def update_source(
        self, org: str, project: str, source_id: str, body: dict[str, Any]
    ) -> dict[str, Any]:
        """PUT the complete source ``body`` in place of ``source_id``; the stored source."""
        if body.get("id") != source_id:
            # Sentry would rename the source (to a random UUID when the id is missing), and
            # reference section 11 says never to: this is a bug in the caller.
            raise SymsyncError(
                f"an update of source `{source_id}` must carry the same `id` in its body"
            )
        target = _Target(org, project, source_id)
        path = _sources_path(org, project)
        # Re-sending an identical PUT is idempotent (the body keeps the id, and placeholders are
        # backfilled from what the committed write stored), so retries need no special care. A
        # final failure after an uncertain attempt is confirmed by reading the source back, when
        # the body holds no plaintext secret (whose new value could not be seen).
        verifiable = not _plaintext_secrets(body)
        try:
            exchange = self._send("PUT", path, query={"id": source_id}, body=body, target=target)
        except SentryAPIError as exc:
            if (
                exc.uncertain
                and verifiable
                and (found := self._confirm_written(org, project, body)) is not None
            ):
                return found
            raise
        if exchange.response.status_code == 200:
            return self._source_from(exchange)
        if exchange.uncertain and verifiable:
            found = self._confirm_written(org, project, body)
            if found is not None:
                return found
        raise self._error(exchange, target)

    def delete_source(self, org: str, project: str, source_id: str) -> None:
        """DELETE the source. A retry that finds it gone after an uncertain attempt succeeds."""
        target = _Target(org, project, source_id)
        try:
            exchange = self._send(
                "DELETE", _sources_path(org, project), query={"id": source_id}, target=target
            )
        except SentryAPIError as exc:
            if exc.uncertain and self._confirmed_gone(org, project, source_id):
                return
            raise
        status = exchange.response.status_code
        if status in (200, 202, 204):
            return
        if (
            exchange.uncertain
            and (status == 404 or status >= 500)
            and self._confirmed_gone(org, project, source_id)
        ):
            return
        raise self._error(exchange, target)

    def list_projects(self, org: str) -> list[dict[str, Any]]:
        """Every project of the organization, following Sentry's cursor pagination."""
        target = _Target(org)
        path = f"/api/0/organizations/{_segment(org)}/projects/"
        projects: list[dict[str, Any]] = []
        cursor: str | None = None
        seen: set[str] = set()
        for _ in range(MAX_PAGES):
            query = {"cursor": cursor} if cursor else None
            exchange = self._send("GET", path, query=query, target=target)
            if exchange.response.status_code != 200:
                raise self._error(exchange, target)
            page = self._json(exchange)
            if not isinstance(page, list) or not all(isinstance(p, dict) for p in page):
                raise self._unexpected(exchange, "a list of projects")
            projects.extend(page)
            cursor = _next_cursor(exchange.response)
            if cursor is None or cursor in seen:
                return projects
            seen.add(cursor)
        raise SentryAPIError(
            f"Sentry kept paginating the projects of `{org}` past {MAX_PAGES} pages",
            status=200,
            method="GET",
            path=path,
        )

    # ------------------------------------------------------------------- the one request path

    def _send(
        self,
        method: str,
        path: str,
        *,
        target: _Target,
        query: dict[str, str] | None = None,
        body: dict[str, Any] | None = None,
    ) -> _Exchange:
        """Send one request with retries; the last answer. Raises only when no answer came."""
        if self._closed.is_set():
            raise SymsyncError("the Sentry client was closed")
        full_path = path + (f"?{urlencode(query, quote_via=quote, safe='')}" if query else "")
        url = self.base_url + full_path
        data = None if body is None else json.dumps(body).encode()
        headers = {"Content-Type": "application/json"} if data is not None else None
        secrets = [self._token.value, *secret_values(body)]
        uncertain = False
        attempts = self.max_retries + 1
        for attempt in range(1, attempts + 1):
            started = time.monotonic()
            try:
                response = self._session.request(
                    method,
                    url,
                    data=data,
                    headers=headers,
                    timeout=self.timeout,
                    allow_redirects=False,
                )
            except requests.RequestException as exc:
                failure = _describe_failure(exc, self.timeout)
                elapsed = (time.monotonic() - started) * 1000
                log.debug(
                    "%s %s -> %s (attempt %d, %.0f ms)",
                    method,
                    full_path,
                    failure.reason,
                    attempt,
                    elapsed,
                )
                if failure.reached_server and method != "GET":
                    uncertain = True
                # A server that refuses connections is down or the URL is wrong: a couple of
                # quick retries cover a restart, more would only keep the user waiting.
                last = attempts if failure.reached_server else min(attempts, UNREACHED_ATTEMPTS)
                if not failure.retryable or attempt >= last:
                    raise self._connection_error(
                        method, full_path, failure, attempt, uncertain, secrets
                    ) from None
                delay = self._backoff_delay(attempt)
                log.debug("retrying %s %s in %.1f s (%s)", method, full_path, delay, failure.reason)
                self._sleep(delay)
                continue
            status = response.status_code
            elapsed = (time.monotonic() - started) * 1000
            log.debug(
                "%s %s -> %d (attempt %d, %.0f ms)", method, full_path, status, attempt, elapsed
            )
            if status in RETRY_STATUSES and attempt < attempts:
                if status in _UNCERTAIN_STATUSES and method != "GET":
                    uncertain = True
                delay = self._retry_delay(response, attempt)
                log.debug("retrying %s %s in %.1f s (status %d)", method, full_path, delay, status)
                response.close()
                self._sleep(delay)
                continue
            return _Exchange(response, full_path, attempt, uncertain, tuple(secrets))
        raise AssertionError("unreachable")  # pragma: no cover

    def _backoff_delay(self, attempt: int) -> float:
        """Exponential back-off, each step cut by up to half at random ("equal jitter"), so
        that threads that failed together do not all come back at the same moment."""
        step = min(self.backoff * (2 ** (attempt - 1)), MAX_BACKOFF, self.max_wait)
        return float(step * (1.0 - 0.5 * self._jitter()))

    def _retry_delay(self, response: requests.Response, attempt: int) -> float:
        """How long to wait before retrying: until Sentry's rate-limit window resets (429), as
        long as a proxy's ``Retry-After`` says, else exponential back-off."""
        waits: list[float] = []
        now = self._clock()
        reset = response.headers.get("X-Sentry-Rate-Limit-Reset")
        if reset and response.status_code == 429:
            with contextlib.suppress(ValueError):
                waits.append(float(reset) - now)
        retry_after = response.headers.get("Retry-After")
        if retry_after:
            waits.append(_retry_after_seconds(retry_after, now))
        # `nan` or `inf` in a header is no usable wait (and time.sleep refuses NaN), nor is a
        # time hours away (a reset in milliseconds, a broken clock): back off instead.
        wait = max((w for w in waits if math.isfinite(w) and w <= MAX_PLAUSIBLE_WAIT), default=0.0)
        if wait <= 0:
            return self._backoff_delay(attempt)
        # Sentry's reset is in whole seconds, and every thread waiting on it would wake at
        # once and use up the new window together: spread them over up to a second after it.
        return min(wait + RESET_SPREAD * self._jitter(), self.max_wait)

    # ------------------------------------------------------------- confirming uncertain writes

    def _read_back(self, org: str, project: str, source_id: str) -> dict[str, Any] | None:
        """The stored source, or ``None`` when it is absent or cannot be read."""
        try:
            return self.get_source(org, project, source_id)
        except SentryAPIError:
            return None

    def _confirm_written(
        self, org: str, project: str, body: dict[str, Any]
    ) -> dict[str, Any] | None:
        """The stored source when it holds what ``body`` says (secrets compared by presence)."""
        remote = self._read_back(org, project, _body_id(body))
        if remote is not None and _same_source(remote, body):
            log.debug(
                "confirmed %s/%s source %r after an uncertain write", org, project, remote["id"]
            )
            return remote
        return None

    def _confirmed_gone(self, org: str, project: str, source_id: str) -> bool:
        try:
            sources = self.list_sources(org, project)
        except SentryAPIError:
            return False
        return all(s.get("id") != source_id for s in sources)

    # ------------------------------------------------------------------------- error mapping

    def _secrets(self, exchange: _Exchange | None = None) -> list[str]:
        return [self._token.value, *(exchange.secrets if exchange else ())]

    def _body_text(self, exchange: _Exchange) -> str:
        response = exchange.response
        parsed = _json_or_none(response)
        if parsed is not None:
            text = json.dumps(redact_data(parsed, self._secrets(exchange)), ensure_ascii=False)
        else:
            # Only the start is ever shown; redacting all of a huge page is wasted work.
            text = redact_text(response.text[:65536], self._secrets(exchange))
        return truncate(text, BODY_LIMIT)

    def _sentry_says(self, exchange: _Exchange) -> str:
        """Sentry's own message (`error` or `detail`), redacted and shortened, or ''."""
        parsed = _json_or_none(exchange.response)
        message: Any = None
        if isinstance(parsed, dict):
            message = parsed.get("error", parsed.get("detail"))
            if isinstance(message, dict):
                message = message.get("message") or json.dumps(message)
        elif isinstance(parsed, str):
            message = parsed
        if not message:
            return ""
        return truncate(redact_text(str(message), self._secrets(exchange)), 300)

    def _error(self, exchange: _Exchange, target: _Target) -> SentryAPIError:
        response = exchange.response
        status = response.status_code
        method = response.request.method or "?"
        where = f"({method} {exchange.path}: {status})"
        says = self._sentry_says(exchange)
        says_suffix = f": Sentry says {says!r}" if says else ""
        retried = f" after {exchange.attempts} attempts" if exchange.attempts > 1 else ""
        if status == 401:
            message = (
                f"the token is invalid or expired {where}: set {TOKEN_VARIABLE} to a valid "
                "Sentry auth token"
            )
        elif status == 403:
            if target.project is None:
                needs = f"the `org:read` scope, and access to organization `{target.org}`"
            else:
                needs = (
                    f"the `{_needed_scope(method)}` scope on {target.project_key}, and the "
                    "token's user must have access to the project"
                )
            message = f"the token is not allowed to do this: {method} needs {needs} {where}"
        elif (
            status in (400, 404)
            and target.source_id is not None
            and _says_missing_id(exchange.response)
        ):
            # Gen A answers 404, Gen B 400; symsync always sends `?id=`, so it was lost on
            # the way (a proxy that drops query strings, or a URL that ends the path early).
            message = (
                f"Sentry did not receive the source id (`?id=`) that symsync sent for source "
                f"`{target.source_id}` in {target.project_key}: Sentry says 'Missing source id'; "
                f"check that a proxy in front of {self.host} keeps query strings {where}"
            )
        elif status == 404:
            message = self._not_found_message(exchange, target, where)
        elif status in (301, 302, 307, 308):
            message = self._moved_message(exchange, target, where)
        elif status == 400:
            if says:
                message = f"Sentry rejected the request{says_suffix} {where}"
            else:
                # Gen A drops every validation message. For a PUT it also answers this way when
                # a kept secret (the placeholder) has no stored value to fill in.
                hint = (
                    " (for an update, also when a secret kept as it is has no stored value in "
                    "Sentry any more: run `symsync plan` again)"
                    if method == "PUT"
                    else ""
                )
                message = (
                    f"Sentry rejected the source without a reason; run `symsync validate`{hint} "
                    f"{where}"
                )
        elif status == 429:
            message = (
                f"Sentry kept rate-limiting the requests{retried} {where}: try again later, "
                "or with a lower --parallelism"
            )
        elif status >= 500:
            error_id = _error_id(exchange.response)
            reference = f" (Sentry's error id {error_id}, for its support)" if error_id else ""
            message = f"Sentry failed with {status}{retried}{says_suffix}{reference} {where}"
        elif status == 407:
            message = (
                f"a proxy between symsync and {self.host} asks for its own credentials: put "
                f"the proxy's user name and password in HTTPS_PROXY (or HTTP_PROXY) {where}"
            )
        else:
            message = f"Sentry answered {status}{says_suffix} {where}"
        return SentryAPIError(
            redact_text(message + _uncertain_note(exchange.uncertain), self._secrets(exchange)),
            status=status,
            method=method,
            path=exchange.path,
            body=self._body_text(exchange),
            attempts=exchange.attempts,
            uncertain=exchange.uncertain,
        )

    def _not_found_message(self, exchange: _Exchange, target: _Target, where: str) -> str:
        parsed = _json_or_none(exchange.response)
        if isinstance(parsed, dict) and "error" in parsed and target.source_id is not None:
            # The endpoint's own envelope: the project exists, the source id does not.
            return (
                f"source `{target.source_id}` does not exist in {target.project_key}: "
                f"Sentry says {self._sentry_says(exchange)!r} {where}"
            )
        if target.project is None:
            return (
                f"organization `{target.org}` was not found on {self.host}, or the token cannot "
                f"see it {where}"
            )
        return (
            f"organization `{target.org}` or project `{target.project}` was not found on "
            f"{self.host}, or the token cannot see it {where}"
        )

    def _moved_message(self, exchange: _Exchange, target: _Target, where: str) -> str:
        parsed = _json_or_none(exchange.response)
        new_slug = parsed.get("slug") if isinstance(parsed, dict) else None
        if target.project is not None:
            renamed = f" to `{new_slug}`" if isinstance(new_slug, str) else ""
            return (
                f"project `{target.project_key}` was renamed in Sentry{renamed}: rename its "
                f"project file to match {where}"
            )
        location = exchange.response.headers.get("Location", "")
        return f"Sentry redirected the request to {location!r}: check SENTRY_URL {where}"

    def _connection_error(
        self,
        method: str,
        path: str,
        failure: _Failure,
        attempts: int,
        uncertain: bool,
        secrets: list[str],
    ) -> SentryAPIError:
        tried = f" after {attempts} attempts" if attempts > 1 else ""
        if failure.reached_server:
            message = (
                f"lost the connection to {self.host} ({failure.reason}){tried} "
                f"({method} {path}): check that Sentry at {self.base_url} is up"
            )
        else:
            message = (
                f"could not connect to {self.host} ({failure.reason}){tried}: check "
                f"{URL_VARIABLE} or --url ({self.base_url}) and that the server is reachable"
            )
        return SentryAPIError(
            redact_text(message + _uncertain_note(uncertain), secrets),
            status=None,
            method=method,
            path=path,
            attempts=attempts,
            uncertain=uncertain,
        )

    def _json(self, exchange: _Exchange) -> Any:
        try:
            return exchange.response.json()
        except ValueError:
            raise self._unexpected(exchange, "JSON") from None

    def _source_from(self, exchange: _Exchange) -> dict[str, Any]:
        data = self._json(exchange)
        if isinstance(data, list) and len(data) == 1:
            data = data[0]
        if not isinstance(data, dict):
            raise self._unexpected(exchange, "a source")
        return data

    def _unexpected(self, exchange: _Exchange, expected: str) -> SentryAPIError:
        response = exchange.response
        method = response.request.method or "?"
        return SentryAPIError(
            f"Sentry answered {response.status_code} with something other than {expected} "
            f"({method} {exchange.path}): is {self.base_url} a Sentry server?",
            status=response.status_code,
            method=method,
            path=exchange.path,
            body=self._body_text(exchange),
            attempts=exchange.attempts,
        )


# ------------------------------------------------------------------------------------ helpers


def _uncertain_note(uncertain: bool) -> str:
    if not uncertain:
        return ""
    return (
        "; an earlier attempt may still have been written, so Sentry may hold the change: "
        "`symsync plan` shows what it holds now"
    )


def _check_base_url(url: str) -> str:
    cleaned = url.strip()
    parts = urlsplit(cleaned)
    credentials = parts.username is not None or parts.password is not None
    shown = f"{parts.scheme}://{parts.hostname}" if credentials else redact_text(cleaned)
    problem = ""
    try:
        parts.port  # noqa: B018 (raises ValueError for a port out of range or not a number)
    except ValueError:
        problem = "its port is not a number from 1 to 65535"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        problem = "it must start with https:// (or http://) and name a host"
    elif any(c.isspace() for c in cleaned):
        problem = "it contains spaces"
    elif credentials:
        problem = f"it must not carry credentials (the token goes in {TOKEN_VARIABLE})"
    elif parts.query or parts.fragment or cleaned.endswith(("?", "#")):
        problem = "it must not have a query (`?`) or a fragment (`#`)"
    if problem:
        raise SymsyncError(
            f"`{shown}` is not a Sentry URL: {problem}; set {URL_VARIABLE} or --url to "
            "one like https://sentry.example.com (or https://example.com/sentry when Sentry is "
            "served under a path)"
        )
    # Scheme and host are case-insensitive: one spelling, so that a saved plan's URL compares
    # equal to the same Sentry written another way. The path keeps its case.
    return f"{parts.scheme}://{parts.netloc.lower()}{parts.path}".rstrip("/")


def _segment(value: str) -> str:
    """One path segment, fully percent-encoded (``/``, ``?``, ``#``, spaces, unicode)."""
    return quote(value, safe="")


def _sources_path(org: str, project: str) -> str:
    return f"/api/0/projects/{_segment(org)}/{_segment(project)}/symbol-sources/"


def _needed_scope(method: str) -> str:
    """The narrowest token scope that allows ``method`` on the symbol-sources endpoint."""
    order = ("project:read", "project:write", "project:admin")
    allowed = spec.METHOD_SCOPES.get(method, frozenset({"project:admin"}))
    return next(scope for scope in order if scope in allowed)


def _body_id(body: dict[str, Any]) -> str:
    source_id = body.get("id")
    if not isinstance(source_id, str) or not source_id:
        raise SymsyncError("a source sent to Sentry must carry its own non-empty `id`")
    return source_id


def _plaintext_secrets(body: dict[str, Any]) -> bool:
    return any(
        key in spec.ALL_SECRET_FIELDS and not spec.is_hidden_secret(value)
        for key, value in body.items()
    )


def _same_source(remote: dict[str, Any], body: dict[str, Any]) -> bool:
    """Whether Sentry's (redacted) ``remote`` is what ``body`` stores: equal except that every
    secret field present in the body shows as the placeholder (reference section 3)."""
    expected = {
        key: spec.hidden_secret() if key in spec.ALL_SECRET_FIELDS else value
        for key, value in body.items()
    }
    return remote == expected


def _retry_after_seconds(value: str, now: float) -> float:
    """``Retry-After`` as seconds from now: delay-seconds or an HTTP date; 0 if unreadable."""
    try:
        return float(value)
    except ValueError:
        pass
    try:
        return parsedate_to_datetime(value).timestamp() - now
    except (TypeError, ValueError, IndexError):
        return 0.0


def _error_id(response: requests.Response) -> str:
    """The ``errorId`` of Sentry's 500 body, when it is a plain token."""
    parsed = _json_or_none(response)
    value = parsed.get("errorId") if isinstance(parsed, dict) else None
    if isinstance(value, str) and re.fullmatch(r"[A-Za-z0-9-]{1,64}", value):
        return value
    return ""


def _says_missing_id(response: requests.Response) -> bool:
    parsed = _json_or_none(response)
    return isinstance(parsed, dict) and parsed.get("error") == "Missing source id"


def _json_or_none(response: requests.Response) -> Any:
    if not response.content:
        return None
    try:
        return response.json()
    except ValueError:
        return None


def _next_cursor(response: requests.Response) -> str | None:
    """The cursor of Sentry's ``Link: <...>; rel="next"; results="true"; cursor="..."``."""
    link = response.links.get("next")
    if not link or link.get("results", "true").lower() != "true":
        return None
    cursor = link.get("cursor")
    if cursor:
        return cursor
    # No cursor attribute: take it from the URL's query string.
    from urllib.parse import parse_qs

    values = parse_qs(urlsplit(link.get("url", "")).query).get("cursor")
    return values[0] if values else None


@dataclass(frozen=True)
class _Failure:
    reason: str
    reached_server: bool  # the request may have been received (a write may have happened)
    retryable: bool = True


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


def _describe_failure(exc: requests.RequestException, timeout: float) -> _Failure:
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return _Failure("timed out while connecting", reached_server=False)
    if isinstance(exc, requests.exceptions.ReadTimeout):
        return _Failure(f"no answer within {timeout:g} s", reached_server=True)
    if isinstance(exc, requests.exceptions.SSLError):
        return _Failure("TLS handshake failed", reached_server=False, retryable=False)
    if isinstance(exc, requests.exceptions.InvalidURL | requests.exceptions.InvalidHeader):
        return _Failure("invalid request", reached_server=False, retryable=False)
    for cause in _causes(exc):
        if isinstance(cause, ConnectionRefusedError):
            return _Failure("connection refused", reached_server=False)
        if isinstance(cause, socket.gaierror) or type(cause).__name__ == "NameResolutionError":
            return _Failure("the host name could not be resolved", reached_server=False)
        if isinstance(cause, ConnectionResetError | BrokenPipeError):
            return _Failure("connection reset", reached_server=True)
        if isinstance(cause, http.client.RemoteDisconnected):
            return _Failure("connection closed without an answer", reached_server=True)
        if isinstance(cause, http.client.IncompleteRead):
            return _Failure("the answer was cut off", reached_server=True)
    if isinstance(exc, requests.exceptions.ChunkedEncodingError):
        return _Failure("the answer was cut off", reached_server=True)
    if isinstance(exc, requests.exceptions.ConnectionError):
        return _Failure("connection failed", reached_server=True)
    return _Failure(type(exc).__name__, reached_server=True)
