"""``order: enforce``: which sources to move so that Sentry's order becomes the file's.

Sentry's symbol-sources API has no reorder call: a PUT keeps a source's place, a POST appends at
the end, a DELETE removes. The only way to move a source is to delete it and create it again,
which appends it: two writes. Renaming in place is not an option (a PUT that renames loses the
source's stored secret in Gen A, and symsync never renames).

The managed sources are the file's present entries, in file order ``F``. A source that is not
moved keeps its place, and every appended source (moved or new) lands after all of those, in the
order the POSTs are sent. So the sources left in place must be exactly a *prefix* of ``F``:

- each of them already exists in Sentry (a new source can only be appended, and then everything
  after it in ``F`` must be appended after it too);
- their stored order already agrees with ``F``.

Keeping a source costs at most one write (a PUT, when its fields change) and moving it always
costs two, so the cheapest plan keeps the **longest** such prefix and moves every existing
source after it, in file order; new sources are created in between, in file order. The writes
for order are then ``2 x moved`` (``2 x (n - prefix)`` when nothing is new), and no sequence of
deletes and appends does it in fewer (``tests/unit/plan/test_ordering.py`` checks this
exhaustively for small lists).

Sources the file does not manage are never moved or deleted here; moved sources end up after
them. Deleted sources (``state: absent``, ``unmanaged: delete``) take no part in the order.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Reorder:
    """The result: what stays, what is deleted and re-created, what is new."""

    kept: tuple[str, ...]  # the longest prefix of the file's order that stays in place
    moved: tuple[str, ...]  # existing sources re-created at the end, in file order
    created: tuple[str, ...]  # sources Sentry does not have yet, in file order

    @property
    def order_writes(self) -> int:
        """Writes spent on order: a DELETE and a POST per moved source."""
        return 2 * len(self.moved)


def plan_order(desired: Sequence[str], remote: Sequence[str]) -> Reorder:
    """``desired``: the file's present ids in file order; ``remote``: Sentry's ids in stored order.

    Remote ids the file does not list (unmanaged, or about to be deleted) are ignored: they
    neither break the prefix nor move.
    """
    position = {sid: i for i, sid in enumerate(remote)}
    prefix = 0
    last = -1
    for sid in desired:
        at = position.get(sid)
        if at is None or at < last:
            break
        last = at
        prefix += 1
    rest = desired[prefix:]
    return Reorder(
        kept=tuple(desired[:prefix]),
        moved=tuple(s for s in rest if s in position),
        created=tuple(s for s in rest if s not in position),
    )


def order_after(
    remote: Sequence[str], deleted: Sequence[str], appended: Sequence[str]
) -> list[str]:
    """Sentry's order after the writes: ``deleted`` removed (moves included), ``appended``
    POSTed at the end in the given order."""
    gone = set(deleted)
    return [sid for sid in remote if sid not in gone] + list(appended)
