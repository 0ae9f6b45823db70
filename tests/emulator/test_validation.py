"""The emulator's Gen A checker agrees with Sentry's own JSON Schema for symbol sources.

Sentry's published response schema is generated from its validation schema by
``_redact_schema``, which only swaps each secret field's schema for the placeholder's. Undoing
that swap gives the validation schema back. For any input, the emulator's hand-written checker
(built on ``reconciler.sentry.spec``) must accept and reject exactly what jsonschema does.
"""

from __future__ import annotations

import copy
from typing import Any

import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.emulator import validation
from reconciler.sentry import spec
from tests.support.emulator_support import PLACEHOLDER, gcs_source, http_source, s3_source
from tests.support.published_reference import published_source_variants


def _validation_schema() -> dict[str, Any]:
    variants = published_source_variants()
    branches = []
    for variant in variants:
        source_type = variant["properties"]["type"]["enum"][0]
        if source_type == "appStoreConnect":  # writes validate without it
            continue
        branch = copy.deepcopy(variant)
        for secret in spec.SECRET_FIELDS[source_type]:
            branch["properties"][secret] = {"type": "string"}
        branches.append(branch)
    return {"oneOf": branches}


JSON_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-2, 2),
    st.sampled_from(["", "x", "native", "pe", "us-east-1", "sentry:x", "default"]),
    st.lists(st.sampled_from(["pe", "pdb", "exe", "", "ios"]), max_size=3),
    st.just(PLACEHOLDER).map(dict),  # a fresh copy: a mutation must not reach the shared one
    st.fixed_dictionaries({"type": st.sampled_from(["native", "hex"])}),
)
FIELD_NAMES = sorted(
    set().union(*(spec.type_fields(t) for t in spec.SOURCE_TYPES)) | {"bogus", "filetypes"}
)
SUB_FIELDS = {
    "layout": ["type", "casing", "depth"],
    "filters": ["filetypes", "path_patterns", "requires_checksum", "size"],
}


@st.composite
def mutated_sources(draw: st.DrawFn) -> Any:
    source = copy.deepcopy(draw(st.sampled_from([http_source(), s3_source(), gcs_source()])))
    source["filters"] = {
        "filetypes": ["pe"],
        "path_patterns": ["*.dll"],
        "requires_checksum": False,
    }
    for _ in range(draw(st.integers(0, 3))):
        action = draw(st.sampled_from(["delete", "set", "sub-delete", "sub-set", "type"]))
        if action == "delete" and source:
            del source[draw(st.sampled_from(sorted(source)))]
        elif action == "set":
            source[draw(st.sampled_from(FIELD_NAMES))] = draw(JSON_VALUES)
        elif action.startswith("sub") and isinstance(source.get("layout"), dict):
            parent = draw(st.sampled_from(sorted(SUB_FIELDS)))
            target = source.get(parent)
            if not isinstance(target, dict):
                continue
            key = draw(st.sampled_from(SUB_FIELDS[parent]))
            if action == "sub-delete":
                target.pop(key, None)
            else:
                target[key] = draw(JSON_VALUES)
        elif action == "type":
            source["type"] = draw(st.sampled_from(["http", "s3", "gcs", "ftp", "appStoreConnect"]))
    return source


@settings(max_examples=400, deadline=None)
@given(mutated_sources())
def test_gen_a_checker_agrees_with_sentrys_json_schema(source: Any) -> None:
    expected = jsonschema.Draft7Validator(_validation_schema()).is_valid(source)
    assert validation.source_matches_schema(source) == expected


@pytest.mark.parametrize("filetype", spec.FILETYPES)
def test_every_filetype_of_the_shared_vocabulary_is_accepted(filetype: str) -> None:
    source = http_source(filters={"filetypes": [filetype]})
    assert validation.source_matches_schema(source)
    validation.validate_sources_gen_b([source])


@pytest.mark.parametrize("layout", spec.LAYOUT_TYPES)
def test_every_layout_of_the_shared_vocabulary_is_accepted(layout: str) -> None:
    source = s3_source(layout={"type": layout, "casing": "uppercase"})
    assert validation.source_matches_schema(source)
    validation.validate_sources_gen_b([source])


def test_whole_list_is_validated_on_every_write() -> None:
    # Sentry validates the whole list: a stored bad entry fails it even if the new source is fine.
    with pytest.raises(validation.InvalidSourcesError, match="Failed to validate source"):
        validation.validate_sources_gen_a([http_source("a", url=None), http_source("b")])


def test_gen_b_redacts_the_union_of_secret_fields() -> None:
    # Gen B: the set of secret fields is the union for every type.
    odd = {"type": "http", "secret_key": "x", "private_key": "y", "password": "z"}
    assert validation.redact_gen_b(odd) == {
        "type": "http",
        "secret_key": PLACEHOLDER,
        "private_key": PLACEHOLDER,
        "password": PLACEHOLDER,
    }


# DRF's CharField validators (ProhibitNullCharactersValidator, ProhibitSurrogateCharacters-
# Validator) run on every string field of Gen B's serializers, each adding its message.
@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("url", "https://x.example/\x00", "url: Null characters are not allowed."),
        ("name", "a\x00b", "name: Null characters are not allowed."),
        ("id", "web\ud800", "id: Surrogate characters are not allowed: U+D800."),
        ("username", "\udfffci", "username: Surrogate characters are not allowed: U+DFFF."),
        (
            "password",
            "\x00\udc80",
            "password: Null characters are not allowed. "
            "Surrogate characters are not allowed: U+DC80.",
        ),
    ],
)
def test_gen_b_refuses_nul_and_lone_surrogates_with_drf_messages(
    field: str, value: str, message: str
) -> None:
    source = http_source("web")
    source[field] = value
    with pytest.raises(validation.InvalidSourcesError) as info:
        validation.validate_sources_gen_b([source])
    assert str(info.value) == f"Invalid http source: {message}"
    validation.validate_sources_gen_a([source])  # Gen A's schema takes any string


def test_gen_b_refuses_nul_inside_list_items() -> None:
    source = http_source("web", filters={"path_patterns": ["ok", "b\x00d"]})
    with pytest.raises(validation.InvalidSourcesError) as info:
        validation.validate_sources_gen_b([source])
    assert str(info.value) == (
        "Invalid http source: filters.path_patterns.1: Null characters are not allowed."
    )


def test_gen_b_takes_a_paired_surrogate_escape_as_the_character_it_spells() -> None:
    source = http_source("web", name="\U0001f600")  # JSON "\ud83d\ude00" decodes to this
    validation.validate_sources_gen_b([source])
