"""What a failed request to Sentry means, in words a user can act on.

Two kinds of failure:

- :class:`SentryAPIError`: about one project (or one source): its project is reported failed
  and the others go on.
- :class:`AccountWideError` (a ``SentryAPIError``): about every request the run would send: a
  token Sentry refuses (401), no access to the organization (403 on it), a server that cannot be
  reached or stopped answering altogether, a URL that does not answer like Sentry's API (HTML
  pages, 404s without Sentry's error body, answers that are not JSON) or that redirects to
  another host. The run stops at the first one and says it once.

Every message is redacted (the token, the secret values sent, and anything shaped like a
credential) and names the request as ``(METHOD PATH: STATUS)``. Messages branch on status codes;
a body is only quoted, except where it tells Sentry's own answers from another server's.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import urlsplit

from reconciler.core.errors import SymsyncError
from reconciler.core.redact import redact_data, redact_text, truncate
from reconciler.sentry import spec

if TYPE_CHECKING:
    from reconciler.sentry.transport import Answer, NoAnswer

TOKEN_VARIABLE: Final = "SENTRY_AUTH_TOKEN"
TOKENS_VARIABLE: Final = "SENTRY_AUTH_TOKENS"
# Organization auth tokens start with this; Sentry gives them the scope ``org:ci`` only.
ORG_AUTH_TOKEN_PREFIX: Final = "sntrys_"
URL_VARIABLE: Final = "SENTRY_URL"
BODY_LIMIT: Final = 500
SAYS_LIMIT: Final = 300
# Sentry's answers are JSON; these are what a web server or a proxy sends instead.
_HTML_TYPES: Final = frozenset({"text/html", "application/xhtml+xml"})
_REDIRECTS: Final = frozenset({301, 302, 303, 307, 308})


class SentryAPIError(SymsyncError):
    """A request to Sentry failed. ``str()`` is a message a user can act on.

    ``status`` is ``None`` when no answer came (no connection, or every attempt dropped).
    ``body`` is the last response body, redacted and truncated. ``uncertain`` is true for a write
    that may have been committed by an earlier attempt although it is reported as failed.
    ``unreachable`` is true when no attempt reached the server (nothing listens there, the name
    does not resolve, TLS failed).
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
        unreachable: bool = False,
    ) -> None:
        super().__init__(message)
        self.unreachable = unreachable
        self.status = status
        self.method = method
        self.path = path
        self.body = body
        self.attempts = attempts
        self.uncertain = uncertain

    def details(self) -> dict[str, Any]:
        """The keyword arguments that make another error about the same request."""
        return {
            "status": self.status,
            "method": self.method,
            "path": self.path,
            "body": self.body,
            "attempts": self.attempts,
            "uncertain": self.uncertain,
            "unreachable": self.unreachable,
        }


class AccountWideError(SentryAPIError):
    """A failure that is not about one project: every other request would fail the same way,
    so the run stops with this one message."""

    def again(self) -> AccountWideError:
        """The same error, as a new exception (for another thread to raise)."""
        return AccountWideError(str(self), **self.details())


class OrganizationError(SentryAPIError):
    """A failure about one organization, and no other: its project list refused, it has no
    token, its region URL is refused, it was not found, its own token was refused. Every
    request about that organization would fail the same way (once the client knows, it sends
    nothing more for it); the organization is reported failed and the run goes on with the
    others."""

    def __init__(self, message: str, *, organization: str, **details: Any) -> None:
        super().__init__(message, **details)
        self.organization = organization

    def again(self) -> OrganizationError:
        """The same error, as a new exception (for another thread to raise)."""
        return OrganizationError(str(self), organization=self.organization, **self.details())

    @classmethod
    def about(cls, org: str, error: SentryAPIError, why: str = "") -> OrganizationError:
        """``error``, as the error of organization ``org`` (``why`` goes before it)."""
        return cls(f"organization `{org}`: {why}{error}", organization=org, **error.details())


