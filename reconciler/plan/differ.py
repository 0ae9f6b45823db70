"""Compare one project's file with what Sentry holds: the changes that would make them equal.

Sources are matched by ``id``. Both sides are normalised before comparing:

- key order does not matter (dicts compare by content);
- ``layout.casing`` absent means ``default``, as Sentry treats it;
- an empty optional collection is the same as an absent one (``filters: {}``,
  ``filters.filetypes: []``, ``platforms: []``); ``filters.filetypes`` is a set (its order and
  repeats mean nothing to Sentry);
- secrets are opaque: a remote secret field (Sentry shows ``{"hidden-secret": true}``) and a
  desired ``{env: NAME}`` both become the marker ``"(set)"``. Set against set is unchanged, since
  neither value can be known; set against not set is a change.

A PUT replaces the whole source, so every field is compared, ``is_public``, ``has_index`` and
``platforms`` like the others. A remote field the file leaves out (set by hand in Sentry, or one a
newer Sentry adds) shows as an update that removes it, which is what the PUT will do. So does
``name``: an absent name and ``name: ""`` are different values to Sentry, and the PUT sends the
file's one as written.

A source whose ``type`` changes keeps its id and is updated with a full replacement; its secrets
are then sent from the environment (Sentry cannot keep a secret across a type change).

A remote field that symsync's file format does not have for the source's type (one a newer
Sentry adds, or one an older endpoint let through) cannot be written in the file, so it is
compared like the others and shows as part of an update that removes it; the project also
carries a warning naming the field and the source, since applying that update loses it.

Remote sources the file does not name follow the file's ``unmanaged`` policy: ``keep`` lists
them as unmanaged, ``report`` lists them as ``reported`` (drift that nothing writes), ``delete``
plans their deletion.

A secret set on both sides is sent again only when rotation asks for it (``--base REV`` saw its
reference change, or ``--rotate``; ``reconciler.plan.rotation``): the source is then an update
whose secret field shows ``rotate`` with the reason.

With ``order: enforce``, every existing source after the longest prefix of the file's order that
Sentry holds in that order becomes a ``move`` (DELETE, then POST at the end), which replaces its
update (``reconciler.plan.ordering``). Without it, a predicted order that differs from the file's
is a warning.

A remote source whose id starts with ``sentry`` (Sentry's own prefix, which it refuses on every
write) is never deleted, even with ``unmanaged: delete``: it is listed as unmanaged, with a
warning. Nor is it reported with ``unmanaged: report``: it is listed as unmanaged.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from reconciler.config.project_file import AbsentSource, PresentSource, ProjectConfig, Source
from reconciler.plan.model import (
    REMOTE_SECRET_FIELDS,
    SECRET_NOT_SET,
    SECRET_SET,
    Change,
    FieldChange,
    ProjectPlan,
    SecretWrite,
    fingerprint,
    remote_digests,
)
from reconciler.plan.ordering import order_after, plan_order
from reconciler.sentry import spec

# Display order of fields in a change; fields not listed follow in alphabetical order.
FIELD_ORDER: tuple[str, ...] = (
    "type",
    "name",
    "url",
    "bucket",
    "region",
    "prefix",
    "access_key",
    "client_email",
    "username",
    "password",
    "secret_key",
    "private_key",
    "layout.type",
    "layout.casing",
    "filters.filetypes",
    "filters.path_patterns",
    "filters.requires_checksum",
    "is_public",
    "has_index",
    "platforms",
)
_FIELD_RANK = {name: i for i, name in enumerate(FIELD_ORDER)}


class RemoteShapeError(ValueError):
    """Sentry answered with something that is not a list of sources."""


def desired_body(source: Any) -> dict[str, Any]:
    """The API-shaped dict of a present desired source, secrets as ``{"env": NAME}``.

    A reference's ``version`` is left out: it only decides rotation (``--base``), and a plan
    names a secret by its variable alone.
    """
    body: dict[str, Any] = source.model_dump(exclude={"state"}, exclude_none=True)
    for name in spec.ALL_SECRET_FIELDS:
        ref = body.get(name)
        if isinstance(ref, dict):
            body[name] = {"env": ref["env"]}
    return body


def normalise(source: Mapping[str, Any]) -> dict[str, Any]:
    """The comparable form of a source (remote or desired). Holds no secret value.

    Nested objects are ``dict`` on both sides (decoded JSON, a model's dump)."""
    out: dict[str, Any] = {}
    for key, value in source.items():
        if key in REMOTE_SECRET_FIELDS or spec.is_hidden_secret(value):
            # Whatever is there (Sentry's placeholder, an {env: NAME} reference, or a value
            # a misbehaving server sent in clear), all we keep is that it is set.
            out[key] = SECRET_SET
        elif key == "layout" and isinstance(value, dict):
            layout = dict(value)
            layout.setdefault("casing", spec.DEFAULT_CASING)
            out[key] = layout
        elif key == "filters" and isinstance(value, dict):
            filters: dict[str, Any] = {}
            for fkey, fvalue in value.items():
                if isinstance(fvalue, list | dict) and not fvalue:
                    continue
                if fkey == "filetypes" and isinstance(fvalue, list):
                    fvalue = sorted({str(v) for v in fvalue})
                filters[fkey] = fvalue
            if filters:
                out[key] = filters
        elif isinstance(value, list | dict) and not value:
            continue
        else:
            out[key] = value
    return out


def flatten(source: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested mappings as dotted paths; lists stay whole values (compared as one field)."""
    out: dict[str, Any] = {}
    for key, value in source.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            out.update(flatten(value, f"{path}."))
        else:
            out[path] = value
    return out


def _field_key(name: str) -> tuple[int, str]:
    return (_FIELD_RANK.get(name, len(FIELD_ORDER)), name)


def _secret_field(name: str) -> bool:
    return name in REMOTE_SECRET_FIELDS


def _field_change(name: str, before: Any, after: Any) -> FieldChange:
    if _secret_field(name):
        return FieldChange(
            before=SECRET_SET if before is not None else SECRET_NOT_SET,
            after=SECRET_SET if after is not None else SECRET_NOT_SET,
            secret=True,
        )
    return FieldChange(before=before, after=after)


def field_changes(
    before: Mapping[str, Any] | None, after: Mapping[str, Any] | None
) -> dict[str, FieldChange]:
    """Field-level differences between two normalised sources (either side may be missing)."""
    flat_before = flatten(before or {})
    flat_after = flatten(after or {})
    names = sorted((set(flat_before) | set(flat_after)) - {"id"}, key=_field_key)
    changes: dict[str, FieldChange] = {}
    for name in names:
        b = flat_before.get(name)
        a = flat_after.get(name)
        if b != a:
            changes[name] = _field_change(name, b, a)
    return changes


def _check_remote(remote: Sequence[Any]) -> list[Mapping[str, Any]]:
    if not isinstance(remote, list):
        raise RemoteShapeError("Sentry's answer is not a list of sources")
    seen: set[str] = set()
    for index, item in enumerate(remote):
        if not isinstance(item, Mapping):
            raise RemoteShapeError(f"remote source #{index + 1} is not an object")
        sid = item.get("id")
        if not isinstance(sid, str) or not sid:
            raise RemoteShapeError(f"remote source #{index + 1} has no id")
        if sid in seen:
            raise RemoteShapeError(f"remote source id `{sid}` appears more than once")
        seen.add(sid)
    return list(remote)


def diff_project(
    config: ProjectConfig,
    remote: Sequence[Any],
    *,
    file: str | None = None,
    rotate: Mapping[str, Mapping[str, str]] | None = None,
    sentry_url: str | None = None,
) -> ProjectPlan:
    """Compare one project: ``remote`` is the list GET returned (redacted by Sentry) by the
    Sentry at ``sentry_url``.

    ``rotate``: source id -> secret field -> why (``reconciler.plan.rotation``): a secret set on
    both sides that must be sent again; it makes the source an update if nothing else does.
    """
    base: dict[str, Any] = {
        "organization": config.organization,
        "project": config.project,
        "file": file if file is not None else str(config.path),
        "max_deletes": config.max_deletes,
        "sentry_url": sentry_url,
    }
    try:
        remote_list = _check_remote(remote)
    except RemoteShapeError as exc:
        return ProjectPlan(**base, error=f"unexpected answer from Sentry: {exc}")

    comparison = _Comparison(remote_list)
    rotate = rotate or {}
    for position, entry in enumerate(config.sources):
        comparison.add_entry(entry, position, rotate.get(entry.id, _NO_ROTATION))
    comparison.add_unnamed(config.unmanaged)
    if config.order == "enforce":
        comparison.enforce_order()
    return ProjectPlan(
        **base,
        changes=tuple(comparison.changes),
        unmanaged=tuple(comparison.unmanaged),
        reported=tuple(comparison.reported),
        unchanged=tuple(comparison.unchanged),
        warnings=tuple(comparison.warnings()),
        fingerprint=fingerprint(remote_list),
        remote_sources=remote_digests(remote_list),
    )


_NO_ROTATION: Mapping[str, str] = {}
# A present entry, the body apply sends, its comparable form, and its position in the file.
_Wanted = tuple[PresentSource, dict[str, Any], dict[str, Any], int]


class _Comparison:
    """One project's comparison as it goes: the changes found so far, and what the order rules
    and the warnings need to know of the sources compared."""

    __slots__ = (
        "changes",
        "held_remotely",
        "mentioned",
        "present_order",
        "remote",
        "remote_by_id",
        "reported",
        "reserved",
        "unchanged",
        "unmanaged",
        "wanted_by_id",
    )

    def __init__(self, remote: list[Mapping[str, Any]]) -> None:
        self.remote = remote
        self.remote_by_id = {str(s["id"]): (i, s) for i, s in enumerate(remote)}
        self.changes: list[Change] = []
        self.unchanged: list[str] = []
        self.mentioned: set[str] = set()  # every id the file names, present or absent
        self.present_order: list[str] = []  # the file's present entries, in its order
        self.wanted_by_id: dict[str, _Wanted] = {}
        self.held_remotely: list[tuple[str, Mapping[str, Any]]] = []  # present, and in Sentry
        self.unmanaged: list[str] = []
        self.reported: list[str] = []
        self.reserved: list[str] = []  # Sentry's own ids that unmanaged: delete leaves alone

    def add_entry(self, entry: Source, position: int, rotate: Mapping[str, str]) -> None:
        """One entry of the file: deleted (absent), created, updated or unchanged."""
        self.mentioned.add(entry.id)
        found = self.remote_by_id.get(entry.id)
        if isinstance(entry, AbsentSource):
            if found is not None:
                self.changes.append(_delete(found[1], found[0], "absent"))
            return
        self.present_order.append(entry.id)
        body = desired_body(entry)
        wanted = normalise(body)
        self.wanted_by_id[entry.id] = (entry, body, wanted, position)
        if found is None:
            self.changes.append(_create(entry, body, wanted, position))
            return
        self.held_remotely.append((entry.id, found[1]))
        change = _update(entry, body, wanted, position, found[1], rotate)
        if change is None:
            self.unchanged.append(entry.id)
        else:
            self.changes.append(change)

    def add_unnamed(self, policy: str) -> None:
        """The remote sources the file does not name, as its ``unmanaged`` policy says."""
        for position, source in enumerate(self.remote):
            sid = str(source["id"])
            if sid in self.mentioned:
                continue
            if spec.is_reserved_id(sid):
                # Sentry's own prefix: never symsync's to delete, nor drift to report.
                self.unmanaged.append(sid)
                if policy == "delete":
                    self.reserved.append(sid)
            elif policy == "delete":
                self.changes.append(_delete(source, position, "unmanaged"))
            elif policy == "report":
                self.reported.append(sid)
            else:
                self.unmanaged.append(sid)

    def enforce_order(self) -> None:
        """``order: enforce``: the moves that make Sentry's order the file's."""
        self.changes, self.unchanged = _enforce_order(
            self.changes, self.unchanged, self.present_order, self.remote, self.wanted_by_id
        )

    def warnings(self) -> list[str]:
        """The project's warnings, once every change (and move) is known."""
        # After the moves are known: a move re-creates the source, so it loses such fields too.
        rewritten = {c.source_id: c.action for c in self.changes if c.action in ("update", "move")}
        return [
            *_order_warnings(self.remote, self.changes, self.present_order),
            *_reserved_warnings(self.reserved),
            *(
                warning
                for sid, have_raw in self.held_remotely
                for warning in _unknown_field_warnings(sid, have_raw, rewritten.get(sid))
            ),
        ]


def _create(
    entry: PresentSource, body: dict[str, Any], wanted: dict[str, Any], position: int
) -> Change:
    return Change(
        action="create",
        source_id=entry.id,
        source_type=entry.type,
        fields=field_changes(None, wanted),
        source=body,
        secrets=dict.fromkeys(entry.secret_refs(), "send"),
        position=position,
    )


def _update(
    entry: PresentSource,
    body: dict[str, Any],
    wanted: dict[str, Any],
    position: int,
    have_raw: Mapping[str, Any],
    rotate: Mapping[str, str],
) -> Change | None:
    """The update of a source Sentry holds, or None when it is unchanged.

    A secret set on both sides is kept (sent as Sentry's placeholder) unless rotation asks for
    it; a type change sends every secret again, since Sentry cannot keep one across it.
    """
    fields = field_changes(normalise(have_raw), wanted)
    same_type = have_raw.get("type") == entry.type
    refs = entry.secret_refs()
    rotating = {
        name: why for name, why in rotate.items() if same_type and name in have_raw and name in refs
    }
    if rotating:
        for name, why in rotating.items():
            fields[name] = FieldChange(before=SECRET_SET, after=SECRET_SET, secret=True, rotate=why)
        fields = dict(sorted(fields.items(), key=lambda item: _field_key(item[0])))
    if not fields:
        return None
    secrets: dict[str, SecretWrite] = {
        name: ("keep" if same_type and name in have_raw and name not in rotating else "send")
        for name in refs
    }
    return Change(
        action="update",
        source_id=entry.id,
        source_type=entry.type,
        fields=fields,
        source=body,
        secrets=secrets,
        position=position,
    )


def _enforce_order(
    changes: list[Change],
    unchanged: list[str],
    present_order: Sequence[str],
    remote: Sequence[Mapping[str, Any]],
    wanted_by_id: Mapping[str, tuple[PresentSource, dict[str, Any], dict[str, Any], int]],
) -> tuple[list[Change], list[str]]:
    """``order: enforce``: every existing source after the longest prefix of the file's order
    that Sentry holds in that order becomes a move (see ``reconciler.plan.ordering``). A move
    replaces the source's update, if any: the re-created source carries the new fields."""
    remote_by_id = {str(s["id"]): s for s in remote}
    reorder = plan_order(present_order, list(remote_by_id))
    if not reorder.moved:
        return changes, unchanged
    moved = set(reorder.moved)
    kept = [c for c in changes if c.source_id not in moved]
    replaced = {c.source_id: c for c in changes if c.source_id in moved}
    for sid in reorder.moved:
        entry, body, wanted, position = wanted_by_id[sid]
        fields = field_changes(normalise(remote_by_id[sid]), wanted)
        if sid in replaced:  # a rotation the update carried still shows
            fields.update({k: f for k, f in replaced[sid].fields.items() if f.rotate})
        kept.append(
            Change(
                action="move",
                source_id=sid,
                source_type=entry.type,
                fields=fields,
                source=body,
                # A POST cannot keep a stored secret: every secret is sent again.
                secrets=dict.fromkeys(entry.secret_refs(), "send"),
                position=position,
            )
        )
    return kept, [sid for sid in unchanged if sid not in moved]


def unknown_fields(source: Mapping[str, Any]) -> list[str]:
    """Fields of a remote source that symsync's file format does not have for its type (a
    field a newer Sentry added, or one an older endpoint let through), as dotted paths."""
    kind = source.get("type")
    known = spec.type_fields(kind) if isinstance(kind, str) and kind in spec.SOURCE_TYPES else None
    out: list[str] = []
    for key, value in source.items():
        if known is not None and key not in known:
            out.append(key)
        elif key in _NESTED_FIELDS and isinstance(value, Mapping):
            out.extend(f"{key}.{k}" for k in value if k not in _NESTED_FIELDS[key])
    return sorted(out)


_NESTED_FIELDS: dict[str, frozenset[str]] = {
    "layout": spec.LAYOUT_FIELDS,
    "filters": spec.FILTER_FIELDS,
}


def _field_name(name: str) -> str:
    """A remote field's name for a message: as is when plain, else as a JSON string."""
    return f"`{name}`" if re.fullmatch(r"[A-Za-z0-9_.-]{1,64}", name) else json.dumps(name)


def _unknown_field_warnings(
    source_id: str, remote: Mapping[str, Any], rewrite: str | None
) -> list[str]:
    """Name every remote field symsync does not manage on a source the file describes: the
    file cannot hold it, and a PUT replaces the whole source, so an update removes it; so does
    a move, which re-creates the source. ``rewrite``: the plan's "update" or "move" of it."""
    fields = unknown_fields(remote)
    if not fields:
        return []
    names = ", ".join(_field_name(f) for f in fields)
    what = "field" if len(fields) == 1 else "fields"
    if rewrite == "move":
        effect = (
            f"this plan moves `{source_id}` (order: enforce), and re-creating it removes "
            f"{_it(fields)}; do not apply it if Sentry still needs {_it(fields)}"
        )
    elif rewrite is not None:
        effect = (
            f"this plan updates `{source_id}`, and the update removes {_it(fields)} (a PUT "
            "replaces the whole source); do not apply it if Sentry still needs "
            f"{_it(fields)}"
        )
    else:
        effect = f"any update of `{source_id}` would remove {_it(fields)}"
    return [
        f"Sentry holds {what} {names} on source `{source_id}`, which symsync does not manage "
        f"(the file cannot hold {_it(fields)}): {effect}"
    ]


def _it(fields: Sequence[str]) -> str:
    return "it" if len(fields) == 1 else "them"


def _delete(source: Mapping[str, Any], position: int, reason: str) -> Change:
    kind = source.get("type")
    return Change(
        action="delete",
        source_id=str(source["id"]),
        source_type=kind if isinstance(kind, str) else None,
        fields=field_changes(normalise(source), None),
        reason="absent" if reason == "absent" else "unmanaged",
        position=position,
    )


def _reserved_warnings(reserved: Sequence[str]) -> list[str]:
    """Sentry keeps its own sources apart and rejects ids starting with ``sentry`` on writes;
    one that shows up in this list anyway is not symsync's to delete."""
    if not reserved:
        return []
    ids = ", ".join(reserved)
    return [
        f"kept {ids} despite unmanaged: delete: ids starting with "
        f"`{spec.RESERVED_ID_PREFIX}` are Sentry's own; symsync never deletes them"
    ]


def _order_warnings(
    remote: Sequence[Mapping[str, Any]], changes: Sequence[Change], desired: Sequence[str]
) -> list[str]:
    """Warn when, after apply, Sentry would query the file's sources in another order.

    Sentry keeps a source's position on update, appends new sources at the end and queries
    sources in stored order. Without ``order: enforce`` symsync does not reorder sources; it
    says so. (With it, the moves make this prediction the file's order.)
    """
    ordered = sorted(changes, key=lambda c: c.sort_key)
    after = order_after(
        [str(s["id"]) for s in remote],
        [c.source_id for c in ordered if c.action in ("delete", "move")],
        [c.source_id for c in ordered if c.action in ("create", "move")],
    )
    wanted = set(desired)
    predicted = [sid for sid in after if sid in wanted]
    if predicted == list(desired):
        return []
    return [
        "source order differs from the file: after apply Sentry will query "
        + ", ".join(predicted)
        + "; the file lists "
        + ", ".join(desired)
        + ". Sentry appends new sources at the end; add `order: enforce` to the file to have "
        "apply re-create sources until the order is the file's."
    ]
