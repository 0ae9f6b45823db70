"""Turn the sources Sentry holds for one project into the text of its project file.

Each source becomes an entry with its fields in a fixed order (``FIELD_ORDER``), short lists
written on one line, and every string quoted where a YAML 1.1 reader would not read it back as
written. Secrets cannot be read from Sentry: each one becomes a ``{env: VARIABLE}`` reference
whose name comes from a template (``reconciler.importer.secret_names``), and is recorded as a
:class:`SecretVariable` so that the command can tell the user which variables to set.

A source the file format cannot hold (no id, a reserved id, an id listed twice, a type symsync
does not manage, a value the format refuses) is left out with a warning that says what the plan
will then show. Fields Sentry holds that the format has no place for are left out with a warning
too. The whole file is validated as ``symsync validate`` would before it is handed on.
"""

from __future__ import annotations

import io
import json
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import yaml as pyyaml
from pydantic import ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.scalarstring import (
    DoubleQuotedScalarString,
    ScalarString,
    SingleQuotedScalarString,
)

from reconciler.config.project_file import ProjectFile
from reconciler.core.errors import SymsyncError
from reconciler.importer.secret_names import SecretNamer, SecretNameTemplate
from reconciler.sentry import spec

# Key order of a source in a written file, the order of the example project file in
# ``docs/project-files.md``; Sentry's other common fields come last.
_COMMON_TAIL: Final = ("platforms", "is_public", "has_index")
FIELD_ORDER: Final[dict[str, tuple[str, ...]]] = {
    "http": ("id", "type", "name", "url", "layout", "username", "password", "filters",
             *_COMMON_TAIL),
    "s3": ("id", "type", "name", "bucket", "region", "prefix", "access_key", "secret_key",
           "layout", "filters", *_COMMON_TAIL),
    "gcs": ("id", "type", "name", "bucket", "prefix", "client_email", "private_key", "layout",
            "filters", *_COMMON_TAIL),
}  # fmt: skip
LAYOUT_ORDER: Final = ("type", "casing")
FILTER_ORDER: Final = ("filetypes", "path_patterns", "requires_checksum")
# The mappings inside a source: their keys' order, and whether the mapping is written on one
# line (`layout: {type: native, casing: default}`).
_NESTED: Final[dict[str, tuple[tuple[str, ...], bool]]] = {
    "layout": (LAYOUT_ORDER, True),
    "filters": (FILTER_ORDER, False),
}
# Lists written on one line, like `filetypes: [pe, pdb]`.
FLOW_LISTS: Final = frozenset({"filetypes", "path_patterns", "platforms"})
LEGACY_TYPE: Final = "appStoreConnect"

# The JSON Schema file the first line of every written file points editors to, beside the
# organizations' folders (``reconciler.importer.write`` writes it; the loader ignores files
# that are not YAML).
SCHEMA_FILE: Final = "symsync.schema.json"
HEADER: Final = (
    f"yaml-language-server: $schema=../{SCHEMA_FILE}\n"
    "Imported from Sentry by `symsync import`. Secrets are not readable from Sentry:\n"
    "each one is a reference to an environment variable, needed only when symsync has to\n"
    "send the value (creating a source again, or adding a secret)."
)


# The ``project`` of what belongs to an organization's ``_org.yaml``.
SHARED: Final = "_org"


@dataclass(frozen=True)
class SecretVariable:
    """The environment variable a written ``{env: ...}`` reference names, and which secret it
    stands for."""

    name: str
    organization: str
    project: str
    source_id: str
    field: str

    def describe(self) -> str:
        if self.project == SHARED:
            return (
                f"{self.field} of shared definition `{self.source_id}` in "
                f"{self.organization}/_org.yaml"
            )
        return f"{self.field} of source `{self.source_id}` in {self.organization}/{self.project}"


@dataclass
class ImportedFile:
    """One project's file, rendered and not yet written."""

    organization: str
    project: str
    path: Path
    text: str
    sources: int
    variables: list[SecretVariable] = field(default_factory=list)


