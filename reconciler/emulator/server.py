"""The HTTP server: routing, auth, rate limits, faults, latency, logging, control endpoints.

A request to the API goes through the same steps as in Sentry, in the same order:

1. The rate-limit middleware (``--rate-limit``, ``--concurrent-limit``) answers 429 before the
   view runs; its ``X-Sentry-Rate-Limit-*`` headers go on every API answer.
2. Authentication (DRF ``initial()``): a bad ``Authorization`` header or an unknown token is
   401, no credentials is 401 too.
3. Permission ``has_permission``: the token's scopes against the method.
   This runs BEFORE the project is looked up, so a token without the scope gets 403 even for a
   project that does not exist; only a caller with the scope learns that it is missing (404).
   (Sentry's ``ScopedPermission.has_permission`` checks scopes; ``ProjectEndpoint.convert_args``
   looks the project up afterwards, then ``has_object_permission`` checks access to it.)
4. ``convert_args``: unknown organization or project is 404; an old slug of a renamed project
   is 302 to the new one.
5. The handler of the chosen generation (``reconciler.emulator.sources``).

Faults (``--fault-rate``) are drawn in arrival order from one seeded generator, so the same seed
and the same sequence of API requests give the same faults.
"""

from __future__ import annotations

import base64
import codecs
import contextlib
import email.message
import email.parser
import email.policy
import functools
import json
import math
import random
import re
import socket
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import IO, Any, Final
from urllib.parse import parse_qs, parse_qsl, unquote, urlencode, urlsplit

from reconciler.emulator import project_details
from reconciler.emulator import sources as sources_endpoint
from reconciler.emulator.access import ORG_TOKEN_PREFIX, Credential, credentials
from reconciler.emulator.persistence import NotDurable
from reconciler.emulator.responses import (
    DOES_NOT_EXIST,
    INVALID_TOKEN,
    NO_PERMISSION,
    NOT_AUTHENTICATED,
    FormData,
    ParseError,
    Reply,
    detail,
    internal_error,
    not_durable,
)
from reconciler.emulator.state import EmulatorState, Organization, Project
from reconciler.sentry import spec

DEFAULT_TOKEN: Final = "symsync-emulator"
# A token given without scopes, and the default token, carry ``project:admin`` (every method on
# symbol sources) and ``org:read``, which Sentry requires to list an organization's projects.
DEFAULT_SCOPES: Final[frozenset[str]] = frozenset({"project:admin", "org:read"})

# Scopes of Sentry's ``OrganizationPermission`` (the organization's project list).
ORG_METHOD_SCOPES: Final[dict[str, frozenset[str]]] = {
    "GET": frozenset({"org:read", "org:write", "org:admin"}),
    "POST": frozenset({"org:write", "org:admin"}),
    "PUT": frozenset({"org:write", "org:admin"}),
    "DELETE": frozenset({"org:admin"}),
}

# Fault kinds (``--fault-rate``).
FAULT_500_BEFORE: Final = "500-before-write"
FAULT_502: Final = "502"
FAULT_503: Final = "503"
FAULT_DROP: Final = "dropped-connection"
FAULT_500_AFTER: Final = "500-after-write"
FAULT_KINDS: Final[tuple[str, ...]] = (
    FAULT_500_BEFORE,
    FAULT_502,
    FAULT_503,
    FAULT_DROP,
    FAULT_500_AFTER,
)

RATE_LIMIT_MESSAGE: Final = (
    "You are attempting to use this endpoint too frequently. Limit is {limit} requests in "
    "{window} seconds"
)
CONCURRENT_LIMIT_MESSAGE: Final = (
    "You are attempting to go above the allowed concurrency for this endpoint. "
    "Concurrency limit is {limit}"
)
# Sentry's rate-limit middleware builds its 429 with a plain HttpResponse: the body is JSON but
# the Content-Type is Django's default (read from Sentry's code; not confirmed on a live server).
RATE_LIMIT_CONTENT_TYPE: Final = "text/html; charset=utf-8"
# DRF's 401 carries the first authenticator's header (not confirmed on a live server).
WWW_AUTHENTICATE_401: Final = 'xBasic realm="api"'

