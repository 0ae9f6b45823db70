"""Secret rotation declared in git, or forced: which secrets to send again although set.

Sentry never returns a secret's value, so no differ can see that it changed. symsync keeps no
state of its own, but the project files live in git:

- ``--base REV``: a secret reference (``{env: NAME, version: N}``) whose variable name or version
  differs from the same source's reference in the file as it was at REV is rotated: apply sends
  the variable's value again. A file, a source or a secret field missing at REV is new there:
  nothing to rotate (a new source is created with its value anyway).
- ``--rotate ORG/PROJECT/SOURCE_ID`` (globs per segment): every secret of the matched sources
  is sent again, without git.

Without either, ``version`` means nothing: a rotation is sent once, by the run that sees the
change, and never again.

This module only decides *which* secrets rotate and how to say why; the differ turns that into
changes (``FieldChange.rotate``), and the applier sends values as for any other ``send``.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from reconciler.config.project_file import AbsentSource, ProjectConfig, integral_number
from reconciler.config.selection import ProjectPattern, split_pattern
from reconciler.core.errors import SymsyncError
from reconciler.sentry import spec

# source id -> secret field -> why it is sent again ("version 1 -> 2")
Rotations = dict[str, dict[str, str]]
FORCED = "forced by --rotate"


@dataclass(frozen=True)
class Ref:
    """A secret reference as a file writes it: the variable and the optional version."""

    env: str
    version: int | None = None


def refs_of(config: ProjectConfig) -> dict[str, dict[str, Ref]]:
    """Source id -> secret field -> reference, for the present sources of a loaded file."""
    out: dict[str, dict[str, Ref]] = {}
    for entry in config.sources:
        if isinstance(entry, AbsentSource):
            continue
        refs = {name: Ref(ref.env, ref.version) for name, ref in entry.secret_refs().items()}
        if refs:
            out[entry.id] = refs
    return out


def _lenient_yaml(text: str, path: str, rev: str) -> Any:
    try:
        return yaml.load(text, Loader=yaml.CSafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f":{mark.line + 1}:{mark.column + 1}" if mark is not None else ""
        raise SymsyncError(
            f"{path}{at}: not valid YAML as of --base {rev}, so its secret references cannot "
            "be compared; give a --base where the file is valid"
        ) from None


def org_values_in_text(text: str | None, path: str, rev: str) -> Any:
    """An ``_org.yaml`` as of an older revision, read leniently (None when it had none)."""
    return None if text is None else _lenient_yaml(text, path, rev)


def _with_shared(data: Any, org: Any) -> list[Any]:
    """The entries of a project file's values with ``use:`` and the defaults of its
    ``_org.yaml`` (``org``, plain values) worked in, leniently."""
    sources = data.get("sources") if isinstance(data, Mapping) else None
    entries = list(sources) if isinstance(sources, list) else []
    if not isinstance(org, Mapping):
        return entries
    listed = org.get("sources")
    definitions = {
        d["id"]: d
        for d in (listed if isinstance(listed, list) else [])
        if isinstance(d, Mapping) and isinstance(d.get("id"), str)
    }
    out: list[Any] = []
    for entry in entries:
        if isinstance(entry, Mapping) and isinstance(entry.get("use"), str):
            merged = dict(definitions.get(entry["use"], {}))
            merged.update({k: v for k, v in entry.items() if k != "use"})
            out.append(merged)
        else:
            out.append(entry)
    defaults = org.get("defaults")
    wanted = defaults.get("sources") if isinstance(defaults, Mapping) else None
    if isinstance(data, Mapping) and data.get("defaults") is not False:
        named = {e.get("id") for e in out if isinstance(e, Mapping)}
        named |= {e.get("use") for e in entries if isinstance(e, Mapping)}
        for source_id in wanted if isinstance(wanted, list) else []:
            if source_id not in named and source_id in definitions:
                out.append(definitions[source_id])
    return out


def refs_in_text(text: str, path: str, rev: str, org: Any = None) -> dict[str, dict[str, Ref]]:
    """The secret references of a project file's text (an older revision of it), with the
    definitions its ``_org.yaml`` had then (``org``, as ``org_values_in_text`` reads it).

    Read leniently: only the ids and the secret references matter, so an older file that a
    newer symsync would reject for another reason still tells what it referenced.
    """
    data = _lenient_yaml(text, path, rev)
    out: dict[str, dict[str, Ref]] = {}
    for entry in _with_shared(data, org):
        if not isinstance(entry, Mapping) or not isinstance(entry.get("id"), str):
            continue
        refs: dict[str, Ref] = {}
        for name in spec.ALL_SECRET_FIELDS:
            value = entry.get(name)
            if isinstance(value, Mapping) and isinstance(value.get("env"), str):
                # `version: 1.0` is 1, as the loader reads it today: no rotation from 1.0 to 1.
                version = integral_number(value.get("version"))
                ok = isinstance(version, int) and not isinstance(version, bool)
                refs[name] = Ref(value["env"], version if ok else None)
        if refs:
            out[entry["id"]] = refs
    return out


def _describe(before: Ref, after: Ref) -> str:
    parts = []
    if before.env != after.env:
        parts.append(f"variable {before.env} -> {after.env}")
    if before.version != after.version:
        parts.append(f"version {_version(before.version)} -> {_version(after.version)}")
    return ", ".join(parts)


def _version(version: int | None) -> str:
    return "none" if version is None else str(version)


def declared(
    current: Mapping[str, Mapping[str, Ref]], base: Mapping[str, Mapping[str, Ref]] | None
) -> Rotations:
    """Secrets whose reference changed since the base (None: the file is new there)."""
    out: Rotations = {}
    if base is None:
        return out
    for source_id, refs in current.items():
        old = base.get(source_id, {})
        for name, ref in refs.items():
            before = old.get(name)
            if before is not None and before != ref:
                out.setdefault(source_id, {})[name] = _describe(before, ref)
    return out


def forced(configs: Sequence[ProjectConfig], patterns: Sequence[str]) -> dict[str, Rotations]:
    """``--rotate ORG/PROJECT/SOURCE_ID`` patterns -> per project key, the rotations.

    Each segment is a shell glob matched on its own. A pattern that matches no source holding a
    secret is an error, so a typo never passes for a rotation.
    """
    out: dict[str, Rotations] = {}
    for pattern in patterns:
        parts = split_pattern(pattern, 3)
        if parts is None:
            raise SymsyncError(
                f"--rotate {pattern!r} is not ORG/PROJECT/SOURCE_ID (globs like "
                "`acme/*/acme-symbols` work)"
            )
        hits = 0
        for config in configs:
            if not ProjectPattern(parts[0], parts[1]).matches(config.organization, config.project):
                continue
            for source_id, refs in refs_of(config).items():
                if fnmatch.fnmatchcase(source_id, parts[2]):
                    hits += 1
                    rotations = out.setdefault(config.key, {})
                    rotations.setdefault(source_id, {}).update(dict.fromkeys(refs, FORCED))
        if not hits:
            raise SymsyncError(
                f"--rotate {pattern!r} matches no source that holds a secret in the selected "
                "project files; give ORG/PROJECT/SOURCE_ID of a source with a password, "
                "secret_key or private_key"
            )
    return out


def merge(*parts: Mapping[str, Rotations]) -> dict[str, Rotations]:
    """Per project key, the union of several rotation maps (a forced reason wins)."""
    out: dict[str, Rotations] = {}
    for part in parts:
        for key, rotations in part.items():
            into = out.setdefault(key, {})
            for source_id, fields in rotations.items():
                into.setdefault(source_id, {}).update(fields)
    return out


def collect(
    configs: Sequence[ProjectConfig],
    config_dir: Path,
    *,
    base: str | None,
    patterns: Sequence[str] = (),
) -> dict[str, Rotations]:
    """Per project key, what ``--base REV`` and ``--rotate`` ask to send again."""
    from reconciler.config.base_revision import files_at
    from reconciler.config.diagnostic import display_path

    found: dict[str, Rotations] = {}
    if base is not None:
        # A file renamed between .yml and .yaml is the same project (org and project come from
        # the path, not the extension): where the name is missing at REV, its other one is read.
        others = {c.path: _other_extension(c.path) for c in configs}
        org_files = sorted({c.path.parent / "_org.yaml" for c in configs})
        texts = files_at(base, config_dir, [*others, *others.values(), *org_files])
        orgs = {path: _org_at(texts[path], path, base) for path in org_files}
        for config in configs:
            text = texts[config.path]
            if text is None:
                text = texts[others[config.path]]
            before = (
                None
                if text is None
                else refs_in_text(
                    text.decode("utf-8", "replace"),
                    display_path(config.path),
                    base,
                    orgs[config.path.parent / "_org.yaml"],
                )
            )
            rotations = declared(refs_of(config), before)
            if rotations:
                found[config.key] = rotations
    return merge(found, forced(configs, patterns))


def _org_at(data: bytes | None, path: Path, rev: str) -> Any:
    from reconciler.config.diagnostic import display_path

    text = None if data is None else data.decode("utf-8", "replace")
    return org_values_in_text(text, display_path(path), rev)


def _other_extension(path: Path) -> Path:
    """``ios.yaml`` -> ``ios.yml`` and back."""
    return path.with_suffix(".yml" if path.suffix == ".yaml" else ".yaml")