def render_project(
    org: str,
    project: str,
    path: Path,
    sources: list[dict[str, Any]],
    names: SecretNamer,
    warnings: list[str],
    *,
    shared: Mapping[int, str] | None = None,
    builtin: Sequence[str] | None = None,
) -> ImportedFile:
    """The file of one project, to be written at ``path``, from the sources Sentry holds for it;
    a warning for each source (or field) left out.

    ``shared``: source index -> id of the ``_org.yaml`` definition it is written as (``- use:
    ID``, with ``id:`` when the source's own id differs). ``builtin``: the project's built-in
    repositories, written as ``builtin:`` when given."""
    entries: list[CommentedMap] = []
    variables: list[SecretVariable] = []
    seen_ids: set[str] = set()
    uses: list[CommentedMap] = []
    for index, source in enumerate(sources):
        if shared is not None and index in shared:
            entry = CommentedMap(use=shared[index])
            if source["id"] != shared[index]:
                entry["id"] = source["id"]
            entries.append(entry)
            uses.append(entry)
            seen_ids.add(source["id"])
            continue
        converted = _convert_source(org, project, index, source, names, warnings, seen_ids)
        if converted is None:
            continue
        entry, entry_variables = converted
        entries.append(entry)
        variables.extend(entry_variables)
        seen_ids.add(entry["id"])

    doc = CommentedMap()
    doc["unmanaged"] = "report"
    if builtin is not None:
        doc["builtin"] = _flow_list(list(builtin))
    seq = CommentedSeq(entries)
    if not entries:
        seq.fa.set_flow_style()
    doc["sources"] = seq
    doc.yaml_set_start_comment(HEADER)
    text = _dump(doc)
    # The written file must be one that `symsync validate` accepts (its `use:` entries are
    # checked with the definitions they name).
    plain = _plain(doc)
    plain["sources"] = [e for e in plain["sources"] if "use" not in e]
    ProjectFile.model_validate(plain)
    if not entries and sources:
        warnings.append(f"{org}/{project}: no source could be imported; the file lists none")
    return ImportedFile(org, project, path, text, len(entries), variables)


ORG_HEADER: Final = (
    f"yaml-language-server: $schema=../{SCHEMA_FILE}#/$defs/OrgFile\n"
    "Written by `symsync import --share`: sources identical in several projects of this\n"
    "organization, each defined once; a project file uses one with `- use: ID`."
)


def shareable(org: str, source: dict[str, Any]) -> bool:
    """Whether a file can hold the source as Sentry has it, every field kept (so that a shared
    definition stands for it exactly)."""
    if _why_skipped(org, 0, source, set()) is not None:
        return False
    names = SecretNamer(SecretNameTemplate.parse(None))
    entry, _, unknown = _entry(org, "", source["id"], source["type"], source, names)
    if unknown:
        return False
    try:
        ProjectFile.model_validate({"sources": [_plain(entry)]})
    except ValidationError:
        return False
    return True


def render_org_file(
    org: str,
    path: Path,
    definitions: Sequence[tuple[str, dict[str, Any]]],
    names: SecretNamer,
) -> ImportedFile:
    """``_org.yaml`` holding each shared source once, under its definition id; its secrets each
    get one variable, named as for a project whose slug is empty."""
    entries: list[CommentedMap] = []
    variables: list[SecretVariable] = []
    for definition_id, source in definitions:
        entry, entry_variables, _ = _entry(
            org, "", definition_id, source["type"], {**source, "id": definition_id}, names
        )
        entries.append(entry)
        variables.extend(
            SecretVariable(v.name, org, SHARED, definition_id, v.field) for v in entry_variables
        )
    doc = CommentedMap()
    doc["sources"] = CommentedSeq(entries)
    doc.yaml_set_start_comment(ORG_HEADER)
    return ImportedFile(org, SHARED, path, _dump(doc), len(entries), variables)


def _convert_source(
    org: str,
    project: str,
    index: int,
    source: dict[str, Any],
    names: SecretNamer,
    warnings: list[str],
    seen_ids: set[str],
) -> tuple[CommentedMap, list[SecretVariable]] | None:
    """Source number ``index`` as a file entry, with the variables of its secrets; None (and a
    warning) when the file cannot hold it."""
    where = f"{org}/{project}"
    skipped = _why_skipped(where, index, source, seen_ids)
    if skipped is not None:
        warnings.append(skipped)
        return None
    source_id: str = source["id"]
    source_type: str = source["type"]
    label = f"{where}: source `{source_id}`"
    entry, variables, unknown = _entry(org, project, source_id, source_type, source, names)
    try:
        ProjectFile.model_validate({"sources": [_plain(entry)]})
    except ValidationError as exc:
        reasons = "; ".join(_reason(err) for err in exc.errors())
        warnings.append(_not_holdable(label, source_id, reasons))
        return None
    if unknown:
        warnings.append(_left_out(label, source_type, source_id, unknown))
    return entry, variables


