"""Project details and the organization's built-in repositories.

- ``GET /api/0/projects/{org}/{project}/``: a subset of Sentry's project details, with
  ``builtinSymbolSources`` (Sentry's default list when the project never set one) and
  ``symbolSources``, the legacy field: the stored list as a JSON string, every secret replaced
  by ``{"hidden-secret": true}``.
- ``PUT`` of the same path: a partial update; only ``builtinSymbolSources`` is stored here
  (every other key is accepted and ignored). It must be a list of strings (DRF's ``ListField``
  of ``CharField``: a number is taken as its text), else 400 with the field's errors; an empty
  list is stored. A token without ``project:write`` may send the PUT, but a non-empty list is
  then 403.
- ``GET /api/0/organizations/{org}/builtin-symbol-sources/``: the keys the organization may use,
  each ``{"sentry_key", "id", "name", "hidden"}``, sorted by name.

Handlers run with the state lock held.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, Final

from reconciler.emulator.responses import NO_PERMISSION, Reply, detail
from reconciler.emulator.state import Project
from reconciler.sentry import spec

FIELD: Final = "builtinSymbolSources"
# Sentry's open-source built-in repositories, and the three its hosted service adds for every
# organization; Nintendo's needs an agreement with Nintendo and is not offered by default.
OFFERED_KEYS: Final[tuple[str, ...]] = tuple(k for k in spec.BUILTIN_SOURCE_KEYS if k != "nintendo")


def organization_builtins() -> Reply:
    """The organization's list of built-in repositories."""
    items = [
        {"sentry_key": key, "id": f"sentry:{key}", "name": spec.BUILTIN_SOURCE_NAMES[key],
         "hidden": False}
        for key in OFFERED_KEYS
    ]  # fmt: skip
    return Reply(200, sorted(items, key=lambda item: str(item["name"])))


def project_details(project: Project) -> dict[str, Any]:
    """What ``GET /api/0/projects/{org}/{project}/`` answers (the fields symsync and the
    settings page use)."""
    builtin = project.builtin_symbol_sources
    return {
        "id": project.id,
        "slug": project.slug,
        "name": project.name,
        "platform": project.platform,
        "status": "active",
        "organization": {
            "id": project.organization.id,
            "slug": project.organization.slug,
            "name": project.organization.name,
        },
        FIELD: list(spec.DEFAULT_BUILTIN_SOURCES) if builtin is None else list(builtin),
        "symbolSources": _legacy_sources(project.symbol_sources),
    }


def _legacy_sources(stored: Any) -> str:
    """The stored list as a JSON string, secrets redacted; ``"[]"`` when it is not a list of
    sources (Sentry's serializer falls back to that on invalid data)."""
    if not isinstance(stored, list) or not all(
        isinstance(s, dict) and isinstance(s.get("type"), str) for s in stored
    ):
        return "[]"
    redacted = []
    for source in stored:
        copy = dict(source)
        for name in spec.SECRET_FIELDS.get(source["type"], frozenset()):
            if name in copy:
                copy[name] = spec.hidden_secret()
        redacted.append(copy)
    return json.dumps(redacted)


def handle(
    method: str,
    read_body: Callable[[], Any],
    project: Project,
    commit: Callable[[], None],
    scopes: frozenset[str],
) -> Reply:
    if method == "GET":
        return Reply(200, project_details(project))
    if method != "PUT":
        return detail(405, f'Method "{method}" not allowed.')
    body = read_body()
    if not isinstance(body, dict):
        kind = "list" if isinstance(body, list) else type(body).__name__
        message = f"Invalid data. Expected a dictionary, but got {kind}."
        return Reply(400, {"non_field_errors": [message]})
    if FIELD not in body:
        return Reply(200, project_details(project))
    value = body[FIELD]
    if value and not scopes & spec.PROJECT_WRITE_SCOPES:
        return detail(403, NO_PERMISSION)
    keys = _string_list(value)
    if isinstance(keys, Reply):
        return keys
    project.builtin_symbol_sources = keys
    commit()
    reply = Reply(200, project_details(project))
    reply.committed = True
    return reply


def _string_list(value: Any) -> list[str] | Reply:
    """DRF's ``ListField(child=CharField())``: the list, or its 400 answer."""
    if isinstance(value, str | dict) or not isinstance(value, list):
        kind = type(value).__name__ if value is not None else "NoneType"
        message = f'Expected a list of items but got type "{kind}".'
        if value is None:
            message = "This field may not be null."
        return Reply(400, {FIELD: [message]})
    errors: dict[str, list[str]] = {}
    keys: list[str] = []
    for index, item in enumerate(value):
        if item is None:
            errors[str(index)] = ["This field may not be null."]
        elif item == "":
            errors[str(index)] = ["This field may not be blank."]
        elif isinstance(item, bool) or not isinstance(item, str | int | float):
            errors[str(index)] = ["Not a valid string."]
        else:
            keys.append(str(item))
    if errors:
        return Reply(400, {FIELD: errors})
    return keys