API_PREFIX: Final = "/api/0/"
SYMBOL_SOURCES_RE: Final = re.compile(r"^/api/0/projects/([^/]+)/([^/]+)/symbol-sources/$")
ORG_PROJECTS_RE: Final = re.compile(r"^/api/0/organizations/([^/]+)/projects/$")
PROJECT_DETAILS_RE: Final = re.compile(r"^/api/0/projects/([^/]+)/([^/]+)/$")
ORG_BUILTINS_RE: Final = re.compile(r"^/api/0/organizations/([^/]+)/builtin-symbol-sources/$")
# Sentry's project details take a PUT from a `project:read` token too; what it may change is
# checked field by field (``reconciler.emulator.project_details``).
PROJECT_DETAILS_SCOPES: Final[dict[str, frozenset[str]]] = {
    "GET": spec.METHOD_SCOPES["GET"],
    "PUT": spec.METHOD_SCOPES["GET"],
    "DELETE": spec.METHOD_SCOPES["DELETE"],
}
ORG_DETAILS_RE: Final = re.compile(r"^/api/0/organizations/([^/]+)/$")

MAX_PER_PAGE: Final = 100
READ_PIECE: Final = 1 << 20  # request bodies are read a MiB at a time


@dataclass(frozen=True)
class RateLimit:
    limit: int
    window: float

    def describe_window(self) -> str:
        return str(int(self.window)) if self.window == int(self.window) else str(self.window)


@dataclass(frozen=True)
class Settings:
    """Everything ``symsync emulator`` can be told on its command line."""

    host: str = "127.0.0.1"
    port: int = 0
    tokens: Mapping[str, frozenset[str]] = field(
        default_factory=lambda: {DEFAULT_TOKEN: DEFAULT_SCOPES}
    )
    # Roles of ``tokens`` (``member``, ``admin``, ``manager``, ``owner``; absent: owner).
    roles: Mapping[str, str] = field(default_factory=dict)
    # Internal integrations' tokens: each bound to its organization, with its scopes.
    org_tokens: Mapping[str, tuple[str, frozenset[str]]] = field(default_factory=dict)
    latency_ms: float = 0.0
    rate_limit: RateLimit | None = None
    concurrent_limit: int | None = None
    fault_rate: float = 0.0
    fault_seed: int | None = None
    generation: str = "a"
    # ``--region-url``: the ``links.regionUrl`` the organization details advertise, for every
    # organization (key ``None``) or for one; by default the scheme and host the request was
    # addressed to (its ``Host`` header), so a proxy in front of the emulator stays in the path.
    region_urls: Mapping[str | None, str] = field(default_factory=dict)


class _Drop:
    """Answer nothing and close the connection."""


DROP: Final = _Drop()


