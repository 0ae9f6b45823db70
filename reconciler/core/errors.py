"""One exception root for everything symsync reports to a user.

The CLI turns a ``SymsyncError`` into a message on stderr and the exit code it carries; anything
else escaping is a bug.
"""

from __future__ import annotations

from reconciler.core.redact import redact_known

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_CHANGES = 2
EXIT_REFUSED = 3


class SymsyncError(Exception):
    """An error a user can act on. ``str()`` of it never holds a secret or the token: every
    value :mod:`reconciler.core.redact` knows is masked in it, whatever put it there."""

    exit_code: int = EXIT_ERROR

    def __str__(self) -> str:
        return redact_known(super().__str__())


class ConfigError(SymsyncError):
    """The desired-state tree is invalid."""


class SecretMissingError(SymsyncError):
    """A secret variable that a write needs is unset or empty."""


class RefusedError(SymsyncError):
    """A safety check refused the work (stale plan, safety limit)."""

    exit_code = EXIT_REFUSED
