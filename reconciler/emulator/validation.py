"""Sentry's server-side validation of a project's symbol-source list, in both code generations.

Gen A (the published endpoint) validates the whole list with a JSON Schema (``oneOf`` http,
s3, gcs; ``additionalProperties: false`` everywhere; no nulls), then checks ids: reserved prefix
first, then duplicates. The checker below applies the same rules over the shared tables of
``reconciler.sentry.spec`` instead of a schema document, so the emulator and the loader share one
vocabulary.

Gen B (Sentry's rewrite) validates each source with a per-kind DRF serializer; the functions
below reproduce DRF's field semantics (blank, null, "Not a valid string.", choice and list
messages) and the ``Invalid <type> source: <path>: <msg>; ...`` message format.

The server is looser than symsync's loader: any ``region`` string is accepted, secrets are plain
strings, and Gen A takes blank required strings and blank ``platforms`` items. Both take every
field of the file format: ``name`` and ``layout.casing`` optional, ``is_public`` and ``has_index``
booleans, ``platforms`` a list of strings (Gen B: DRF ``ListField(child=CharField())``, so no
blank item). Gen B's strings, as every DRF ``CharField``, refuse NUL and lone surrogate
characters; Gen A's schema takes any string.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any, Final

from reconciler.emulator.responses import FormData
from reconciler.sentry import spec


class InvalidSourcesError(Exception):
    """Sentry's ``InvalidSourcesError``: the message is what the endpoint may show to a client."""


class ServerBug(Exception):
    """A request that makes Sentry's own code raise an uncaught exception (an HTTP 500)."""


# --------------------------------------------------------------------------------------------
# Gen A: JSON Schema semantics
# --------------------------------------------------------------------------------------------

# Every type-specific field is a plain JSON string in the server's schema (secrets included).
_STRING_FIELDS: Final[frozenset[str]] = frozenset(
    {"name"}.union(*spec.TYPE_REQUIRED.values(), *spec.TYPE_OPTIONAL.values())
)
_BOOLEAN_FIELDS: Final[frozenset[str]] = frozenset({"is_public", "has_index"})


def _is_string(value: object) -> bool:
    return isinstance(value, str)


def _is_boolean(value: object) -> bool:
    # JSON Schema "boolean" accepts true/false only (not 0/1).
    return isinstance(value, bool)


def _is_string_array(value: object, allowed: tuple[str, ...] | None = None) -> bool:
    if not isinstance(value, list):
        return False
    return all(_is_string(item) and (allowed is None or item in allowed) for item in value)


def _layout_ok(value: object) -> bool:
    if not isinstance(value, dict) or not set(value) <= spec.LAYOUT_FIELDS or "type" not in value:
        return False
    if not (_is_string(value["type"]) and value["type"] in spec.LAYOUT_TYPES):
        return False
    return "casing" not in value or (
        _is_string(value["casing"]) and value["casing"] in spec.CASINGS
    )


def _filters_ok(value: object) -> bool:
    if not isinstance(value, dict) or not set(value) <= spec.FILTER_FIELDS:
        return False
    if "filetypes" in value and not _is_string_array(value["filetypes"], spec.FILETYPES):
        return False
    if "path_patterns" in value and not _is_string_array(value["path_patterns"]):
        return False
    return "requires_checksum" not in value or _is_boolean(value["requires_checksum"])


def _field_ok(name: str, value: object) -> bool:
    if name == "id":
        return _is_string(value) and len(value) >= 1  # type: ignore[arg-type]
    if name == "layout":
        return _layout_ok(value)
    if name == "filters":
        return _filters_ok(value)
    if name == "platforms":
        return _is_string_array(value)
    if name in _BOOLEAN_FIELDS:
        return _is_boolean(value)
    if name in _STRING_FIELDS:
        return _is_string(value)
    return False


