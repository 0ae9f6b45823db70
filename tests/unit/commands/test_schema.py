"""`symsync schema`: the JSON Schema of a project file, checked with the `jsonschema` package."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from reconciler.config.project_file import project_file_json_schema
from reconciler.sentry import spec
from tests.support.published_reference import published_source_variants
from tests.support.source_dicts import gcs, http, s3

REPO = Path(__file__).resolve().parents[3]
EXAMPLES = sorted((REPO / "configs").glob("*/*.yaml"))


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    result = subprocess.run(
        [sys.executable, "-m", "reconciler", "schema"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        check=True,
    )
    assert result.stderr == ""
    document: dict[str, Any] = json.loads(result.stdout)
    return document


@pytest.fixture(scope="module")
def validator(schema: dict[str, Any]) -> jsonschema.Draft202012Validator:
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def test_schema_header(schema: dict[str, Any]) -> None:
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["title"] == "symsync project file"
    assert "description" in schema
    assert schema["required"] == ["sources"]
    assert schema["additionalProperties"] is False
    for name, definition in schema["$defs"].items():
        assert definition.get("description"), f"{name} has no description"


def test_committed_schema_is_up_to_date(schema: dict[str, Any]) -> None:
    """configs/symsync.schema.json is what the example files point their editors at."""
    committed = json.loads((REPO / "configs" / "symsync.schema.json").read_text())
    assert committed == schema == project_file_json_schema()


def test_examples_point_at_a_schema() -> None:
    assert EXAMPLES
    for path in EXAMPLES:
        first = path.read_text().splitlines()[0]
        assert first == "# yaml-language-server: $schema=../symsync.schema.json", path
        assert (path.parent / "../symsync.schema.json").resolve().is_file()


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_example_configs_validate(validator: jsonschema.Draft202012Validator, path: Path) -> None:
    validator.validate(yaml.safe_load(path.read_text()))


def _shape(schema: dict[str, Any], node: dict[str, Any]) -> Any:
    """What a property's schema says about a value's kind, ignoring wording and symsync's own
    extra rules (patterns, `state`): "string", "boolean", a list's item shape, an enum's values,
    an object's properties and required keys."""
    while "$ref" in node:
        node = schema["$defs"][node["$ref"].rsplit("/", 1)[-1]]
    if "const" in node:
        return ("enum", frozenset([node["const"]]))
    if "enum" in node:
        return ("enum", frozenset(node["enum"]))
    kind = node.get("type")
    if kind == "array":
        return ("array", _shape(schema, node["items"]))
    if kind == "object":
        properties = {
            name: _shape(schema, sub)
            for name, sub in node["properties"].items()
            if name not in ("state", spec.HIDDEN_SECRET_KEY, "env")
        }
        return ("object", tuple(sorted(properties.items())), frozenset(node.get("required", [])))
    return kind


@pytest.mark.parametrize("source_type", spec.SOURCE_TYPES)
def test_source_fields_match_sentrys_published_schema(
    schema: dict[str, Any], source_type: str
) -> None:
    """Field by field, a source in the file has the kinds of value Sentry's published response
    schema gives it (secrets aside: Sentry shows a placeholder, the file an `{env: NAME}`)."""
    (published,) = [
        v for v in published_source_variants() if v["properties"]["type"]["enum"] == [source_type]
    ]
    name = {"http": "HttpSource", "s3": "S3Source", "gcs": "GcsSource"}[source_type]
    ours = schema["$defs"][name]
    secrets = spec.SECRET_FIELDS[source_type]
    assert set(ours["properties"]) - {"state"} == set(published["properties"])
    assert set(ours["required"]) == set(published["required"])
    assert ours["additionalProperties"] is published["additionalProperties"] is False
    for field, published_field in published["properties"].items():
        if field in secrets:
            assert ours["properties"][field]["$ref"] == "#/$defs/SecretRef"
            continue
        assert _shape(schema, ours["properties"][field]) == _shape(
            {"$defs": {}}, published_field
        ), field


