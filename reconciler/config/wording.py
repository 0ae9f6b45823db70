"""How problems in the desired-state tree are worded: ``PATH:LINE:COLUMN: message``.

A ``Diagnostic`` is one problem at one position, always printed on one line whatever names and
values it quotes (control characters and invisible marks are shown escaped). Most of this module
turns pydantic's validation errors (``reconciler.config.project_file.ProjectFile``) into messages
a user can act on: the error's location is mapped back to the position
``reconciler.config.yamlread`` recorded, and the message names the field and the source id, and
says how to fix it (the choices, a likely misspelling, the example to write).
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Final

from pydantic import ValidationError
from pydantic_core import ErrorDetails
from yaml.nodes import Node

from reconciler.config.diagnostic import Diagnostic, Severity, diagnostic
from reconciler.config.project_file import (
    SOURCE_MODELS,
    UNMANAGED_POLICIES,
    Filters,
    Layout,
    ProjectFile,
)
from reconciler.config.yamlread import (
    INVALID,
    Document,
    Loc,
    StringStyle,
    column_of,
    line_of,
    string_style,
    under_secret,
)
from reconciler.sentry import spec


def position_diagnostic(
    path: str, position: int, message: str, severity: Severity = "error"
) -> Diagnostic:
    """A diagnostic at a packed position (``reconciler.config.yamlread``)."""
    return diagnostic(path, line_of(position), column_of(position), message, severity)


def rejected_diagnostics(document: Document, path: str) -> list[Diagnostic]:
    """The values the YAML walk refused (a null, an unknown tag), each named by its field."""
    values = document.values
    return [
        position_diagnostic(path, position, f"{value_where(values, loc)} {problem}")
        for loc, position, problem in document.rejected
    ]


def sources_of(values: Any) -> list[Any]:
    """The file's `sources` list, or [] when it is not one."""
    sources = values.get("sources") if isinstance(values, dict) else None
    return sources if isinstance(sources, list) else []


# --------------------------------------------------------------------------------------------
# pydantic errors -> diagnostics

_SOURCE_TAGS = frozenset(SOURCE_MODELS)
_ARTICLE = {"http": "an", "s3": "an", "gcs": "a"}
_MISSING_HINTS: dict[str, str] = {
    "id": "give it an id that is unique in this file, like `id: acme-symbols`",
    "layout": "add `layout: {type: native}` (or the layout the store uses)",
    "url": "add `url: https://...`, the address of the symbol server",
    "bucket": "add `bucket: <bucket name>`",
    "region": "add `region: <AWS region>`, like `region: us-east-1`",
    "access_key": "add `access_key: <AWS access key id>`",
    "secret_key": "add `secret_key: {env: NAME}`, naming the variable that holds it",
    "client_email": "add `client_email: <service account e-mail>`",
    "private_key": "add `private_key: {env: NAME}`, naming the variable that holds it",
}
# `sources` first: every file has it.
_TOP_LEVEL_KEYS = ("sources", *(key for key in ProjectFile.model_fields if key != "sources"))
_CHOICES: dict[str, tuple[str, ...]] = {
    "unmanaged": UNMANAGED_POLICIES,
    "state": ("present", "absent"),
    "type": spec.SOURCE_TYPES,
    "casing": spec.CASINGS,
    "filetypes": spec.FILETYPES,
}


def validation_diagnostics(
    exc: ValidationError, document: Document, path: str, root: Node | None = None
) -> list[Diagnostic]:
    """pydantic's errors about a document's values, each at the position of the value.

    ``root``, the composed document, tells how a string was written (in quotes or not) where
    that changes the advice."""
    out: list[Diagnostic] = []
    seen: set[tuple[int, str]] = set()
    invalid = document.invalid
    errors = [
        (*_strip_tag(err["loc"]), err)
        for err in exc.errors(include_url=False, include_context=True, include_input=True)
    ]
    # `urll: ...` gives "unknown key `urll`; did you mean `url`?": no need to also say that
    # `url` is missing.
    misspelled = {
        (*loc[:-1], close)
        for loc, tag, err in errors
        if err["type"] == "extra_forbidden"
        and (close := _misspelled(str(loc[-1]), loc[:-1], tag)) is not None
    }
    # A secret mapping with keys other than `env` (Sentry's `{hidden-secret: true}`, a pasted
    # value) gets one message about those keys, not also one about the missing `env`.
    odd_secrets = {
        (*loc[:-1], "env")
        for loc, _, err in errors
        if err["type"] == "extra_forbidden" and len(loc) == 4 and under_secret(loc)
    }
    for loc, tag, err in errors:
        kind = err["type"]
        if kind == "duplicate_id":
            continue  # the loader reports it at the position of the second id
        if kind == "missing" and (loc in misspelled or loc in odd_secrets):
            continue
        if any(loc[: len(bad)] == bad for bad in invalid):
            continue
        if kind == "source_type" and (*loc, "type") in invalid:
            continue
        position, message = _describe(err, loc, tag, document, root)
        if (position, message) in seen:
            continue
        seen.add((position, message))
        out.append(position_diagnostic(path, position, message))
    return out


