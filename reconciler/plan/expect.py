"""``apply --expect PLANFILE``: apply a fresh plan only if it makes exactly the reviewed changes;
``apply --reviewed PLANFILE...``: only if every change it makes was reviewed in one of them.

Two plans make the same changes when, project by project, they hold the same changes: the same
action on the same source id, with the same fields, each with the same ``before`` and ``after``
(and the same rotation reason, for a secret sent again). Everything else is not compared: the
order changes are listed in, the remote fingerprints, the sources kept unmanaged (they are not
changes), warnings. The built-in repositories must change the same way (or not at all) in both.
A project that the fresh plan could not read differs (its changes are
unknown). Secret fields carry only ``(set)``/``(not set)``, so no difference can show a value.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
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
        out.extend(_builtin_difference(key, old, new))
    return out


def _builtin_difference(key: str, old: ProjectPlan | None, new: ProjectPlan | None) -> list[str]:
    """The built-in repositories: the same change (or none) on both sides."""
    before = old.builtin if old is not None else None
    after = new.builtin if new is not None else None
    if before == after:
        return []
    shown_old = before.describe() if before is not None else "no change"
    shown_new = after.describe() if after is not None else "no change"
    return [f"{key}: built-in repositories: reviewed {shown_old}; now {shown_new}"]


def _order(key: ChangeKey) -> tuple[str, str]:
    return (key[1], key[0])


def _without_rotations(project: ProjectPlan) -> dict[ChangeKey, Change]:
    """The project's changes less what a rotation adds (``--rotate``, ``--base``): a secret
    sent again is the value the file's reference names, which a plan of the files alone does
    not send; an update that only rotates drops out."""
    out: dict[ChangeKey, Change] = {}
    for key, change in _changes(project).items():
        fields = {name: f for name, f in change.fields.items() if not (f.secret and f.rotate)}
        if change.action == "update" and not fields:
            continue
        out[key] = change.model_copy(update={"fields": fields})
    return out


def _write_differences(where: str, saved: Change, given: Change) -> Iterable[str]:
    """What the plan would send that the files do not give, beyond the shown fields: the body,
    the variables its secrets come from, the position and why a delete is made."""
    if saved.source is not None and given.source is not None:
        sent = saved.source
        for name in sorted(set(sent) | set(given.source)):
            if sent.get(name) != given.source.get(name):
                yield (
                    f"{where}: sends `{name}` {_value(sent.get(name))}; the files give "
                    f"{_value(given.source.get(name))}"
                )
    elif (saved.source is None) != (given.source is None):
        yield f"{where}: the source it sends is not the one the files give"
    for name in sorted(set(saved.secrets) | set(given.secrets)):
        planned, filed = saved.secrets.get(name), given.secrets.get(name)
        rotated = name in saved.fields and saved.fields[name].rotate is not None
        if planned != filed and not (rotated and planned == "send" and filed == "keep"):
            yield (
                f"{where}: secret `{name}`: the plan says {planned or 'nothing'}; the files "
                f"give {filed or 'nothing'}"
            )
    if (saved.position, saved.reason) != (given.position, given.reason):
        yield f"{where}: its position or reason is not the one the files give"


def _project_differences(saved: ProjectPlan, given: ProjectPlan) -> Iterable[str]:
    key = saved.key
    if saved.max_deletes != given.max_deletes:
        yield (
            f"{key}: the plan says max_deletes {_value(saved.max_deletes)}; the file says "
            f"{_value(given.max_deletes)}"
        )
    if (saved.unmanaged, saved.reported) != (given.unmanaged, given.reported):
        yield (
            f"{key}: the sources it keeps or reports as unmanaged are not what the file's "
            "`unmanaged` gives"
        )
    originals = _changes(saved)
    old_changes, new_changes = _without_rotations(saved), _changes(given)
    for change_key in sorted(set(old_changes) | set(new_changes), key=_order):
        action, source_id = change_key
        where = f"{key}: {action} `{source_id}`"
        if change_key not in new_changes:
            yield f"{where}: in the plan, but the files do not give it"
        elif change_key not in old_changes:
            yield f"{where}: the files give it, but it is not in the plan"
        else:
            old, new = old_changes[change_key], new_changes[change_key]
            for line in _field_differences(where, old, new):
                yield line.replace("reviewed", "the plan says").replace("; now", "; the files give")
            yield from _write_differences(where, originals[change_key], new)
    yield from _builtin_unbound(saved, given)


def _builtin_unbound(saved: ProjectPlan, given: ProjectPlan) -> Iterable[str]:
    """The built-in repositories the plan sets that the file does not give. Not compared when
    Sentry's list moved since the plan was made (apply refuses that project by itself)."""
    moved = saved.builtin_seen is not None and given.builtin_seen is not None
    if moved and saved.builtin_seen != given.builtin_seen:
        return
    if saved.builtin != given.builtin:
        planned = saved.builtin.describe() if saved.builtin is not None else "no change"
        filed = given.builtin.describe() if given.builtin is not None else "no change"
        yield (
            f"{saved.key}: built-in repositories: the plan says {planned}; the files give {filed}"
        )


