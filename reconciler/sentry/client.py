"""The one way symsync talks to Sentry: :class:`SentryClient`, the symbol-sources API.

The client speaks Sentry's API (paths, methods, the shapes of answers) and settles writes whose
outcome is uncertain; :mod:`reconciler.sentry.transport` sends the requests (session, pacing,
retries, deadlines) and :mod:`reconciler.sentry.errors` words the failures.

Settling uncertain writes: Sentry's symbol-sources writes are not idempotent, and a POST whose
first attempt may have reached Sentry (a 5xx, a dropped connection) can answer "duplicate id" on
its retry; symsync always sends its own ``id``, so the client then reads that id back and reports
success when the source holds what was sent, instead of reporting a failure or writing twice.
The same goes for a PUT that hid a committed write and a DELETE whose retry finds the source
already gone.

The client only uses request patterns that behave the same in Sentry's two endpoint generations
(the older endpoint, which validates the whole list at once, and its rewrite with one serializer
per source type) and branches on status codes, not on bodies, whose wording differs between
them.

An :class:`AccountWideError` (a bad token, a URL that is not Sentry's API, a server that stopped
answering) trips the transport's breaker: every later call fails at once with the same error.
"""

from __future__ import annotations

import logging
import os
import random
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Concatenate, Final, ParamSpec, TypeVar
from urllib.parse import parse_qs, quote, urlsplit

from reconciler.core.errors import SymsyncError
from reconciler.core.redact import redact_text
from reconciler.sentry import spec
from reconciler.sentry.connection import USER_AGENT, Secret
from reconciler.sentry.errors import (
    ORG_AUTH_TOKEN_PREFIX,
    TOKEN_VARIABLE,
    TOKENS_VARIABLE,
    URL_VARIABLE,
    AccountWideError,
    ErrorWording,
    OrganizationError,
    SentryAPIError,
    Target,
    body_text,
    has_endpoint_envelope,
)
from reconciler.sentry.regions import normal_url, region_refusal, shown_url
from reconciler.sentry.settings import DEFAULT_RETRY_BUDGET, DEFAULT_TIMEOUT, ConnectionSettings
from reconciler.sentry.tokens import TOKEN_RE, Tokens, read_tokens
from reconciler.sentry.transport import (
    DEFAULT_MAX_RETRIES,
    LOGGER_NAME,
    Answer,
    NoAnswer,
    Route,
    Settle,
    Transport,
    TransportStats,
    WriteLanded,
)

__all__ = [
    "DEFAULT_RETRY_BUDGET",
    "DEFAULT_TIMEOUT",
    "DEFAULT_URL",
    "TOKEN_VARIABLE",
    "URL_VARIABLE",
    "USER_AGENT",
    "AccountWideError",
    "OrganizationError",
    "SentryAPIError",
    "SentryClient",
]

log = logging.getLogger(LOGGER_NAME)

P = ParamSpec("P")
R = TypeVar("R")