def source_matches_schema(source: object) -> bool:
    """True when one source matches exactly one branch of Sentry's ``oneOf`` [http, s3, gcs]."""
    if not isinstance(source, dict):
        return False
    source_type = source.get("type")
    if not isinstance(source_type, str) or source_type not in spec.SOURCE_TYPES:
        return False
    allowed = spec.type_fields(source_type)
    required = spec.COMMON_REQUIRED | spec.TYPE_REQUIRED[source_type]
    if not set(source) <= allowed or not required <= set(source):
        return False
    return all(_field_ok(name, value) for name, value in source.items() if name != "type")


# Gen A ``secret_fields`` also knows the legacy App Store Connect key.
_GEN_A_SECRET_FIELDS: Final[dict[str, frozenset[str]]] = {
    **spec.SECRET_FIELDS,
    "appStoreConnect": frozenset({"appconnectPrivateKey"}),
}


def secret_fields_gen_a(source_type: object) -> frozenset[str]:
    """sources.py ``secret_fields``: compared with ==, so an unknown type simply has none."""
    if isinstance(source_type, str):
        return _GEN_A_SECRET_FIELDS.get(source_type, frozenset())
    return frozenset()


def redact_gen_a(source: dict[str, Any]) -> dict[str, Any]:
    """``redact_source_secrets`` for one source: indexes ``type``, so a source without it is a
    server bug (KeyError), exactly as in Sentry."""
    if "type" not in source:
        raise ServerBug("source without type")
    if isinstance(source, FormData):
        fields = secret_fields_gen_a(source["type"]) & set(source)
        return source.with_values({field: spec.hidden_secret() for field in fields})
    redacted = dict(source)
    for field in secret_fields_gen_a(source["type"]):
        if field in redacted:
            redacted[field] = spec.hidden_secret()
    return redacted


def validate_sources_gen_a(sources: object) -> None:
    """Sentry's Gen A ``validate_sources``: schema over the whole list, then ids.

    Raises ``InvalidSourcesError`` with Sentry's messages, or ``ServerBug`` where Sentry's own
    code would raise (a list entry without ``type`` while building the schema failure message).
    """
    if not isinstance(sources, list) or not all(source_matches_schema(s) for s in sources):
        if not isinstance(sources, list) or not all(isinstance(s, dict) for s in sources):
            raise ServerBug("stored sources are not a list of objects")
        redacted = [redact_gen_a(s) for s in sources]
        raise InvalidSourcesError(f"Failed to validate source {redacted!r}")
    seen: set[str] = set()
    for source in sources:
        source_id = source["id"]
        if spec.is_reserved_id(source_id):
            raise InvalidSourcesError('Source ids must not start with "sentry:"')
        if source_id in seen:
            raise InvalidSourcesError(f"Duplicate source id: {source_id}")
        seen.add(source_id)


# --------------------------------------------------------------------------------------------
# Gen B: DRF serializer semantics
# --------------------------------------------------------------------------------------------

Detail = list[str] | dict[Any, Any]
_MISSING: Final = object()


class _FieldError(Exception):
    def __init__(self, detail: Detail) -> None:
        super().__init__(detail)
        self.detail = detail


class _Skip(Exception):
    """An optional field that is absent: DRF's SkipField."""


REQUIRED_MSG: Final = "This field is required."
NULL_MSG: Final = "This field may not be null."
BLANK_MSG: Final = "This field may not be blank."
NOT_A_STRING_MSG: Final = "Not a valid string."
NOT_A_BOOLEAN_MSG: Final = "Must be a valid boolean."
UNKNOWN_FIELD_MSG: Final = "Unknown field."
NULL_CHARACTER_MSG: Final = "Null characters are not allowed."
SURROGATE_MSG: Final = "Surrogate characters are not allowed: U+{code_point:X}."

_TRUE_VALUES: Final[frozenset[object]] = frozenset(
    {"t", "T", "y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON", "1", 1}
)
_FALSE_VALUES: Final[frozenset[object]] = frozenset(
    {"f", "F", "n", "N", "no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF", "0", 0}
)

FieldCheck = Callable[[object], None]


