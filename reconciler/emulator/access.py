"""Who a token is and what it may do: Sentry's roles, organization tokens, integration tokens.

Sentry gives a request the scopes of its token intersected with what its holder may do in the
organization:

- A user's token (``--token VALUE[=SCOPES][@ROLE]``) acts for a member of every organization
  of this instance, with ROLE (default ``owner``). Its scopes (with the ones they imply:
  ``project:admin`` holds ``project:write`` and ``project:read``) are cut to the ones the role
  also has, as the role table below gives them (Sentry's ``SENTRY_ROLES``). A Member's
  ``project:admin`` token therefore reads symbol sources and writes none. (Sentry also grants
  a team admin write rights on the team's projects; this instance has no teams.)
- An organization auth token (``sntrys_...``) has the scope ``org:ci`` only, whatever it is
  given: no symbol-source request and no project list accepts it.
- An internal integration's token (``--org-token ORG=VALUE``) belongs to one organization: it
  has every scope by default, and any other organization answers it 403.

Rate-limit windows are keyed by who holds the token (Sentry's ``get_rate_limit_key``): a user
(every token of that user, across organizations) or, for an integration's token, its
organization; an organization auth token, like a request without a known token, by the caller's
address (this instance serves loopback: one caller). Each ``--token`` is its own user here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

ROLES: Final[tuple[str, ...]] = ("member", "admin", "manager", "owner")
DEFAULT_ROLE: Final = "owner"

_MEMBER: Final = frozenset(
    {
        "event:read",
        "event:write",
        "event:admin",
        "project:releases",
        "project:read",
        "org:read",
        "member:invite",
        "member:read",
        "team:read",
        "alerts:read",
        "alerts:write",
    }
)
_ADMIN: Final = _MEMBER | {
    "project:write",
    "project:admin",
    "team:write",
    "team:admin",
    "org:integrations",
}
_MANAGER: Final = _ADMIN | {"member:write", "member:admin", "org:write"}
_OWNER: Final = _MANAGER | {"org:admin"}

# The scopes each organization role grants (Sentry's ``SENTRY_ROLES``).
ROLE_SCOPES: Final[Mapping[str, frozenset[str]]] = {
    "member": frozenset(_MEMBER),
    "admin": frozenset(_ADMIN),
    "manager": frozenset(_MANAGER),
    "owner": frozenset(_OWNER),
}

ORG_TOKEN_PREFIX: Final = "sntrys_"
ORG_CI_SCOPES: Final[frozenset[str]] = frozenset({"org:ci"})
# An internal integration's token given no scopes: everything an owner may do.
INTEGRATION_SCOPES: Final[frozenset[str]] = ROLE_SCOPES["owner"]


_LEVELS: Final[tuple[str, ...]] = ("read", "write", "admin")


def implied_scopes(scopes: frozenset[str]) -> frozenset[str]:
    """``scopes`` with the ones each implies (Sentry's ``SENTRY_SCOPE_HIERARCHY_MAPPING``, which
    a token's scopes are widened by when it is made): ``X:admin`` holds ``X:write`` and
    ``X:read``, ``X:write`` holds ``X:read``; ``org:admin`` also holds ``org:integrations``,
    and writing or administering members holds inviting them."""
    out = set(scopes)
    for scope in scopes:
        resource, _, level = scope.partition(":")
        if level in _LEVELS:
            out.update(f"{resource}:{lower}" for lower in _LEVELS[: _LEVELS.index(level)])
        if scope == "org:admin":
            out.add("org:integrations")
        if scope in ("member:write", "member:admin"):
            out.add("member:invite")
    return frozenset(out)


@dataclass(frozen=True)
class Credential:
    """One accepted token: the scopes it acts with, the organization it is bound to (an
    integration's token) and the holder its rate-limit windows are keyed by."""

    scopes: frozenset[str]
    holder: str
    organization: str | None = None

    def may_use(self, organization_slug: str) -> bool:
        return self.organization is None or self.organization == organization_slug


def credentials(
    tokens: Mapping[str, frozenset[str]],
    roles: Mapping[str, str],
    org_tokens: Mapping[str, tuple[str, frozenset[str]]],
) -> dict[str, Credential]:
    """Every accepted token and what it may do. ``tokens`` are users' tokens with their given
    scopes, ``roles`` their roles (absent: owner), ``org_tokens`` integration tokens with their
    organization and scopes."""
    out: dict[str, Credential] = {}
    for number, (value, scopes) in enumerate(tokens.items(), start=1):
        if value.startswith(ORG_TOKEN_PREFIX):
            # Sentry counts an organization auth token's requests by the caller's address.
            out[value] = Credential(ORG_CI_SCOPES, "ip")
            continue
        granted = ROLE_SCOPES[roles.get(value, DEFAULT_ROLE)]
        out[value] = Credential(implied_scopes(scopes) & granted, f"user:{number}")
    for value, (organization, scopes) in org_tokens.items():
        out[value] = Credential(frozenset(scopes), f"org:{organization}", organization)
    return out
