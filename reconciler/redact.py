"""Masking of tokens and secret values in any text symsync may show or log.

Sentry never returns a secret in clear, but an error body can still carry sensitive text: Gen A's
validation message is the Python repr of the project's whole source list, a proxy may echo a
request, and a token may appear in a URL or a header someone pasted. Everything the client puts
in an exception or a log line goes through :func:`redact_text` (or :func:`redact_data` for parsed
JSON) first.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any, Final

from reconciler import spec

MASK: Final = "***"
MIN_SECRET_LENGTH: Final = 4

# Keys whose values are secrets wherever they appear (request bodies, error reprs, JSON).
SECRET_KEYS: Final[frozenset[str]] = spec.ALL_SECRET_FIELDS | frozenset(
    {"token", "auth_token", "authorization", "access_token", "refresh_token", "api_key"}
)

_KEY_ALTERNATION = "|".join(sorted((re.escape(k) for k in SECRET_KEYS), key=len, reverse=True))

# `'password': '...'`, `"secret_key": "..."`, also JSON-escaped (`\"password\": \"...\"`) as
# found in an error string inside a JSON body, and `password=...` as in a query or a log line.
_QUOTED_PAIR: Final = re.compile(
    r"(?P<key>(?P<kq>\\\"|['\"])(?:" + _KEY_ALTERNATION + r")(?P=kq)\s*:\s*)"
    r"(?P<value>"
    r'\\"(?:[^"\\]|\\\\\\"|\\\\|\\[^"\\])*\\"'  # JSON-escaped: \"...\"
    # Python repr: '...' with \' escapes, also JSON-escaped (\\' is an escaped quote there;
    # taking it as one in a plain repr only masks more).
    r"|'(?:[^'\\]|\\\\'|\\.)*'"
    r"|\"(?:[^\"\\]|\\.)*\""  # JSON or repr: "..."
    r"|(?![{\[])[^,}\]\s]+"  # a bare number or word
    r")",
    re.IGNORECASE,
)
_ASSIGNED_PAIR: Final = re.compile(
    r"(?P<key>\b(?:" + _KEY_ALTERNATION + r")=)(?P<value>[^\s&,;'\"]+)",
    re.IGNORECASE,
)
# Credentials in a URL: https://user:password@host/
_URL_USERINFO: Final = re.compile(r"(?P<key>[a-z][a-z0-9+.-]*://[^/\s:@]*:)(?P<value>[^/\s@]+)@")
# An Authorization header value, and the shapes of Sentry's tokens (user and org auth tokens).
_BEARER: Final = re.compile(r"(?P<key>\b(?:Bearer|Basic)\s+)(?P<value>[A-Za-z0-9._~+/=-]+)")
_SENTRY_TOKEN: Final = re.compile(r"\bsntr[a-z]{2}_[A-Za-z0-9_=+/-]{8,}")


def _mask_group(match: re.Match[str]) -> str:
    value = match.group("value")
    quote = ""
    if value.startswith('\\"'):
        quote = '\\"'
    elif value[:1] in ("'", '"'):
        quote = value[:1]
    return f"{match.group('key')}{quote}{MASK}{quote}"


def redact_text(text: str, secrets: Iterable[str] = ()) -> str:
    """Mask every known secret value and everything that looks like a credential in ``text``."""
    # Longest first, so that a secret containing another one is masked whole.
    # Values shorter than MIN_SECRET_LENGTH are not credentials anyone could use, and masking
    # them would garble every message (a one-letter test token is in most words).
    for secret in sorted(
        {s for s in secrets if len(s) >= MIN_SECRET_LENGTH}, key=len, reverse=True
    ):
        text = text.replace(secret, MASK)
    text = _QUOTED_PAIR.sub(_mask_group, text)
    text = _ASSIGNED_PAIR.sub(_mask_group, text)
    text = _URL_USERINFO.sub(lambda m: f"{m.group('key')}{MASK}@", text)
    text = _BEARER.sub(lambda m: f"{m.group('key')}{MASK}", text)
    return _SENTRY_TOKEN.sub(MASK, text)


def redact_data(data: Any, secrets: Iterable[str] = ()) -> Any:
    """A copy of parsed JSON with secret fields masked and every string passed through
    :func:`redact_text`. Sentry's own placeholder ``{"hidden-secret": true}`` is kept, since it
    carries no value."""
    known = tuple(secrets)
    if isinstance(data, dict):
        out: dict[str, Any] = {}
        for key, value in data.items():
            if (
                isinstance(key, str)
                and key.lower() in SECRET_KEYS
                and not spec.is_hidden_secret(value)
            ):
                out[key] = MASK
            else:
                out[key] = redact_data(value, known)
        return out
    if isinstance(data, list):
        return [redact_data(item, known) for item in data]
    if isinstance(data, str):
        return redact_text(data, known)
    return data


def secret_values(data: Any) -> list[str]:
    """Every plaintext secret in a request body (values of secret fields, at any depth)."""
    found: list[str] = []
    if isinstance(data, dict):
        for key, value in data.items():
            if isinstance(key, str) and key.lower() in SECRET_KEYS and isinstance(value, str):
                found.append(value)
            else:
                found.extend(secret_values(value))
    elif isinstance(data, list):
        for item in data:
            found.extend(secret_values(item))
    return found


def truncate(text: str, limit: int = 500) -> str:
    """``text`` cut to ``limit`` characters, saying how much was left out."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}... ({len(text) - limit} more characters)"
