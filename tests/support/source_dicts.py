"""Valid project-file source entries as dicts, for tests of the model and the schema.

Each builder takes changes; a value of ``...`` removes that key.
"""

from __future__ import annotations

from typing import Any


def http(**changes: Any) -> dict[str, Any]:
    source: dict[str, Any] = {
        "id": "acme-symbols",
        "type": "http",
        "name": "ACME symbol server",
        "url": "https://symbols.acme.example/",
        "layout": {"type": "native"},
    }
    source.update(changes)
    return {k: v for k, v in source.items() if v is not ...}


def s3(**changes: Any) -> dict[str, Any]:
    source: dict[str, Any] = {
        "id": "acme-releases",
        "type": "s3",
        "name": "Release builds",
        "bucket": "acme-symbols",
        "region": "us-east-1",
        "access_key": "AKIAEXAMPLE",
        "secret_key": {"env": "ACME_S3_SECRET"},
        "layout": {"type": "unified"},
    }
    source.update(changes)
    return {k: v for k, v in source.items() if v is not ...}


def gcs(**changes: Any) -> dict[str, Any]:
    source: dict[str, Any] = {
        "id": "acme-nightly",
        "type": "gcs",
        "name": "Nightly builds",
        "bucket": "acme-nightly",
        "client_email": "symbols@acme.iam.gserviceaccount.com",
        "private_key": {"env": "ACME_GCS_KEY"},
        "layout": {"type": "symstore", "casing": "lowercase"},
    }
    source.update(changes)
    return {k: v for k, v in source.items() if v is not ...}