def organization_failed(exc: BaseException) -> str | None:
    """The organization that ``exc`` is the error of, if it is one organization's."""
    return exc.organization if isinstance(exc, OrganizationError) else None


def stops_the_run(exc: SymsyncError) -> bool:
    """Whether a failure to read one project is about the whole account (the token, the URL,
    the connection), so that every other project would fail the same way."""
    if isinstance(exc, AccountWideError):
        return True
    if not isinstance(exc, SentryAPIError) or isinstance(exc, OrganizationError):
        return False
    return exc.status == 401 or exc.unreachable


@dataclass(frozen=True)
class Target:
    """What a request is about, for error messages."""

    org: str
    project: str | None = None
    source_id: str | None = None

    @property
    def project_key(self) -> str:
        return f"{self.org}/{self.project}"


def uncertain_note(uncertain: bool) -> str:
    if not uncertain:
        return ""
    return (
        "; an earlier attempt may still have been written, so Sentry may hold the change: "
        "`symsync plan` shows what it holds now"
    )


def needed_scope(method: str) -> str:
    """The narrowest token scope that allows ``method`` on the symbol-sources endpoint."""
    order = ("project:read", "project:write", "project:admin")
    allowed = spec.METHOD_SCOPES.get(method, frozenset({"project:admin"}))
    return next(scope for scope in order if scope in allowed)


def body_text(answer: Answer) -> str:
    """The answer's body, redacted and shortened, for ``SentryAPIError.body``."""
    parsed = answer.json_or_none()
    if parsed is not None:
        text = json.dumps(redact_data(parsed, answer.secrets), ensure_ascii=False)
    else:
        # Only the start is ever shown; redacting all of a huge page is wasted work.
        text = redact_text(answer.content[:65536].decode("utf-8", "replace"), answer.secrets)
    return truncate(text, BODY_LIMIT)


def sentry_says(answer: Answer) -> str:
    """Sentry's own message (`error` or `detail`), redacted and shortened, or ''."""
    parsed = answer.json_or_none()
    message: Any = None
    if isinstance(parsed, dict):
        message = parsed.get("error", parsed.get("detail"))
        if isinstance(message, dict):
            message = message.get("message") or json.dumps(message)
    elif isinstance(parsed, str):
        message = parsed
    if not message:
        return ""
    return truncate(redact_text(str(message), answer.secrets), SAYS_LIMIT)


def error_id(answer: Answer) -> str:
    """The ``errorId`` of Sentry's 500 body, when it is a plain token."""
    parsed = answer.json_or_none()
    value = parsed.get("errorId") if isinstance(parsed, dict) else None
    if isinstance(value, str) and re.fullmatch(r"[A-Za-z0-9-]{1,64}", value):
        return value
    return ""


def says_missing_id(answer: Answer) -> bool:
    parsed = answer.json_or_none()
    return isinstance(parsed, dict) and parsed.get("error") == "Missing source id"


def has_endpoint_envelope(answer: Answer) -> bool:
    """The symbol-sources endpoint's own ``{"error": ...}`` body (not DRF's ``detail``)."""
    parsed = answer.json_or_none()
    return isinstance(parsed, dict) and "error" in parsed


def _sentry_shaped(answer: Answer) -> bool:
    """An error body as Sentry writes them: a JSON object with ``detail`` or ``error``."""
    if answer.content_type in _HTML_TYPES:
        return False
    parsed = answer.json_or_none()
    return isinstance(parsed, dict) and ("detail" in parsed or "error" in parsed)


def _says_suffix(answer: Answer) -> str:
    """``: Sentry says '...'`` with what Sentry's body says, or nothing."""
    says = sentry_says(answer)
    return f": Sentry says {says!r}" if says else ""