def _empty_values(value: object, required: bool) -> None:
    if value is _MISSING:
        if required:
            raise _FieldError([REQUIRED_MSG])
        raise _Skip
    if value is None:
        raise _FieldError([NULL_MSG])


def _char(allow_blank: bool, required: bool = True) -> FieldCheck:
    def check(value: object) -> None:
        _empty_values(value, required)
        if value == "" or str(value).strip() == "":  # trim_whitespace is on by default
            if allow_blank:
                return
            raise _FieldError([BLANK_MSG])
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise _FieldError([NOT_A_STRING_MSG])
        problems = _prohibited_characters(str(value))
        if problems:
            raise _FieldError(problems)

    return check


def _prohibited_characters(text: str) -> list[str]:
    """DRF ``CharField``'s own validators, in their order, each one's message (DRF runs every
    validator and keeps every message): no NUL, and no lone surrogate (the first one named)."""
    problems: list[str] = []
    if "\x00" in text:
        problems.append(NULL_CHARACTER_MSG)
    surrogate = next((ch for ch in text if 0xD800 <= ord(ch) <= 0xDFFF), None)
    if surrogate is not None:
        problems.append(SURROGATE_MSG.format(code_point=ord(surrogate)))
    return problems


def _choice(choices: tuple[str, ...], required: bool = True) -> FieldCheck:
    def check(value: object) -> None:
        _empty_values(value, required)
        if str(value) not in choices:
            raise _FieldError([f'"{value}" is not a valid choice.'])

    return check


def _multiple_choice(choices: tuple[str, ...]) -> FieldCheck:
    def check(value: object) -> None:
        _empty_values(value, False)
        if isinstance(value, str) or not isinstance(value, list | dict):
            raise _FieldError([f'Expected a list of items but got type "{_type_name(value)}".'])
        for item in value:
            if str(item) not in choices:
                raise _FieldError([f'"{item}" is not a valid choice.'])

    return check


def _list_of(child: FieldCheck) -> FieldCheck:
    def check(value: object) -> None:
        _empty_values(value, False)
        if not isinstance(value, list):
            raise _FieldError([f'Expected a list of items but got type "{_type_name(value)}".'])
        errors: dict[int, Detail] = {}
        for index, item in enumerate(value):
            try:
                child(item)
            except _FieldError as exc:
                errors[index] = exc.detail
        if errors:
            raise _FieldError(errors)

    return check


def _boolean(value: object) -> None:
    _empty_values(value, False)
    try:
        if value in _TRUE_VALUES or value in _FALSE_VALUES:
            return
    except TypeError:  # unhashable input
        pass
    raise _FieldError([NOT_A_BOOLEAN_MSG])


def _type_name(value: object) -> str:
    return type(value).__name__


def _nested(fields: Mapping[str, FieldCheck], required: bool) -> FieldCheck:
    def check(value: object) -> None:
        _empty_values(value, required)
        _run_serializer(fields, value)

    return check


def _run_serializer(fields: Mapping[str, FieldCheck], data: object) -> None:
    """A ``StrictSerializer``: unknown fields first (sorted), then each declared field."""
    if isinstance(data, dict):
        unknown = sorted(set(data) - set(fields), key=str)
        if unknown:
            raise _FieldError({name: [UNKNOWN_FIELD_MSG] for name in unknown})
    else:
        kind = _type_name(data)
        raise _FieldError(
            {"non_field_errors": [f"Invalid data. Expected a dictionary, but got {kind}."]}
        )
    errors: dict[str, Detail] = {}
    for name, field_check in fields.items():
        try:
            field_check(data.get(name, _MISSING))
        except _Skip:
            continue
        except _FieldError as exc:
            errors[name] = exc.detail
    if errors:
        raise _FieldError(errors)


