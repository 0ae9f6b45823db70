"""Which URL serves an organization: the configured one, or the region its details name.

sentry.io serves each organization from a region (``us.sentry.io``, ``de.sentry.io``, ...). A
request for an organization of another region sent to ``sentry.io`` is proxied there by the
control silo, which does not keep the data in its region; Sentry tells an organization's region
in its details, ``GET /api/0/organizations/{org}/``: ``"links": {"regionUrl": ...}``.

The details come from the server the token is sent to, so a region URL is followed only when it
is plainly the same Sentry (:func:`region_refusal`): the configured URL's scheme, and its host
(any port: a self-hosted Sentry, the bundled emulator) or a host in its domain (for
``https://sentry.io`` or ``https://us.sentry.io``: any ``https://*.sentry.io``). Anything else is
refused, and no token is ever sent there. Standard library only.
"""

from __future__ import annotations

import ipaddress
from typing import Final
from urllib.parse import urlsplit

# Second-level labels under which registrable names sit in many country domains (``co.uk``,
# ``com.au``): such a pair is never taken for the configured host's own domain.
_SHARED_SECOND_LEVEL: Final = frozenset(
    {"ac", "co", "com", "edu", "gov", "go", "ne", "net", "or", "org"}
)


def normal_url(url: str) -> str | None:
    """``url`` as the client keeps a base URL (scheme and host lower-case, no trailing ``/``),
    or ``None`` when it is not an ``http(s)`` URL with a host and nothing but a path."""
    text = url.strip()
    if not text or any(c.isspace() for c in text):
        return None
    parts = urlsplit(text)
    try:
        parts.port  # noqa: B018 (raises ValueError for a port out of range or not a number)
    except ValueError:
        return None
    if (
        parts.scheme.lower() not in ("http", "https")
        or not parts.hostname
        or parts.username is not None
        or parts.password is not None
        or parts.query
        or parts.fragment
        or text.endswith(("?", "#"))
    ):
        return None
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}{parts.path}".rstrip("/")


def shown_url(url: str) -> str:
    """A URL from an answer, safe to show: scheme and host only, at most 200 characters."""
    parts = urlsplit(url.strip())
    host = parts.hostname or ""
    if parts.scheme and host:
        port = f":{parts.port}" if _port_or_none(url) is not None else ""
        return f"{parts.scheme}://{host}{port}"[:200]
    return "a value that is not a URL"


def _port_or_none(url: str) -> int | None:
    try:
        return urlsplit(url.strip()).port
    except ValueError:
        return None


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def configured_domain(host: str) -> str | None:
    """The domain whose hosts count as the configured host's: ``sentry.io`` for ``sentry.io``
    and ``us.sentry.io``; ``None`` for an address or a single-label name (only that host)."""
    if _is_ip(host) or "." not in host.strip("."):
        return None
    labels = host.strip(".").split(".")
    if len(labels) <= 2:
        return ".".join(labels)
    parent = labels[1:]
    if len(parent) == 2 and parent[0] in _SHARED_SECOND_LEVEL and len(parent[1]) == 2:
        return ".".join(labels)  # `acme.co.uk`: its domain is itself, never `co.uk`
    return ".".join(parent)


def region_refusal(configured: str, region: str) -> str | None:
    """Why the region URL ``region`` may not serve an organization of the Sentry at
    ``configured`` (a normal URL), or ``None`` when it may."""
    normal = normal_url(region)
    if normal is None:
        return "it is not an http(s) URL with a host and nothing but a path"
    want, got = urlsplit(configured), urlsplit(normal)
    if got.scheme != want.scheme:
        return f"its scheme is not {want.scheme}://, the configured URL's"
    want_host, got_host = (want.hostname or "").lower(), (got.hostname or "").lower()
    if got_host == want_host:
        return None
    domain = configured_domain(want_host)
    if domain is not None and (got_host == domain or got_host.endswith("." + domain)):
        return None
    inside = f" nor a host in {domain}" if domain is not None else ""
    return f"its host is not {want_host}{inside}, the configured URL's"
