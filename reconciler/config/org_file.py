"""An organization's shared definitions and defaults: ``configs/<org>/_org.yaml``.

```yaml
sources:                 # definitions any project file of the organization may use, by id
  - id: corp-symbols
    type: http
    url: https://symbols.example.com/
    layout: {type: native}
defaults:
  sources: [corp-symbols]      # appended to every project file, in this order
  builtin: [microsoft, nuget]  # for every project file that does not say its own `builtin:`
```

A project file uses a definition with ``- use: corp-symbols``, and may override any field but
``type`` (a field given replaces the definition's whole value, ``layout`` and ``filters``
included); overriding ``id`` lets one definition be used twice. ``defaults: false`` at the top of
a project file takes nothing from ``defaults``. A default source is not appended to a file that
already names its id (with ``use:``, its own entry, or ``state: absent``).

The expansion works on the plain values, before the project file's model validates them, so
everything downstream sees ordinary sources. Positions stay those of the project file: a field
the project file overrides is reported where it is written, one that comes from the definition
at the ``use:`` entry (the definition itself was checked, and is reported, in ``_org.yaml``).
"""

from __future__ import annotations

import difflib
import os
from dataclasses import dataclass, field
from typing import Any

from reconciler.config.diagnostic import Diagnostic
from reconciler.config.project_file import OrgDefaults, OrgFile
from reconciler.config.yamlread import Document, Loc, line_of
from reconciler.sentry import spec

USE_KEY = "use"
# The models of the file live beside the project file's, which they share.
__all__ = ["OrgContext", "OrgDefaults", "OrgFile", "check_builtin_list", "expand", "suggestion"]


@dataclass
class OrgContext:
    """What a project file of the organization may take from its ``_org.yaml``."""

    shown: str
    # Valid definitions, as plain values, by id.
    definitions: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Ids of definitions that did not validate (reported in ``_org.yaml``).
    broken: set[str] = field(default_factory=set)
    default_sources: tuple[str, ...] = ()
    default_builtin: tuple[str, ...] | None = None


def suggestion(word: str, choices: list[str]) -> str:
    """ "; did you mean `x`?" for a close choice, else ""."""
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return f"; did you mean `{close[0]}`?" if close else ""


@dataclass
class Expansion:
    """A project file's values with ``use:`` entries and defaults worked in."""

    values: Any
    problems: list[tuple[Loc, str]] = field(default_factory=list)
    # A ``use:`` of a definition that is broken in ``_org.yaml`` (already reported there).
    uses_broken: bool = False
    # Entries whose other errors would only repeat a problem above (an unknown ``use:``).
    invalid: set[Loc] = field(default_factory=set)


def expand(values: Any, org: OrgContext | None, shown: str) -> Expansion:
    """The values with every ``- use: ID`` entry replaced by its definition (with the entry's
    overrides), the defaults appended; and what is wrong with the ``use:`` entries (``shown``:
    the project file, as messages name it). Values with nothing to work in come back as they
    are."""
    if not isinstance(values, dict):
        return Expansion(values)
    sources = values.get("sources")
    entries = sources if isinstance(sources, list) else []
    has_use = any(isinstance(e, dict) and USE_KEY in e for e in entries)
    takes_defaults = org is not None and values.get("defaults") is not False
    if not has_use and not takes_defaults:
        return Expansion(values)
    out = Expansion(dict(values))
    merged = [_resolved(entry, index, org, shown, out) for index, entry in enumerate(entries)]
    if takes_defaults:
        assert org is not None
        named = {e.get("id") for e in merged if isinstance(e, dict)}
        named |= {e.get(USE_KEY) for e in entries if isinstance(e, dict)}
        for source_id in org.default_sources:
            if source_id in org.broken:
                out.uses_broken = True
            elif source_id not in named and source_id in org.definitions:
                merged.append(dict(org.definitions[source_id]))
        if "builtin" not in values and org.default_builtin is not None:
            out.values["builtin"] = list(org.default_builtin)
    if isinstance(sources, list):  # anything else is reported as it is written
        out.values["sources"] = merged
    return out


