"""The shared vocabulary matches the published OpenAPI response schema (reference section 2)."""

import pytest

from reconciler import spec
from tests.published_reference import published_source_variants


def _response_variants() -> dict[str, dict]:
    return {v["properties"]["type"]["enum"][0]: v for v in published_source_variants()}


@pytest.mark.parametrize("source_type", spec.SOURCE_TYPES)
def test_type_fields_match_published_schema(source_type: str) -> None:
    variant = _response_variants()[source_type]
    assert set(variant["properties"]) == spec.type_fields(source_type)
    assert set(variant["required"]) == spec.COMMON_REQUIRED | spec.TYPE_REQUIRED[source_type]


def test_enums_match_published_schema() -> None:
    http = _response_variants()["http"]["properties"]
    assert tuple(http["layout"]["properties"]["type"]["enum"]) == spec.LAYOUT_TYPES
    assert set(http["layout"]["properties"]["casing"]["enum"]) == set(spec.CASINGS)
    filetypes = http["filters"]["properties"]["filetypes"]["items"]["enum"]
    assert tuple(filetypes) == spec.FILETYPES


@pytest.mark.parametrize("source_type", spec.SOURCE_TYPES)
def test_secret_fields_are_the_redacted_ones(source_type: str) -> None:
    props = _response_variants()[source_type]["properties"]
    redacted = {
        k
        for k, v in props.items()
        if v.get("type") == "object" and "hidden-secret" in v.get("properties", {})
    }
    assert redacted == spec.SECRET_FIELDS[source_type]


@pytest.mark.parametrize(
    ("source_id", "reserved"),
    [
        ("sentry:x", True),
        ("sentry-mirror", True),
        ("sentryfoo", True),
        ("Sentry:x", False),
        ("acme", False),
    ],
)
def test_reserved_prefix_is_sentry_without_colon(source_id: str, reserved: bool) -> None:
    assert spec.is_reserved_id(source_id) is reserved


@pytest.mark.parametrize("region", spec.KNOWN_AWS_REGIONS)
def test_known_regions_are_well_formed(region: str) -> None:
    assert spec.AWS_REGION_RE.match(region)