def _what_came(answer: Answer) -> str:
    if answer.content_type in _HTML_TYPES or answer.content.lstrip()[:1] == b"<":
        return "an HTML page"
    if not answer.content:
        return "an empty answer"
    if answer.json_or_none() is None:
        return "an answer that is not JSON"
    return "JSON that is not Sentry's"


class ErrorWording:
    """Builds the errors of one Sentry (``base_url``)."""

    def __init__(self, base_url: str, *, org_auth_token: bool = False) -> None:
        """``org_auth_token``: the token is an organization auth token (``sntrys_``)."""
        self.base_url = base_url
        self.host = urlsplit(base_url).netloc
        self.org_auth_token = org_auth_token

    def _make(
        self,
        answer: Answer,
        message: str,
        *,
        account_wide: bool = False,
        organization: str | None = None,
    ) -> SentryAPIError:
        details: dict[str, Any] = {
            "status": answer.status,
            "method": answer.method,
            "path": answer.path,
            "body": body_text(answer),
            "attempts": answer.attempts,
            "uncertain": answer.uncertain,
        }
        text = redact_text(message + uncertain_note(answer.uncertain), answer.secrets)
        if organization is not None:
            return OrganizationError(text, organization=organization, **details)
        kind = AccountWideError if account_wide else SentryAPIError
        return kind(text, **details)

    def not_sentry(self, answer: Answer, where: str) -> AccountWideError:
        error = self._make(
            answer,
            f"{self.base_url} does not answer like Sentry's API: it sent {_what_came(answer)} "
            f"{where}; check {URL_VARIABLE} or --url (https://sentry.io, or your Sentry's "
            "address, with its path prefix when it is served under one)",
            account_wide=True,
        )
        assert isinstance(error, AccountWideError)
        return error

    def error(self, answer: Answer, target: Target) -> SentryAPIError:
        """The error for an answer that is not what the request needed."""
        status = answer.status
        where = f"({answer.method} {answer.path}: {status})"
        if status == 401:
            return self._make(
                answer,
                f"the token is invalid or expired {where}: set {TOKEN_VARIABLE} to a valid "
                "Sentry auth token",
                account_wide=True,
            )
        if status == 403:
            return self._forbidden(answer, target, where)
        if status == 407:
            return self._make(
                answer,
                f"a proxy between symsync and {self.host} asks for its own credentials: put "
                f"the proxy's user name and password in HTTPS_PROXY (or HTTP_PROXY) {where}",
                account_wide=True,
            )
        if status in _REDIRECTS:
            return self._moved(answer, target, where)
        if status in (400, 404) and target.source_id is not None and says_missing_id(answer):
            return self._lost_source_id(answer, target, where)
        if status == 404:
            if not _sentry_shaped(answer):
                return self.not_sentry(answer, where)
            return self._make(answer, self._not_found(answer, target, where))
        if status == 400:
            return self._rejected(answer, where)
        if status == 429 or status >= 500:
            return self._gave_up(answer, where)
        if 200 <= status < 300:
            return self.unexpected(answer, "the answer the request needs")
        return self._make(answer, f"Sentry answered {status}{_says_suffix(answer)} {where}")

    def _forbidden(self, answer: Answer, target: Target, where: str) -> SentryAPIError:
        """403: what the request needs, and why a token that seems to have it may not. About
        the organization's project list it is that organization's error, not the run's."""
        if self.org_auth_token:
            return self._make(
                answer,
                f"{TOKEN_VARIABLE} is an organization auth token ({ORG_AUTH_TOKEN_PREFIX}...), "
                "which Sentry gives the `org:ci` scope only: it can neither list projects nor "
                "read or write symbol sources. Use a user auth token, or an internal "
                "integration's token, with the `project:write` (or `project:admin`) and "
                f"`org:read` scopes {where}",
                account_wide=True,
            )
        if target.project is None:
            scope = "org:read"
            needs = f"the `org:read` scope, and access to organization `{target.org}`"
        else:
            scope = needed_scope(answer.method)
            needs = (
                f"the `{scope}` scope on {target.project_key}, and the token's user must have "
                "access to the project"
            )
        role = (
            f"; if the token has `{scope}`, the role of its user in organization `{target.org}` "
            "may not grant it: Sentry gives a user's token only the scopes the user's role "
            "has (a Member cannot change a project's settings; an Admin, Manager or Owner can, "
            "or a team admin of the project's team). Organization auth tokens "
            f"({ORG_AUTH_TOKEN_PREFIX}...) cannot be used here at all"
        )
        return self._make(
            answer,
            f"the token is not allowed to do this: {answer.method} needs {needs} {where}{role}",
            organization=target.org if target.project is None else None,
        )

    def _lost_source_id(self, answer: Answer, target: Target, where: str) -> SentryAPIError:
        """Sentry's "Missing source id" (Gen A answers 404, Gen B 400): symsync always sends
        ``?id=``, so it was lost on the way (a proxy that drops query strings, or a URL that
        ends the path early)."""
        return self._make(
            answer,
            f"Sentry did not receive the source id (`?id=`) that symsync sent for source "
            f"`{target.source_id}` in {target.project_key}: Sentry says 'Missing source id'; "
            f"check that a proxy in front of {self.host} keeps query strings {where}",
        )

    def _rejected(self, answer: Answer, where: str) -> SentryAPIError:
        """400: Sentry's reason when it gives one."""
        says_suffix = _says_suffix(answer)
        if says_suffix:
            return self._make(answer, f"Sentry rejected the request{says_suffix} {where}")
        # Gen A drops every validation message. For a PUT it also answers this way when a
        # kept secret (the placeholder) has no stored value to fill in.
        hint = (
            " (for an update, also when a secret kept as it is has no stored value in "
            "Sentry any more: run `symsync plan` again)"
            if answer.method == "PUT"
            else ""
        )
        return self._make(
            answer,
            f"Sentry rejected the source without a reason; run `symsync validate`{hint} {where}",
        )

    def _gave_up(self, answer: Answer, where: str) -> SentryAPIError:
        """A 429 or a 5xx that was still the answer when the retries ended."""
        retried = f" after {answer.attempts} attempts" if answer.attempts > 1 else ""
        if answer.status == 429:
            return self._make(
                answer,
                f"Sentry kept rate-limiting the requests{retried} {where}: try again later, "
                "or with a lower --parallelism",
            )
        reference = error_id(answer)
        ref = f" (Sentry's error id {reference}, for its support)" if reference else ""
        return self._make(
            answer,
            f"Sentry failed with {answer.status}{retried}{_says_suffix(answer)}{ref} {where}",
        )

    def rate_limited_everywhere(self, answer: Answer) -> AccountWideError:
        """429s for as long as the retry budget, with nothing granted meanwhile."""
        where = f"({answer.method} {answer.path}: {answer.status})"
        error = self._make(
            answer,
            f"Sentry refused every request with 429 (rate limited) for the whole retry budget, "
            f"{answer.attempts} attempts {where}: another client may be using up the "
            "organization's limit; try again later, or with a larger --retry-budget",
            account_wide=True,
        )
        assert isinstance(error, AccountWideError)
        return error

    def _not_found(self, answer: Answer, target: Target, where: str) -> str:
        if target.project is None:
            return (
                f"organization `{target.org}` was not found on {self.host}, or the token "
                f"cannot see it {where}"
            )
        if answer.method == "POST" and has_endpoint_envelope(answer):
            # A create names no existing source: the endpoint itself is what is missing.
            return (
                f"Sentry has no symbol-sources endpoint for project {target.project_key}: "
                f"Sentry says {sentry_says(answer)!r} {where}; check that the project exists "
                f"and that the Sentry at {self.base_url} serves "
                "/api/0/projects/ORG/PROJECT/symbol-sources/"
            )
        if has_endpoint_envelope(answer) and target.source_id is not None:
            # The endpoint's own envelope: the project exists, the source id does not.
            return (
                f"source `{target.source_id}` does not exist in {target.project_key}: "
                f"Sentry says {sentry_says(answer)!r} {where}"
            )
        return (
            f"organization `{target.org}` or project `{target.project}` was not found on "
            f"{self.host}, or the token cannot see it {where}"
        )

    def _moved(self, answer: Answer, target: Target, where: str) -> SentryAPIError:
        location = answer.headers.get("Location", "")
        base = urlsplit(self.base_url)
        moved = urlsplit(location) if location else None
        if moved is not None and moved.netloc and moved.netloc.lower() != base.netloc.lower():
            # Never followed: the token would go to another host.
            elsewhere = f"{moved.scheme or base.scheme}://{moved.netloc.lower()}"
            return self._make(
                answer,
                f"{self.host} redirected the request to another host, {elsewhere} {where}; "
                "symsync does not follow redirects, so the token never goes elsewhere. If "
                f"Sentry moved there, set {URL_VARIABLE} or --url to its address",
                account_wide=True,
            )
        parsed = answer.json_or_none()
        new_slug = parsed.get("slug") if isinstance(parsed, dict) else None
        renamed = isinstance(new_slug, str) or (
            moved is not None and "/api/0/projects/" in moved.path
        )
        if target.project is not None and renamed:
            to = f" to `{new_slug}`" if isinstance(new_slug, str) else ""
            return self._make(
                answer,
                f"project `{target.project_key}` was renamed in Sentry{to}: rename its "
                f"project file to match {where}",
            )
        return self._make(
            answer,
            f"Sentry redirected the request to {location!r}: check {URL_VARIABLE} or --url "
            f"({self.base_url}) {where}",
            account_wide=True,
        )

    def unexpected(self, answer: Answer, expected: str) -> SentryAPIError:
        """An answer of the right status whose body is not what the request needs: a page
        that is not JSON means the URL is not Sentry's API (account-wide); JSON of another
        shape is reported for its project."""
        where = f"({answer.method} {answer.path}: {answer.status})"
        if answer.json_or_none() is None or answer.content_type in _HTML_TYPES:
            return self.not_sentry(answer, where)
        return self._make(
            answer,
            f"Sentry answered {answer.status} with something other than {expected} {where}: "
            f"is {self.base_url} a Sentry server?",
        )

    def no_answer(self, failure: NoAnswer) -> SentryAPIError:
        """Every attempt failed without an answer. Account-wide when the server could not be
        reached or did not answer in time, and answered nothing else meanwhile."""
        reason = failure.failure.reason
        tried = f" after {failure.attempts} attempts" if failure.attempts > 1 else ""
        request = f"({failure.method} {failure.path})"
        if not failure.failure.reached_server:
            message = (
                f"could not connect to {self.host} ({reason}){tried}: check {URL_VARIABLE} or "
                f"--url ({self.base_url}) and that the server is reachable"
            )
        elif failure.failure.timed_out:
            message = (
                f"{self.host} did not answer in time ({reason}){tried} {request}: check that "
                f"Sentry at {self.base_url} is up, or give a slow Sentry more time with "
                "--timeout"
            )
        else:
            message = (
                f"lost the connection to {self.host} ({reason}){tried} {request}: check that "
                f"Sentry at {self.base_url} is up"
            )
        # A reset or cut-off connection is an answer of sorts: the server is there.
        gone = not failure.failure.reached_server or failure.failure.timed_out
        kind = AccountWideError if failure.server_silent and gone else SentryAPIError
        return kind(
            redact_text(message + uncertain_note(failure.uncertain), failure.secrets),
            status=None,
            method=failure.method,
            path=failure.path,
            attempts=failure.attempts,
            uncertain=failure.uncertain,
            unreachable=not failure.failure.reached_server,
        )
