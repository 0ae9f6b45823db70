"""Conformance of the emulator's default (Gen A) endpoint with the reference, sections 1 to 6.

Each case names the behaviour it checks; the comment above it gives the reference section.
Behaviours the reference marks UNVERIFIED carry ``unverified`` in their names.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from reconciler.emulator.testing import EmulatorHandle
from tests.support.emulator_support import (
    EMPTY,
    PLACEHOLDER,
    UUID4_RE,
    Case,
    ConformanceTable,
    gcs_source,
    http_source,
    internal_error,
    redacted,
    s3_source,
    without,
)

WEB = http_source("web", password="web-password", username="ci")
S3 = s3_source("bucket")
GCS = gcs_source("gcs")
PLAIN = http_source("plain")  # no password

LEGACY_ASC = {
    "id": "asc",
    "type": "appStoreConnect",
    "name": "App Store",
    "appconnectIssuer": "a" * 36,
    "appconnectKey": "KEY123",
    "appconnectPrivateKey": "asc-private",
    "appName": "App",
    "appId": "1",
    "bundleId": "com.example",
}


def _post_rejected(name: str, body: object, stored: list[object] | None = None) -> Case:
    # Section 1: every POST validation failure is 400 with an EMPTY body.
    return Case(name, "POST", 400, stored=list(stored or []), body=body, response=EMPTY)


def _post_accepted(name: str, body: dict[str, object]) -> Case:
    return Case(name, "POST", 201, body=body, response=redacted(body), after=[body])


def _failed_to_validate(sources: list[dict[str, object]]) -> dict[str, str]:
    return {"error": f"Failed to validate source {[redacted(s) for s in sources]!r}"}


CASES = [
    # --- Section 1: GET -------------------------------------------------------------------
    Case("get_without_sources_returns_200_empty_array", "GET", 200, response=[]),
    Case(
        "get_returns_every_source_in_stored_order_with_secrets_redacted",
        "GET",
        200,
        stored=[WEB, S3, GCS],
        response=[redacted(WEB), redacted(S3), redacted(GCS)],
    ),
    Case(
        "get_with_id_returns_a_one_element_array_not_an_object",
        "GET",
        200,
        stored=[WEB, S3],
        query="id=bucket",
        response=[redacted(S3)],
    ),
    Case(
        "get_with_unknown_id_returns_404_unknown_source_id",
        "GET",
        404,
        stored=[WEB],
        query="id=nope",
        response={"error": "Unknown source id: nope"},
    ),
    Case(
        "get_with_empty_id_returns_the_full_list",
        "GET",
        200,
        stored=[WEB, S3],
        query="id=",
        response=[redacted(WEB), redacted(S3)],
    ),
    Case(
        "get_with_repeated_id_uses_the_last_value_like_django",
        "GET",
        200,
        stored=[WEB, S3],
        query="id=web&id=bucket",
        response=[redacted(S3)],
    ),
    Case(
        "get_ignores_query_parameters_other_than_id",
        "GET",
        200,
        stored=[WEB, S3],
        query="cursor=0:100:0&per_page=1&foo=bar",
        response=[redacted(WEB), redacted(S3)],
    ),
    # --- Section 1: POST ------------------------------------------------------------------
    Case(
        "post_returns_201_with_the_stored_source_redacted",
        "POST",
        201,
        stored=[PLAIN],
        body=WEB,
        response=redacted(WEB),
        after=[PLAIN, WEB],
    ),
    Case(
        "post_without_id_generates_a_uuid4_returned_in_the_201_body",
        "POST",
        201,
        body=without(PLAIN, "id"),
        response=lambda b: UUID4_RE.match(b["id"]) is not None,
        after=lambda after: len(after) == 1 and UUID4_RE.match(after[0]["id"]) is not None,
    ),
    # Section 4 (UNVERIFIED): the schema-failure message indexes source["type"]: KeyError, 500.
    Case(
        "post_body_without_type_returns_500_unverified",
        "POST",
        500,
        body=without(PLAIN, "type"),
        response=internal_error,
    ),
    Case(
        "post_empty_body_is_an_empty_object_and_returns_500_unverified",
        "POST",
        500,
        response=internal_error,
    ),
    # Code reading: a JSON body that is not an object makes the handler raise TypeError.
    Case(
        "post_body_that_is_not_an_object_returns_500_unverified",
        "POST",
        500,
        body=[PLAIN],
        response=internal_error,
    ),
    # Section 1: DRF's parse error.
    Case(
        "post_invalid_json_returns_400_json_parse_error",
        "POST",
        400,
        raw_body=b'{"id": ',
        response=lambda b: b["detail"].startswith("JSON parse error - "),
    ),
    Case(
        "post_non_json_content_type_returns_415",
        "POST",
        415,
        raw_body=b"id=x",
        content_type="text/plain",
        response={"detail": 'Unsupported media type "text/plain" in request.'},
    ),
    # --- Section 1: PUT -------------------------------------------------------------------
    Case(
        "put_without_id_parameter_returns_404_missing_source_id",
        "PUT",
        404,
        stored=[WEB],
        body=WEB,
        response={"error": "Missing source id"},
    ),
    Case(
        "put_with_empty_id_parameter_returns_404_unknown_source_id_empty",
        "PUT",
        404,
        stored=[WEB],
        query="id=",
        body=PLAIN,
        response={"error": "Unknown source id: "},
    ),
    Case(
        "put_returns_200_with_the_new_source_redacted_and_replaces_in_place",
        "PUT",
        200,
        stored=[S3, PLAIN, GCS],
        query="id=plain",
        body=http_source("plain", url="https://new.example/", password="new-pw"),
        response=redacted(http_source("plain", url="https://new.example/", password="new-pw")),
        after=[S3, http_source("plain", url="https://new.example/", password="new-pw"), GCS],
    ),
    Case(
        "put_body_without_id_renames_the_source_to_a_fresh_uuid4",
        "PUT",
        200,
        stored=[S3, PLAIN, GCS],
        query="id=plain",
        body=without(PLAIN, "id"),
        response=lambda b: UUID4_RE.match(b["id"]) is not None,
        after=lambda after: (
            [s["id"] for s in after][::2] == ["bucket", "gcs"]
            and UUID4_RE.match(after[1]["id"]) is not None
        ),
    ),
    Case(
        "put_body_without_type_returns_400_with_empty_body",
        "PUT",
        400,
        stored=[PLAIN],
        query="id=plain",
        body=without(PLAIN, "type"),
        response=EMPTY,
    ),
    Case(
        "put_unknown_id_returns_404_unknown_source_id",
        "PUT",
        404,
        stored=[PLAIN],
        query="id=nope",
        body=http_source("nope"),
        response={"error": "Unknown source id: nope"},
    ),
    Case(
        "put_backfill_failure_is_checked_before_the_unknown_id",
        "PUT",
        400,
        stored=[PLAIN],
        query="id=nope",
        body=http_source("nope", password=PLACEHOLDER),
        response=EMPTY,
    ),
    Case(
        "put_body_without_type_is_checked_before_the_unknown_id",
        "PUT",
        400,
        stored=[PLAIN],
        query="id=nope",
        body=without(http_source("nope"), "type"),
        response=EMPTY,
    ),
    Case(
        "put_unknown_id_is_checked_before_validation",
        "PUT",
        404,
        stored=[PLAIN],
        query="id=nope",
        body=without(http_source("nope"), "url"),
        response={"error": "Unknown source id: nope"},
    ),
    Case(
        "put_invalid_json_returns_400_json_parse_error",
        "PUT",
        400,
        stored=[PLAIN],
        query="id=plain",
        raw_body=b"{not json",
        response=lambda b: b["detail"].startswith("JSON parse error - "),
    ),
    Case(
        "put_validation_failure_returns_400_with_error_message",
        "PUT",
        400,
        stored=[PLAIN],
        query="id=plain",
        body=without(PLAIN, "url"),
        response=_failed_to_validate([without(PLAIN, "url")]),
    ),
    # --- Section 1: DELETE ----------------------------------------------------------------
    Case(
        "delete_returns_204_with_empty_body",
        "DELETE",
        204,
        stored=[WEB],
        query="id=web",
        response=EMPTY,
        after=[],
    ),
    Case(
        "delete_without_id_returns_404_missing_source_id",
        "DELETE",
        404,
        stored=[WEB],
        response={"error": "Missing source id"},
    ),
    Case(
        "delete_with_empty_id_returns_404_missing_source_id",
        "DELETE",
        404,
        stored=[WEB],
        query="id=",
        response={"error": "Missing source id"},
    ),
    Case(
        "delete_unknown_id_returns_404_unknown_source_id",
        "DELETE",
        404,
        stored=[WEB],
        query="id=nope",
        response={"error": "Unknown source id: nope"},
    ),
    # --- Section 2: what the server accepts -----------------------------------------------
    _post_accepted("post_accepts_a_source_without_name", without(PLAIN, "name")),
    _post_accepted("post_accepts_an_empty_name", http_source("p", name="")),
    _post_accepted(
        "post_accepts_a_layout_without_casing", http_source("p", layout={"type": "ssqp"})
    ),
    _post_accepted("post_accepts_an_empty_url_without_format_check", http_source("p", url="")),
    _post_accepted("post_accepts_any_region_string", s3_source("b", region="moon-base-1")),
    _post_accepted("post_accepts_an_empty_secret_as_a_plain_string", http_source("p", password="")),
    _post_accepted(
        "post_accepts_is_public_has_index_and_platforms",
        http_source("p", is_public=True, has_index=False, platforms=["ios", "macos"]),
    ),
    _post_accepted(
        "post_accepts_is_public_has_index_and_platforms_on_s3",
        s3_source("b", is_public=False, has_index=True, platforms=[]),
    ),
    _post_accepted(
        "post_accepts_is_public_has_index_and_platforms_on_gcs",
        gcs_source("g", is_public=True, has_index=True, platforms=["linux"]),
    ),
    # The published schema's `platforms` items are any string, blank included.
    _post_accepted("post_accepts_a_blank_platform", http_source("p", platforms=[""])),
    _post_accepted(
        "post_accepts_full_filters",
        http_source(
            "p",
            filters={
                "filetypes": ["pe", "pdb", "dartsymbolmap"],
                "path_patterns": ["*.dll"],
                "requires_checksum": True,
            },
        ),
    ),
    _post_accepted(
        "post_accepts_slashsymbols_layout", http_source("p", layout={"type": "slashsymbols"})
    ),
    _post_accepted("post_accepts_a_gcs_source_with_prefix", gcs_source("g", prefix="nightly/")),
    _post_accepted("post_accepts_an_id_with_capital_sentry", http_source("Sentry:x")),
    _post_accepted(
        "post_stores_the_body_verbatim_in_its_key_order",
        {
            "layout": {"casing": "upper" + "case", "type": "native"},
            "url": "https://x.example/",
            "type": "http",
            "id": "z",
        },
    ),
    _post_accepted(
        "post_accepts_long_values_without_max_length",
        http_source("p", name="n" * 5000, url="https://x.example/" + "a" * 10000),
    ),
    Case(
        "post_accepts_any_number_of_sources",
        "POST",
        201,
        stored=[http_source(f"s{i}") for i in range(300)],
        body=PLAIN,
        after=lambda after: len(after) == 301 and after[-1] == PLAIN,
    ),
    # --- Section 2: what the server rejects (POST: empty 400) -----------------------------
    _post_rejected("post_rejects_http_without_url", without(PLAIN, "url")),
    _post_rejected("post_rejects_s3_without_region", without(S3, "region")),
    _post_rejected("post_rejects_s3_without_secret_key", without(S3, "secret_key")),
    _post_rejected("post_rejects_gcs_without_private_key", without(GCS, "private_key")),
    _post_rejected("post_rejects_a_source_without_layout", without(PLAIN, "layout")),
    _post_rejected("post_rejects_a_field_of_another_type", http_source("p", bucket="b")),
    _post_rejected("post_rejects_region_on_gcs", gcs_source("g", region="us-east-1")),
    _post_rejected("post_rejects_an_unknown_field", http_source("p", color="blue")),
    _post_rejected("post_rejects_top_level_filetypes", http_source("p", filetypes=["pe"])),
    _post_rejected("post_rejects_an_unknown_layout_type", http_source("p", layout={"type": "hex"})),
    _post_rejected(
        "post_rejects_an_unknown_casing",
        http_source("p", layout={"type": "native", "casing": "camel"}),
    ),
    _post_rejected(
        "post_rejects_an_extra_layout_key",
        http_source("p", layout={"type": "native", "depth": 2}),
    ),
    _post_rejected("post_rejects_an_extra_filters_key", http_source("p", filters={"size": 1})),
    _post_rejected(
        "post_rejects_an_unknown_filetype", http_source("p", filters={"filetypes": ["exe"]})
    ),
    _post_rejected(
        "post_rejects_a_non_boolean_requires_checksum",
        http_source("p", filters={"requires_checksum": "yes"}),
    ),
    _post_rejected("post_rejects_null_name", http_source("p", name=None)),
    _post_rejected("post_rejects_null_url", http_source("p", url=None)),
    _post_rejected("post_rejects_null_password", http_source("p", password=None)),
    _post_rejected("post_rejects_a_number_for_a_string", http_source("p", url=5)),
    _post_rejected("post_rejects_one_for_a_boolean", http_source("p", is_public=1)),
    _post_rejected("post_rejects_platforms_that_is_not_a_list", http_source("p", platforms="ios")),
    _post_rejected("post_rejects_a_platform_that_is_not_a_string", http_source("p", platforms=[1])),
    _post_rejected("post_rejects_a_string_for_has_index", s3_source("b", has_index="true")),
    _post_rejected("post_rejects_an_unknown_type", http_source("p", type="ftp")),
    _post_rejected("post_rejects_legacy_app_store_connect", LEGACY_ASC),
    # --- Section 3: secrets ---------------------------------------------------------------
    Case(
        "secret_present_with_empty_value_is_still_redacted",
        "GET",
        200,
        stored=[http_source("p", password="")],
        response=[http_source("p", password=PLACEHOLDER)],
    ),
    Case(
        "absent_secret_stays_absent_in_responses",
        "GET",
        200,
        stored=[PLAIN],
        response=[PLAIN],
    ),
    Case(
        "username_access_key_and_client_email_are_returned_in_clear",
        "GET",
        200,
        stored=[WEB, S3, GCS],
        response=lambda body: (
            body[0]["username"] == "ci"
            and body[1]["access_key"] == "AKIAEXAMPLE"
            and body[2]["client_email"] == GCS["client_email"]
        ),
    ),
    Case(
        "put_placeholder_is_backfilled_from_the_stored_source_under_the_body_id",
        "PUT",
        200,
        stored=[WEB],
        query="id=web",
        body={**WEB, "name": "Renamed", "password": PLACEHOLDER},
        response=redacted({**WEB, "name": "Renamed"}),
        after=[{**WEB, "name": "Renamed"}],
    ),
    Case(
        "put_placeholder_backfills_s3_secret_key",
        "PUT",
        200,
        stored=[S3],
        query="id=bucket",
        body={**S3, "prefix": "x/", "secret_key": PLACEHOLDER},
        response=redacted({**S3, "prefix": "x/"}),
        after=[{**S3, "prefix": "x/"}],
    ),
    Case(
        "put_placeholder_backfills_gcs_private_key",
        "PUT",
        200,
        stored=[GCS],
        query="id=gcs",
        body={**GCS, "private_key": PLACEHOLDER},
        response=redacted(GCS),
        after=[GCS],
    ),
    Case(
        "put_placeholder_for_a_secret_the_stored_source_lacks_returns_400_empty",
        "PUT",
        400,
        stored=[PLAIN],
        query="id=plain",
        body={**PLAIN, "password": PLACEHOLDER},
        response=EMPTY,
    ),
    Case(
        "put_placeholder_with_a_rename_returns_400_empty",
        "PUT",
        400,
        stored=[WEB],
        query="id=web",
        body={**WEB, "id": "web2", "password": PLACEHOLDER},
        response=EMPTY,
    ),
    Case(
        "put_placeholder_without_body_id_returns_400_empty",
        "PUT",
        400,
        stored=[WEB],
        query="id=web",
        body=without({**WEB, "password": PLACEHOLDER}, "id"),
        response=EMPTY,
    ),
    Case(
        "put_placeholder_in_a_non_secret_field_fails_schema_validation",
        "PUT",
        400,
        stored=[WEB],
        query="id=web",
        body={**WEB, "username": PLACEHOLDER},
        response=_failed_to_validate([{**WEB, "username": PLACEHOLDER}]),
    ),
    Case(
        "put_changing_type_with_a_placeholder_for_the_new_secret_returns_400_empty",
        "PUT",
        400,
        stored=[WEB],
        query="id=web",
        body={**s3_source("web"), "secret_key": PLACEHOLDER},
        response=EMPTY,
    ),
    # Section 3 (UNVERIFIED in practice): Python equality makes {"hidden-secret": 1} a match.
    Case(
        "put_hidden_secret_one_is_backfilled_like_true_unverified",
        "PUT",
        200,
        stored=[WEB],
        query="id=web",
        body={**WEB, "password": {"hidden-secret": 1}},
        response=redacted(WEB),
        after=[WEB],
    ),
    Case(
        "put_placeholder_copying_another_sources_secret_then_fails_as_duplicate",
        "PUT",
        400,
        stored=[WEB, http_source("other", password="other-pw")],
        query="id=web",
        body={**http_source("other"), "password": PLACEHOLDER},
        response={"error": "Duplicate source id: other"},
    ),
    _post_rejected("post_never_backfills_a_placeholder", {**WEB, "password": PLACEHOLDER}, [WEB]),
    Case(
        "put_omitting_the_http_password_removes_it",
        "PUT",
        200,
        stored=[WEB],
        query="id=web",
        body=without(WEB, "password"),
        response=without(WEB, "password"),
        after=[without(WEB, "password")],
    ),
    Case(
        "put_omitting_the_s3_secret_key_fails_validation",
        "PUT",
        400,
        stored=[S3],
        query="id=bucket",
        body=without(S3, "secret_key"),
        response=_failed_to_validate([without(S3, "secret_key")]),
    ),
    Case(
        "put_plaintext_secret_overwrites_and_is_redacted_in_the_answer",
        "PUT",
        200,
        stored=[WEB],
        query="id=web",
        body={**WEB, "password": "rotated"},
        response=redacted(WEB),
        after=[{**WEB, "password": "rotated"}],
    ),
    Case(
        "post_201_body_redacts_the_secret",
        "POST",
        201,
        body=S3,
        response=redacted(S3),
        after=[S3],
    ),
    # --- Section 4: messages --------------------------------------------------------------
    Case(
        "schema_failure_message_is_the_repr_of_the_whole_list_with_secrets_redacted",
        "PUT",
        400,
        stored=[WEB, S3, GCS],
        query="id=bucket",
        body={**S3, "region": None},
        response={
            "error": "Failed to validate source ["
            + ", ".join(
                repr(s) for s in (redacted(WEB), redacted({**S3, "region": None}), redacted(GCS))
            )
            + "]"
        },
    ),
    Case(
        "reserved_prefix_message_says_sentry_colon",
        "PUT",
        400,
        stored=[PLAIN],
        query="id=plain",
        body=http_source("sentry-mirror"),
        response={"error": 'Source ids must not start with "sentry:"'},
    ),
    Case(
        "duplicate_id_message_names_the_id",
        "PUT",
        400,
        stored=[PLAIN, WEB],
        query="id=web",
        body=http_source("plain"),
        response={"error": "Duplicate source id: plain"},
    ),
    Case(
        "schema_is_checked_before_the_reserved_prefix",
        "PUT",
        400,
        stored=[PLAIN],
        query="id=plain",
        body=without(http_source("sentry:x"), "url"),
        response=_failed_to_validate([without(http_source("sentry:x"), "url")]),
    ),
    # --- Section 5: ids -------------------------------------------------------------------
    _post_rejected(
        "post_rejects_an_id_starting_with_sentry_without_colon", http_source("sentryfoo")
    ),
    _post_rejected("post_rejects_an_id_starting_with_sentry_dash", http_source("sentry-mirror")),
    _post_rejected("post_rejects_a_duplicate_id", http_source("plain"), [PLAIN]),
    _post_rejected("post_rejects_an_empty_id", http_source("")),
    _post_rejected("post_rejects_a_null_id", http_source(None)),  # type: ignore[arg-type]
    Case(
        "put_with_a_different_body_id_renames_and_keeps_the_position",
        "PUT",
        200,
        stored=[S3, PLAIN, GCS],
        query="id=plain",
        body=http_source("plain2"),
        response=http_source("plain2"),
        after=[S3, http_source("plain2"), GCS],
    ),
    # --- Section 6: order and storage -----------------------------------------------------
    Case(
        "post_appends_at_the_end",
        "POST",
        201,
        stored=[S3, GCS],
        body=PLAIN,
        response=PLAIN,
        after=[S3, GCS, PLAIN],
    ),
    Case(
        "delete_keeps_the_order_of_the_rest",
        "DELETE",
        204,
        stored=[S3, PLAIN, GCS, WEB],
        query="id=plain",
        response=EMPTY,
        after=[S3, GCS, WEB],
    ),
    Case(
        "delete_of_the_last_source_stores_an_empty_list",
        "DELETE",
        204,
        stored=[PLAIN],
        query="id=plain",
        after=[],
    ),
    # Section 6 (UNVERIFIED for the 2026 code): a stored legacy entry fails every Gen A method.
    Case(
        "stored_app_store_connect_entry_makes_get_fail_with_500_unverified",
        "GET",
        500,
        stored=[PLAIN, LEGACY_ASC],
        response=internal_error,
    ),
    Case(
        "stored_app_store_connect_entry_makes_post_fail_with_500_unverified",
        "POST",
        500,
        stored=[LEGACY_ASC],
        body=WEB,
        response=internal_error,
    ),
    Case(
        "stored_app_store_connect_entry_makes_put_fail_with_500_unverified",
        "PUT",
        500,
        stored=[PLAIN, LEGACY_ASC],
        query="id=plain",
        body=PLAIN,
        response=internal_error,
    ),
    Case(
        "stored_app_store_connect_entry_makes_delete_fail_with_500_unverified",
        "DELETE",
        500,
        stored=[PLAIN, LEGACY_ASC],
        query="id=asc",
        response=internal_error,
    ),
    Case(
        "stored_invalid_source_makes_get_fail_with_500",
        "GET",
        500,
        stored=[without(PLAIN, "url")],
        response=internal_error,
    ),
]

TABLE = ConformanceTable(CASES, generation="a")


@pytest.fixture(scope="module")
def gen_a() -> Iterator[EmulatorHandle]:
    yield from TABLE.serve()


@pytest.mark.parametrize("index", TABLE.params())
def test_gen_a(gen_a: EmulatorHandle, index: int) -> None:
    TABLE.run(gen_a, index)