def _strip_tag(loc: tuple[str | int, ...]) -> tuple[Loc, str | None]:
    """Remove the union tag pydantic puts in locations: ('sources', 0, 'http', 'url')."""
    if (
        len(loc) >= 3
        and loc[0] == "sources"
        and isinstance(loc[1], int)
        and isinstance(loc[2], str)
        and loc[2] in _SOURCE_TAGS
    ):
        return (*loc[:2], *loc[3:]), loc[2]
    return tuple(loc), None


def position_of(loc: Loc, document: Document) -> int:
    """Position of the value at ``loc``, or of the nearest value that holds it."""
    positions = document.positions
    while loc not in positions and loc:
        loc = loc[:-1]
    return positions[loc]


@dataclass(frozen=True, slots=True)
class _Failed:
    """One of pydantic's errors, with what every wording of it needs."""

    err: ErrorDetails
    loc: Loc
    tag: str | None  # the source's type, when the error is about a source
    document: Document
    root: Node | None
    in_source: bool  # the error is about a source or a value inside one
    prefix: str  # "source `acme-symbols`: " for an error inside a source, else ""
    rel: Loc  # the location inside the source (inside the file, for others)
    name: str  # how a message names the field

    @classmethod
    def of(
        cls, err: ErrorDetails, loc: Loc, tag: str | None, document: Document, root: Node | None
    ) -> _Failed:
        in_source = len(loc) >= 2 and loc[0] == "sources" and isinstance(loc[1], int)
        prefix = f"{source_label(document.values, loc[1])}: " if in_source else ""
        rel = loc[2:] if in_source else loc
        return cls(err, loc, tag, document, root, in_source, prefix, rel, _field_name(rel))

    @property
    def value(self) -> Any:
        return self.err.get("input")

    @property
    def style(self) -> StringStyle | None:
        """How the string value was written (None when it is no string)."""
        return string_style(self.root, self.loc) if isinstance(self.value, str) else None


def _describe(
    err: ErrorDetails, loc: Loc, tag: str | None, document: Document, root: Node | None
) -> tuple[int, str]:
    """The position and the message of one of pydantic's errors."""
    failed = _Failed.of(err, loc, tag, document, root)
    kind = err["type"]
    if kind == "missing":
        return position_of(loc[:-1], document), _missing_message(failed)
    if kind == "extra_forbidden":
        key_position = document.key_positions.get(loc)
        mark = key_position if key_position is not None else position_of(loc, document)
        return mark, failed.prefix + _unknown_key_message(
            str(loc[-1]), loc[:-1], tag, failed.in_source
        )
    if kind == "source_type":
        return _not_a_source(failed)
    wording = _WORDINGS.get(kind, _pydantic_message)
    return position_of(loc, document), wording(failed)


def _missing_message(failed: _Failed) -> str:
    """A required key that is not there."""
    missing = str(failed.loc[-1])
    prefix, rel, name, tag = failed.prefix, failed.rel, failed.name, failed.tag
    if not failed.in_source:
        return (
            f"`{missing}` is required: list the project's sources under `sources:`, or "
            "write `sources: []` to manage none"
        )
    if len(rel) == 1 and tag in _ARTICLE:
        hint = _MISSING_HINTS.get(missing, f"add `{missing}`")
        return f"{prefix}`{missing}` is required for {_ARTICLE[tag]} {tag} source: {hint}"
    if len(rel) == 1:
        return f"{prefix}`{missing}` is required: say which source to delete"
    if rel[:1] == ("layout",):
        return (
            f"{prefix}`{name}` is required: one of {_choices(spec.LAYOUT_TYPES)}, like "
            "`layout: {type: native}`"
        )
    if rel and str(rel[0]) in spec.ALL_SECRET_FIELDS:
        return f"{prefix}`{name}` is required: write `{rel[0]}: {{env: NAME}}`"
    return f"{prefix}`{name}` is required"