def _why_skipped(where: str, index: int, source: dict[str, Any], seen_ids: set[str]) -> str | None:
    """Why the file cannot hold source number ``index`` whatever its fields say (its id or its
    type), or None."""
    source_id = source.get("id")
    if not isinstance(source_id, str) or not source_id:
        return (
            f"{where}: skipped source #{index + 1}: it has no id, so the plan of this project "
            "fails until it is given one or removed in Sentry"
        )
    label = f"{where}: source `{source_id}`"
    if spec.is_reserved_id(source_id):
        return (
            f"{label} skipped: ids starting with `sentry` are reserved, so symsync cannot manage "
            "it; it stays in Sentry and the plan lists it as unmanaged, kept"
        )
    if source_id in seen_ids:
        return (
            f"{label} skipped: Sentry lists this id more than once, so the plan of this project "
            "fails until one of them is removed in Sentry"
        )
    source_type = source.get("type")
    if source_type not in spec.SOURCE_TYPES:
        reason = (
            "it is a legacy App Store Connect source, which Sentry no longer accepts on writes"
            if source_type == LEGACY_TYPE
            else f"its type {source_type!r} is not one symsync manages (http, s3, gcs)"
        )
        return _not_holdable(label, source_id, reason)
    return None


def _entry(
    org: str,
    project: str,
    source_id: str,
    source_type: str,
    source: dict[str, Any],
    names: SecretNamer,
) -> tuple[CommentedMap, list[SecretVariable], list[str]]:
    """The entry of a source in the file's order, the variables of its secrets, and the fields
    it leaves out (``layout.x`` for a key inside the layout)."""
    order = FIELD_ORDER[source_type]
    unknown = sorted(k for k in source if k not in order)
    entry = CommentedMap()
    variables: list[SecretVariable] = []
    secret_fields = spec.SECRET_FIELDS[source_type]
    for key in order:
        if key not in source:
            continue
        value = source[key]
        if key in secret_fields:
            var = names.name(org, project, source_id, key)
            entry[key] = _env_reference(var)
            variables.append(SecretVariable(var, org, project, source_id, key))
        elif key in _NESTED and isinstance(value, dict):
            nested_order, flow = _NESTED[key]
            entry[key] = _ordered(value, nested_order, flow=flow)
            unknown += [f"{key}.{k}" for k in value if k not in nested_order]
        elif isinstance(value, list) and key in FLOW_LISTS:
            entry[key] = _flow_list(value)
        else:
            entry[key] = value
    return entry, variables, unknown


def _env_reference(variable: str) -> CommentedMap:
    """``{env: VARIABLE}``, on one line."""
    ref = CommentedMap(env=variable)
    ref.fa.set_flow_style()
    return ref


def _left_out(label: str, source_type: str, source_id: str, unknown: list[str]) -> str:
    names_shown = ", ".join(unknown)
    them = "it" if len(unknown) == 1 else "them"
    return (
        f"{label}: Sentry holds {names_shown}, which symsync does not manage (a {source_type} "
        f"source has no such field in the file format), so the file leaves {them} out. "
        f"The plan names {them} and shows an update of `{source_id}` that removes {them}: "
        "a PUT replaces the whole source"
    )


def _not_holdable(label: str, source_id: str, reason: str) -> str:
    return (
        f"{label} skipped: the file format cannot hold it ({reason}). It stays in Sentry, and "
        "the plan reports it as not in the file (unmanaged: report) until it is fixed in Sentry "
        "and this project imported again, or deleted by an entry "
        f"`{{id: {json.dumps(source_id, ensure_ascii=False)}, state: absent}}` in the file"
    )


def _flow_list(items: list[Any]) -> CommentedSeq:
    seq = CommentedSeq(items)
    seq.fa.set_flow_style()
    return seq


def _reason(error: Any) -> str:
    # Drop the generic parts of the location (the union tag and list index); never the input.
    loc = [str(p) for p in error.get("loc", ()) if p not in ("sources", 0, "http", "s3", "gcs")]
    message = str(error.get("msg", "invalid"))
    return f"{'.'.join(loc)}: {message}" if loc else message


def _ordered(value: dict[str, Any], order: Sequence[str], *, flow: bool) -> CommentedMap:
    """The keys of ``order`` that ``value`` holds, in that order; its lists of ``FLOW_LISTS``
    on one line."""
    out = CommentedMap()
    for key in order:
        if key in value:
            item = value[key]
            out[key] = _flow_list(item) if isinstance(item, list) and key in FLOW_LISTS else item
    if flow:
        out.fa.set_flow_style()
    return out


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


# ---------------------------------------------------------------------------------- the text


def _yaml() -> YAML:
    yaml = YAML(typ="rt")
    yaml.default_flow_style = False
    yaml.allow_unicode = True
    yaml.width = 4096
    yaml.indent(mapping=2, sequence=4, offset=2)
    return yaml