def unbound(saved: Plan, given: Plan, missing: Iterable[str] = ()) -> list[str]:
    """What in the saved plan the files at hand do not give, in words naming each project and
    source; empty when every change of it is what the files give.

    ``given`` is a fresh plan of the files for the saved plan's projects; ``missing`` the saved
    plan's projects that have no file. A project whose Sentry state moved since the saved plan
    was made is not compared here (its changes were planned from another state; apply refuses
    it by itself), and neither is one the fresh plan could not read (see ``unplanned``)."""
    out: list[str] = []
    absent = set(missing)
    fresh = {p.key: p for p in given.projects}
    for project in saved.projects:
        if project.key in absent:
            if project.has_changes:
                out.append(f"{project.key}: has changes in the plan, but no project file here")
            continue
        new = fresh.get(project.key)
        if new is None or new.error is not None:
            continue
        if project.error is not None or new.fingerprint != project.fingerprint:
            continue
        out.extend(_project_differences(project, new))
    return out


def limit_differences(reviewed: Plan, fresh: Plan) -> list[str]:
    """Projects whose delete limit (``max_deletes:`` in the file) is not the reviewed one: the
    limits a run is held to come from the files, so a reviewed plan must have had the same."""
    now = {p.key: p for p in fresh.projects}
    return [
        f"{p.key}: max_deletes: reviewed {_value(p.max_deletes)}; the file says "
        f"{_value(now[p.key].max_deletes)}"
        for p in reviewed.projects
        if p.key in now and now[p.key].error is None and p.max_deletes != now[p.key].max_deletes
    ]


# -- a fresh plan against a set of reviewed plans ---------------------------------------------

ChangeAt = tuple[str, str, str]  # (project, action, source id)


def _sent_secrets(change: Change) -> dict[str, Any]:
    """Field -> the reference (``{env, version}``) of every secret ``change`` sends."""
    source = change.source or {}
    return {name: source.get(name) for name in change.secret_variables()}


def _reviewed_index(reviewed: Sequence[Plan]) -> dict[ChangeAt, list[Change]]:
    index: dict[ChangeAt, list[Change]] = {}
    for plan in reviewed:
        for project in plan.projects:
            for change in project.changes:
                index.setdefault((project.key, change.action, change.source_id), []).append(change)
    return index


def _rotation_target(change: Change, name: str) -> tuple[Any, str] | None:
    """What a rotation of field ``name`` sends: the variable, and the version or variable it
    rotates to (``version 1 -> 3`` and ``version 2 -> 3`` both send version 3)."""
    field = change.fields.get(name)
    if field is None or not field.rotate:
        return None
    return (change.source or {}).get(name), field.rotate.rpartition("->")[2].strip()


def _unreviewed_parts(change: Change, candidates: Sequence[Change]) -> list[str]:
    """What of ``change`` no candidate (a reviewed change of the same source and action)
    makes: its fields with their before and after, the rotations (same field, variable and
    version) and the variables its secrets are sent from."""
    if not candidates:
        return ["in no reviewed plan"]
    missing: list[str] = []
    for name, field in sorted(change.fields.items()):
        if field.rotate:
            target = _rotation_target(change, name)
            if not any(_rotation_target(c, name) == target for c in candidates):
                missing.append(f"field `{name}`: rotation {field.rotate} was not reviewed")
            continue
        if not any(
            c.fields.get(name) is not None and _same(c.fields[name], field) for c in candidates
        ):
            missing.append(f"field `{name}`: {_side(field)} was not reviewed")
    for name, ref in sorted(_sent_secrets(change).items()):
        if not any(_sent_secrets(c).get(name) == ref for c in candidates):
            missing.append(f"field `{name}`: sent from {_value(ref)}, which was not reviewed")
    if not change.fields and not any(not c.fields for c in candidates):
        missing.append("was not reviewed")
    return missing


def unreviewed(reviewed: Sequence[Plan], fresh: Plan) -> list[str]:
    """The changes of ``fresh`` that no plan of ``reviewed`` shows, in words naming each
    project, source and field; empty when every change was reviewed.

    A change is reviewed when a reviewed plan has a change of the same action on the same
    source whose fields have the same ``before`` and ``after`` (each field may come from a
    different reviewed plan: several pull requests may change one source); a rotation when a
    reviewed plan rotates the same field to the same variable and version. A change of a
    reviewed plan that the fresh plan no longer shows (Sentry already holds it) is done, not a
    difference. Projects the fresh plan could not read are left to ``unplanned``.
    """
    index = _reviewed_index(reviewed)
    out: list[str] = []
    for project in fresh.projects:
        if project.error is not None:
            continue
        for change in project.changes:
            where = f"{project.key}: {change.action} `{change.source_id}`"
            candidates = index.get((project.key, change.action, change.source_id), [])
            out.extend(f"{where} {part}" for part in _unreviewed_parts(change, candidates))
    return out