_LAYOUT_FIELDS: Final[dict[str, FieldCheck]] = {
    "type": _choice(spec.LAYOUT_TYPES),
    "casing": _choice(spec.CASINGS, required=False),
}
_FILTERS_FIELDS: Final[dict[str, FieldCheck]] = {
    "filetypes": _multiple_choice(spec.FILETYPES),
    "path_patterns": _list_of(_char(allow_blank=False)),
    "requires_checksum": _boolean,
}
# Declaration order of Sentry's serializers: the common fields first, then the kind's own.
_COMMON_FIELDS: Final[dict[str, FieldCheck]] = {
    "id": _char(allow_blank=False, required=False),
    "name": _char(allow_blank=True, required=False),
    "layout": _nested(_LAYOUT_FIELDS, required=True),
    "filters": _nested(_FILTERS_FIELDS, required=False),
    "is_public": _boolean,
    "has_index": _boolean,
    "platforms": _list_of(_char(allow_blank=False)),
}
# Fields that may be blank in Gen B; every other string must not be.
GEN_B_BLANK_ALLOWED: Final[frozenset[str]] = frozenset({"name", "username", "password", "prefix"})
_KIND_FIELD_ORDER: Final[dict[str, tuple[str, ...]]] = {
    "http": ("url", "username", "password"),
    "s3": ("bucket", "region", "access_key", "secret_key", "prefix"),
    "gcs": ("bucket", "client_email", "private_key", "prefix"),
}


def _kind_fields(source_type: str) -> dict[str, FieldCheck]:
    fields = dict(_COMMON_FIELDS)
    fields["type"] = _choice((source_type,))
    required = spec.TYPE_REQUIRED[source_type]
    for name in _KIND_FIELD_ORDER[source_type]:
        fields[name] = _char(allow_blank=name in GEN_B_BLANK_ALLOWED, required=name in required)
    assert set(fields) == spec.type_fields(source_type)
    return fields


GEN_B_SERIALIZERS: Final[dict[str, dict[str, FieldCheck]]] = {
    source_type: _kind_fields(source_type) for source_type in spec.SOURCE_TYPES
}


def _describe_errors(errors: Mapping[Any, Any], prefix: str = "") -> Iterator[str]:
    for name, detail in errors.items():
        path = f"{prefix}{name}"
        if isinstance(detail, Mapping):
            yield from _describe_errors(detail, f"{path}.")
        else:
            yield f"{path}: {' '.join(str(message) for message in detail)}"


def _validate_source_gen_b(source: dict[str, Any]) -> None:
    source_type = source.get("type")
    fields = GEN_B_SERIALIZERS.get(source_type) if isinstance(source_type, str) else None
    if fields is None:
        raise InvalidSourcesError(f"Unknown source type: {source_type!r}")
    try:
        _run_serializer(fields, source)
    except _FieldError as exc:
        assert isinstance(exc.detail, dict)
        problems = "; ".join(_describe_errors(exc.detail))
        raise InvalidSourcesError(f"Invalid {source_type} source: {problems}") from None
    if "id" not in source:
        raise InvalidSourcesError("Source is missing an id")


def validate_sources_gen_b(sources: list[Any]) -> None:
    """Gen B ``validate_sources``: per source, serializer first, then reserved prefix, then
    duplicates. A non-string id that passes the serializer (a number) crashes Sentry's
    ``startswith`` call: ``ServerBug``."""
    seen: set[Any] = set()
    for source in sources:
        if not isinstance(source, dict):
            raise ServerBug("source is not an object")
        _validate_source_gen_b(source)
        source_id = source["id"]
        if not isinstance(source_id, str):
            raise ServerBug("source id is not a string")
        if spec.is_reserved_id(source_id):
            raise InvalidSourcesError('Source ids must not start with "sentry:"')
        if source_id in seen:
            raise InvalidSourcesError(f"Duplicate source id: {source_id}")
        seen.add(source_id)


def redact_gen_b(source: dict[str, Any]) -> dict[str, Any]:
    """Gen B ``redact_source``: the union of secret fields, whatever the type."""
    redacted = dict(source)
    for field in spec.ALL_SECRET_FIELDS:
        if field in redacted:
            redacted[field] = spec.hidden_secret()
    return redacted
