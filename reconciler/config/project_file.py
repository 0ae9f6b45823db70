"""The desired state of one project, as written in ``configs/<org>/<project>.yaml``.

pydantic models with ``extra="forbid"`` and strict types. A file holds every field of a custom
source in Sentry's published schema, and nothing that Sentry would reject (in either generation
of its endpoint). The models are stricter than the server where the file format asks for it:
secrets only by reference, region codes well-formed, no blank required strings. ``name`` is
optional and may be blank, as Sentry allows, so that any stored name round-trips unchanged.

The vocabulary (enums, per-type fields, secret fields) comes from ``reconciler.sentry.spec``,
shared with the emulator. The loader turns pydantic's errors into ``PATH:LINE:COLUMN: message``
lines (``reconciler.config.wording``); the messages here are what other users of the models see.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Final, Literal, get_args

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    field_validator,
    model_validator,
)
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue
from pydantic_core import PydanticCustomError, core_schema

from reconciler.config.diagnostic import Diagnostic, Origin
from reconciler.sentry import spec


class StrictModel(BaseModel):
    """No unknown keys, no type coercion, no nulls."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    @model_validator(mode="before")
    @classmethod
    def _no_nulls(cls, data: Any) -> Any:
        if isinstance(data, dict):
            for key, value in data.items():
                if value is None:
                    raise PydanticCustomError(
                        "null_value",
                        "`{key}` must not be null: give it a value or remove the key",
                        {"key": key},
                    )
        return data


def integral_number(value: Any) -> Any:
    """A float with no fractional part (``1.0``) as the int it stands for, anything else as it is.

    JSON Schema's ``integer`` (what ``symsync schema`` says of these fields, and what editors
    check) takes ``1.0`` for 1 and cannot tell the two apart, so the file takes it too; ``1.5``,
    ``.inf`` and ``.nan`` are still refused as whole numbers."""
    if value.__class__ is float and value.is_integer():
        return int(value)
    return value


# Where an int field takes an integral float: after its constraints in ``Annotated`` (so that
# the JSON Schema keeps `minimum` and the like), as in ``Annotated[int, Field(ge=0), WHOLE]``.
WHOLE = BeforeValidator(integral_number)


# A blank string has no non-space character; JSON Schema's `pattern` is a search, not a match.
NOT_BLANK_PATTERN = r"\S"


def _not_blank(value: str) -> str:
    if not value.strip():
        raise PydanticCustomError("blank", "must not be blank")
    return value


NonBlankStr = Annotated[
    str, AfterValidator(_not_blank), Field(json_schema_extra={"pattern": NOT_BLANK_PATTERN})
]


def _source_id(value: str) -> str:
    _not_blank(value)
    if spec.is_reserved_id(value):
        raise PydanticCustomError(
            "reserved_id",
            "source id `{id}` starts with `sentry`, which Sentry reserves for its own sources: "
            "choose another id",
            {"id": value},
        )
    return value


SourceId = Annotated[
    str,
    AfterValidator(_source_id),
    Field(
        description=(
            "Identity of the source, used to match it with the source in Sentry. Unique in the "
            "file; must not start with `sentry` (Sentry reserves that prefix)."
        ),
        json_schema_extra={
            "pattern": NOT_BLANK_PATTERN,
            "not": {"pattern": f"^{spec.RESERVED_ID_PREFIX}"},
        },
    ),
]


def _region(value: str) -> str:
    _not_blank(value)
    # fullmatch: with `match`, `$` also matches before a trailing newline ("us-east-1\n").
    if not spec.AWS_REGION_RE.fullmatch(value):
        raise PydanticCustomError(
            "region",
            "`{value}` is not an AWS region code (like `us-east-1`)",
            {"value": value},
        )
    return value


Region = Annotated[
    str,
    AfterValidator(_region),
    Field(
        description=(
            "AWS region code of the bucket, like `us-east-1`. A well-formed code that is not a "
            "known AWS region is accepted with a warning."
        ),
        json_schema_extra={"pattern": spec.AWS_REGION_RE.pattern},
    ),
]

ENV_NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*$"