def test_secrets_are_env_references_only(schema: dict[str, Any]) -> None:
    defs = schema["$defs"]
    assert defs["SecretRef"]["required"] == ["env"]
    assert defs["SecretRef"]["additionalProperties"] is False
    assert set(defs["SecretRef"]["properties"]) == {"env", "version"}
    assert defs["SecretRef"]["properties"]["version"]["type"] == "integer"
    for source_type, name in (("http", "HttpSource"), ("s3", "S3Source"), ("gcs", "GcsSource")):
        for field in spec.SECRET_FIELDS[source_type]:
            prop = defs[name]["properties"][field]
            assert prop["$ref"] == "#/$defs/SecretRef"
            assert "type" not in prop and "anyOf" not in prop


VALID: list[dict[str, Any]] = [
    {"sources": []},
    {"unmanaged": "delete", "sources": [http(), s3(), gcs()]},
    {"sources": [{"id": "old", "state": "absent"}]},
    {"sources": [http(username="ci", password={"env": "P"}, state="present")]},
    {"sources": [http(filters={"filetypes": ["pe", "pdb"], "requires_checksum": True})]},
    {"sources": [http(id="Sentry:x", layout={"type": "slashsymbols", "casing": "lowercase"})]},
    {"sources": [s3(prefix="", region="ap-southeast-7")]},
    {"sources": [gcs(prefix="nightly/")]},
    {"sources": [s3(region="us-gov-west-1")]},
    {"sources": [s3(region="us-isob-east-1")]},
    {"sources": [s3(region="cn-north-1")]},
    {"sources": [http(id="a"), http(id="A")]},
    {"sources": [http(filters={})]},
    {"sources": [http(password={"env": "P", "version": 2})], "order": "enforce"},
    {"sources": [], "order": "warn", "max_deletes": 0},
    {"sources": [], "max_deletes": 25},
    # JSON Schema's `integer` takes a number with a zero fractional part; so does the loader.
    {"sources": [], "max_deletes": 1.0},
    {"sources": [], "max_deletes": -0.0},
    {"sources": [http(password={"env": "P", "version": 2.0})]},
    {"unmanaged": "report", "sources": []},
    {"sources": [http(name=...), s3(name=""), gcs(name=" ")]},
    {"sources": [http(is_public=True, has_index=False, platforms=["ios", "macos"])]},
    {"sources": [s3(is_public=False, platforms=[]), gcs(has_index=True)]},
]

