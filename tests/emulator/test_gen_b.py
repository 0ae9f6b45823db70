"""Conformance of ``--api-generation b`` with the reference's section 9 (the rewritten endpoint).

Gen B's deployment status is UNVERIFIED as a whole (reference section 0); the case names say
``unverified`` only for behaviours the reference itself does not state, which come from reading
the Gen B code.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from reconciler.emulator.testing import EmulatorHandle
from tests.support.emulator_support import (
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
PLAIN = http_source("plain")
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


def _rejected(name: str, body: object, message: str, stored: list[object] | None = None) -> Case:
    # Section 9: every error body is {"error": str(exc)}; no empty 400s.
    return Case(
        name, "POST", 400, stored=list(stored or []), body=body, response={"error": message}
    )


def _accepted(name: str, body: dict[str, object]) -> Case:
    return Case(name, "POST", 201, body=body, response=redacted(body), after=[body])


CASES = [
    # --- Status codes and error bodies ----------------------------------------------------
    Case(
        "put_without_id_parameter_returns_400_missing_source_id",
        "PUT",
        400,
        stored=[PLAIN],
        body=PLAIN,
        response={"error": "Missing source id"},
    ),
    Case(
        "put_with_empty_id_parameter_returns_400_missing_source_id",
        "PUT",
        400,
        stored=[PLAIN],
        query="id=",
        body=PLAIN,
        response={"error": "Missing source id"},
    ),
    Case(
        "delete_without_id_parameter_returns_400_missing_source_id",
        "DELETE",
        400,
        stored=[PLAIN],
        response={"error": "Missing source id"},
    ),
    Case(
        "delete_with_empty_id_parameter_returns_400_missing_source_id",
        "DELETE",
        400,
        stored=[PLAIN],
        query="id=",
        response={"error": "Missing source id"},
    ),
    Case(
        "delete_unknown_id_returns_404_unknown_source_id",
        "DELETE",
        404,
        stored=[PLAIN],
        query="id=nope",
        response={"error": "Unknown source id: nope"},
    ),
    Case(
        "get_unknown_id_returns_404_unknown_source_id",
        "GET",
        404,
        stored=[PLAIN],
        query="id=nope",
        response={"error": "Unknown source id: nope"},
    ),
    Case(
        "get_with_id_still_returns_a_one_element_array",
        "GET",
        200,
        stored=[WEB, S3],
        query="id=web",
        response=[redacted(WEB)],
    ),
    Case(
        "get_returns_the_list_redacted",
        "GET",
        200,
        stored=[WEB, S3, GCS],
        response=[redacted(WEB), redacted(S3), redacted(GCS)],
    ),
    Case(
        "post_returns_201_redacted",
        "POST",
        201,
        stored=[PLAIN],
        body=WEB,
        response=redacted(WEB),
        after=[PLAIN, WEB],
    ),
    Case(
        "post_without_id_generates_a_uuid4",
        "POST",
        201,
        body=without(PLAIN, "id"),
        response=lambda b: UUID4_RE.match(b["id"]) is not None,
        after=lambda after: len(after) == 1 and UUID4_RE.match(after[0]["id"]) is not None,
    ),
    Case(
        "put_returns_200_redacted_and_replaces_in_place",
        "PUT",
        200,
        stored=[S3, WEB, GCS],
        query="id=web",
        body={**WEB, "url": "https://new.example/"},
        response=redacted({**WEB, "url": "https://new.example/"}),
        after=[S3, {**WEB, "url": "https://new.example/"}, GCS],
    ),
    Case(
        "delete_returns_204_and_keeps_the_order",
        "DELETE",
        204,
        stored=[S3, WEB, GCS],
        query="id=web",
        after=[S3, GCS],
    ),
    # --- Order of checks ------------------------------------------------------------------
    Case(
        "put_unknown_id_is_404_even_when_the_body_is_invalid",
        "PUT",
        404,
        stored=[PLAIN],
        query="id=nope",
        body={"type": "ftp", "password": PLACEHOLDER},
        response={"error": "Unknown source id: nope"},
    ),
    # --- Backfill -------------------------------------------------------------------------
    Case(
        "hidden_secret_is_backfilled_across_rename",
        "PUT",
        200,
        stored=[WEB],
        query="id=web",
        body={**WEB, "id": "web2", "password": PLACEHOLDER},
        response=redacted({**WEB, "id": "web2"}),
        after=[{**WEB, "id": "web2"}],
    ),
    Case(
        "hidden_secret_is_backfilled_when_the_body_has_no_id",
        "PUT",
        200,
        stored=[WEB],
        query="id=web",
        body=without({**WEB, "password": PLACEHOLDER}, "id"),
        after=lambda after: (
            after[0]["password"] == "web-password" and UUID4_RE.match(after[0]["id"]) is not None
        ),
    ),
    Case(
        "hidden_secret_missing_a_value_returns_400_with_message",
        "PUT",
        400,
        stored=[PLAIN],
        query="id=plain",
        body={**PLAIN, "password": PLACEHOLDER},
        response={"error": "Hidden symbol source secret is missing a value"},
    ),
    _rejected(
        "post_with_a_placeholder_is_not_a_valid_string",
        {**WEB, "password": PLACEHOLDER},
        "Invalid http source: password: Not a valid string.",
    ),
    # --- Validation messages --------------------------------------------------------------
    _rejected(
        "unknown_field_is_reported_by_name",
        http_source("p", color="x"),
        "Invalid http source: color: Unknown field.",
    ),
    _rejected(
        "unknown_fields_are_reported_sorted",
        http_source("p", zeta=1, alpha=2),
        "Invalid http source: alpha: Unknown field.; zeta: Unknown field.",
    ),
    _rejected(
        "invalid_layout_type_is_not_a_valid_choice",
        http_source("p", layout={"type": "hexagonal"}),
        'Invalid http source: layout.type: "hexagonal" is not a valid choice.',
    ),
    _rejected(
        "missing_url_is_required",
        without(PLAIN, "url"),
        "Invalid http source: url: This field is required.",
    ),
    _rejected(
        "several_problems_are_joined_in_field_order",
        without(PLAIN, "url", "layout"),
        "Invalid http source: layout: This field is required.; url: This field is required.",
    ),
    _rejected(
        "missing_type_is_unknown_source_type_none",
        without(PLAIN, "type"),
        "Unknown source type: None",
    ),
    _rejected("unknown_type_is_quoted", http_source("p", type="ftp"), "Unknown source type: 'ftp'"),
    _rejected(
        "app_store_connect_is_an_unknown_source_type",
        LEGACY_ASC,
        "Unknown source type: 'appStoreConnect'",
    ),
    _rejected(
        "null_is_not_allowed",
        http_source("p", name=None),
        "Invalid http source: name: This field may not be null.",
    ),
    _rejected(
        "blank_url_is_rejected",
        http_source("p", url=""),
        "Invalid http source: url: This field may not be blank.",
    ),
    _rejected(
        "whitespace_only_url_is_blank",
        http_source("p", url="   "),
        "Invalid http source: url: This field may not be blank.",
    ),
    _rejected(
        "blank_id_is_rejected",
        http_source(""),
        "Invalid http source: id: This field may not be blank.",
    ),
    _rejected(
        "blank_s3_fields_are_rejected",
        s3_source("b", bucket="", region="", access_key="", secret_key=""),
        "Invalid s3 source: bucket: This field may not be blank.; region: This field may not be "
        "blank.; access_key: This field may not be blank.; secret_key: This field may not be "
        "blank.",
    ),
    _rejected(
        "blank_gcs_fields_are_rejected",
        gcs_source("g", bucket="", client_email="", private_key=""),
        "Invalid gcs source: bucket: This field may not be blank.; client_email: This field may "
        "not be blank.; private_key: This field may not be blank.",
    ),
    _accepted(
        "blank_name_username_password_and_prefix_are_allowed",
        http_source("p", name="", username="", password=""),
    ),
    _accepted("blank_prefix_is_allowed", s3_source("b", prefix="")),
    _accepted("numbers_are_accepted_as_strings_and_stored_raw", http_source("p", url=5)),
    _accepted("casing_is_optional", http_source("p", layout={"type": "native"})),
    _accepted("region_is_any_string", s3_source("b", region="moon-base-1")),
    _accepted(
        "is_public_has_index_and_platforms_are_accepted",
        http_source("p", is_public=True, has_index=False, platforms=["ios"]),
    ),
    _accepted(
        "is_public_has_index_and_platforms_are_accepted_on_s3",
        s3_source("b", is_public=False, has_index=True, platforms=[]),
    ),
    _accepted(
        "is_public_has_index_and_platforms_are_accepted_on_gcs",
        gcs_source("g", is_public=True, has_index=False, platforms=["linux", "windows"]),
    ),
    # source_kinds.py @ dea4c876: platforms = ListField(child=CharField()), so no blank item.
    _rejected(
        "platform_items_must_not_be_blank",
        http_source("p", platforms=["ios", " "]),
        "Invalid http source: platforms.1: This field may not be blank.",
    ),
    _rejected(
        "platforms_must_be_a_list",
        gcs_source("g", platforms="ios"),
        'Invalid gcs source: platforms: Expected a list of items but got type "str".',
    ),
    _rejected(
        "is_public_must_be_a_boolean",
        s3_source("b", is_public="maybe"),
        "Invalid s3 source: is_public: Must be a valid boolean.",
    ),
    _rejected(
        "unknown_filetype_is_not_a_valid_choice",
        http_source("p", filters={"filetypes": ["pe", "exe"]}),
        'Invalid http source: filters.filetypes: "exe" is not a valid choice.',
    ),
    _rejected(
        "filetypes_must_be_a_list",
        http_source("p", filters={"filetypes": "pe"}),
        'Invalid http source: filters.filetypes: Expected a list of items but got type "str".',
    ),
    _rejected(
        "path_pattern_items_are_reported_by_index",
        http_source("p", filters={"path_patterns": ["ok", ""]}),
        "Invalid http source: filters.path_patterns.1: This field may not be blank.",
    ),
    _rejected(
        "requires_checksum_must_be_a_boolean",
        http_source("p", filters={"requires_checksum": "maybe"}),
        "Invalid http source: filters.requires_checksum: Must be a valid boolean.",
    ),
    _rejected(
        "layout_must_be_an_object",
        http_source("p", layout="native"),
        "Invalid http source: layout.non_field_errors: Invalid data. Expected a dictionary, "
        "but got str.",
    ),
    _rejected(
        "unknown_layout_key_is_reported_with_its_path",
        http_source("p", layout={"type": "native", "depth": 1}),
        "Invalid http source: layout.depth: Unknown field.",
    ),
    _rejected(
        "top_level_filetypes_is_an_unknown_field",
        http_source("p", filetypes=["pe"]),
        "Invalid http source: filetypes: Unknown field.",
    ),
    _rejected(
        "reserved_prefix_is_rejected",
        http_source("sentry-mirror"),
        'Source ids must not start with "sentry:"',
    ),
    _rejected(
        "duplicate_id_is_rejected", http_source("plain"), "Duplicate source id: plain", [PLAIN]
    ),
    # Code reading: a numeric id passes the CharField, then ``startswith`` raises.
    Case(
        "numeric_id_crashes_the_reserved_prefix_check_with_500_unverified",
        "POST",
        500,
        body=http_source(7),  # type: ignore[arg-type]
        response=internal_error,
    ),
    Case(
        "invalid_json_returns_400_json_parse_error",
        "POST",
        400,
        raw_body=b"{",
        response=lambda b: b["detail"].startswith("JSON parse error - "),
    ),
    # Code reading: ``{**body}`` raises TypeError for a body that is not an object.
    Case(
        "body_that_is_not_an_object_returns_500_unverified",
        "POST",
        500,
        body=[PLAIN],
        response=internal_error,
    ),
    Case(
        "placeholder_for_a_secret_the_replaced_source_lacks_is_missing_a_value",
        "PUT",
        400,
        stored=[WEB],
        query="id=web",
        body={**s3_source("web"), "secret_key": PLACEHOLDER},
        response={"error": "Hidden symbol source secret is missing a value"},
    ),
    Case(
        "missing_id_parameter_is_checked_before_the_body",
        "PUT",
        400,
        stored=[PLAIN],
        raw_body=b"{",
        response={"error": "Missing source id"},
    ),
    # --- Stored legacy and invalid data ---------------------------------------------------
    Case(
        "stored_app_store_connect_entries_are_dropped_when_read",
        "GET",
        200,
        stored=[PLAIN, LEGACY_ASC, S3],
        response=[PLAIN, redacted(S3)],
    ),
    Case(
        "stored_app_store_connect_entries_are_dropped_on_the_next_write",
        "POST",
        201,
        stored=[PLAIN, LEGACY_ASC],
        body=GCS,
        after=[PLAIN, GCS],
    ),
    # Code reading: the stored list is validated in the constructor, whose error is a 400.
    Case(
        "stored_invalid_source_returns_400_with_message_unverified",
        "GET",
        400,
        stored=[without(PLAIN, "url")],
        response={"error": "Invalid http source: url: This field is required."},
    ),
]

TABLE = ConformanceTable(CASES, generation="b")


@pytest.fixture(scope="module")
def gen_b() -> Iterator[EmulatorHandle]:
    yield from TABLE.serve()


@pytest.mark.parametrize("index", TABLE.params())
def test_gen_b(gen_b: EmulatorHandle, index: int) -> None:
    TABLE.run(gen_b, index)
