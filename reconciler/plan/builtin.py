"""A project's built-in repositories: Sentry's own symbol servers, turned on by key.

A project file that says ``builtin: [KEY, ...]`` (or takes ``defaults.builtin`` from its
``_org.yaml``) wants exactly these keys, in this order; a project with neither is not managed
for them, and never read for them. Sentry reads them from the project's details
(``builtinSymbolSources``; a project that never set them answers Sentry's default list) and
stores any list of strings; the keys an organization may use come from its list of built-in
repositories, read once per organization and run. A key missing from that list refuses the
project's plan: Sentry would store it, and it would do nothing.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

from reconciler.plan.model import BuiltinChange


class BuiltinRefused(Exception):
    """A key the organization does not offer."""


def diff_builtin(
    organization: str,
    desired: Sequence[str],
    remote: Sequence[str],
    offered: Collection[str],
) -> BuiltinChange | None:
    """The change that makes ``remote`` the ``desired`` list; None when they are equal. Raises
    ``BuiltinRefused`` for a desired key the organization does not offer."""
    missing = [key for key in desired if key not in offered]
    if missing:
        names = ", ".join(f"`{key}`" for key in missing)
        offers = ", ".join(sorted(offered)) or "none"
        raise BuiltinRefused(
            f"built-in repository {names} is not offered by organization `{organization}` "
            f"(it offers: {offers}): remove it from `builtin:`"
        )
    if tuple(desired) == tuple(remote):
        return None
    return BuiltinChange(before=tuple(remote), after=tuple(desired))