# Variables a secret reference may not name: symsync's own credentials and the CI runner's. A
# source's URL is chosen in the same file, so naming one of them would send that credential to
# whichever server the file names, each time Sentry fetches symbols.
RESERVED_ENV_NAMES: Final = frozenset({"SENTRY_AUTH_TOKEN", "SYMSYNC_SECRETS"})
RESERVED_ENV_PREFIXES: Final = ("SENTRY_", "GITHUB_", "ACTIONS_", "RUNNER_")


def reserved_env_name(name: str) -> bool:
    """Whether ``{env: name}`` would hand out a credential of symsync or of the CI runner."""
    upper = name.upper()
    return upper in RESERVED_ENV_NAMES or upper.startswith(RESERVED_ENV_PREFIXES)


class SecretRef(StrictModel):
    """A secret named by the environment variable that holds it: ``{env: NAME}``.

    ``version`` (``{env: NAME, version: 2}``) declares a rotation in git: ``plan/apply --base
    REV`` send the value again for a reference whose variable or version changed since REV.
    """

    model_config = ConfigDict(
        title="SecretRef",
        json_schema_extra={
            "description": (
                "A secret, given by the name of the environment variable that holds it at plan "
                "and apply time. Secret values never go into the file."
            )
        },
    )

    env: Annotated[
        str,
        Field(
            pattern=ENV_NAME_PATTERN,
            description="Name of the environment variable, like `ACME_SYMBOLS_PASSWORD`.",
        ),
    ]
    version: (
        Annotated[
            int,
            Field(
                gt=0,
                description=(
                    "Rotation counter: raise it when the secret changes, and `apply --base REV` "
                    "sends the new value once. Ignored without `--base`."
                ),
            ),
            WHOLE,
        ]
        | None
    ) = None

    @field_validator("env")
    @classmethod
    def _not_a_credential_of_symsync_or_ci(cls, value: str) -> str:
        if reserved_env_name(value):
            raise PydanticCustomError(
                "reserved_env",
                "`{name}` holds a credential of symsync or of the CI runner and cannot be a "
                "source's secret (the server the file names would receive it): name a variable "
                "of your own, like `ACME_SYMBOLS_PASSWORD`, and give its value in the environment "
                "or in SYMSYNC_SECRETS",
                {"name": value},
            )
        return value


def _secret_ref_only(value: Any) -> Any:
    if not isinstance(value, dict | SecretRef):
        raise PydanticCustomError(
            "secret_literal",
            "must be a reference like `{env: NAME}`, not a literal: secrets never go into git",
        )
    return value


class Layout(StrictModel):
    """How debug files are laid out on the server or in the bucket."""

    type: spec.LayoutType = Field(description="Directory layout of the symbol store.")
    casing: spec.Casing = Field(
        default=spec.DEFAULT_CASING, description="Casing of file paths (default: `default`)."
    )


class Filters(StrictModel):
    """Which debug files Sentry looks up in this source."""

    filetypes: list[spec.FileType] | None = Field(
        default=None, description="Only look up these kinds of debug files."
    )
    # Sentry's rewritten endpoint refuses a blank pattern, as it does a blank platform; the file
    # accepts nothing Sentry would refuse.
    path_patterns: list[NonBlankStr] | None = Field(
        default=None,
        description=(
            "Only look up debug files whose path matches one of these globs. Each must not be "
            "blank."
        ),
    )
    requires_checksum: bool | None = Field(
        default=None, description="Only look up debug files that carry a checksum."
    )


BuiltinKey = Annotated[
    str,
    AfterValidator(_not_blank),
    Field(
        description="Key of a built-in repository, like `microsoft` or `nuget`.",
        json_schema_extra={"pattern": NOT_BLANK_PATTERN},
    ),
]