INVALID: list[dict[str, Any]] = [
    {},
    {"sources": [], "owner": "x"},
    {"sources": [], "unmanaged": "remove"},
    {"sources": [], "unmanaged": "Report"},
    {"sources": None},
    {"sources": [http(url=...)]},
    {"sources": [http(name=None)]},
    {"sources": [http(id="")]},
    {"sources": [http(id="sentry-mirror")]},
    {"sources": [http(id="sentry:x")]},
    {"sources": [http(type="ftp")]},
    {"sources": [http(type=...)]},
    {"sources": [http(password="hunter2")]},
    {"sources": [http(password={"env": "P", "value": "x"})]},
    {"sources": [http(password={"env": "1P"})]},
    {"sources": [http(password={"env": ""})]},
    {"sources": [http(password={"hidden-secret": True})]},
    {"sources": [http(password={})]},
    {"sources": [http(password=123)]},
    {"sources": [http(name=123)]},
    {"sources": [http(url=True)]},
    {"sources": [http(url="\t\n")]},
    {"sources": [http(filters={"filetypes": "pe"})]},
    {"sources": [http(filters={"path_patterns": [1]})]},
    {"sources": [http(layout="native")]},
    {"sources": [http(layout={"type": "native", "casing": False})]},
    {"sources": [s3(region="")]},
    {"sources": [s3(region="us-east-1a")]},
    {"sources": [s3(password={"env": "P"})]},
    {"sources": [gcs(secret_key={"env": "P"})]},
    {"sources": [{"id": "old", "state": "present"}]},
    {"sources": [{"id": "old"}]},
    {"sources": {"id": "old", "state": "absent"}},
    {"sources": [], "unmanaged": True},
    {"sources": [http(username=None)]},
    {"sources": [http(bucket="b")]},
    {"sources": [http(is_public="true")]},
    {"sources": [s3(has_index=1)]},
    {"sources": [gcs(platforms="ios")]},
    {"sources": [http(platforms=["ios", ""])]},
    {"sources": [http(platforms=[None])]},
    {"sources": [http(public=True)]},
    {"sources": [http(layout={"type": "hexagonal"})]},
    {"sources": [http(layout={"casing": "default"})]},
    {"sources": [http(layout={"type": "native", "casing": "upper"})]},
    {"sources": [http(filters={"filetypes": ["exe"]})]},
    {"sources": [http(filters={"requires_checksum": "yes"})]},
    {"sources": [http(filters={"path_patterns": "*.dll"})]},
    {"sources": [http(filetypes=["pe"])]},
    {"sources": [http(state="gone")]},
    {"sources": [s3(secret_key=...)]},
    {"sources": [s3(secret_key="literal")]},
    {"sources": [s3(region="Mars")]},
    {"sources": [s3(bucket="")]},
    {"sources": [s3(access_key=" ")]},
    {"sources": [s3(url="https://x")]},
    {"sources": [gcs(private_key=...)]},
    {"sources": [gcs(client_email="")]},
    {"sources": [gcs(region="us-east-1")]},
    {"sources": [{"id": "old", "state": "absent", "type": "http"}]},
    {"sources": [{"id": "sentry-old", "state": "absent"}]},
    {"sources": [{"state": "absent"}]},
    {"sources": ["acme"]},
    {"sources": [http(password={"env": "P", "version": 0})]},
    {"sources": [http(password={"env": "P", "version": "2"})]},
    {"sources": [http(password={"env": "P", "version": True})]},
    {"sources": [http(password={"version": 2})]},
    {"sources": [], "order": "strict"},
    {"sources": [], "max_deletes": -1},
    {"sources": [], "max_deletes": "5"},
    {"sources": [], "max_deletes": 2.5},
    {"sources": [], "max_deletes": -1.0},
    {"sources": [], "max_deletes": float("inf")},
    {"sources": [], "max_deletes": float("nan")},
    {"sources": [http(password={"env": "P", "version": 1.5})]},
    {"sources": [http(password={"env": "P", "version": 0.0})]},
    {"sources": [http(password={"env": "P", "version": float("-inf")})]},
]


@pytest.mark.parametrize("document", VALID)
def test_valid_examples(validator: jsonschema.Draft202012Validator, document: dict) -> None:
    assert list(validator.iter_errors(document)) == []


@pytest.mark.parametrize("document", INVALID)
def test_invalid_examples(validator: jsonschema.Draft202012Validator, document: dict) -> None:
    assert list(validator.iter_errors(document)) != []


def test_schema_agrees_with_the_loader_on_every_example(tmp_path: Path) -> None:
    """Whatever the schema accepts the model accepts too, and the other way round."""
    from pydantic import ValidationError

    from reconciler.config.project_file import ProjectFile

    for document in VALID:
        ProjectFile.model_validate(document)
    for document in INVALID:
        with pytest.raises(ValidationError):
            ProjectFile.model_validate(document)


# Documents the Python `jsonschema` package and the loader once disagreed on: Python's `$`
# matches before a final newline, and the loader refuses NUL characters anywhere.
LOADER_INVALID: list[dict[str, Any]] = [
    {"sources": [s3(region="us-east-1\n")]},
    {"sources": [http(password={"env": "P\n"})]},
    {"sources": [http(url="https://x/\x00")]},
    {"sources": [http(id="a\x00b")]},
    {"sources": [http(platforms=["ios\x00"])]},
    {"sources": [http(filters={"path_patterns": ["*.so\x00"]})]},
    {"sources": [gcs(name="\x00", prefix="p")]},
]