def _dump(doc: CommentedMap) -> str:
    """The file's text. It must read back, with the loader's YAML 1.1 reader, as exactly the
    values imported; should the emitter get one wrong, every string is written double-quoted."""
    plain = _plain(doc)
    text = _emit(_quote_ambiguous(doc))
    if _reads_back(text, plain):
        return text
    text = _emit(_quote_all(doc))
    if not _reads_back(text, plain):  # pragma: no cover - double quotes escape everything
        raise SymsyncError("import could not write a file that reads back as Sentry's values")
    return text


def _emit(doc: CommentedMap) -> str:
    buffer = io.StringIO()
    _yaml().dump(doc, buffer)
    text = buffer.getvalue()
    # ruamel.yaml writes these as they are (it escapes control characters, not the invisible
    # ones). Every string holding one is double-quoted (``_quote_ambiguous``), and nothing
    # else in the file can hold one, so each is in a double-quoted scalar, where an escape
    # reads back as the same character.
    if any(_invisible(ch) for ch in text):
        text = "".join(_escaped(ch) if _invisible(ch) else ch for ch in text)
    return text


# Characters a reviewer cannot see, or cannot tell from others, in a file: control and format
# characters (zero-width spaces and joiners, bidirectional controls, the byte-order mark, soft
# hyphens), line and paragraph separators, private-use, surrogate and unassigned code points,
# spaces other than the ASCII one, and the Hangul fillers, which render as nothing.
_INVISIBLE_CATEGORIES: Final = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp", "Zs"})
_BLANK_LETTERS: Final = frozenset("\u115f\u1160\u3164\uffa0")


def _invisible(ch: str) -> bool:
    if " " <= ch <= "~" or ch == "\n":
        return False
    return unicodedata.category(ch) in _INVISIBLE_CATEGORIES or ch in _BLANK_LETTERS


def _escaped(ch: str) -> str:
    """The escape of ``ch`` in a double-quoted YAML string."""
    code = ord(ch)
    return f"\\u{code:04X}" if code <= 0xFFFF else f"\\U{code:08X}"


def _reads_back(text: str, plain: Any) -> bool:
    loader = getattr(pyyaml, "CSafeLoader", pyyaml.SafeLoader)
    try:
        return bool(pyyaml.load(text, Loader=loader) == plain)
    except pyyaml.YAMLError:
        return False


# The loader reads YAML 1.1 (PyYAML), where ruamel.yaml's YAML 1.2 output leaves `yes`, `on`,
# `off`, `1:30`, `0o17`, `=` ... plain: they would come back as booleans, numbers or errors.
_RESOLVER: Final = pyyaml.resolver.Resolver()
_STR_TAG: Final = "tag:yaml.org,2002:str"
_UNICODE_BREAKS: Final = frozenset("\x85\u2028\u2029")
# A plain scalar starting with one of these is read as YAML syntax (in flow collections,
# ruamel.yaml writes `? x` and `: x` plain, which a reader takes for a mapping).
_INDICATORS: Final = frozenset("-?:,[]{}#&*!|>'\"%@`")


def _quote_ambiguous(value: Any) -> Any:
    """``value`` with every string that a YAML 1.1 reader would not read back as that same
    string, as a plain scalar, forced into quotes (in place for mappings and sequences)."""
    return _each_string(value, _quoted_if_ambiguous)


def _quoted_if_ambiguous(value: str) -> Any:
    if isinstance(value, ScalarString):
        return value
    if any(c in _UNICODE_BREAKS or _invisible(c) for c in value):
        # ruamel.yaml writes line breaks raw in single quotes, where a reader folds them;
        # double quotes escape them (\N, \L, \P). Invisible characters are escaped in
        # double quotes too (``_emit``), so that a reviewer sees them.
        return DoubleQuotedScalarString(value)
    tag = _RESOLVER.resolve(pyyaml.ScalarNode, value, (True, False))  # type: ignore[no-untyped-call]
    if tag != _STR_TAG or value[:1] in _INDICATORS:
        return SingleQuotedScalarString(value)
    return value


def _quote_all(value: Any) -> Any:
    """``value`` with every string double-quoted (in place for mappings and sequences)."""
    return _each_string(value, lambda text: DoubleQuotedScalarString(str(text)))


def _each_string(value: Any, quote: Callable[[str], Any]) -> Any:
    """``value`` with ``quote`` applied to every string in it (in place for mappings and
    sequences)."""
    if isinstance(value, dict):
        for key in value:
            value[key] = _each_string(value[key], quote)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            value[index] = _each_string(item, quote)
    elif isinstance(value, str):
        return quote(value)
    return value