def _stops_all_on_account_wide(
    method: Callable[Concatenate[SentryClient, P], R],
) -> Callable[Concatenate[SentryClient, P], R]:
    """An account-wide error leaving an API method trips the breaker: every later request
    fails at once with it. (Inside the method, an uncertain write is still read back first.)"""

    def wrapper(client: SentryClient, /, *args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return method(client, *args, **kwargs)
        except AccountWideError as exc:
            org = args[0] if args and isinstance(args[0], str) else None
            if org is not None and client.tokens.has_own(org) and client.stopped_by is None:
                # The organization's own token, or its own region: about it alone. (Once the
                # run is stopped, the error that stopped it is every request's.)
                raise client._stop_org(org, exc) from None
            client._transport.trip(exc)
            raise

    wrapper.__name__ = method.__name__
    wrapper.__qualname__ = method.__qualname__
    wrapper.__doc__ = method.__doc__
    return wrapper


DEFAULT_URL: Final = "https://sentry.io"
MAX_PAGES: Final = 10_000
# The project details' field that holds its built-in repositories.
BUILTIN_FIELD: Final = "builtinSymbolSources"


@dataclass(frozen=True)
class _Served:
    """How one organization is served: its route, or the error every request to it raises."""

    route: Route | None
    error: OrganizationError | None = None


class SentryClient:
    """A thread-safe client for Sentry's project symbol-sources API.

    One transport (one ``requests.Session``, one pacer) is shared by every thread; the session
    keeps no cookies, so no state is shared between requests beyond the pooled connections.
    """

    def __init__(
        self,
        base_url: str,
        token: str | None,
        *,
        own_tokens: Mapping[str, str] | None = None,
        region_discovery: bool = False,
        timeout: float = DEFAULT_TIMEOUT,
        retry_budget: float = DEFAULT_RETRY_BUDGET,
        max_retries: int = DEFAULT_MAX_RETRIES,
        backoff: float = 0.5,
        pool_size: int = 64,  # as many as `--parallelism` allows: none is opened twice
        max_wait: float = 60.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self.base_url = _check_base_url(base_url)
        self.host = urlsplit(self.base_url).netloc
        self.tokens = Tokens(token or None, dict(own_tokens or {}))
        if not token and not self.tokens.by_org:
            raise SymsyncError(f"{TOKEN_VARIABLE} is not set: give it a Sentry auth token")
        for value in (token or "", *self.tokens.by_org.values()):
            if value and not TOKEN_RE.fullmatch(value):
                # It goes into a header: a line break or a non-ASCII letter would fail deep in
                # http.client, with the token in the exception's text.
                variable = TOKEN_VARIABLE if value == token else TOKENS_VARIABLE
                raise SymsyncError(
                    f"{variable} holds characters no Sentry auth token has (spaces, line "
                    "breaks, control or non-ASCII characters): copy the token again"
                )
        self.region_discovery = region_discovery
        self.timeout = timeout
        self.retry_budget = retry_budget
        self._served: dict[str, _Served] = {}
        self._org_locks: dict[str, threading.Lock] = {}
        self._served_lock = threading.Lock()
        self._secrets: dict[str, Secret] = {}
        self._transport = Transport(
            self.base_url,
            token or "",
            timeout=timeout,
            retry_budget=retry_budget,
            max_retries=max_retries,
            backoff=backoff,
            max_wait=max_wait,
            pool_size=pool_size,
            sleep=sleep,
            clock=clock,
            monotonic=monotonic,
            jitter=jitter,
        )
        self._wording = ErrorWording(
            self.base_url, org_auth_token=(token or "").startswith(ORG_AUTH_TOKEN_PREFIX)
        )
        self._wordings: dict[tuple[str, bool], ErrorWording] = {}

    @classmethod
    def from_env(cls, settings: ConnectionSettings | None = None, **kwargs: Any) -> SentryClient:
        """A client configured like every command: the URL from ``settings`` (``--url``), else
        ``SENTRY_URL``, else sentry.io; the tokens from ``SENTRY_AUTH_TOKEN`` and
        ``SENTRY_AUTH_TOKENS`` (a malformed one stops here, before any request); the timeout,
        retry budget and region discovery from ``settings``. ``kwargs`` are the constructor's
        test knobs."""
        settings = settings or ConnectionSettings()
        tokens = read_tokens(os.environ)
        base = settings.url or os.environ.get(URL_VARIABLE, "").strip() or DEFAULT_URL
        kwargs = {
            "timeout": settings.timeout,
            "retry_budget": settings.retry_budget,
            "region_discovery": settings.region_discovery,
            **kwargs,
        }
        return cls(base, tokens.default, own_tokens=tokens.by_org, **kwargs)

    def __repr__(self) -> str:
        return f"SentryClient(base_url={self.base_url!r})"

    @property
    def stats(self) -> TransportStats:
        """Requests sent, 429s seen and seconds waited for Sentry's limits, so far."""
        return self._transport.stats

    @property
    def stopped_by(self) -> AccountWideError | None:
        """The account-wide error that stopped this client's requests, if any."""
        tripped = self._transport.tripped
        return tripped if isinstance(tripped, AccountWideError) else None

    # ------------------------------------------------------------- organizations and regions

    @_stops_all_on_account_wide
    def organization_url(self, org: str) -> str | None:
        """The URL that serves ``org``'s requests (its region is looked up first, once per run,
        when discovery is on); ``None`` when ``org`` cannot be served (no token, a refused
        region: its requests fail with why)."""
        try:
            return self._route(org).base_url
        except OrganizationError:
            return None

    def served_by(self, org: str) -> str | None:
        """The URL that served ``org``'s requests so far, without looking anything up."""
        served = self._served.get(org)
        return served.route.base_url if served is not None and served.route else None

    def _route(self, org: str) -> Route:
        """Where ``org``'s requests go, and with which token; decided once per run, before its
        first request. Raises the organization's error when it cannot be served."""
        served = self._served.get(org)
        if served is None:
            with self._served_lock:
                lock = self._org_locks.setdefault(org, threading.Lock())
            with lock:
                served = self._served.get(org)
                if served is None:
                    served = self._serve(org)
                    with self._served_lock:
                        self._served.setdefault(org, served)
                        served = self._served[org]
        if served.error is not None:
            raise served.error.again()
        assert served.route is not None
        return served.route

    def _stop_org(self, org: str, error: SentryAPIError) -> OrganizationError:
        """From now on every request to ``org`` fails at once with ``error`` (as its own)."""
        stopped = (
            error
            if isinstance(error, OrganizationError)
            else OrganizationError.about(org, error, f"with its token from {TOKENS_VARIABLE}: ")
        )
        with self._served_lock:
            self._served[org] = _Served(None, stopped)
        return stopped

    def _secret(self, token: str) -> Secret:
        with self._served_lock:
            return self._secrets.setdefault(token, Secret(token))

    def _serve(self, org: str) -> _Served:
        token = self.tokens.for_org(org)
        if token is None:
            error = OrganizationError(
                f"organization `{org}` has no token: give it one in {TOKENS_VARIABLE} (a JSON "
                f"object of organization slugs to tokens), or set {TOKEN_VARIABLE} for every "
                "organization without one",
                organization=org,
                status=None,
                method="GET",
                path="",
            )
            return _Served(None, error)
        control = Route(self.base_url, self._secret(token))
        if not self.region_discovery:
            log.debug("%s: served by %s (region discovery is off)", org, self.base_url)
            return _Served(control)
        try:
            return self._discover(org, control)
        except OrganizationError as exc:
            return _Served(None, exc)
        except SentryAPIError as exc:
            if isinstance(exc, AccountWideError) and not self.tokens.has_own(org):
                raise
            return _Served(None, OrganizationError.about(org, exc, "looking up its region: "))

    def _discover(self, org: str, control: Route) -> _Served:
        """``GET /api/0/organizations/{org}/`` at the configured URL, and the route its
        ``links.regionUrl`` gives (the configured URL when it names none)."""
        path = f"/api/0/organizations/{_segment(org)}/"
        target = Target(org)
        try:
            answer = self._transport.send("GET", path, pace_key=org, route=control)
        except NoAnswer as exc:
            raise self._wording.no_answer(exc) from None
        if answer.status == 403:
            # The token may not read the organization (no org:read): its region is unknown.
            log.warning(
                "warning: %s: the token may not read the organization's details (%s needs "
                "org:read), so its region is unknown: its requests go to %s",
                org,
                path,
                self.base_url,
            )
            return _Served(control)
        if answer.status != 200:
            raise self._error(answer, target)
        data = self._json(answer, "an organization")
        if not isinstance(data, dict):
            raise self._unexpected(answer, "an organization")
        links = data.get("links")
        region = links.get("regionUrl") if isinstance(links, dict) else None
        if not isinstance(region, str) or not region.strip():
            log.debug("%s: served by %s (its details name no region)", org, self.base_url)
            return _Served(control)
        refusal = region_refusal(self.base_url, region)
        if refusal is not None:
            return _Served(None, self._refused_region(org, region, refusal, answer))
        normal = normal_url(region)
        assert normal is not None
        log.debug(
            "%s: served by %s (links.regionUrl of GET %s%s)", org, normal, self.base_url, path
        )
        if normal == self.base_url:
            return _Served(control)
        return _Served(Route(normal, control.token))

    def _refused_region(
        self, org: str, region: str, refusal: str, answer: Answer
    ) -> OrganizationError:
        return OrganizationError(
            redact_text(
                f"organization `{org}`: its details name the region URL {shown_url(region)}, "
                f"which symsync does not follow: {refusal} ({self.base_url}); no request or "
                "token was sent there. If it is the same Sentry under another name, set "
                f"{URL_VARIABLE} or --url to it; --no-region-discovery sends every request "
                f"to the configured URL (GET {answer.path}: {answer.status})",
                answer.secrets,
            ),
            organization=org,
            status=answer.status,
            method=answer.method,
            path=answer.path,
        )

    def stop_retrying_on(self, stop: threading.Event) -> None:
        """Once ``stop`` is set (an interrupted apply), no request is retried and a wait before
        a retry ends at once; an uncertain write is still settled, with one read."""
        self._transport.stop = stop

    def close(self) -> None:
        self._transport.close()

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

    @_stops_all_on_account_wide
    def list_sources(self, org: str, project: str) -> list[dict[str, Any]]:
        """Every source of the project, in Sentry's order, secrets as the placeholder."""
        target = Target(org, project)
        answer = self._send("GET", _sources_path(org, project), target=target)
        if answer.status != 200:
            raise self._error(answer, target)
        data = self._json(answer, "a list of sources")
        if not isinstance(data, list) or not all(isinstance(s, dict) for s in data):
            raise self._unexpected(answer, "a list of sources")
        return data

    @_stops_all_on_account_wide
    def get_source(self, org: str, project: str, source_id: str) -> dict[str, Any] | None:
        """The source with this id, or ``None`` when the project has no such source."""
        target = Target(org, project, source_id)
        answer = self._send(
            "GET", _sources_path(org, project), query={"id": source_id}, target=target
        )
        if answer.status == 200:
            data = self._json(answer, "a source")
            # Sentry answers a one-element list; take a bare object too. A server (or a proxy)
            # that ignored `?id=` answers the whole list: pick the source by its id.
            if isinstance(data, dict):
                data = [data]
            if not isinstance(data, list) or not all(isinstance(s, dict) for s in data):
                raise self._unexpected(answer, "a source")
            return next((s for s in data if s.get("id") == source_id), None)
        if answer.status == 404:
            # Both an unknown source and an unknown project answer 404. Sentry's endpoint says
            # the former in its own `{"error": ...}` envelope; anything else is settled by
            # reading the list, which fails with a clear message for an unknown project.
            if has_endpoint_envelope(answer):
                return None
            return next(
                (s for s in self.list_sources(org, project) if s.get("id") == source_id), None
            )
        raise self._error(answer, target)

    @_stops_all_on_account_wide
    def create_source(self, org: str, project: str, body: dict[str, Any]) -> dict[str, Any]:
        """POST a new source (``body`` carries its own ``id``); the stored source, redacted."""
        source_id = _body_id(body)
        target = Target(org, project, source_id)
        try:
            answer = self._send(
                "POST",
                _sources_path(org, project),
                body=body,
                target=target,
                settle=lambda: self._confirm_written(org, project, body),
            )
        except WriteLanded as landed:
            return dict(landed.found)
        except SentryAPIError as exc:
            if exc.uncertain and (found := self._confirm_written(org, project, body)) is not None:
                return found
            raise
        status = answer.status
        if status in (200, 201):
            return self._source_from(answer)
        if answer.uncertain and (status == 400 or status >= 500):
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
                    path=answer.path,
                    body=body_text(answer),
                    attempts=answer.attempts,
                    uncertain=True,
                )
        raise self._error(answer, target)

    @_stops_all_on_account_wide
    def update_source(
        self, org: str, project: str, source_id: str, body: dict[str, Any]
    ) -> dict[str, Any]:
        """PUT the complete source ``body`` in place of ``source_id``; the stored source."""
        if body.get("id") != source_id:
            # Sentry would rename the source (to a random UUID when the id is missing), which
            # loses the identity symsync keys sources by: this is a bug in the caller.
            raise SymsyncError(
                f"an update of source `{source_id}` must carry the same `id` in its body"
            )
        target = Target(org, project, source_id)
        path = _sources_path(org, project)
        # Re-sending an identical PUT is idempotent (the body keeps the id, and placeholders are
        # backfilled from what the committed write stored), so retries need no special care. A
        # final failure after an uncertain attempt is confirmed by reading the source back, when
        # the body holds no plaintext secret (whose new value could not be seen).
        verifiable = not _plaintext_secrets(body)
        try:
            answer = self._send(
                "PUT",
                path,
                query={"id": source_id},
                body=body,
                target=target,
                # A new secret's value cannot be seen: such a PUT is sent again (it is
                # idempotent) rather than settled by a read.
                settle=(lambda: self._confirm_written(org, project, body)) if verifiable else None,
            )
        except WriteLanded as landed:
            return dict(landed.found)
        except SentryAPIError as exc:
            if (
                exc.uncertain
                and verifiable
                and (found := self._confirm_written(org, project, body)) is not None
            ):
                return found
            raise
        if answer.status == 200:
            return self._source_from(answer)
        if answer.uncertain and verifiable:
            found = self._confirm_written(org, project, body)
            if found is not None:
                return found
        raise self._error(answer, target)

    @_stops_all_on_account_wide
    def delete_source(self, org: str, project: str, source_id: str) -> None:
        """DELETE the source. A retry that finds it gone after an uncertain attempt succeeds."""
        target = Target(org, project, source_id)
        try:
            answer = self._send(
                "DELETE",
                _sources_path(org, project),
                query={"id": source_id},
                target=target,
                settle=lambda: self._confirmed_gone(org, project, source_id) or None,
            )
        except WriteLanded:
            return
        except SentryAPIError as exc:
            if exc.uncertain and self._confirmed_gone(org, project, source_id):
                return
            raise
        status = answer.status
        if status in (200, 202, 204):
            return
        if (
            answer.uncertain
            and (status == 404 or status >= 500)
            and self._confirmed_gone(org, project, source_id)
        ):
            return
        raise self._error(answer, target)

    @_stops_all_on_account_wide
    def builtin_sources(self, org: str, project: str) -> list[str]:
        """The project's built-in repositories (``builtinSymbolSources`` of its details)."""
        target = Target(org, project)
        answer = self._send("GET", _project_path(org, project), target=target)
        if answer.status != 200:
            raise self._error(answer, target)
        return self._builtin_keys(answer)

    @_stops_all_on_account_wide
    def set_builtin_sources(self, org: str, project: str, keys: list[str]) -> list[str]:
        """PUT ``{"builtinSymbolSources": keys}`` alone (a partial update of the project); the
        list Sentry stored. Sending the same list again is harmless, so retries need no care."""
        target = Target(org, project)
        answer = self._send(
            "PUT", _project_path(org, project), body={BUILTIN_FIELD: list(keys)}, target=target
        )
        if answer.status != 200:
            raise self._error(answer, target)
        return self._builtin_keys(answer)

    @_stops_all_on_account_wide
    def organization_builtin_keys(self, org: str) -> list[str]:
        """The keys of the built-in repositories the organization may use."""
        target = Target(org)
        path = f"/api/0/organizations/{_segment(org)}/builtin-symbol-sources/"
        answer = self._send("GET", path, target=target)
        if answer.status != 200:
            raise self._error(answer, target)
        data = self._json(answer, "a list of built-in repositories")
        if not isinstance(data, list) or not all(
            isinstance(item, dict) and isinstance(item.get("sentry_key"), str) for item in data
        ):
            raise self._unexpected(answer, "a list of built-in repositories")
        return [item["sentry_key"] for item in data]

    def _builtin_keys(self, answer: Answer) -> list[str]:
        data = self._json(answer, "the project's details")
        keys = data.get(BUILTIN_FIELD) if isinstance(data, dict) else None
        if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
            raise self._unexpected(answer, f"the project's details with `{BUILTIN_FIELD}`")
        return keys

    @_stops_all_on_account_wide
    def list_projects(self, org: str) -> list[dict[str, Any]]:
        """Every project of the organization, following Sentry's cursor pagination."""
        target = Target(org)
        path = f"/api/0/organizations/{_segment(org)}/projects/"
        projects: list[dict[str, Any]] = []
        cursor: str | None = None
        seen: set[str] = set()
        for _ in range(MAX_PAGES):
            query = {"cursor": cursor} if cursor else None
            answer = self._send("GET", path, query=query, target=target)
            if answer.status != 200:
                raise self._error(answer, target)
            page = self._json(answer, "a list of projects")
            if not isinstance(page, list) or not all(isinstance(p, dict) for p in page):
                raise self._unexpected(answer, "a list of projects")
            projects.extend(page)
            cursor = _next_cursor(answer)
            if cursor is None or cursor in seen:
                return projects
            seen.add(cursor)
        raise SentryAPIError(
            f"Sentry kept paginating the projects of `{org}` past {MAX_PAGES} pages",
            status=200,
            method="GET",
            path=path,
        )

    # ---------------------------------------------------------------------------- requests

    def _send(
        self,
        method: str,
        path: str,
        *,
        target: Target,
        query: dict[str, str] | None = None,
        body: dict[str, Any] | None = None,
        settle: Settle | None = None,
    ) -> Answer:
        """The last answer of the request (after retries); raises when none came, and
        ``WriteLanded`` when ``settle`` found the write in Sentry after an uncertain attempt."""
        route = self._route(target.org)
        try:
            return self._transport.send(
                method,
                path,
                pace_key=target.org,
                query=query,
                body=body,
                settle=settle,
                route=route,
            )
        except NoAnswer as exc:
            raise self._wording_for(target.org).no_answer(exc) from None

    def _wording_for(self, org: str) -> ErrorWording:
        """The wording of ``org``'s errors: they name the URL that serves it, and its token's
        kind."""
        served = self._served.get(org)
        base = served.route.base_url if served is not None and served.route else self.base_url
        token = self.tokens.for_org(org) or ""
        key = (base, token.startswith(ORG_AUTH_TOKEN_PREFIX))
        with self._served_lock:
            wording = self._wordings.get(key)
            if wording is None:
                wording = self._wordings[key] = ErrorWording(base, org_auth_token=key[1])
            return wording

    def _error(self, answer: Answer, target: Target) -> SentryAPIError:
        wording = self._wording_for(target.org)
        if answer.status == 429 and answer.nothing_granted:
            return wording.rate_limited_everywhere(answer)
        return wording.error(answer, target)

    def _unexpected(self, answer: Answer, expected: str) -> SentryAPIError:
        return self._wording.unexpected(answer, expected)

    def _json(self, answer: Answer, expected: str) -> Any:
        try:
            return answer.json()
        except ValueError:
            raise self._unexpected(answer, expected) from None

    def _source_from(self, answer: Answer) -> dict[str, Any]:
        data = self._json(answer, "a source")
        if isinstance(data, list) and len(data) == 1:
            data = data[0]
        if not isinstance(data, dict):
            raise self._unexpected(answer, "a source")
        return data

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


# ------------------------------------------------------------------------------------ helpers


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
    """One path segment, fully percent-encoded (``/``, ``?``, ``#``, spaces, unicode). A
    segment of dots is encoded too: sent as ``.`` or ``..`` it would be removed from the path
    on the way (URL normalisation), and the request would go to another endpoint."""
    if value and value.strip(".") == "":
        return "%2E" * len(value)
    return quote(value, safe="")


def _sources_path(org: str, project: str) -> str:
    return f"/api/0/projects/{_segment(org)}/{_segment(project)}/symbol-sources/"


def _project_path(org: str, project: str) -> str:
    return f"/api/0/projects/{_segment(org)}/{_segment(project)}/"


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
    secret field present in the body shows as the placeholder (Sentry never returns a secret,
    only ``{"hidden-secret": true}`` in its place)."""
    expected = {
        key: spec.hidden_secret() if key in spec.ALL_SECRET_FIELDS else value
        for key, value in body.items()
    }
    return remote == expected


def _next_cursor(answer: Answer) -> str | None:
    """The cursor of Sentry's ``Link: <...>; rel="next"; results="true"; cursor="..."``."""
    link = answer.links.get("next")
    if not link or link.get("results", "true").lower() != "true":
        return None
    cursor = link.get("cursor")
    if cursor:
        return cursor
    # No cursor attribute: take it from the URL's query string.
    values = parse_qs(urlsplit(link.get("url", "")).query).get("cursor")
    return values[0] if values else None