class _PresentSource(StrictModel):
    type: spec.SourceType
    id: SourceId
    state: Literal["present"] = Field(
        default="present",
        description="`present` (default) keeps the source as described; `absent` deletes it.",
    )
    name: str | None = Field(
        default=None,
        description=(
            "Name Sentry shows for the source. Optional and may be blank, as Sentry allows; an "
            "absent name and a blank one are different values to Sentry."
        ),
    )
    layout: Layout
    filters: Filters | None = None
    is_public: bool | None = Field(
        default=None,
        description="Sentry's `is_public` flag of the source, stored and returned by Sentry.",
    )
    has_index: bool | None = Field(
        default=None,
        description="Sentry's `has_index` flag of the source, stored and returned by Sentry.",
    )
    platforms: list[NonBlankStr] | None = Field(
        default=None,
        description=(
            "Platforms the source is meant for, like `[ios, macos]`, stored and returned by "
            "Sentry. Each must not be blank."
        ),
    )

    @field_validator("password", "secret_key", "private_key", mode="before", check_fields=False)
    @classmethod
    def _secrets_by_reference(cls, value: Any) -> Any:
        return _secret_ref_only(value)

    def secret_refs(self) -> dict[str, SecretRef]:
        """The secret fields this source sets, by field name."""
        return {
            name: ref
            for name in sorted(spec.SECRET_FIELDS[self.type])
            if isinstance(ref := getattr(self, name, None), SecretRef)
        }


class HttpSource(_PresentSource):
    """A symbol server reached over HTTP(S)."""

    type: Literal["http"]
    url: NonBlankStr = Field(description="Address of the symbol server.")
    username: str | None = Field(default=None, description="User name for basic auth.")
    password: SecretRef | None = Field(default=None, description="Password for basic auth.")


class S3Source(_PresentSource):
    """An Amazon S3 bucket."""

    type: Literal["s3"]
    bucket: NonBlankStr = Field(description="Name of the S3 bucket.")
    region: Region
    access_key: NonBlankStr = Field(description="AWS access key id (not a secret).")
    secret_key: SecretRef = Field(description="AWS secret access key.")
    prefix: str | None = Field(default=None, description="Path prefix inside the bucket.")


class GcsSource(_PresentSource):
    """A Google Cloud Storage bucket."""

    type: Literal["gcs"]
    bucket: NonBlankStr = Field(description="Name of the GCS bucket.")
    client_email: NonBlankStr = Field(description="Service account e-mail (not a secret).")
    private_key: SecretRef = Field(description="Service account private key.")
    prefix: str | None = Field(default=None, description="Path prefix inside the bucket.")


class AbsentSource(StrictModel):
    """`state: absent`: delete the source with this id if it exists."""

    id: SourceId
    state: Literal["absent"] = Field(description="Delete the source with this id if it exists.")


# What happens to sources in Sentry that a file does not list.
Unmanaged = Literal["keep", "report", "delete"]
UNMANAGED_POLICIES: tuple[str, ...] = get_args(Unmanaged)

PresentSource = HttpSource | S3Source | GcsSource
Source = HttpSource | S3Source | GcsSource | AbsentSource

# Model of each tag of the discriminated union below; the tag also appears in pydantic's error
# locations, e.g. ("sources", 0, "http", "url").
SOURCE_MODELS: dict[str, type[StrictModel]] = {
    "http": HttpSource,
    "s3": S3Source,
    "gcs": GcsSource,
    "absent": AbsentSource,
}


def _entry_tag(value: Any) -> str | None:
    if isinstance(value, dict):
        if value.get("state") == "absent":
            return "absent"
        kind = value.get("type")
        return kind if isinstance(kind, str) and kind in spec.SOURCE_TYPES else None
    if isinstance(value, BaseModel):
        return "absent" if isinstance(value, AbsentSource) else str(getattr(value, "type", ""))
    return None


SourceEntry = Annotated[
    Annotated[HttpSource, Tag("http")]
    | Annotated[S3Source, Tag("s3")]
    | Annotated[GcsSource, Tag("gcs")]
    | Annotated[AbsentSource, Tag("absent")],
    Discriminator(
        _entry_tag,
        custom_error_type="source_type",
        custom_error_message="`type` must be one of `http`, `s3`, `gcs`",
    ),
]