def _not_a_source(failed: _Failed) -> tuple[int, str]:
    """An entry of `sources` that is no source: not a mapping, or without a known `type`."""
    loc, document, prefix, value = failed.loc, failed.document, failed.prefix, failed.value
    entry = value if isinstance(value, dict) else None
    if entry is None:
        return position_of(loc, document), (
            f"{prefix}each entry of `sources` must be a mapping with `id` and `type`, not "
            f"{_value_kind(value)}"
        )
    state = entry.get("state", "present")
    if "type" not in entry and state is not INVALID and state not in ("present", "absent"):
        # `state: absnet` is more likely the mistake than a missing `type`.
        return position_of((*loc, "state"), document), _choice_message(
            prefix, "state", state, ("present", "absent")
        )
    if "type" not in entry:
        return position_of(loc, document), (
            f"{prefix}`type` is required: add `type: http`, `type: s3` or `type: gcs`, or "
            "`state: absent` to delete the source"
        )
    return position_of((*loc, "type"), document), _choice_message(
        prefix, "type", entry["type"], spec.SOURCE_TYPES
    )


def _secret_literal_message(failed: _Failed) -> str:
    return (
        f"{failed.prefix}`{failed.name}` must be a reference like `{{env: NAME}}`, not a "
        "literal: secrets never go into git; put the secret in an environment variable and "
        "name it"
    )


def _literal_message(failed: _Failed) -> str:
    """A value that is not one of the field's choices."""
    rel = failed.rel
    last = next((str(p) for p in reversed(rel) if isinstance(p, str)), "")
    choices = _CHOICES.get(last)
    if last == "type" and rel[:1] == ("layout",):
        choices = spec.LAYOUT_TYPES
    if choices is None:
        ctx = failed.err.get("ctx") or {}
        choices = tuple(re.findall(r"'([^']*)'", str(ctx.get("expected", ""))))
    return _choice_message(failed.prefix, failed.name, failed.value, choices)


def _string_message(failed: _Failed) -> str:
    value = failed.value
    return (
        f"{failed.prefix}`{failed.name}` must be a string, not {_value_kind(value)}{_quote(value)}"
    )


def _bool_message(failed: _Failed) -> str:
    value = failed.value
    if isinstance(value, str):
        return failed.prefix + _boolean_message(failed.name, value, failed.style)
    return f"{failed.prefix}`{failed.name}` must be `true` or `false`, not {_value_kind(value)}"


_LIST_EXAMPLES: Final = {
    "sources": "a list of sources (write `sources: []` for none)",
    "filetypes": "a list, like `[pe, pdb]`",
    "path_patterns": 'a list, like `["*.dll"]`',
    "platforms": "a list, like `[ios, macos]`",
}
_MAPPING_EXAMPLES: Final = {
    "layout": "a mapping, like `{type: native}`",
    "filters": "a mapping with `filetypes`, `path_patterns` or `requires_checksum`",
}


def _shape_message(failed: _Failed, examples: Mapping[str, str], shape: str) -> str:
    """``name`` must be a list (or a mapping), shown by an example of the field where one helps."""
    example = examples.get(str(failed.rel[-1]) if failed.rel else "", shape)
    return f"{failed.prefix}`{failed.name}` must be {example}, not {_value_kind(failed.value)}"


def _list_message(failed: _Failed) -> str:
    return _shape_message(failed, _LIST_EXAMPLES, "a list")


def _mapping_message(failed: _Failed) -> str:
    return _shape_message(failed, _MAPPING_EXAMPLES, "a mapping")


def _variable_name_message(failed: _Failed) -> str:
    # The only pattern is SecretRef.env's.
    return (
        f"{failed.prefix}`{failed.name}` must name an environment variable (letters, digits "
        "and `_`, not starting with a digit), like `ACME_SYMBOLS_PASSWORD`"
    )


def _number_message(failed: _Failed) -> str:
    kind = failed.err["type"]
    return failed.prefix + _whole_number_message(
        failed.name, failed.rel, failed.value, kind, failed.style
    )


def _blank_message(failed: _Failed) -> str:
    return f"{failed.prefix}`{failed.name}` must not be blank"


def _reserved_id_message(failed: _Failed) -> str:
    return (
        f"source id `{failed.value}` starts with `sentry`, which Sentry reserves for its own "
        "sources: choose another id"
    )


def _region_message(failed: _Failed) -> str:
    return (
        f"{failed.prefix}`region` `{failed.value}` is not an AWS region code: use a code like "
        "`us-east-1`"
    )


