"""The desired state of one project, as written in ``configs/<org>/<project>.yaml``.

pydantic models with ``extra="forbid"`` and strict types. They implement contract section 1:
they accept nothing that Sentry would reject, and are stricter than the server where the published
reference is (``name`` required, secrets only by reference, region codes well-formed).

The vocabulary (enums, per-type fields, secret fields) comes from ``reconciler.spec``, shared with
the emulator.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from reconciler import spec


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


def _not_blank(value: str) -> str:
    if not value.strip():
        raise PydanticCustomError("blank", "must not be blank")
    return value


NonBlankStr = Annotated[str, AfterValidator(_not_blank)]


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


SourceId = Annotated[str, AfterValidator(_source_id)]


def _region(value: str) -> str:
    if not spec.AWS_REGION_RE.match(value):
        raise PydanticCustomError(
            "region",
            "`{value}` is not an AWS region code (like `us-east-1`)",
            {"value": value},
        )
    return value


Region = Annotated[str, AfterValidator(_region)]

ENV_NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*$"


class SecretRef(StrictModel):
    """A secret named by the environment variable that holds it: ``{env: NAME}``."""

    env: Annotated[str, Field(pattern=ENV_NAME_PATTERN)]


def _secret_ref_only(value: Any) -> Any:
    if not isinstance(value, dict):
        raise PydanticCustomError(
            "secret_literal",
            "must be a reference like `{env: NAME}`, not a literal: secrets never go into git",
        )
    return value


class Layout(StrictModel):
    type: spec.LayoutType
    casing: spec.Casing = spec.DEFAULT_CASING


class Filters(StrictModel):
    filetypes: list[spec.FileType] | None = None
    path_patterns: list[str] | None = None
    requires_checksum: bool | None = None


class _PresentSource(StrictModel):
    type: spec.SourceType
    id: SourceId
    state: Literal["present"] = "present"
    name: str
    layout: Layout
    filters: Filters | None = None

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
    type: Literal["http"]
    url: NonBlankStr
    username: str | None = None
    password: SecretRef | None = None


class S3Source(_PresentSource):
    type: Literal["s3"]
    bucket: NonBlankStr
    region: Region
    access_key: NonBlankStr
    secret_key: SecretRef
    prefix: str | None = None


class GcsSource(_PresentSource):
    type: Literal["gcs"]
    bucket: NonBlankStr
    client_email: NonBlankStr
    private_key: SecretRef
    prefix: str | None = None


class AbsentSource(StrictModel):
    """``state: absent``: delete the source with this id if it exists."""

    id: SourceId
    state: Literal["absent"]


PresentSource = HttpSource | S3Source | GcsSource


def _entry_tag(value: Any) -> str | None:
    if isinstance(value, dict):
        if value.get("state") == "absent":
            return "absent"
        kind = value.get("type")
        return kind if isinstance(kind, str) else None
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
    """The content of one project file."""

    unmanaged: Literal["keep", "delete"] = "keep"
    sources: list[SourceEntry]

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


@dataclass(frozen=True)
class Origin:
    """Where a value was written: a path relative to the current directory, 1-based."""

    path: str
    line: int
    column: int

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.column}"


@dataclass(frozen=True)
class ProjectConfig:
    """The desired state of one Sentry project, as the loader hands it on."""

    organization: str
    project: str
    path: Path
    file: ProjectFile
    # Origin of every value, keyed by its location in the document: ("sources", 0, "url").
    origins: dict[tuple[str | int, ...], Origin] = field(default_factory=dict, compare=False)

    @property
    def unmanaged(self) -> Literal["keep", "delete"]:
        return self.file.unmanaged

    @property
    def sources(self) -> list[HttpSource | S3Source | GcsSource | AbsentSource]:
        return list(self.file.sources)

    @property
    def key(self) -> str:
        return f"{self.organization}/{self.project}"
