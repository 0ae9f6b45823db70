"""Which auth token serves which organization: ``SENTRY_AUTH_TOKEN`` and ``SENTRY_AUTH_TOKENS``.

An internal integration's token is bound to one organization (Sentry answers 403 for any other),
so a run over several organizations may need a token for each. ``SENTRY_AUTH_TOKENS`` is a JSON
object of organization slugs to tokens, used for those organizations; ``SENTRY_AUTH_TOKEN``
serves every other one. Either may be missing, but not both for an organization the run reaches:
that organization fails alone.

Every value is a secret: it is registered for masking (:mod:`reconciler.core.redact`) as soon as
it is read, and a malformed ``SENTRY_AUTH_TOKENS`` is refused with a message that names the
variable and the entry by its place, never a key or a value (a token pasted as a key, or a key
pasted as a token, must not reach a CI log). Standard library only.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from reconciler.core.errors import SymsyncError
from reconciler.core.redact import register_secret
from reconciler.sentry.errors import TOKEN_VARIABLE, TOKENS_VARIABLE

# Visible ASCII only: Sentry's tokens are hex or ``sntry?_`` followed by base64. Anything else
# would go into a header and fail deep in http.client, with the token in the exception's text.
TOKEN_RE: Final = re.compile(r"[\x21-\x7e]+")
# An organization slug as the config tree names it.
_SLUG_RE: Final = re.compile(r"[a-z0-9][a-z0-9_-]*")
_SHAPE: Final = (
    f"{TOKENS_VARIABLE} must be a JSON object of organization slugs to auth tokens, like "
    '{"acme": "<token>", "acme-eu": "<token>"}'
)


@dataclass(frozen=True)
class Tokens:
    """The run's tokens: ``default`` (``SENTRY_AUTH_TOKEN``, or ``None``) and one per
    organization (``SENTRY_AUTH_TOKENS``). Never printed: the repr shows only the slugs."""

    default: str | None = None
    by_org: Mapping[str, str] = field(default_factory=dict)

    def __repr__(self) -> str:
        own = ", ".join(sorted(self.by_org))
        return f"Tokens(default={'set' if self.default else 'unset'}, own=[{own}])"

    def for_org(self, org: str) -> str | None:
        """The token of ``org``: its own, else the default; ``None`` when it has neither."""
        return self.by_org.get(org, self.default)

    def has_own(self, org: str) -> bool:
        """Whether ``org`` has a token of its own in ``SENTRY_AUTH_TOKENS``."""
        return org in self.by_org

    def variable_for(self, org: str) -> str:
        """The variable ``org``'s token comes from, for messages."""
        return TOKENS_VARIABLE if org in self.by_org else TOKEN_VARIABLE


def read_tokens(environ: Mapping[str, str]) -> Tokens:
    """Both variables, checked; raises :class:`SymsyncError` when ``SENTRY_AUTH_TOKENS`` is
    malformed, or when no token is given at all."""
    default = environ.get(TOKEN_VARIABLE, "").strip() or None
    if default is not None:
        # Masked from here on wherever it shows, even as the URL (SENTRY_URL=$SENTRY_AUTH_TOKEN).
        register_secret(default, TOKEN_VARIABLE)
    by_org = parse_tokens(environ.get(TOKENS_VARIABLE, ""))
    if default is None and not by_org:
        raise SymsyncError(
            f"{TOKEN_VARIABLE} is not set: export it with a Sentry auth token that has the "
            "project:read scope (project:write to create and update sources, project:admin "
            f"to delete them), or give each organization its own token in {TOKENS_VARIABLE}"
        )
    if default is not None and not TOKEN_RE.fullmatch(default):
        raise SymsyncError(
            f"{TOKEN_VARIABLE} holds characters no Sentry auth token has (spaces, line "
            "breaks, control or non-ASCII characters): copy the token again"
        )
    return Tokens(default, by_org)


def parse_tokens(text: str) -> dict[str, str]:
    """``SENTRY_AUTH_TOKENS``'s organizations and tokens; ``{}`` when it is unset or blank."""
    if not text.strip():
        return {}
    # The whole text too: a message that quoted it by mistake would still be masked.
    register_secret(text.strip(), TOKENS_VARIABLE)
    try:
        pairs = json.loads(text, object_pairs_hook=_Pairs)
    except (ValueError, RecursionError):
        raise _malformed("it is not valid JSON") from None
    if not isinstance(pairs, _Pairs):
        raise _malformed("it is not a JSON object")
    # Every value that could be a token is masked before any entry is judged.
    for _, value in pairs:
        if isinstance(value, str) and value.strip():
            register_secret(value.strip(), TOKENS_VARIABLE)
    tokens: dict[str, str] = {}
    for number, (key, value) in enumerate(pairs, start=1):
        problem = _entry_problem(key, value, tokens)
        if problem:
            raise _malformed(f"entry {number} {problem}")
        tokens[key] = value.strip()
    return tokens


def _entry_problem(key: str, value: Any, seen: Mapping[str, str]) -> str:
    if not _SLUG_RE.fullmatch(key):
        return (
            "is not keyed by an organization slug (lowercase letters, digits, `-` and `_`, "
            "as in configs/<org>/)"
        )
    if key in seen:
        return "names an organization that an earlier entry names too"
    if not isinstance(value, str) or not value.strip():
        return "does not hold a token (a non-empty string)"
    if not TOKEN_RE.fullmatch(value.strip()):
        return (
            "holds characters no Sentry auth token has (spaces, line breaks, control or "
            "non-ASCII characters)"
        )
    return ""


def _malformed(reason: str) -> SymsyncError:
    # Never the text itself, nor a key or a value of it: only where the problem is.
    return SymsyncError(f"{TOKENS_VARIABLE} is malformed: {reason}. {_SHAPE}")


class _Pairs(list[tuple[str, Any]]):
    """A JSON object's entries in order, duplicates kept (``json``'s ``object_pairs_hook``)."""
