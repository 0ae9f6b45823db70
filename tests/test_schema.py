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

from reconciler import spec
from reconciler.model import project_file_json_schema

REPO = Path(__file__).resolve().parents[1]
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


def test_secrets_are_env_references_only(schema: dict[str, Any]) -> None:
    defs = schema["$defs"]
    assert defs["SecretRef"]["required"] == ["env"]
    assert defs["SecretRef"]["additionalProperties"] is False
    assert set(defs["SecretRef"]["properties"]) == {"env"}
    for source_type, name in (("http", "HttpSource"), ("s3", "S3Source"), ("gcs", "GcsSource")):
        for field in spec.SECRET_FIELDS[source_type]:
            prop = defs[name]["properties"][field]
            assert prop["$ref"] == "#/$defs/SecretRef"
            assert "type" not in prop and "anyOf" not in prop


HTTP: dict[str, Any] = {
    "id": "acme-symbols",
    "type": "http",
    "name": "ACME symbol server",
    "url": "https://symbols.acme.example/",
    "layout": {"type": "native"},
}
S3: dict[str, Any] = {
    "id": "acme-releases",
    "type": "s3",
    "name": "Release builds",
    "bucket": "acme-symbols",
    "region": "us-east-1",
    "access_key": "AKIAEXAMPLE",
    "secret_key": {"env": "ACME_S3_SECRET"},
    "layout": {"type": "unified"},
}
GCS: dict[str, Any] = {
    "id": "acme-nightly",
    "type": "gcs",
    "name": "Nightly builds",
    "bucket": "acme-nightly",
    "client_email": "symbols@acme.iam.gserviceaccount.com",
    "private_key": {"env": "ACME_GCS_KEY"},
    "layout": {"type": "symstore", "casing": "lowercase"},
}


def with_(base: dict[str, Any], **changes: Any) -> dict[str, Any]:
    out = {**base, **changes}
    return {k: v for k, v in out.items() if v is not ...}


VALID: list[dict[str, Any]] = [
    {"sources": []},
    {"unmanaged": "delete", "sources": [HTTP, S3, GCS]},
    {"sources": [{"id": "old", "state": "absent"}]},
    {"sources": [with_(HTTP, username="ci", password={"env": "P"}, state="present")]},
    {"sources": [with_(HTTP, filters={"filetypes": ["pe", "pdb"], "requires_checksum": True})]},
    {
        "sources": [
            with_(HTTP, id="Sentry:x", layout={"type": "slashsymbols", "casing": "lowercase"})
        ]
    },
    {"sources": [with_(S3, prefix="", region="ap-southeast-7")]},
    {"sources": [with_(GCS, prefix="nightly/")]},
    {"sources": [with_(S3, region="us-gov-west-1")]},
    {"sources": [with_(S3, region="us-isob-east-1")]},
    {"sources": [with_(S3, region="cn-north-1")]},
    {"sources": [with_(HTTP, id="a"), with_(HTTP, id="A")]},
    {"sources": [with_(HTTP, filters={})]},
]

INVALID: list[dict[str, Any]] = [
    {},
    {"sources": [], "owner": "x"},
    {"sources": [], "unmanaged": "remove"},
    {"sources": None},
    {"sources": [with_(HTTP, url=...)]},
    {"sources": [with_(HTTP, name=...)]},
    {"sources": [with_(HTTP, name=" ")]},
    {"sources": [with_(HTTP, id="")]},
    {"sources": [with_(HTTP, id="sentry-mirror")]},
    {"sources": [with_(HTTP, id="sentry:x")]},
    {"sources": [with_(HTTP, type="ftp")]},
    {"sources": [with_(HTTP, type=...)]},
    {"sources": [with_(HTTP, password="hunter2")]},
    {"sources": [with_(HTTP, password={"env": "P", "value": "x"})]},
    {"sources": [with_(HTTP, password={"env": "1P"})]},
    {"sources": [with_(HTTP, password={"env": ""})]},
    {"sources": [with_(HTTP, password={"hidden-secret": True})]},
    {"sources": [with_(HTTP, password={})]},
    {"sources": [with_(HTTP, password=123)]},
    {"sources": [with_(HTTP, name=123)]},
    {"sources": [with_(HTTP, url=True)]},
    {"sources": [with_(HTTP, url="\t\n")]},
    {"sources": [with_(HTTP, filters={"filetypes": "pe"})]},
    {"sources": [with_(HTTP, filters={"path_patterns": [1]})]},
    {"sources": [with_(HTTP, layout="native")]},
    {"sources": [with_(HTTP, layout={"type": "native", "casing": False})]},
    {"sources": [with_(S3, region="")]},
    {"sources": [with_(S3, region="us-east-1a")]},
    {"sources": [with_(S3, password={"env": "P"})]},
    {"sources": [with_(GCS, secret_key={"env": "P"})]},
    {"sources": [{"id": "old", "state": "present"}]},
    {"sources": [{"id": "old"}]},
    {"sources": {"id": "old", "state": "absent"}},
    {"sources": [], "unmanaged": True},
    {"sources": [with_(HTTP, username=None)]},
    {"sources": [with_(HTTP, bucket="b")]},
    {"sources": [with_(HTTP, is_public=True)]},
    {"sources": [with_(HTTP, layout={"type": "hexagonal"})]},
    {"sources": [with_(HTTP, layout={"casing": "default"})]},
    {"sources": [with_(HTTP, layout={"type": "native", "casing": "upper"})]},
    {"sources": [with_(HTTP, filters={"filetypes": ["exe"]})]},
    {"sources": [with_(HTTP, filters={"requires_checksum": "yes"})]},
    {"sources": [with_(HTTP, filters={"path_patterns": "*.dll"})]},
    {"sources": [with_(HTTP, filetypes=["pe"])]},
    {"sources": [with_(HTTP, state="gone")]},
    {"sources": [with_(S3, secret_key=...)]},
    {"sources": [with_(S3, secret_key="literal")]},
    {"sources": [with_(S3, region="Mars")]},
    {"sources": [with_(S3, bucket="")]},
    {"sources": [with_(S3, access_key=" ")]},
    {"sources": [with_(S3, url="https://x")]},
    {"sources": [with_(GCS, private_key=...)]},
    {"sources": [with_(GCS, client_email="")]},
    {"sources": [with_(GCS, region="us-east-1")]},
    {"sources": [{"id": "old", "state": "absent", "type": "http"}]},
    {"sources": [{"id": "sentry-old", "state": "absent"}]},
    {"sources": [{"state": "absent"}]},
    {"sources": ["acme"]},
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

    from reconciler.model import ProjectFile

    for document in VALID:
        ProjectFile.model_validate(document)
    for document in INVALID:
        with pytest.raises(ValidationError):
            ProjectFile.model_validate(document)
