"""What Sentry's symbol-sources API accepts, in one place.

The loader's model (reconciler.config.project_file) and the emulator (reconciler.emulator) both
build on these tables, so the two can never disagree about the server's vocabulary. The loader is
stricter than the server in places (known region shape, no blank required strings, secrets by
reference); those extra rules live in the model, not here.
"""

from __future__ import annotations

import re
from typing import Final, Literal, get_args

SourceType = Literal["http", "s3", "gcs"]
SOURCE_TYPES: Final[tuple[str, ...]] = get_args(SourceType)

LayoutType = Literal[
    "native", "symstore", "symstore_index2", "ssqp", "unified", "debuginfod", "slashsymbols"
]
LAYOUT_TYPES: Final[tuple[str, ...]] = get_args(LayoutType)

Casing = Literal["default", "uppercase", "lowercase"]
CASINGS: Final[tuple[str, ...]] = get_args(Casing)
DEFAULT_CASING: Final = "default"

FileType = Literal[
    "pe",
    "pdb",
    "portablepdb",
    "mach_debug",
    "mach_code",
    "elf_debug",
    "elf_code",
    "wasm_debug",
    "wasm_code",
    "breakpad",
    "sourcebundle",
    "uuidmap",
    "bcsymbolmap",
    "il2cpp",
    "proguard",
    "dartsymbolmap",
]
FILETYPES: Final[tuple[str, ...]] = get_args(FileType)

# Fields every source type has (server side, and in symsync's file format).
COMMON_REQUIRED: Final[frozenset[str]] = frozenset({"type", "id", "layout"})
COMMON_OPTIONAL: Final[frozenset[str]] = frozenset(
    {"name", "filters", "is_public", "has_index", "platforms"}
)
LAYOUT_FIELDS: Final[frozenset[str]] = frozenset({"type", "casing"})
FILTER_FIELDS: Final[frozenset[str]] = frozenset(
    {"filetypes", "path_patterns", "requires_checksum"}
)

# Per-type fields, as the server enforces them.
TYPE_REQUIRED: Final[dict[str, frozenset[str]]] = {
    "http": frozenset({"url"}),
    "s3": frozenset({"bucket", "region", "access_key", "secret_key"}),
    "gcs": frozenset({"bucket", "client_email", "private_key"}),
}
TYPE_OPTIONAL: Final[dict[str, frozenset[str]]] = {
    "http": frozenset({"username", "password"}),
    "s3": frozenset({"prefix"}),
    "gcs": frozenset({"prefix"}),
}

# Secret fields, per type. Sentry never returns their values: each reads back as the
# placeholder below.
SECRET_FIELDS: Final[dict[str, frozenset[str]]] = {
    "http": frozenset({"password"}),
    "s3": frozenset({"secret_key"}),
    "gcs": frozenset({"private_key"}),
}
ALL_SECRET_FIELDS: Final[frozenset[str]] = frozenset().union(*SECRET_FIELDS.values())

HIDDEN_SECRET_KEY: Final = "hidden-secret"


def hidden_secret() -> dict[str, bool]:
    """The placeholder Sentry returns instead of a secret value (a fresh dict each call)."""
    return {HIDDEN_SECRET_KEY: True}


def is_hidden_secret(value: object) -> bool:
    """True for Sentry's placeholder, compared the way Python dict equality does on the server."""
    return isinstance(value, dict) and value == {HIDDEN_SECRET_KEY: True}


def type_fields(source_type: str) -> frozenset[str]:
    """Every field the server accepts on a source of this type."""
    return (
        COMMON_REQUIRED
        | COMMON_OPTIONAL
        | TYPE_REQUIRED.get(source_type, frozenset())
        | TYPE_OPTIONAL.get(source_type, frozenset())
    )


# Sentry rejects every id that starts with this, colon or not (its endpoint's validation keeps
# such ids for its own built-in sources).
RESERVED_ID_PREFIX: Final = "sentry"


def is_reserved_id(source_id: str) -> bool:
    return source_id.startswith(RESERVED_ID_PREFIX)


# AWS region codes symsync knows by name: every region of AWS's standard partition, GovCloud, and
# the two China regions that Sentry offers for S3 sources (China is its own partition).
# Checked against botocore's botocore/data/partitions.json (boto/botocore @ c870f2c1, late 2025:
# the "aws", "aws-us-gov" and "aws-cn" partitions). Any other well-formed code is accepted with a
# warning, so a region AWS opens later still works.
KNOWN_AWS_REGIONS: Final[tuple[str, ...]] = (
    # The 21 regions Sentry's published API schema offers for S3 sources.
    "us-east-2",
    "us-east-1",
    "us-west-1",
    "us-west-2",
    "ap-east-1",
    "ap-south-1",
    "ap-northeast-2",
    "ap-southeast-1",
    "ap-southeast-2",
    "ap-northeast-1",
    "ca-central-1",
    "cn-north-1",
    "cn-northwest-1",
    "eu-central-1",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "eu-north-1",
    "sa-east-1",
    "us-gov-east-1",
    "us-gov-west-1",
    # The rest of the standard partition.
    "af-south-1",
    "ap-east-2",
    "ap-northeast-3",
    "ap-south-2",
    "ap-southeast-3",
    "ap-southeast-4",
    "ap-southeast-5",
    "ap-southeast-6",
    "ap-southeast-7",
    "ca-west-1",
    "eu-central-2",
    "eu-south-1",
    "eu-south-2",
    "il-central-1",
    "me-central-1",
    "me-south-1",
    "mx-central-1",
)
AWS_REGION_RE: Final = re.compile(r"^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-[0-9]+$")

# Token scopes each method needs on a project's symbol sources (Sentry's project permissions).
METHOD_SCOPES: Final[dict[str, frozenset[str]]] = {
    "GET": frozenset({"project:read", "project:write", "project:admin"}),
    "POST": frozenset({"project:write", "project:admin"}),
    "PUT": frozenset({"project:write", "project:admin"}),
    "DELETE": frozenset({"project:admin"}),
}

# Organization and project slugs: the folder and file names of `configs/<org>/<project>.yaml`.
SLUG_RE: Final = re.compile(r"^[a-z0-9][a-z0-9_-]*$")

# Built-in repositories: Sentry's own symbol servers a project can turn on by key (the project's
# `builtinSymbolSources`). The keys Sentry documents, with the names its settings page shows.
BUILTIN_SOURCE_NAMES: Final[dict[str, str]] = {
    "microsoft": "Microsoft",
    "nuget": "NuGet",
    "citrix": "Citrix",
    "intel": "Intel",
    "amd": "AMD",
    "nvidia": "NVIDIA",
    "chromium": "Chromium",
    "unity": "Unity",
    "mozilla": "Mozilla",
    "autodesk": "Autodesk",
    "electron": "Electron",
    "ubuntu": "Ubuntu",
    "ios": "Apple",
    "android": "Android",
    "steam": "Steam",
    "nintendo": "Nintendo SDK",
}
BUILTIN_SOURCE_KEYS: Final[tuple[str, ...]] = tuple(BUILTIN_SOURCE_NAMES)
# What Sentry answers for a project that never set its built-in repositories.
DEFAULT_BUILTIN_SOURCES: Final[tuple[str, ...]] = ("ios", "microsoft", "android", "nuget")
# Scopes of Sentry's project details endpoint, which holds `builtinSymbolSources`: a token with
# `project:read` may send a PUT, but only an empty list without `project:write`.
PROJECT_WRITE_SCOPES: Final[frozenset[str]] = frozenset({"project:write", "project:admin"})
