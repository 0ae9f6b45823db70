"""The plan: what apply would do, per project, as small value objects.

A ``Plan`` is the one thing that flows from the differ to the renderers and to the applier. It
never holds a secret value, by construction:

- remote secrets only ever enter it as the marker ``"(set)"`` (the differ replaces every secret
  field before comparing);
- desired secrets only as the reference ``{"env": NAME}`` that the project file holds.

The applier reads a variable's value at write time, for the one request that needs it.

The JSON form, ``format_version`` 1: ``Plan.to_json()`` / ``Plan.from_json()``. The same
document is printed by ``plan --format json`` and saved by ``plan --out``; its keys only ever
grow, so a reader ignores keys it does not know.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import IO, Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from reconciler.core.errors import SymsyncError
from reconciler.sentry import spec

FORMAT_VERSION: Final = 1

# Stands for the list of projects while the document around it is written (Plan.write_json).
_PROJECTS_MARK: Final = "\x00projects\x00"

Action = Literal["create", "update", "delete", "move"]
# The order changes are listed and applied in: new sources first (so nothing that symbolication
# relies on disappears before its replacement exists), then updates, then deletions. A move
# (``order: enforce``: delete a source and re-create it at the end) appends like a create, so
# creates and moves go together, in the file's order.
ACTION_ORDER: Final[dict[str, int]] = {"create": 0, "move": 0, "update": 1, "delete": 2}

# Secret fields as they may appear in what Sentry returns: the three a file can set, plus the
# key of the legacy appStoreConnect source (which Sentry no longer accepts on writes) that
# Sentry's list can still hold. Remote values of these never enter a plan.
REMOTE_SECRET_FIELDS: Final[frozenset[str]] = spec.ALL_SECRET_FIELDS | {"appconnectPrivateKey"}

# How a secret appears in a plan: only whether it is there.
SECRET_SET: Final = "(set)"
SECRET_NOT_SET: Final = "(not set)"
_SECRET_MARKERS: Final = (SECRET_SET, SECRET_NOT_SET)

# What the applier sends for a secret field of a create or update:
#   "keep": Sentry's placeholder {"hidden-secret": true}, so the stored value stays;
#   "send": the value of the environment variable the source names.
SecretWrite = Literal["keep", "send"]

# Why a source is deleted.
DeleteReason = Literal["absent", "unmanaged"]


class _Frozen(BaseModel):
    # Unknown keys are ignored: a later symsync may add keys to the JSON plan.
    model_config = ConfigDict(frozen=True, extra="ignore")


class FieldChange(_Frozen):
    """One field's value before and after. ``None`` means the field is absent on that side.

    Secret fields carry ``"(set)"`` / ``"(not set)"`` and ``secret=True``; never a value.
    """

    before: Any = None
    after: Any = None
    secret: bool = False
    # A secret sent again although it is set on both sides: why, in words
    # ("version 1 -> 2", "variable OLD -> NEW", "forced by --rotate"). Never a value.
    rotate: str | None = None


class Change(_Frozen):
    """One change to one source: a create (POST), update (PUT) or delete (DELETE), or a move
    (``order: enforce``): DELETE, then POST of the desired source, which appends it at the end."""

    action: Action
    source_id: str = Field(min_length=1)
    # Type after the change (create, update, move) or of the removed source (delete).
    source_type: str | None = None
    # Field-level before/after, by dotted path ("url", "layout.casing", "filters.filetypes").
    # A create lists every field it sets, a delete every field it removes.
    fields: dict[str, FieldChange] = Field(default_factory=dict)
    # The complete desired source as the file gives it, secrets as {"env": NAME}; None for delete.
    # A move re-creates the source from it, so it sends every secret.
    source: dict[str, Any] | None = None
    # For every secret field of ``source``: keep the stored value, or send the variable's value.
    secrets: dict[str, SecretWrite] = Field(default_factory=dict)
    # For a delete: "absent" (the file says state: absent) or "unmanaged" (unmanaged: delete).
    reason: DeleteReason | None = None
    # Position used for the fixed order: in the file for create/update, remotely for delete.
    position: int = 0

    @field_validator("source")
    @classmethod
    def _source_holds_no_secret(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        if value is not None:
            for name in spec.ALL_SECRET_FIELDS:
                if name in value and not _is_env_ref(value[name]):
                    raise ValueError(f"secret field `{name}` must be an {{env: NAME}} reference")
        return value

    @field_validator("fields")
    @classmethod
    def _fields_hold_no_secret(cls, value: dict[str, FieldChange]) -> dict[str, FieldChange]:
        # A plan file can be edited by hand; a secret field shows only whether it is set, so
        # nothing that reads the plan (the renderers above all) can print a value from it.
        for name, change in value.items():
            if name in REMOTE_SECRET_FIELDS and not (
                change.secret
                and change.before in _SECRET_MARKERS
                and change.after in _SECRET_MARKERS
            ):
                raise ValueError(
                    f"secret field `{name}` may only show {SECRET_SET!r} or {SECRET_NOT_SET!r}"
                )
        return value

    @model_validator(mode="after")
    def _secret_writes_match_the_source(self) -> Change:
        secret_fields = spec.ALL_SECRET_FIELDS & set(self.source or {})
        unknown = sorted(set(self.secrets) - secret_fields)
        if unknown:
            raise ValueError(
                f"`secrets` names {', '.join(unknown)}, not a secret field of the source"
            )
        if self.action in ("create", "move") and "keep" in self.secrets.values():
            # Sentry has no stored value to keep for a new source, and rejects a placeholder
            # in a POST.
            raise ValueError(f"a {self.action} cannot keep a stored secret; it must send it")
        return self

    @property
    def sort_key(self) -> tuple[int, int, str]:
        return (ACTION_ORDER[self.action], self.position, self.source_id)

    def secret_variables(self) -> dict[str, str]:
        """Field -> environment variable, for every secret this change must send in clear."""
        if self.source is None:
            return {}
        out: dict[str, str] = {}
        for name in sorted(spec.ALL_SECRET_FIELDS & set(self.source)):
            variable = env_name(self.source[name])
            if variable is not None and self.secrets.get(name, "send") == "send":
                out[name] = variable
        return out


class LimitBreach(_Frozen):
    """One delete limit a plan goes over (see ``reconciler.plan.delete_limits``)."""

    # The project whose own limit is broken; None for the run's total (--max-deletes).
    project: str | None = None
    # "run": --max-deletes; "file": the project file's max_deletes; "half": the default
    # per-project rule (more than half of a project holding 4 or more sources).
    rule: Literal["run", "file", "half"]
    deletes: int
    limit: int
    # "12 deletes, more than --max-deletes 10"
    message: str
    # The exact flag or file key that would allow it: "--max-deletes 12",
    # "max_deletes: 4 in configs/acme/ios.yaml".
    allow: str


class DeleteLimits(_Frozen):
    """The verdict of the delete limits on a plan, for a run allowed ``max_deletes``."""

    max_deletes: int
    deletes: int = 0
    breaches: tuple[LimitBreach, ...] = ()

    @property
    def refused(self) -> bool:
        return bool(self.breaches)

    def lines(self) -> list[str]:
        """One line per breach: what is over the limit and what allows it."""
        return [f"{b.message} (to allow it: {b.allow})" for b in self.breaches]

    def verdict(self) -> list[str]:
        """What every plan format says, one line per breach: "apply would refuse: 12 deletes,
        more than --max-deletes 10 (to allow it: --max-deletes 12)"; empty when apply would not
        refuse."""
        return [f"apply would refuse: {line}" for line in self.lines()]


class RemoteSource(_Frozen):
    """A digest of one remote source as the plan saw it, to tell later what moved."""

    id: str
    digest: str


class PlanWarning(_Frozen):
    """A warning about a project: from its file, at a position (``file``, ``line``,
    ``column``, 1-based), or from planning it, about the project as a whole (no position)."""

    file: str | None = None
    line: int | None = None
    column: int | None = None
    message: str

    @property
    def where(self) -> str | None:
        """``PATH:LINE:COLUMN``, or None for a warning about the whole project."""
        if self.file is None or self.line is None or self.column is None:
            return None
        return f"{self.file}:{self.line}:{self.column}"


class BuiltinChange(_Frozen):
    """A project's built-in repositories (Sentry's ``builtinSymbolSources``) before and after:
    apply sends the whole ``after`` list in one PUT of the project."""

    before: tuple[str, ...]
    after: tuple[str, ...]

    @property
    def added(self) -> list[str]:
        return [key for key in self.after if key not in self.before]

    @property
    def removed(self) -> list[str]:
        return [key for key in self.before if key not in self.after]

    def describe(self) -> str:
        """``+ nuget, - unity``; a list whose keys only change order shows both orders."""
        parts = [f"+ {key}" for key in self.added] + [f"- {key}" for key in self.removed]
        if parts:
            return ", ".join(parts)
        return f"order {', '.join(self.before)} -> {', '.join(self.after)}"

    def to_json(self) -> dict[str, Any]:
        return {
            "before": list(self.before),
            "after": list(self.after),
            "added": self.added,
            "removed": self.removed,
        }


class ProjectPlan(_Frozen):
    organization: str
    project: str
    # The project file, relative to the current directory when planned.
    file: str | None = None
    changes: tuple[Change, ...] = ()
    # Remote sources the file does not name: kept (`unmanaged: keep`), or kept and reported as
    # drift (`unmanaged: report`).
    unmanaged: tuple[str, ...] = ()
    reported: tuple[str, ...] = ()
    unchanged: tuple[str, ...] = ()
    # The file's warnings (with their position), then the plan's own.
    warnings: tuple[PlanWarning, ...] = ()
    # Hash of the redacted remote list as GET returned it; None when it could not be read.
    fingerprint: str | None = None
    remote_sources: tuple[RemoteSource, ...] = ()
    error: str | None = None
    # The project file's own delete limit (``max_deletes:``), replacing the half rule.
    max_deletes: int | None = None
    # Built-in repositories: the change to make (None when they match or are not managed), and
    # the list Sentry held when planned (None when not managed), which apply of a saved plan
    # checks again.
    builtin: BuiltinChange | None = None
    builtin_seen: tuple[str, ...] | None = None
    # The URL that served the project's organization (its region, or the configured URL);
    # None when it was not read. A saved plan is applied only where it was planned.
    sentry_url: str | None = None

    @field_validator("changes")
    @classmethod
    def _sorted_changes(cls, value: tuple[Change, ...]) -> tuple[Change, ...]:
        return tuple(sorted(value, key=lambda c: c.sort_key))

    @field_validator("warnings", mode="before")
    @classmethod
    def _warnings_from_words(cls, value: Any) -> Any:
        # A warning given as words alone (the differ's, or a plan saved by an earlier symsync)
        # is about the whole project.
        if isinstance(value, list | tuple):
            return [{"message": w} if isinstance(w, str) else w for w in value]
        return value

    @property
    def key(self) -> str:
        return f"{self.organization}/{self.project}"

    def count(self, action: Action) -> int:
        return sum(1 for c in self.changes if c.action == action)

    @property
    def has_changes(self) -> bool:
        return bool(self.changes or self.builtin)

    @property
    def writes(self) -> int:
        """The requests apply sends: one per change, and one for the built-in repositories."""
        return len(self.changes) + (1 if self.builtin is not None else 0)

    @property
    def has_drift(self) -> bool:
        """Changes to apply, or remote sources reported as not in the file."""
        return bool(self.changes or self.builtin or self.reported)

    @property
    def needs_variables(self) -> tuple[str, ...]:
        """The secret variables apply will read for this project (names, sorted, unique): what
        each change sends in clear, as ``Change.secret_variables()`` says."""
        return tuple(sorted({v for c in self.changes for v in c.secret_variables().values()}))


class Summary(_Frozen):
    create: int = 0
    update: int = 0
    delete: int = 0
    move: int = 0
    unchanged: int = 0
    unmanaged: int = 0
    errors: int = 0
    # Remote sources reported as not in their file (`unmanaged: report`), and projects with
    # sources and no file (`plan --report-unfiled`); both are drift, neither is written.
    reported: int = 0
    unfiled: int = 0
    # Projects without a file whose sources (or organizations whose project list) could not be
    # read: not counted in ``unfiled``, since nobody knows whether they have sources.
    unfiled_unreadable: int = 0
    # Projects whose built-in repositories change (one write each).
    builtin: int = 0

    @property
    def changes(self) -> int:
        return self.create + self.update + self.delete + self.move + self.builtin


class Plan(_Frozen):
    format_version: Literal[1] = FORMAT_VERSION
    projects: tuple[ProjectPlan, ...] = ()
    # The Sentry the remote state was read from (the configured URL; each organization's own
    # is its projects' ``sentry_url``); a saved plan is applied only there.
    sentry_url: str | None = None
    # What the delete limits say about this plan (``reconciler.plan.delete_limits``). Shown by every
    # format; apply checks the limits again with its own settings, whatever a file says here.
    limits: DeleteLimits | None = None
    # `plan --report-unfiled`: projects (`org/project`) that have sources in Sentry and no file,
    # and those whose sources could not be read (with the error); None when not looked for.
    unfiled: tuple[str, ...] | None = None
    unfiled_errors: dict[str, str] = Field(default_factory=dict)

    @field_validator("projects")
    @classmethod
    def _sorted_projects(cls, value: tuple[ProjectPlan, ...]) -> tuple[ProjectPlan, ...]:
        # One entry per project: apply runs projects in parallel, and two entries for one
        # project (a hand-merged plan file) would write to it concurrently.
        twice = sorted(k for k, n in Counter(p.key for p in value).items() if n > 1)
        if twice:
            raise ValueError(f"project {', '.join(twice)} appears more than once")
        return tuple(sorted(value, key=lambda p: (p.organization, p.project)))

    @property
    def summary(self) -> Summary:
        return Summary(
            create=sum(p.count("create") for p in self.projects),
            update=sum(p.count("update") for p in self.projects),
            delete=sum(p.count("delete") for p in self.projects),
            move=sum(p.count("move") for p in self.projects),
            unchanged=sum(len(p.unchanged) for p in self.projects),
            unmanaged=sum(len(p.unmanaged) for p in self.projects),
            errors=sum(1 for p in self.projects if p.error is not None),
            reported=sum(len(p.reported) for p in self.projects),
            unfiled=sum(1 for k in self.unfiled or () if k not in self.unfiled_errors),
            unfiled_unreadable=len(self.unfiled_errors),
            builtin=sum(1 for p in self.projects if p.builtin is not None),
        )

    @property
    def has_changes(self) -> bool:
        return any(p.has_changes for p in self.projects)

    @property
    def has_drift(self) -> bool:
        """What ``plan --detailed-exitcode`` counts: changes to apply, remote sources reported
        as not in their file, and projects with sources and no file."""
        return any(p.has_drift for p in self.projects) or bool(self.unfiled)

    @property
    def has_errors(self) -> bool:
        return any(p.error is not None for p in self.projects) or bool(self.unfiled_errors)

    @property
    def needs_variables(self) -> tuple[str, ...]:
        """Every secret variable apply will read, over all projects (names, sorted, unique)."""
        return tuple(sorted({v for p in self.projects for v in p.needs_variables}))

    def select(self, keys: Iterable[str]) -> Plan:
        wanted = set(keys)
        return Plan(
            projects=tuple(p for p in self.projects if p.key in wanted), sentry_url=self.sentry_url
        )  # the limits' verdict was for the whole plan: it is computed again

    # --- JSON -------------------------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        projects: list[dict[str, Any]] = []
        for p in self.projects:
            item: dict[str, Any] = {
                "organization": p.organization,
                "project": p.project,
                "file": p.file,
                "changes": [_change_json(c) for c in p.changes],
                "needs_variables": list(p.needs_variables),
                "unmanaged": list(p.unmanaged),
                "reported": list(p.reported),
                "unchanged": list(p.unchanged),
                "warnings": [w.model_dump() for w in p.warnings],
                "fingerprint": p.fingerprint,
                "remote_sources": [r.model_dump() for r in p.remote_sources],
            }
            if p.error is not None:
                item["error"] = p.error
            if p.max_deletes is not None:
                item["max_deletes"] = p.max_deletes
            if p.builtin is not None:
                item["builtin"] = p.builtin.to_json()
            if p.builtin_seen is not None:
                item["builtin_seen"] = list(p.builtin_seen)
            if p.sentry_url is not None:
                item["sentry_url"] = p.sentry_url
            projects.append(item)
        document: dict[str, Any] = {"format_version": FORMAT_VERSION}
        if self.sentry_url is not None:
            document["sentry_url"] = self.sentry_url
        document["projects"] = projects
        document["groups"] = [group.to_json() for group in change_groups(self.projects)]
        if self.unfiled is not None:
            document["unfiled"] = list(self.unfiled)
            document["unfiled_errors"] = dict(self.unfiled_errors)
        document["summary"] = self.summary.model_dump()
        if self.limits is not None:
            document["limits"] = {
                **self.limits.model_dump(mode="json"),
                "refused": self.limits.refused,
                "verdict": self.limits.verdict(),
            }
        return document

    def dumps(self) -> str:
        return json.dumps(self.to_json(), indent=2, ensure_ascii=False) + "\n"

    def write_json(self, stream: IO[str]) -> None:
        """Write ``dumps()``'s text to ``stream`` one project at a time.

        The same characters, without holding the whole document (or its dicts) in memory at
        once: a 10,000-project plan is tens of megabytes of JSON. Each project's entry is what
        ``to_json`` makes of a plan holding that project alone, and the document around them
        what it makes of the plan without its projects, apart from the summary, which counts
        them all; so a key added to ``to_json`` is written here too.
        """
        shell = self.model_copy(update={"projects": ()}).to_json()
        shell["summary"] = self.summary.model_dump()
        shell["groups"] = [group.to_json() for group in change_groups(self.projects)]
        shell["projects"] = _PROJECTS_MARK
        head, tail = json.dumps(shell, indent=2, ensure_ascii=False).split(
            json.dumps(_PROJECTS_MARK), 1
        )
        stream.write(head)
        if not self.projects:
            stream.write("[]")
        else:
            stream.write("[\n")
            for index, project in enumerate(self.projects):
                (item,) = self.model_copy(update={"projects": (project,)}).to_json()["projects"]
                text = json.dumps(item, indent=2, ensure_ascii=False)
                stream.write(("    " if index == 0 else ",\n    ") + text.replace("\n", "\n    "))
            stream.write("\n  ]")
        stream.write(tail + "\n")

    @classmethod
    def from_json(cls, data: Any, *, where: str = "plan") -> Plan:
        """Read a saved plan; a document that is not a format-1 plan is a clear error."""
        if not isinstance(data, dict):
            raise SymsyncError(f"{where}: not a symsync plan (expected a JSON object)")
        version = data.get("format_version")
        if version != FORMAT_VERSION:
            raise SymsyncError(
                f"{where}: unsupported plan format_version {version!r} "
                f"(this symsync reads {FORMAT_VERSION}); run `symsync plan --out` again"
            )
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            first = exc.errors()[0]
            loc = ".".join(str(part) for part in first["loc"])
            raise SymsyncError(
                f"{where}: not a valid symsync plan: {loc}: {first['msg']} "
                f"({exc.error_count()} problem(s)); run `symsync plan --out` again"
            ) from None

    @classmethod
    def loads(cls, text: str, *, where: str = "plan") -> Plan:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise SymsyncError(
                f"{where}:{exc.lineno}:{exc.colno}: not JSON ({exc.msg}); "
                "give a file written by `symsync plan --out`"
            ) from None
        return cls.from_json(data, where=where)


def _change_json(change: Change) -> dict[str, Any]:
    out: dict[str, Any] = {
        "action": change.action,
        "source_id": change.source_id,
        "source_type": change.source_type,
        "fields": {name: _field_json(f) for name, f in change.fields.items()},
    }
    if change.source is not None:
        out["source"] = change.source
        out["secrets"] = dict(change.secrets)
    if change.reason is not None:
        out["reason"] = change.reason
    out["position"] = change.position
    return out


def _field_json(change: FieldChange) -> dict[str, Any]:
    out: dict[str, Any] = {"before": change.before, "after": change.after}
    if change.secret:
        out["secret"] = True
    if change.rotate is not None:
        out["rotate"] = change.rotate
    return out


# --- groups: one change made in several projects ---------------------------------------------


class ChangeGroup:
    """The same change (same action, source id and field values, before and after; or the same
    built-in repositories before and after) in two or more projects."""

    __slots__ = ("builtin", "change", "projects")

    def __init__(
        self, change: Change | None, builtin: BuiltinChange | None, projects: list[str]
    ) -> None:
        self.change = change
        self.builtin = builtin
        self.projects = projects

    def to_json(self) -> dict[str, Any]:
        if self.builtin is not None:
            return {"kind": "builtin", "change": self.builtin.to_json(), "projects": self.projects}
        assert self.change is not None
        change = _change_json(self.change)
        for key in ("source", "secrets", "position"):
            change.pop(key, None)
        return {"kind": "source", "change": change, "projects": self.projects}


def _group_key(change: Change) -> str:
    fields = {name: _field_json(f) for name, f in change.fields.items()}
    return json.dumps(
        [change.action, change.source_id, change.source_type, change.reason, fields],
        sort_keys=True,
        ensure_ascii=False,
    )


def change_groups(projects: Sequence[ProjectPlan]) -> list[ChangeGroup]:
    """Every change made in two or more projects, once, with the projects (in plan order);
    source changes first, in the order first seen, then built-in repository changes."""
    sources: dict[str, ChangeGroup] = {}
    builtins: dict[tuple[tuple[str, ...], tuple[str, ...]], ChangeGroup] = {}
    for project in projects:
        if project.error is not None:
            continue
        for change in project.changes:
            key = _group_key(change)
            group = sources.setdefault(key, ChangeGroup(change, None, []))
            if not group.projects or group.projects[-1] != project.key:
                group.projects.append(project.key)
        if project.builtin is not None:
            pair = (project.builtin.before, project.builtin.after)
            builtins.setdefault(pair, ChangeGroup(None, project.builtin, [])).projects.append(
                project.key
            )
    return [g for g in [*sources.values(), *builtins.values()] if len(g.projects) > 1]


def grouped_keys(groups: Sequence[ChangeGroup]) -> tuple[set[tuple[str, str]], set[str]]:
    """(project, change key) of every source change in a group, and the projects whose
    built-in repository change is in one: what the per-project details need not repeat."""
    changes = {
        (project, _group_key(g.change)) for g in groups if g.change for project in g.projects
    }
    builtins = {project for g in groups if g.builtin for project in g.projects}
    return changes, builtins


def in_group(project: ProjectPlan, change: Change, keys: set[tuple[str, str]]) -> bool:
    return (project.key, _group_key(change)) in keys


def env_name(value: Any) -> str | None:
    """The variable of an ``{env: NAME}`` reference, else None."""
    return str(value["env"]) if _is_env_ref(value) else None


def _is_env_ref(value: Any) -> bool:
    return (
        isinstance(value, Mapping)
        and set(value) == {"env"}
        and isinstance(value["env"], str)
        and bool(value["env"])
    )


# --- remote fingerprints ------------------------------------------------------------------------


def redact_remote(source: Mapping[str, Any]) -> dict[str, Any]:
    """A remote source with every secret field replaced by Sentry's placeholder.

    Sentry already redacts its answers; doing it again here means that even a server that
    answered in clear could not put a secret into a plan, a digest or an output.
    """
    out = dict(source)
    for name in REMOTE_SECRET_FIELDS:
        if name in out:
            out[name] = spec.hidden_secret()
    return out


def _digest(value: Any) -> str:
    canonical = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "sha256:" + hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def fingerprint(remote: Sequence[Mapping[str, Any]]) -> str:
    """Hash of the redacted remote list, in the order GET returned it (order matters to Sentry)."""
    return _digest([redact_remote(s) for s in remote])


def remote_digests(remote: Sequence[Mapping[str, Any]]) -> tuple[RemoteSource, ...]:
    return tuple(
        RemoteSource(id=str(s.get("id", "")), digest=_digest(redact_remote(s))) for s in remote
    )


def describe_drift(saved: Sequence[RemoteSource], current: Sequence[RemoteSource]) -> str:
    """What moved between the remote state a plan saw and the one seen now, in words."""
    before = {r.id: r.digest for r in saved}
    after = {r.id: r.digest for r in current}
    parts: list[str] = []
    added = [i for i in after if i not in before]
    removed = [i for i in before if i not in after]
    modified = [i for i in after if i in before and before[i] != after[i]]
    if modified:
        parts.append("modified " + ", ".join(f"`{i}`" for i in modified))
    if added:
        parts.append("added " + ", ".join(f"`{i}`" for i in added))
    if removed:
        parts.append("removed " + ", ".join(f"`{i}`" for i in removed))
    common_before = [i for i in before if i in after]
    common_after = [i for i in after if i in before]
    if common_before != common_after:
        parts.append("reordered sources")
    if not parts:
        parts.append("the source list differs")
    return "; ".join(parts)
