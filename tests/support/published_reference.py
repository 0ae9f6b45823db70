"""Sentry's published OpenAPI excerpt (shared/reference), for tests that check against it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

OPENAPI = (
    Path(__file__).resolve().parents[3] / "shared/reference/sentry-openapi-symbol-sources.json"
)
SYMBOL_SOURCES_PATH = (
    "/api/0/projects/{organization_id_or_slug}/{project_id_or_slug}/symbol-sources/"
)


def published_source_variants() -> list[dict[str, Any]]:
    """The ``oneOf`` variants of the GET response's items; skips when the reference is absent."""
    if not OPENAPI.exists():
        pytest.skip("shared/reference is not beside this checkout")
    doc = json.loads(OPENAPI.read_text())
    get = doc["paths"][SYMBOL_SOURCES_PATH]["get"]
    variants: list[dict[str, Any]] = get["responses"]["200"]["content"]["application/json"][
        "schema"
    ]["items"]["oneOf"]
    return variants
