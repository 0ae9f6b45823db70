"""``apply --expect PLANFILE``: apply a fresh plan only if it makes exactly the reviewed changes.

Two plans make the same changes when, project by project, they hold the same changes: the same
action on the same source id, with the same fields, each with the same ``before`` and ``after``
(and the same rotation reason, for a secret sent again). Everything else is not compared: the
order changes are listed in, the remote fingerprints, the sources kept unmanaged (they are not
changes), warnings. A project that the fresh plan could not read differs (its changes are
unknown). Secret fields carry only ``(set)``/``(not set)``, so no difference can show a value.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from reconciler.plan.model import Change, FieldChange, Plan, ProjectPlan

ChangeKey = tuple[str, str]  # (action, source id)


def _changes(project: ProjectPlan | None) -> dict[ChangeKey, Change]:
    return {} if project is None else {(c.action, c.source_id): c for c in project.changes}


def _value(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def _side(field: FieldChange) -> str:
    text = f"{_value(field.before)} -> {_value(field.after)}"
    return text + (f" (rotate: {field.rotate})" if field.rotate else "")


def _same(a: FieldChange, b: FieldChange) -> bool:
    return (a.before, a.after, a.rotate) == (b.before, b.after, b.rotate)


def _field_differences(where: str, reviewed: Change, fresh: Change) -> Iterable[str]:
    for name in sorted(set(reviewed.fields) | set(fresh.fields)):
        old, new = reviewed.fields.get(name), fresh.fields.get(name)
        if old is not None and new is not None and _same(old, new):
            continue
        shown_old = _side(old) if old is not None else "no change"
        shown_new = _side(new) if new is not None else "no change"
        yield f"{where} field `{name}`: reviewed {shown_old}; now {shown_new}"


def unplanned(fresh: Plan) -> list[str]:
    """The projects the fresh plan could not read, each with why: their changes are unknown,
    so they cannot be compared with the reviewed plan (an error, not a difference)."""
    return [f"{p.key}: {p.error}" for p in fresh.projects if p.error is not None]


def differences(reviewed: Plan, fresh: Plan) -> list[str]:
    """What differs between the changes of the reviewed plan and of the fresh one, in words
    naming each project and source; empty when they make exactly the same changes.

    A project the fresh plan could not read is left to ``unplanned``, which the caller checks
    first."""
    out: list[str] = []
    old_projects = {p.key: p for p in reviewed.projects}
    new_projects = {p.key: p for p in fresh.projects}
    for key in sorted(set(old_projects) | set(new_projects)):
        old, new = old_projects.get(key), new_projects.get(key)
        if new is not None and new.error is not None:
            continue  # not comparable: see unplanned()
        if new is None and old is not None and old.has_changes:
            out.append(f"{key}: has changes in the reviewed plan, but no project file now")
            continue
        if old is not None and old.error is not None and new is not None and new.has_changes:
            out.append(f"{key}: could not be planned when reviewed; it has changes now")
            continue
        old_changes, new_changes = _changes(old), _changes(new)
        for change_key in sorted(set(old_changes) | set(new_changes), key=_order):
            action, source_id = change_key
            where = f"{key}: {action} `{source_id}`"
            if change_key not in new_changes:
                out.append(f"{where}: in the reviewed plan, not in the fresh one")
            elif change_key not in old_changes:
                out.append(f"{where}: in the fresh plan, not in the reviewed one")
            else:
                out.extend(
                    _field_differences(where, old_changes[change_key], new_changes[change_key])
                )
    return out


def _order(key: ChangeKey) -> tuple[str, str]:
    return (key[1], key[0])