def _loads(document: dict[str, Any]) -> bool:
    from reconciler.config.loader import load_bytes

    text = yaml.safe_dump(document, allow_unicode=True).encode()
    return load_bytes(text, "p.yaml", "acme", "p").config is not None


@pytest.mark.parametrize("document", LOADER_INVALID)
def test_schema_refuses_what_the_loader_refuses(
    validator: jsonschema.Draft202012Validator, document: dict[str, Any]
) -> None:
    assert not _loads(document)
    assert list(validator.iter_errors(document)) != []


def test_schema_and_loader_agree_on_generated_strings(
    validator: jsonschema.Draft202012Validator,
) -> None:
    """Any text in every string field: the schema accepts a document exactly when the loader
    does (duplicate ids aside, which a schema cannot express)."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    text = st.one_of(
        st.text(max_size=5),
        st.sampled_from(["us-east-1", "us-east-1\n", "A_1", "sentry:x", "yes", "~", " ", ""]),
    )

    @st.composite
    def source(draw: st.DrawFn) -> dict[str, Any]:
        kind = draw(st.sampled_from(["http", "s3", "gcs"]))
        fields = {"http": ["url"], "s3": ["bucket", "region", "access_key"], "gcs": ["bucket"]}
        extra = {"http": ["name", "username"], "s3": ["name", "prefix"], "gcs": ["client_email"]}
        made = {"http": http, "s3": s3, "gcs": gcs}[kind](id=draw(text))
        for name in fields[kind] + draw(st.lists(st.sampled_from(extra[kind]), max_size=2)):
            made[name] = draw(text)
        secret = next(iter(spec.SECRET_FIELDS[kind]))
        made[secret] = {"env": draw(text)}
        if draw(st.booleans()):
            made["platforms"] = draw(st.lists(text, max_size=2))
        if draw(st.booleans()):
            made["filters"] = {"path_patterns": draw(st.lists(text, max_size=2))}
        return made

    @settings(
        max_examples=150, deadline=None, database=None, suppress_health_check=list(HealthCheck)
    )
    @given(st.lists(source(), max_size=2))
    def check(sources: list[dict[str, Any]]) -> None:
        ids = [entry["id"] for entry in sources]
        if len(set(ids)) != len(ids):
            return
        document = {"sources": sources}
        assert validator.is_valid(document) == _loads(document), document

    check()


def test_schema_and_loader_agree_on_whole_numbers(
    validator: jsonschema.Draft202012Validator,
) -> None:
    """`max_deletes` and a secret reference's `version`, "type": "integer" in the schema: any
    int or float, as YAML writes it, is accepted by the schema exactly when the loader accepts
    it, and the loader hands on an int."""
    from hypothesis import HealthCheck, example, given, settings
    from hypothesis import strategies as st

    from reconciler.config.loader import load_bytes

    numbers = st.one_of(
        st.integers(min_value=-3, max_value=3),
        st.integers(),
        st.floats(),
        st.sampled_from([1.0, -1.0, 0.0, -0.0, 2.5, 1e300, float("inf"), float("nan")]),
    )

    @settings(
        max_examples=150, deadline=None, database=None, suppress_health_check=list(HealthCheck)
    )
    @given(numbers, st.booleans())
    @example(1.0, True)
    @example(1.0, False)
    @example(1.5, True)
    @example(1.5, False)
    def check(number: float, in_version: bool) -> None:
        if in_version:
            document = {"sources": [http(password={"env": "P", "version": number})]}
        else:
            document = {"sources": [], "max_deletes": number}
        text = yaml.safe_dump(document).encode()
        assert yaml.safe_load(text) == document or number != number  # read back as written
        result = load_bytes(text, "p.yaml", "acme", "p")
        assert validator.is_valid(document) == (result.config is not None), document
        if result.config is None:
            return
        if in_version:
            (source,) = result.config.sources
            got = source.secret_refs()["password"].version
        else:
            got = result.config.max_deletes
        assert type(got) is int and got == number

    check()