class ProjectFile(StrictModel):
    """The content of one project file, ``configs/<organization>/<project>.yaml``."""

    model_config = ConfigDict(title="symsync project file")

    unmanaged: Unmanaged = Field(
        default="keep",
        description=(
            "What happens to sources in Sentry that this file does not list: `keep` (default) "
            "leaves them alone, `report` leaves them alone but shows them as drift (plan "
            "counts them, and `--detailed-exitcode` exits 2), `delete` removes them."
        ),
    )
    sources: list[SourceEntry] = Field(
        description=(
            "The project's symbol sources. Sentry queries sources in its stored order; with "
            "`order: enforce`, apply makes that order the file's."
        )
    )
    order: Literal["warn", "enforce"] = Field(
        default="warn",
        description=(
            "`warn` (default): a plan warns when Sentry's order of these sources differs from "
            "the file's. `enforce`: apply re-creates sources at the end until it matches."
        ),
    )
    max_deletes: Annotated[int, Field(ge=0), WHOLE] | None = Field(
        default=None,
        description=(
            "Most sources one apply may delete in this project, instead of the default rule "
            "(at most half of a project holding 4 or more sources)."
        ),
    )

    defaults: bool = Field(
        default=True,
        description=(
            "`false`: take nothing from the `defaults` of the organization's `_org.yaml` (no "
            "default sources, no default built-in repositories)."
        ),
    )
    builtin: list[BuiltinKey] | None = Field(
        default=None,
        description=(
            "The project's built-in repositories (Sentry's own symbol servers), by key, like "
            "`[microsoft, nuget]`: exactly these, in this order. Without it (and without "
            "`defaults.builtin` in `_org.yaml`) they are not managed."
        ),
    )

    @model_validator(mode="after")
    def _unique_ids(self) -> ProjectFile:
        seen: set[str] = set()
        for entry in self.sources:
            if entry.id in seen:
                raise PydanticCustomError(
                    "duplicate_id",
                    "source id `{id}` appears more than once: ids must be unique in a file",
                    {"id": entry.id},
                )
            seen.add(entry.id)
        return self


class OrgDefaults(StrictModel):
    """What every project file of the organization takes, unless it says `defaults: false`."""

    sources: list[str] | None = Field(
        default=None,
        description=(
            "Ids of definitions appended, in this order, to the sources of every project file "
            "(not again where the file already names the id)."
        ),
    )
    builtin: list[BuiltinKey] | None = Field(
        default=None,
        description=(
            "Built-in repositories of every project file that does not say its own `builtin:`."
        ),
    )


class OrgFile(StrictModel):
    """``configs/<organization>/_org.yaml``: shared definitions and defaults."""

    sources: list[SourceEntry] = Field(
        default_factory=list,
        description=(
            "Definitions a project file of the organization may use with `- use: ID`; each is "
            "a complete source, and none may carry `state: absent`."
        ),
    )
    defaults: OrgDefaults | None = Field(
        default=None, description="What every project file takes unless it says otherwise."
    )


@dataclass(frozen=True)
class ProjectConfig:
    """The desired state of one Sentry project, as the loader hands it on."""

    organization: str
    project: str
    path: Path
    file: ProjectFile
    # Origin of every value, keyed by its location in the document: ("sources", 0, "url");
    # () is the whole document, ("sources", 0) the first source's mapping.
    origins: Mapping[tuple[str | int, ...], Origin] = field(default_factory=dict, compare=False)
    # The file's warnings (a valid file has no error): they travel with the project into its
    # plan, so that every plan format shows them where the changes are.
    warnings: tuple[Diagnostic, ...] = field(default=(), compare=False)

    @property
    def unmanaged(self) -> Unmanaged:
        return self.file.unmanaged

    @property
    def order(self) -> Literal["warn", "enforce"]:
        return self.file.order

    @property
    def max_deletes(self) -> int | None:
        return self.file.max_deletes

    @property
    def sources(self) -> list[HttpSource | S3Source | GcsSource | AbsentSource]:
        return list(self.file.sources)

    @property
    def key(self) -> str:
        return f"{self.organization}/{self.project}"

    @property
    def builtin(self) -> tuple[str, ...] | None:
        """The built-in repositories to hold (after defaults); None: not managed."""
        keys = self.file.builtin
        return None if keys is None else tuple(keys)


SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"