def _pydantic_message(failed: _Failed) -> str:
    """An error this module has no wording of its own for: pydantic's message."""
    return f"{failed.prefix}`{failed.name}`: {failed.err['msg']}"


# The wording of each kind of error about a value, at the value's position.
_WORDINGS: Final[dict[str, Callable[[_Failed], str]]] = {
    "secret_literal": _secret_literal_message,
    "literal_error": _literal_message,
    "string_type": _string_message,
    "bool_type": _bool_message,
    "list_type": _list_message,
    "model_type": _mapping_message,
    "model_attributes_type": _mapping_message,
    "dict_type": _mapping_message,
    "string_pattern_mismatch": _variable_name_message,
    "int_type": _number_message,
    "greater_than": _number_message,
    "greater_than_equal": _number_message,
    "blank": _blank_message,
    "reserved_id": _reserved_id_message,
    "region": _region_message,
}


def source_label(values: Any, index: str | int) -> str:
    """How a message names a source: "source `acme-symbols`", or "source #2" without an id."""
    sources = sources_of(values)
    if isinstance(index, int) and 0 <= index < len(sources):
        entry = sources[index]
        source_id = entry.get("id") if isinstance(entry, dict) else None
        if isinstance(source_id, str) and source_id.strip():
            return f"source `{source_id}`"
    return f"source #{index + 1 if isinstance(index, int) else index}"


def _field_name(rel: Loc) -> str:
    out = ""
    for position, part in enumerate(rel):
        if position == 1 and rel[0] in spec.ALL_SECRET_FIELDS and part not in ("env", "version"):
            return f"{out}.<key>"  # whatever was written under a secret field stays unshown
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else part
    return out or "source"


def value_where(values: Any, loc: Loc) -> str:
    """How a message names a value: "source `x`: `layout.casing`" or "`unmanaged`"."""
    if len(loc) >= 2 and loc[0] == "sources" and isinstance(loc[1], int):
        label = source_label(values, loc[1])
        return f"{label}: `{_field_name(loc[2:])}`" if len(loc) > 2 else f"{label}:"
    return f"`{_field_name(loc)}`" if loc else "the document"


def _known_keys(container: Loc, tag: str | None) -> list[str] | None:
    """Keys a mapping at ``container`` may hold; None where a suggestion makes no sense."""
    if not container:
        return list(ProjectFile.model_fields)
    if len(container) == 2 and container[0] == "sources":
        return None if tag == "absent" else list(SOURCE_MODELS[tag or "http"].model_fields)
    part = container[-1]
    if part == "layout":
        return list(Layout.model_fields)
    if part == "filters":
        return list(Filters.model_fields)
    return None


def _misspelled(key: str, container: Loc, tag: str | None) -> str | None:
    """The known key that an unknown key is probably a typo of."""
    candidates = _known_keys(container, tag)
    close = difflib.get_close_matches(key, candidates or [], n=1, cutoff=0.6)
    return close[0] if close else None


def _unknown_key_message(key: str, container: Loc, tag: str | None, in_source: bool) -> str:
    candidates = _known_keys(container, tag) or []
    close = _misspelled(key, container, tag)
    suggestion = f"; did you mean `{close}`?" if close else ""
    if not container:
        return (
            f"unknown top-level key `{key}`: a project file holds only "
            f"{_choices(_TOP_LEVEL_KEYS, 'and')}{suggestion}"
        )
    if in_source and len(container) == 2:
        if tag == "absent":
            return (
                f"`{key}` does not belong in an `absent` entry: it carries only `id` and "
                "`state`; remove the key"
            )
        owners = [t for t in spec.SOURCE_TYPES if t != tag and key in SOURCE_MODELS[t].model_fields]
        if owners:
            return (
                f"`{key}` is not a field of {_ARTICLE.get(tag or '', 'a')} {tag} source (it "
                f"belongs to {' and '.join(owners)} sources): remove it, or change `type`"
            )
        return f"unknown key `{key}` in {_ARTICLE.get(tag or '', 'a')} {tag} source" + (
            suggestion or f"; known keys: {', '.join(candidates)}"
        )
    part = str(container[-1])
    if part in spec.ALL_SECRET_FIELDS:
        if key == spec.HIDDEN_SECRET_KEY:
            return (
                f"`{part}` holds Sentry's `{{{key}: true}}` placeholder, which stands for a "
                f"secret Sentry does not show: write `{part}: {{env: NAME}}`, naming the "
                "environment variable that holds the secret"
            )
        # The key is not shown: a secret pasted as `password: {s3cr3t}` becomes a key.
        return (
            f"`{part}` holds a key other than `env` and `version`: a secret reference holds only "
            "`env` and optionally `version`, like "
            f"`{part}: {{env: NAME}}`"
        )
    return f"unknown key `{key}` in `{part}`" + (
        suggestion or f"; known keys: {', '.join(candidates)}"
    )


