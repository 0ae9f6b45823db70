"""The pydantic model of a project file, used directly (without the loader)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from reconciler.config.project_file import (
    SOURCE_MODELS,
    AbsentSource,
    Filters,
    GcsSource,
    HttpSource,
    Layout,
    Origin,
    ProjectConfig,
    ProjectFile,
    S3Source,
    SecretRef,
)
from reconciler.sentry import spec
from tests.support.published_reference import published_source_variants
from tests.support.source_dicts import gcs, http, s3


def errors(document: dict[str, Any]) -> list[tuple[str, tuple[str | int, ...]]]:
    with pytest.raises(ValidationError) as info:
        ProjectFile.model_validate(document)
    return [(e["type"], e["loc"]) for e in info.value.errors()]


def test_a_complete_file() -> None:
    document = {
        "unmanaged": "delete",
        "sources": [
            http(username="ci", password={"env": "ACME_PASSWORD"}, filters={"filetypes": ["pe"]}),
            s3(prefix="releases/"),
            gcs(),
            {"id": "old", "state": "absent"},
        ],
    }
    project = ProjectFile.model_validate(document)
    assert project.unmanaged == "delete"
    assert [type(s) for s in project.sources] == [HttpSource, S3Source, GcsSource, AbsentSource]
    source = project.sources[0]
    assert isinstance(source, HttpSource)
    assert source.password == SecretRef(env="ACME_PASSWORD")
    assert source.layout.casing == "default"
    assert source.filters is not None and source.filters.filetypes == ["pe"]
    assert source.state == "present"


def test_defaults() -> None:
    project = ProjectFile.model_validate({"sources": []})
    assert (project.unmanaged, project.sources) == ("keep", [])


@pytest.mark.parametrize("policy", ["keep", "report", "delete"])
def test_unmanaged_policies(policy: str) -> None:
    assert ProjectFile.model_validate({"unmanaged": policy, "sources": []}).unmanaged == policy


def _published(source_type: str) -> dict[str, Any]:
    (variant,) = [
        v for v in published_source_variants() if v["properties"]["type"]["enum"] == [source_type]
    ]
    return variant


@pytest.mark.parametrize("source_type", spec.SOURCE_TYPES)
def test_fields_are_those_of_sentrys_published_schema(source_type: str) -> None:
    """The file format has every field of Sentry's published response schema for the type, and
    no other (besides `state`), with the same required ones: nothing Sentry stores is lost."""
    published = _published(source_type)
    model = SOURCE_MODELS[source_type]
    assert set(model.model_fields) == set(published["properties"]) | {"state"}
    assert set(model.model_fields) == spec.type_fields(source_type) | {"state"}
    required = {name for name, f in model.model_fields.items() if f.is_required()}
    assert required == set(published["required"])
    assert set(Layout.model_fields) == set(published["properties"]["layout"]["properties"])
    assert set(Filters.model_fields) == set(published["properties"]["filters"]["properties"])
    for secret in spec.SECRET_FIELDS[source_type]:
        assert "SecretRef" in str(model.model_fields[secret].annotation)


def test_name_is_optional_and_may_be_blank() -> None:
    """Sentry stores a source without a name, or with a blank one; the file holds both."""
    assert HttpSource.model_validate(http(name=...)).name is None
    assert HttpSource.model_validate(http(name="")).name == ""
    assert HttpSource.model_validate(http(name="  ")).name == "  "
    dumped = HttpSource.model_validate(http(name=...)).model_dump(exclude_none=True)
    assert "name" not in dumped
    assert HttpSource.model_validate(http(name="")).model_dump(exclude_none=True)["name"] == ""


@pytest.mark.parametrize("builder", [http, s3, gcs])
def test_is_public_has_index_and_platforms_on_every_type(builder: Any) -> None:
    source = builder(is_public=True, has_index=False, platforms=["ios", "macos"])
    model = ProjectFile.model_validate({"sources": [source]}).sources[0]
    assert (model.is_public, model.has_index, model.platforms) == (True, False, ["ios", "macos"])
    assert {k: v for k, v in model.model_dump(exclude_none=True).items() if k != "state"} == {
        **source,
        "layout": {"casing": "default", **source["layout"]},
    }


def test_secret_refs() -> None:
    assert HttpSource.model_validate(http()).secret_refs() == {}
    source = HttpSource.model_validate(http(password={"env": "P"}))
    assert source.secret_refs() == {"password": SecretRef(env="P")}
    assert S3Source.model_validate(s3()).secret_refs() == {
        "secret_key": SecretRef(env="ACME_S3_SECRET")
    }
    assert GcsSource.model_validate(gcs()).secret_refs() == {
        "private_key": SecretRef(env="ACME_GCS_KEY")
    }


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        (http(url=...), [("missing", ("sources", 0, "http", "url"))]),
        (http(name=None), [("null_value", ("sources", 0, "http"))]),
        (http(layout=...), [("missing", ("sources", 0, "http", "layout"))]),
        (http(id=""), [("blank", ("sources", 0, "http", "id"))]),
        (http(id="sentry-x"), [("reserved_id", ("sources", 0, "http", "id"))]),
        (http(id="sentry:x"), [("reserved_id", ("sources", 0, "http", "id"))]),
        (http(id=3), [("string_type", ("sources", 0, "http", "id"))]),
        (http(password="hunter2"), [("secret_literal", ("sources", 0, "http", "password"))]),
        (http(username=None), [("null_value", ("sources", 0, "http"))]),
        (http(bucket="b"), [("extra_forbidden", ("sources", 0, "http", "bucket"))]),
        (http(is_public="yes"), [("bool_type", ("sources", 0, "http", "is_public"))]),
        (s3(has_index=1), [("bool_type", ("sources", 0, "s3", "has_index"))]),
        (gcs(platforms="ios"), [("list_type", ("sources", 0, "gcs", "platforms"))]),
        (http(platforms=["ios", " "]), [("blank", ("sources", 0, "http", "platforms", 1))]),
        (http(platforms=[3]), [("string_type", ("sources", 0, "http", "platforms", 0))]),
        (http(public=True), [("extra_forbidden", ("sources", 0, "http", "public"))]),
        (http(type="ftp"), [("source_type", ("sources", 0))]),
        (http(type=...), [("source_type", ("sources", 0))]),
        (http(state="gone"), [("literal_error", ("sources", 0, "http", "state"))]),
        (
            http(layout={"type": "native", "casing": "upper"}),
            [("literal_error", ("sources", 0, "http", "layout", "casing"))],
        ),
        (
            http(filters={"filetypes": ["exe"]}),
            [("literal_error", ("sources", 0, "http", "filters", "filetypes", 0))],
        ),
        (
            http(filters={"requires_checksum": "yes"}),
            [("bool_type", ("sources", 0, "http", "filters", "requires_checksum"))],
        ),
        (s3(region="Mars"), [("region", ("sources", 0, "s3", "region"))]),
        (s3(region="  "), [("blank", ("sources", 0, "s3", "region"))]),
        (s3(region="us-east-1\n"), [("region", ("sources", 0, "s3", "region"))]),
        (s3(access_key=" "), [("blank", ("sources", 0, "s3", "access_key"))]),
        (s3(bucket=""), [("blank", ("sources", 0, "s3", "bucket"))]),
        (s3(secret_key=...), [("missing", ("sources", 0, "s3", "secret_key"))]),
        (
            s3(secret_key={"env": "9X"}),
            [("string_pattern_mismatch", ("sources", 0, "s3", "secret_key", "env"))],
        ),
        (gcs(client_email=""), [("blank", ("sources", 0, "gcs", "client_email"))]),
        (gcs(private_key="-----BEGIN"), [("secret_literal", ("sources", 0, "gcs", "private_key"))]),
        (gcs(region="us-east-1"), [("extra_forbidden", ("sources", 0, "gcs", "region"))]),
        (
            {"id": "old", "state": "absent", "type": "http"},
            [("extra_forbidden", ("sources", 0, "absent", "type"))],
        ),
        ({"id": "sentryold", "state": "absent"}, [("reserved_id", ("sources", 0, "absent", "id"))]),
    ],
)
def test_rejected(
    source: dict[str, Any], expected: list[tuple[str, tuple[str | int, ...]]]
) -> None:
    assert errors({"sources": [source]}) == expected


@pytest.mark.parametrize(
    "source",
    [
        http(id="Sentry:x"),
        http(name="n", username="", filters={}),
        http(name=""),
        http(name=...),
        http(platforms=[], is_public=False, has_index=True),
        http(layout={"type": "slashsymbols", "casing": "uppercase"}),
        s3(prefix="", region="ap-southeast-7"),
        s3(region="us-gov-west-1"),
        gcs(prefix="nightly/"),
        {"id": "old", "state": "absent"},
    ],
)
def test_accepted(source: dict[str, Any]) -> None:
    ProjectFile.model_validate({"sources": [source]})


def test_top_level() -> None:
    assert errors({}) == [("missing", ("sources",))]
    assert errors({"sources": [], "unmanaged": "remove"}) == [("literal_error", ("unmanaged",))]
    assert errors({"sources": [], "owner": "x"}) == [("extra_forbidden", ("owner",))]
    assert errors({"sources": {}}) == [("list_type", ("sources",))]
    assert errors({"sources": None}) == [("null_value", ())]


def test_duplicate_ids() -> None:
    assert errors({"sources": [http(), s3(id="acme-symbols")]}) == [("duplicate_id", ())]


def test_models_are_frozen() -> None:
    source = HttpSource.model_validate(http())
    with pytest.raises(ValidationError):
        source.url = "https://elsewhere.example/"  # type: ignore[misc]


def test_project_config() -> None:
    file = ProjectFile.model_validate({"unmanaged": "delete", "sources": [http()]})
    origin = Origin("configs/acme/ios.yaml", 3, 5)
    config = ProjectConfig(
        organization="acme",
        project="ios",
        path=Path("configs/acme/ios.yaml"),
        file=file,
        origins={("sources", 0): origin},
    )
    assert config.key == "acme/ios"
    assert config.unmanaged == "delete"
    assert config.sources == list(file.sources)
    assert config.origins[("sources", 0)] == origin
    assert str(origin) == "configs/acme/ios.yaml:3:5"