class _ProjectFileSchema(GenerateJsonSchema):
    """JSON Schema of a project file as editors should see it.

    No value may be null, so optional fields are plain "may be omitted" properties instead of
    pydantic's default ``anyOf: [..., {type: null}]`` with ``default: null``.
    """

    def nullable_schema(self, schema: core_schema.NullableSchema) -> JsonSchemaValue:
        return self.generate_inner(schema["schema"])

    def default_schema(self, schema: core_schema.WithDefaultSchema) -> JsonSchemaValue:
        if schema.get("default", ...) is None:
            return self.generate_inner(schema["schema"])
        return super().default_schema(schema)


# Sentry refuses a NUL character in any string (the loader checks it: reconciler.config.loader).
_NUL_PATTERN = "\\u0000"


def _as_validators_read_it(node: Any) -> None:
    """Make each string rule of the schema mean what the loader checks, in every validator.

    - A pattern anchored with ``$`` also matches before a final newline in Python's ``re`` (the
      ``jsonschema`` package searches with it), so ``"us-east-1\\n"`` would pass: ``(?!\\n)``
      after the ``$`` refuses it there and changes nothing in ECMA-262 regexes (editors).
    - No string may hold a NUL character (the anchored patterns already leave it out).
    """
    if isinstance(node, list):
        for item in node:
            _as_validators_read_it(item)
        return
    if not isinstance(node, dict):
        return
    pattern = node.get("pattern")
    anchored = isinstance(pattern, str) and pattern.startswith("^") and pattern.endswith("$")
    if anchored:  # its character classes already leave out NUL
        node["pattern"] = f"{pattern}(?!\\n)"
    elif node.get("type") == "string" and "enum" not in node and "const" not in node:
        nul = {"pattern": _NUL_PATTERN}
        if "not" not in node:
            node["not"] = nul
        elif nul not in node["not"].get("anyOf", []):
            node["not"] = {"anyOf": [node["not"], nul]}
    for value in node.values():
        _as_validators_read_it(value)


def _use_source_schema(defs: dict[str, Any]) -> dict[str, Any]:
    """A ``- use: ID`` entry: the id of a definition of ``_org.yaml``, and any field of a source
    but ``type`` to override."""
    properties: dict[str, Any] = {
        "use": {
            "type": "string",
            "pattern": NOT_BLANK_PATTERN,
            "description": "Id of a definition under `sources:` of the organization's `_org.yaml`.",
        }
    }
    for name in ("HttpSource", "S3Source", "GcsSource"):
        for key, value in defs[name]["properties"].items():
            if key != "type":
                properties.setdefault(key, value)
    return {
        "type": "object",
        "title": "UseSource",
        "description": (
            "A shared definition of `_org.yaml`, by id, with any field but `type` overridden "
            "(a field given replaces the definition's whole value)."
        ),
        "properties": properties,
        "required": ["use"],
        "additionalProperties": False,
    }


def org_file_json_schema() -> dict[str, Any]:
    """The JSON Schema of an organization's ``_org.yaml``, generated from ``OrgFile``."""
    schema = OrgFile.model_json_schema(schema_generator=_ProjectFileSchema)
    items = schema["properties"]["sources"]["items"]
    items["oneOf"] = [ref for ref in items["oneOf"] if not ref["$ref"].endswith("/AbsentSource")]
    schema["$defs"].pop("AbsentSource", None)
    _as_validators_read_it(schema)
    return {"$schema": SCHEMA_DIALECT, **schema}


def project_file_json_schema() -> dict[str, Any]:
    """The JSON Schema of a project file, generated from ``ProjectFile``; its ``$defs`` hold
    ``OrgFile`` too, the schema of ``_org.yaml`` (``#/$defs/OrgFile``)."""
    schema = ProjectFile.model_json_schema(schema_generator=_ProjectFileSchema)
    defs = schema["$defs"]
    defs["UseSource"] = _use_source_schema(defs)
    schema["properties"]["sources"]["items"]["oneOf"].append({"$ref": "#/$defs/UseSource"})
    org = org_file_json_schema()
    org.pop("$schema")
    for name, definition in org.pop("$defs").items():
        defs.setdefault(name, definition)
    defs["OrgFile"] = org
    _as_validators_read_it(schema)
    return {
        "$schema": SCHEMA_DIALECT,
        **schema,
        "description": (
            "Desired symbol sources of one Sentry project, in configs/<organization>/<project>"
            ".yaml. The organization and project come from the file's path."
        ),
    }