def _did_you_mean(word: str, candidates: list[str]) -> str:
    close = difflib.get_close_matches(word, candidates, n=1, cutoff=0.6)
    return f"; did you mean `{close[0]}`?" if close else ""


def _choices(choices: tuple[str, ...], last: str = "or") -> str:
    quoted = [f"`{c}`" for c in choices]
    if len(quoted) <= 2:
        return f" {last} ".join(quoted)
    return ", ".join(quoted[:-1]) + f" {last} {quoted[-1]}"


def _choice_message(prefix: str, name: str, value: Any, choices: tuple[str, ...]) -> str:
    shown = f"`{value}`" if isinstance(value, str) else _value_kind(value)
    message = f"{prefix}`{name}` must be {_choices(choices)}, not {shown}"
    if isinstance(value, str):
        message += _did_you_mean(value, list(choices)) or _did_you_mean(
            value.lower(), list(choices)
        )
    return message


def _value_kind(value: Any) -> str:
    if value is INVALID:
        return "an invalid value"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, datetime | date):
        return "a date"
    if isinstance(value, bytes):
        return "binary data"
    return "a value of another kind"


def _whole_number_message(
    name: str, rel: Loc, value: Any, kind: str, style: StringStyle | None
) -> str:
    """``max_deletes`` and a secret reference's ``version``: whole numbers with a lower bound.

    A value under a secret field is never shown: a secret may have been pasted there."""
    secret = rel[-1:] == ("version",)
    if secret:
        what = "a whole number, 1 or more (raise it to rotate the secret)"
        shown = "0 or less" if kind != "int_type" else _value_kind(value)
    else:
        what = "a whole number, 0 or more"
        shown = str(value) if kind != "int_type" else _value_kind(value)
    if isinstance(value, float):  # an integral float is taken as its int: this one is not
        if math.isnan(value):
            shown = "`.nan`"
        elif math.isinf(value):
            shown = "`.inf`" if value > 0 else "`-.inf`"
        else:
            shown = "a fraction" if secret else repr(value)
    if not isinstance(value, str):
        return f"`{name}` must be {what}, not {shown}"
    digits = f"it in digits, like `{2 if secret else 5}`"
    if style == "plain" and not secret:
        # `max_deletes: 1e3`: YAML 1.1 reads an exponent without a dot as text.
        return f"`{name}` must be {what}, not `{value}`, which YAML reads as text: write {digits}"
    fix = _rewrite("it" if style in ("quoted", "tagged") else digits, style)
    return f"`{name}` must be {what}, not {shown}: {fix}"


def _boolean_message(name: str, value: str, style: StringStyle | None) -> str:
    """A string where ``is_public``, ``has_index`` or ``filters.requires_checksum`` wants a
    boolean: quoted (``"no"``), or a plain word that YAML 1.1 reads as text (``n``, ``1e999``)."""
    # Suggest the YAML 1.2 spelling that editors (and JSON Schema) read as a boolean.
    meant = _MEANT_BOOLEAN.get(value.strip().lower())
    hint = f"`{meant}`" if meant else "`true` or `false`"
    if style == "plain":
        return (
            f"`{name}` must be `true` or `false`, not `{value}`, which YAML reads as text: "
            f"write {hint}"
        )
    return f"`{name}` must be `true` or `false`, not the string `{value}`: {_rewrite(hint, style)}"


# Words for a boolean, in any case: YAML 1.1 reads some of them as one (`yes`, `Off`), some as
# text (`y`, `n`, `tRue`).
_MEANT_BOOLEAN = {
    **dict.fromkeys(("y", "yes", "on", "true"), "true"),
    **dict.fromkeys(("n", "no", "off", "false"), "false"),
}


def _rewrite(what: str, style: StringStyle | None) -> str:
    """How to write ``what`` in place of a string written with ``style``."""
    if style == "quoted":
        return f"write {what} without quotes"
    if style == "tagged":
        return f"write {what} without the `!!str` tag"
    if style == "block":
        return f"write {what} after the key, not as a `|` or `>` block"
    return f"write {what}"


def _quote(value: Any) -> str:
    if isinstance(value, bool | int | float | date):
        return ": put it in quotes"
    return ""
