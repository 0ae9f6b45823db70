"""The shared vocabulary (reconciler.sentry.spec) matches Sentry's published OpenAPI response
schema for symbol sources (tests/data/sentry-openapi-symbol-sources.json)."""

import pytest

from reconciler.sentry import spec
from tests.support.published_reference import published_source_variants


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


# The regions Sentry's published API reference lists for an S3 source ("Update a Project's Symbol
# Source", the `region` body parameter).
PUBLISHED_REGIONS = {
    "us-east-2", "us-east-1", "us-west-1", "us-west-2", "ap-east-1", "ap-south-1",
    "ap-northeast-2", "ap-southeast-1", "ap-southeast-2", "ap-northeast-1", "ca-central-1",
    "cn-north-1", "cn-northwest-1", "eu-central-1", "eu-west-1", "eu-west-2", "eu-west-3",
    "eu-north-1", "sa-east-1", "us-gov-east-1", "us-gov-west-1",
}  # fmt: skip
# AWS's standard partition and GovCloud, as botocore's botocore/data/partitions.json lists them
# (boto/botocore @ c870f2c1, partitions "aws" and "aws-us-gov").
AWS_STANDARD_PARTITION = {
    "af-south-1", "ap-east-1", "ap-east-2", "ap-northeast-1", "ap-northeast-2",
    "ap-northeast-3", "ap-south-1", "ap-south-2", "ap-southeast-1", "ap-southeast-2",
    "ap-southeast-3", "ap-southeast-4", "ap-southeast-5", "ap-southeast-6", "ap-southeast-7",
    "ca-central-1", "ca-west-1", "eu-central-1", "eu-central-2", "eu-north-1", "eu-south-1",
    "eu-south-2", "eu-west-1", "eu-west-2", "eu-west-3", "il-central-1", "me-central-1",
    "me-south-1", "mx-central-1", "sa-east-1", "us-east-1", "us-east-2", "us-west-1",
    "us-west-2",
}  # fmt: skip
AWS_GOVCLOUD = {"us-gov-east-1", "us-gov-west-1"}


def test_known_regions_are_aws_standard_govcloud_and_sentrys_published_list() -> None:
    known = set(spec.KNOWN_AWS_REGIONS)
    assert len(known) == len(spec.KNOWN_AWS_REGIONS)  # no repeats
    assert known == AWS_STANDARD_PARTITION | AWS_GOVCLOUD | PUBLISHED_REGIONS
    assert known - AWS_STANDARD_PARTITION - AWS_GOVCLOUD == {"cn-north-1", "cn-northwest-1"}
