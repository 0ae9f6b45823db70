"""Sentry's published OpenAPI for the symbol-sources endpoint, for tests that check against it.

The excerpt lives in tests/data/sentry-openapi-symbol-sources.json; tests/data/README.md says
where it comes from.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

OPENAPI = Path(__file__).resolve().parents[1] / "data" / "sentry-openapi-symbol-sources.json"
SYMBOL_SOURCES_PATH = (
    "/api/0/projects/{organization_id_or_slug}/{project_id_or_slug}/symbol-sources/"
)


def published_source_variants() -> list[dict[str, Any]]:
    """The ``oneOf`` variants of the GET response's items: one schema per source type."""
    doc = json.loads(OPENAPI.read_text(encoding="utf-8"))
    get = doc["paths"][SYMBOL_SOURCES_PATH]["get"]
    variants: list[dict[str, Any]] = get["responses"]["200"]["content"]["application/json"][
        "schema"
    ]["items"]["oneOf"]
    return variants