def _resolved(entry: Any, index: int, org: OrgContext | None, shown: str, out: Expansion) -> Any:
    if not isinstance(entry, dict) or USE_KEY not in entry:
        return entry
    name = entry[USE_KEY]
    loc: Loc = ("sources", index, USE_KEY)
    if not isinstance(name, str) or not name.strip():
        out.problems.append((loc, "`use` must name a definition of `_org.yaml` by its id"))
        out.invalid.add(("sources", index))
        return {k: v for k, v in entry.items() if k != USE_KEY}
    if entry.get("state") == "absent":
        out.problems.append(
            (
                ("sources", index, "state"),
                f"`use: {name}` cannot be `state: absent`: to delete the source in this "
                f"project, write `- {{id: ID, state: absent}}` instead",
            )
        )
        out.invalid.add(("sources", index))
        return {k: v for k, v in entry.items() if k != USE_KEY}
    if "type" in entry:
        out.problems.append(
            (
                ("sources", index, "type"),
                f"`type` cannot be overridden in `use: {name}`: a definition keeps its type; "
                "remove `type`, or write the source out in full instead of `use:`",
            )
        )
    if org is not None and name in org.broken:
        out.uses_broken = True
        return {k: v for k, v in entry.items() if k not in (USE_KEY, "type")}
    definition = org.definitions.get(name) if org is not None else None
    if definition is None:
        out.problems.append((loc, _unknown_use(name, org, shown)))
        out.invalid.add(("sources", index))
        return {k: v for k, v in entry.items() if k != USE_KEY}
    result = dict(definition)
    for key, value in entry.items():
        if key not in (USE_KEY, "type"):
            result[key] = value
    return result


def _unknown_use(name: str, org: OrgContext | None, shown: str) -> str:
    if org is None:
        org_dir = os.path.dirname(shown)
        return (
            f"`use: {name}` names a shared definition, but there is no {org_dir}/_org.yaml: "
            "write the definition there under `sources:`, or write the source out in full"
        )
    known = sorted([*org.definitions, *org.broken])
    hint = suggestion(name, known) or (
        f" (it defines: {', '.join(f'`{k}`' for k in known)})" if known else ""
    )
    return f"`use: {name}`: {org.shown} has no definition with this id{hint}"


def check_builtin_list(
    document: Document,
    loc: Loc,
    where: str,
    shown: str,
    diagnostics: list[Diagnostic],
    position: Any,
) -> None:
    """Duplicates in a ``builtin:`` list are errors; a key Sentry does not document is a
    warning (Sentry stores any key; ``plan`` checks it against the organization's list)."""
    from reconciler.config.wording import position_diagnostic

    keys = _value_at(document.values, loc)
    if not isinstance(keys, list):
        return
    first: dict[str, int] = {}
    for index, key in enumerate(keys):
        if not isinstance(key, str) or not key.strip():
            continue
        at = position((*loc, index), document)
        if key in first:
            diagnostics.append(
                position_diagnostic(
                    shown,
                    at,
                    f"{where}: `{key}` is listed twice (first at line {line_of(first[key])}): "
                    "each built-in repository may appear once; remove one",
                )
            )
            continue
        first[key] = at
        if key not in spec.BUILTIN_SOURCE_KEYS:
            close = suggestion(key, list(spec.BUILTIN_SOURCE_KEYS)).removeprefix("; ")
            hint = (
                f" ({close})"
                if close
                else (f" (documented: {', '.join(spec.BUILTIN_SOURCE_KEYS)})")
            )
            diagnostics.append(
                position_diagnostic(
                    shown,
                    at,
                    f"{where}: `{key}` is not a built-in repository Sentry documents{hint}; "
                    "`plan` refuses it unless the organization offers it",
                    "warning",
                )
            )


def _value_at(values: Any, loc: Loc) -> Any:
    for part in loc:
        if isinstance(part, str) and isinstance(values, dict):
            values = values.get(part)
        elif isinstance(part, int) and isinstance(values, list) and 0 <= part < len(values):
            values = values[part]
        else:
            return None
    return values