class _Limiter:
    """Sentry's fixed-window rate limiter and concurrency limiter, per key (who holds the token,
    and the HTTP method). ``clock`` gives the time in epoch seconds (default ``time.time``)."""

    def __init__(
        self,
        rate: RateLimit | None,
        concurrent: int | None,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self.rate = rate
        self.concurrent = concurrent
        self._clock = clock
        self._lock = threading.Lock()
        self._windows: dict[str, tuple[int, int]] = {}
        self._in_flight: dict[str, int] = {}

    def enter(self, key: str, method: str) -> tuple[dict[str, str], Reply | None]:
        headers: dict[str, str] = {}
        limited: Reply | None = None
        now = self._clock() if self._clock is not None else time.time()
        with self._lock:
            if self.rate is not None:
                bucket = int(now // self.rate.window)
                start, count = self._windows.get(key, (bucket, 0))
                count = count + 1 if start == bucket else 1
                self._windows[key] = (bucket, count)
                reset = math.ceil((bucket + 1) * self.rate.window)
                headers["X-Sentry-Rate-Limit-Limit"] = str(self.rate.limit)
                headers["X-Sentry-Rate-Limit-Remaining"] = str(max(self.rate.limit - count, 0))
                headers["X-Sentry-Rate-Limit-Reset"] = str(reset)
                if count > self.rate.limit:
                    message = RATE_LIMIT_MESSAGE.format(
                        limit=self.rate.limit, window=self.rate.describe_window()
                    )
                    limited = _too_many(message, method)
            in_flight = self._in_flight.get(key, 0) + 1
            self._in_flight[key] = in_flight
            if self.concurrent is not None:
                headers["X-Sentry-Rate-Limit-ConcurrentLimit"] = str(self.concurrent)
                headers["X-Sentry-Rate-Limit-ConcurrentRemaining"] = str(
                    max(self.concurrent - in_flight, 0)
                )
                if limited is None and in_flight > self.concurrent:
                    limited = _too_many(
                        CONCURRENT_LIMIT_MESSAGE.format(limit=self.concurrent), method
                    )
        return headers, limited

    def leave(self, key: str) -> None:
        with self._lock:
            remaining = self._in_flight.get(key, 1) - 1
            if remaining:
                self._in_flight[key] = remaining
            else:
                self._in_flight.pop(key, None)


# The middleware passes its 429 through ``apply_cors_headers`` with the request's method.
CORS_ALLOW_HEADERS: Final = (
    "X-Sentry-Auth, X-Requested-With, Origin, Accept, Content-Type, Authentication, "
    "Authorization, Content-Encoding, sentry-trace, baggage"
)
CORS_EXPOSE_HEADERS: Final = (
    "X-Sentry-Error, X-Sentry-Direct-Hit, X-Hits, X-Max-Hits, Endpoint, Retry-After, Link"
)


def _too_many(message: str, method: str) -> Reply:
    headers = {
        "Allow": method,
        "Access-Control-Allow-Methods": method,
        "Access-Control-Allow-Headers": CORS_ALLOW_HEADERS,
        "Access-Control-Expose-Headers": CORS_EXPOSE_HEADERS,
        "Access-Control-Allow-Origin": "*",
    }
    return Reply(429, {"detail": message}, headers, content_type=RATE_LIMIT_CONTENT_TYPE)


def _basic_auth_failure(parts: list[str]) -> str | None:
    """DRF's ``BasicAuthentication`` under Sentry's ``ApiKeyAuthentication``: the header must
    decode to ``user:password``; a user with a password is no credential at all (``None``), a
    bare ``KEY:`` is looked up as a legacy API key, and this instance has none."""
    if len(parts) == 1:
        return "Invalid basic header. No credentials provided."
    if len(parts) > 2:
        return "Invalid basic header. Credentials string should not contain spaces."
    try:
        raw = base64.b64decode(parts[1])
        try:
            decoded = raw.decode("utf-8")
        except UnicodeDecodeError:
            decoded = raw.decode("latin-1")
        _user, password = decoded.split(":", 1)
    except ValueError:  # binascii.Error and a missing colon are ValueErrors
        return "Invalid basic header. Credentials not correctly base64 encoded."
    return None if password else "API key is not valid"


def _unauthorized(message: str) -> Reply:
    return detail(401, message, **{"WWW-Authenticate": WWW_AUTHENTICATE_401})


def _forbidden(allowed: frozenset[str]) -> Reply:
    # Newer Sentry raises InsufficientScope for a token without the scope; one reading of its
    # code says it adds this header (not confirmed on a live server).
    challenge = f'Bearer error="insufficient_scope", scope="{" ".join(sorted(allowed))}"'
    return detail(403, NO_PERMISSION, **{"WWW-Authenticate": challenge})


FORM_MEDIA_TYPE: Final = "application/x-www-form-urlencoded"
MULTIPART_MEDIA_TYPE: Final = "multipart/form-data"


def parse_json_body(body: bytes, content_type: str | None) -> Any:
    """DRF's request parsing with Sentry's parsers (JSON, multipart, form).

    An empty body is ``{}`` (an empty immutable ``QueryDict`` for a form media type); a form or
    multipart body gives a ``FormData``; any other media type is DRF's 415. ``ParseError`` is
    worded as DRF words it."""
    media_type = (content_type or "").split(";", 1)[0].strip().lower()
    if media_type in (FORM_MEDIA_TYPE, MULTIPART_MEDIA_TYPE):
        if not body:
            return FormData([])
        if media_type == FORM_MEDIA_TYPE:
            text = body.decode(_charset(content_type), errors="replace")
            return FormData(parse_qsl(text, keep_blank_values=True))
        return _parse_multipart(body, content_type or "")
    if not body:
        return {}
    if media_type != "application/json":
        raise _UnsupportedMediaType(content_type or "")

    def reject_constant(name: str) -> Any:
        # DRF's ``strict_constant``: NaN and the infinities are not JSON.
        raise ValueError(f"Out of range float values are not JSON compliant: {name!r}")

    try:
        return json.loads(body.decode("utf-8"), parse_constant=reject_constant)
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise ParseError(f"JSON parse error - {exc}") from None


def _charset(content_type: str | None) -> str:
    message = email.message.Message()
    message["Content-Type"] = content_type or ""
    charset = message.get_content_charset() or "utf-8"
    try:
        codecs.lookup(charset)
    except LookupError:
        return "utf-8"
    return charset


def _parse_multipart(body: bytes, content_type: str) -> FormData:
    """The fields of a ``multipart/form-data`` body (uploaded files are left out)."""
    head = f"Content-Type: {content_type}\r\n\r\n".encode("latin-1", "replace")
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
    boundary = message.get_boundary()
    if not boundary or not message.is_multipart():
        raise ParseError(f"Multipart form parse error - Invalid boundary in multipart: {boundary}")
    pairs: list[tuple[str, Any]] = []
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str) or part.get_filename() is not None:
            continue
        payload = part.get_payload(decode=True)
        raw = payload if isinstance(payload, bytes) else b""
        pairs.append((name, raw.decode(part.get_content_charset() or "utf-8", errors="replace")))
    return FormData(pairs)


class _UnsupportedMediaType(Exception):
    pass


class Emulator:
    """One emulated Sentry instance served over HTTP."""

    def __init__(
        self,
        settings: Settings,
        state: EmulatorState,
        log: IO[str] | None = None,
        *,
        clock: Callable[[], float] | None = None,
    ) -> None:
        """``clock`` gives the rate-limit windows their time (epoch seconds)."""
        if settings.generation not in sources_endpoint.GENERATIONS:
            raise ValueError(f"unknown API generation {settings.generation!r}")
        self.settings = settings
        self.state = state
        self.log = log
        self._log_lock = threading.Lock()
        self._requests: list[dict[str, Any]] = []
        self._requests_lock = threading.Lock()
        self._limiter = _Limiter(settings.rate_limit, settings.concurrent_limit, clock)
        self._credentials = credentials(settings.tokens, settings.roles, settings.org_tokens)
        seed = settings.fault_seed
        self.fault_seed = seed if seed is not None else random.SystemRandom().randrange(2**32)
        self._faults = random.Random(self.fault_seed)
        self._faults_lock = threading.Lock()
        server_class = _Server6 if ":" in settings.host else _Server
        self.server = server_class((settings.host, settings.port), _Handler)
        self.server.emulator = self

    @property
    def host(self) -> str:
        return str(self.server.server_address[0])

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def serve_forever(self) -> None:
        self.server.serve_forever(poll_interval=0.1)

    def shutdown(self) -> None:
        """Stops ``serve_forever`` (from another thread), closes the socket and leaves the
        complete state in the ``--state`` file."""
        self.server.shutdown()
        self.server.server_close()
        self.state.close()

    def request_log(self) -> list[dict[str, Any]]:
        # Entries are never changed once recorded: copy the list under the lock (quick, so
        # requests being recorded meanwhile do not wait), the entries outside it.
        with self._requests_lock:
            entries = list(self._requests)
        return [dict(entry) for entry in entries]

    # -- one API request ----------------------------------------------------------------------

    def _draw_fault(self) -> str | None:
        if self.settings.fault_rate <= 0:
            return None
        with self._faults_lock:
            if self._faults.random() < self.settings.fault_rate:
                return self._faults.choice(FAULT_KINDS)
            return None

    def serve_api(
        self,
        method: str,
        path: str,
        query: str,
        headers: Mapping[str, str],
        body: bytes,
    ) -> tuple[Reply | _Drop, str | None]:
        """Answers one API request; returns the answer and the fault injected, if any.

        ``headers`` has lower-case names."""
        fault = self._draw_fault()
        limit_key = f"{self._holder(headers.get('authorization'))}:{method}"
        limit_headers, limited = self._limiter.enter(limit_key, method)
        try:
            if self.settings.latency_ms > 0:
                time.sleep(self.settings.latency_ms / 1000)
            reply: Reply | _Drop
            if limited is not None:
                reply, fault = limited, None
            elif fault == FAULT_DROP:
                reply = DROP
            elif fault in (FAULT_502, FAULT_503):
                status = int(fault)
                phrase = "Bad Gateway" if status == 502 else "Service Unavailable"
                reply = Reply(
                    status,
                    content_type="text/html; charset=utf-8",
                    raw=f"<html><body><h1>{status} {phrase}</h1></body></html>\n".encode(),
                )
            elif fault == FAULT_500_BEFORE:
                reply = internal_error()
            else:
                reply = self._route_builtins(method, path, query, headers, body) or self._route(
                    method, path, query, headers, body
                )
                if fault == FAULT_500_AFTER:
                    # The write (if any) is committed; the client never hears of it.
                    committed = reply.committed
                    reply = internal_error()
                    reply.committed = committed
        finally:
            self._limiter.leave(limit_key)
        if isinstance(reply, Reply):
            reply.headers.update(limit_headers)
        return reply, fault

    def _route(
        self, method: str, path: str, query: str, headers: Mapping[str, str], body: bytes
    ) -> Reply:
        details_match = ORG_DETAILS_RE.match(path)
        if details_match is not None:
            return self._organization_details(method, unquote(details_match.group(1)), headers)
        return self._route_project(method, path, query, headers, body)

    def _route_project(
        self, method: str, path: str, query: str, headers: Mapping[str, str], body: bytes
    ) -> Reply:
        match = SYMBOL_SOURCES_RE.match(path)
        org_match = ORG_PROJECTS_RE.match(path)
        if match is None and org_match is None:
            if path.startswith(API_PREFIX):
                return _catchall(path, headers.get("content-type"))
            return detail(404, DOES_NOT_EXIST)
        scopes_needed = spec.METHOD_SCOPES if match else ORG_METHOD_SCOPES
        credential = self._authorize(method, headers.get("authorization"), scopes_needed)
        if isinstance(credential, Reply):
            return credential
        params = parse_qs(query, keep_blank_values=True)
        if org_match is not None:
            org = self.state.find_organization(unquote(org_match.group(1)))
            if org is None:
                return detail(404, DOES_NOT_EXIST)
            if not credential.may_use(org.slug):  # the object permission, after the lookup
                return _forbidden(scopes_needed.get(method, frozenset()))
            if method != "GET":
                return detail(405, f'Method "{method}" not allowed.')
            host = headers.get("host") or f"{self.host}:{self.port}"
            return _list_projects(org, params, f"http://{host}{path}")
        assert match is not None
        with self.state.lock:
            project = self._project(match, path, query, credential)
            if project is None:
                return _forbidden(scopes_needed.get(method, frozenset()))
            if isinstance(project, Reply):
                return project
            ids = params.get("id")
            query_id = ids[-1] if ids else None  # Django's QueryDict.get: the last value

            def read_body() -> Any:
                return parse_json_body(body, headers.get("content-type"))

            return self._sources(method, query_id, read_body, project)

    def _project(
        self, match: re.Match[str], path: str, query: str, credential: Credential
    ) -> Project | Reply | None:
        """The project a path names (``match``: its organization and project), with the state
        lock held: a 404, or the redirect of a renamed project, as Sentry answers them; None when
        the token may not use the project's organization (the caller answers 403)."""
        org_ref, project_ref = unquote(match.group(1)), unquote(match.group(2))
        project = self.state.find_project(org_ref, project_ref)
        if project is None:
            moved = self.state.find_moved_project(org_ref, project_ref)
            if moved is None or not credential.may_use(moved.organization.slug):
                return detail(404, DOES_NOT_EXIST)
            return _project_moved(path, query, org_ref, project_ref, moved.slug)
        if not credential.may_use(project.organization.slug):
            return None
        return project

    def _sources(
        self, method: str, query_id: str | None, read_body: Callable[[], Any], project: Project
    ) -> Reply:
        """The symbol-sources handler, with the state lock held. A write that cannot be made
        durable is not applied: the project keeps its list and the answer is 503."""
        before = project.symbol_sources
        try:
            return sources_endpoint.handle(
                self.settings.generation,
                method,
                query_id,
                read_body,
                project,
                functools.partial(self.state.commit, project),
            )
        except ParseError as exc:
            return detail(400, str(exc))
        except _UnsupportedMediaType as exc:
            return detail(415, f'Unsupported media type "{exc}" in request.')
        except NotDurable:
            project.symbol_sources = before
            return not_durable()

    def _holder(self, authorization: str | None) -> str:
        """Whose rate-limit windows a request counts in: the token's holder, or, for a request
        without a known token, the caller (this instance serves loopback: one caller)."""
        parts = (authorization or "").split()
        if len(parts) == 2 and parts[0].lower() == "bearer":
            credential = self._credentials.get(parts[1])
            if credential is not None:
                return credential.holder
        return "ip"

    def _route_builtins(
        self, method: str, path: str, query: str, headers: Mapping[str, str], body: bytes
    ) -> Reply | None:
        """Project details and the organization's built-in repositories; None for any other
        path."""
        details = PROJECT_DETAILS_RE.match(path)
        builtins = ORG_BUILTINS_RE.match(path)
        if details is None and builtins is None:
            return None
        scope_map = PROJECT_DETAILS_SCOPES if details else ORG_METHOD_SCOPES
        credential = self._authorize(method, headers.get("authorization"), scope_map)
        if isinstance(credential, Reply):
            return credential
        if builtins is not None:
            org = self.state.find_organization(unquote(builtins.group(1)))
            if org is None:
                return detail(404, DOES_NOT_EXIST)
            if not credential.may_use(org.slug):
                return _forbidden(scope_map.get(method, frozenset()))
            if method != "GET":
                return detail(405, f'Method "{method}" not allowed.')
            return project_details.organization_builtins()
        assert details is not None
        with self.state.lock:
            project = self._project(details, path, query, credential)
            if project is None:
                return _forbidden(scope_map.get(method, frozenset()))
            if isinstance(project, Reply):
                return project
            return self._details(method, headers, body, project, credential.scopes)

    def _details(
        self,
        method: str,
        headers: Mapping[str, str],
        body: bytes,
        project: Project,
        scopes: frozenset[str],
    ) -> Reply:
        """The project details handler, with the state lock held. A write that cannot be made
        durable is not applied: the project keeps its list and the answer is 503."""
        before = project.builtin_symbol_sources
        try:
            return project_details.handle(
                method,
                lambda: parse_json_body(body, headers.get("content-type")),
                project,
                functools.partial(self.state.commit, project),
                scopes,
            )
        except ParseError as exc:
            return detail(400, str(exc))
        except _UnsupportedMediaType as exc:
            return detail(415, f'Unsupported media type "{exc}" in request.')
        except NotDurable:
            project.builtin_symbol_sources = before
            return not_durable()

    def _organization_details(self, method: str, org_ref: str, headers: Mapping[str, str]) -> Reply:
        """``GET /api/0/organizations/{org}/``: Sentry's ``OrganizationEndpoint`` order (the
        token's scopes, then the lookup: 404 for an unknown organization, then the object
        permission: 403 for an integration's token of another organization), answering a
        subset of its organization serializer. Only GET is served."""
        credential = self._authorize(method, headers.get("authorization"), ORG_METHOD_SCOPES)
        if isinstance(credential, Reply):
            return credential
        org = self.state.find_organization(org_ref)
        if org is None:
            return detail(404, DOES_NOT_EXIST)
        if not credential.may_use(org.slug):
            return _forbidden(ORG_METHOD_SCOPES.get(method, frozenset()))
        if method != "GET":
            return detail(405, f'Method "{method}" not allowed.')
        here = f"http://{headers.get('host') or f'{self.host}:{self.port}'}"
        region = self.settings.region_urls.get(org.slug, self.settings.region_urls.get(None))
        return Reply(200, _organization_summary(org, here, region or here))

    def _authorize(
        self, method: str, authorization: str | None, scope_map: Mapping[str, frozenset[str]]
    ) -> Credential | Reply:
        credential: Credential | None = None
        parts = (authorization or "").split()
        if parts and parts[0].lower() == "bearer":
            if len(parts) == 1:
                return _unauthorized("Invalid token header. No credentials provided.")
            if len(parts) > 2:
                return _unauthorized(
                    "Invalid token header. Token string should not contain spaces."
                )
            credential = self._credentials.get(parts[1])
            if credential is None:
                # Org auth tokens (``sntrys_``) go to their own authenticator.
                org_token = parts[1].startswith(ORG_TOKEN_PREFIX)
                return _unauthorized("Invalid org token" if org_token else INVALID_TOKEN)
        elif parts and parts[0].lower() == "basic":
            failure = _basic_auth_failure(parts)
            if failure is not None:
                return _unauthorized(failure)
        if credential is None:
            return _unauthorized(NOT_AUTHENTICATED)
        allowed = scope_map.get(method, frozenset())
        if not credential.scopes & allowed:
            return _forbidden(allowed)
        return credential

    # -- bookkeeping --------------------------------------------------------------------------

    def record(self, entry: dict[str, Any]) -> None:
        with self._requests_lock:
            self._requests.append(entry)

    def write_log(self, line: str) -> None:
        if self.log is None:
            return
        with self._log_lock:
            try:
                self.log.write(line + "\n")
                self.log.flush()
            except (OSError, ValueError):
                pass


def _project_moved(path: str, query: str, org: str, old_slug: str, new_slug: str) -> Reply:
    """Sentry's ``ProjectMoved``: a 302 to the same request under the project's new slug."""
    full_path = f"{path}?{query}" if query else path
    new_url = full_path.replace(f"projects/{org}/{old_slug}/", f"projects/{org}/{new_slug}/")
    moved = {
        "code": "resource-moved",
        "message": "Resource has been moved",
        "extra": {"url": new_url, "slug": new_slug},
    }
    return Reply(302, {"slug": new_slug, "detail": moved}, {"Location": new_url})


ROUTE_NOT_FOUND: Final = "Route not found, did you forget a trailing slash?"


def _catchall(path: str, content_type: str | None) -> Reply:
    """Sentry's ``CatchallEndpoint`` for an API path no route matches: no auth, a 404 with an
    empty body, or, when the path lacks its trailing slash, a hint (JSON when the request said
    it sends JSON, plain text otherwise)."""
    if path.endswith("/"):
        return Reply(404, content_type="text/html; charset=utf-8")
    suggestion = f"try: {path}/"
    if (content_type or "").startswith("application/json"):
        return Reply(404, {"info": f"{ROUTE_NOT_FOUND} {suggestion}"})
    arrow = " " * (len(suggestion) - 1) + "^"
    text = f"{ROUTE_NOT_FOUND}\n\n{suggestion}\n{arrow}\n"
    return Reply(404, content_type="text/plain", raw=text.encode("utf-8"))


def _list_projects(org: Organization, params: dict[str, list[str]], base: str) -> Reply:
    """``GET /api/0/organizations/{org}/projects/``: Sentry's OffsetPaginator, ordered by slug.

    Cursors read ``value:offset:is_prev`` where, for this paginator, ``value`` is the page size
    and ``offset`` the page number; they are opaque to clients, which follow the ``Link``.
    ``all_projects=1`` answers every project at once, without a ``Link`` (as Sentry does)."""
    if params.get("all_projects", [""])[-1] == "1":
        everything = sorted(org.projects.values(), key=lambda p: p.slug)
        return Reply(200, [_project_summary(project) for project in everything])
    try:
        per_page = int(params.get("per_page", [str(MAX_PER_PAGE)])[-1])
    except ValueError:
        return detail(400, "Invalid per_page parameter.")
    if per_page > MAX_PER_PAGE:
        return detail(400, f"Invalid per_page value. Cannot exceed {MAX_PER_PAGE}.")
    value, page = 0, 0
    cursor_text = params.get("cursor", [""])[-1]
    if cursor_text:
        bits = cursor_text.split(":")
        try:
            if len(bits) != 3:
                raise ValueError(cursor_text)
            value, page, _ = int(bits[0]), int(bits[1]), int(bits[2])
        except ValueError:
            return detail(400, "Invalid cursor parameter.")
    limit = per_page
    offset = page * value
    if offset < 0:
        return detail(400, "Pagination offset cannot be negative")
    projects = sorted(org.projects.values(), key=lambda p: p.slug)
    results = projects[offset : offset + (value or limit) + 1]
    if value != limit:
        results = results[-(limit + 1) :]
    has_next = len(results) > limit
    has_prev = page > 0
    results = results[:limit]
    others = urlencode(
        [(key, val) for key, values in params.items() if key != "cursor" for val in values]
    )
    uri = f"{base}?{others}" if others else f"{base}?"

    def link(name: str, cursor: str, has_results: bool) -> str:
        results_flag = "true" if has_results else "false"
        return f'<{uri}&cursor={cursor}>; rel="{name}"; results="{results_flag}"; cursor="{cursor}"'

    links = ", ".join(
        (
            link("previous", f"{limit}:{page - 1}:1", has_prev),
            link("next", f"{limit}:{page + 1}:0", has_next),
        )
    )
    return Reply(200, [_project_summary(project) for project in results], {"Link": links})


def _organization_summary(org: Organization, here: str, region: str) -> dict[str, Any]:
    """A subset of Sentry's organization serializer. ``organizationUrl`` is the URL the request
    was addressed to (a self-hosted Sentry without per-organization hosts answers its own URL),
    ``regionUrl`` the region's."""
    return {
        "id": org.id,
        "slug": org.slug,
        "name": org.name,
        "status": {"id": "active", "name": "active"},
        "dateCreated": "2024-01-01T00:00:00.000000Z",
        "isEarlyAdopter": False,
        "require2FA": False,
        "avatar": {"avatarType": "letter_avatar", "avatarUuid": None},
        "features": [],
        "links": {"organizationUrl": here, "regionUrl": region},
        "hasAuthProvider": False,
    }


def _project_summary(project: Any) -> dict[str, Any]:
    """A subset of Sentry's ``OrganizationProjectResponse``."""
    return {
        "id": project.id,
        "slug": project.slug,
        "name": project.name,
        "platform": project.platform,
        "dateCreated": "2024-01-01T00:00:00.000000Z",
        "isBookmarked": False,
        "isMember": True,
        "hasAccess": True,
        "isPublic": False,
        "isInternal": False,
        "features": [],
        "firstEvent": None,
        "firstTransactionEvent": False,
        "access": [],
        "status": "active",
        "organization": {
            "id": project.organization.id,
            "slug": project.organization.slug,
            "name": project.organization.name,
        },
    }


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128
    emulator: Emulator

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A connection that fails (a client hanging up) is one log line, not a traceback."""
        error = sys.exc_info()[1]
        self.emulator.write_log(
            f"connection from {client_address[0]} failed: {type(error).__name__}"
        )


class _Server6(_Server):
    address_family = socket.AF_INET6


STATUS_PHRASES: Final[dict[int, str]] = {
    200: "OK",
    201: "Created",
    204: "No Content",
    302: "Found",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    415: "Unsupported Media Type",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "symsync-emulator"
    sys_version = ""
    disable_nagle_algorithm = True
    server: _Server

    def do_GET(self) -> None:
        self._dispatch()

    do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = do_GET

    def log_message(self, format: str, *args: Any) -> None:
        """The emulator writes its own log line per request; nothing else."""

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """A request line that cannot be parsed still gets a status line and headers (the base
        class would answer it HTTP/0.9 style, body only, which no HTTP/1.x client can read)."""
        if self.request_version == "HTTP/0.9":
            self.request_version = "HTTP/1.0"
        self.close_connection = True
        super().send_error(code, message, explain)

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks: list[bytes] = []
            while True:
                size_line = self.rfile.readline(65537)
                size = int(size_line.split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self._read_exactly(size))
                self.rfile.readline(65537)
        length = int(self.headers.get("Content-Length") or 0)
        return self._read_exactly(length) if length > 0 else b""

    def _read_exactly(self, size: int) -> bytes:
        """Reads ``size`` bytes in pieces, so a claimed size is never allocated up front; a
        stream that ends early is malformed (``ValueError``)."""
        pieces: list[bytes] = []
        remaining = size
        while remaining > 0:
            piece = self.rfile.read(min(remaining, READ_PIECE))
            if not piece:
                raise ValueError("request body ended early")
            pieces.append(piece)
            remaining -= len(piece)
        return b"".join(pieces)

    def _dispatch(self) -> None:
        emulator = self.server.emulator
        started = time.perf_counter()
        received = time.monotonic()  # system-wide clock: comparable with other processes'
        method = self.command
        parts = urlsplit(self.path)
        path, query = parts.path, parts.query
        try:
            body = self._read_body()
        except ValueError:  # a bad Content-Length or chunk size: the stream cannot be trusted
            self.close_connection = True
            self._send(Reply(400, {"detail": "Malformed request body."}))
            return
        if path.startswith("/_emulator/"):
            self._send(self._control(method, path))
            return
        headers = {key.lower(): value for key, value in self.headers.items()}
        try:
            reply, fault = emulator.serve_api(method, path, query, headers, body)
        except Exception:  # a bug in the emulator must still answer, like Sentry's 500
            reply, fault = internal_error(), None
        status = None if isinstance(reply, _Drop) else reply.status
        duration_ms = (time.perf_counter() - started) * 1000
        entry: dict[str, Any] = {
            "method": method,
            "path": path,
            "query": query,
            "status": status,
            "duration_ms": round(duration_ms, 3),
            "committed": isinstance(reply, Reply) and reply.committed,
            # When the request line arrived (CLOCK_MONOTONIC seconds; the list itself is in
            # the order the answers were ready), so tests can tell what started after an event.
            "received_monotonic": round(received, 6),
        }
        if fault is not None:
            entry["fault"] = fault
        # Recorded before the client hears anything, so the log is complete once it has.
        emulator.record(entry)
        shown = f"{path}?{query}" if query else path
        suffix = f" fault={fault}" if fault else ""
        emulator.write_log(
            f"{method} {shown} {status if status is not None else '-'} {duration_ms:.1f}ms{suffix}"
        )
        if isinstance(reply, _Drop):
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
        else:
            self._send(reply)

    def _control(self, method: str, path: str) -> Reply:
        emulator = self.server.emulator
        if path not in ("/_emulator/requests", "/_emulator/state"):
            return detail(404, DOES_NOT_EXIST)
        if method != "GET":
            return detail(405, f'Method "{method}" not allowed.')
        if path == "/_emulator/requests":
            return Reply(200, emulator.request_log())
        # The state file's own text: no copy of the whole state is made under the lock.
        return Reply(200, raw=emulator.state.render_text().encode("utf-8"))

    def _send(self, reply: Reply) -> None:
        payload = reply.encode()
        phrase = STATUS_PHRASES.get(reply.status, "")
        lines = [f"HTTP/1.1 {reply.status} {phrase}"]
        lines.append(f"Server: {self.server_version}")
        lines.append(f"Date: {self.date_time_string()}")
        if payload or reply.status not in (204, 304):
            lines.append(f"Content-Type: {reply.content_type}")
        lines.append(f"Content-Length: {len(payload)}")
        for key, value in reply.headers.items():
            lines.append(f"{key}: {value}")
        if self.close_connection:
            lines.append("Connection: close")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1", "replace")
        if self.command == "HEAD":
            payload = b""
        try:
            self.wfile.write(head + payload)
        except OSError:
            self.close_connection = True
