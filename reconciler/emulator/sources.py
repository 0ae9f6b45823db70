"""The symbol-sources endpoint: ``/api/0/projects/{org}/{project}/symbol-sources/``.

Each generation's handlers follow the order of checks of Sentry's own code, because that order
is visible to a client (which error wins when a request has several problems):

- Gen A: the published endpoint (``ProjectSymbolSourcesEndpoint`` with ``validate_sources``
  and ``backfill_source``).
- Gen B: Sentry's rewrite of it (``ProjectSymbolSources`` with per-kind serializers).

Handlers run with the state lock held, so a read-modify-write of a project's list is atomic.
Where Sentry's code would raise an uncaught exception the answer is a 500, as Sentry's would be.
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Callable
from typing import Any, Final

from reconciler.emulator import validation as v
from reconciler.emulator.responses import Reply, empty, error, internal_error
from reconciler.emulator.state import Project
from reconciler.sentry import spec

BodyReader = Callable[[], Any]
Commit = Callable[[], None]

GENERATIONS: Final[tuple[str, ...]] = ("a", "b")
LEGACY_SOURCE_TYPE: Final = "appStoreConnect"
MISSING_SECRET: Final = "Hidden symbol source secret is missing a value"


def handle(
    generation: str,
    method: str,
    query_id: str | None,
    read_body: BodyReader,
    project: Project,
    commit: Commit,
) -> Reply:
    """Answers one request; ``read_body`` raises ``ParseError`` for a body that is not JSON."""
    handlers = _GEN_A if generation == "a" else _GEN_B
    try:
        return handlers[method](query_id, read_body, project, commit)
    except (v.ServerBug, TypeError, AttributeError):
        # Sentry's code raises on these inputs and nothing catches it.
        return internal_error()


# --------------------------------------------------------------------------------------------
# Gen A
# --------------------------------------------------------------------------------------------


def _parse_stored_a(project: Project) -> list[dict[str, Any]]:
    """``parse_sources(option, False)``: the stored list must validate, else an uncaught error
    (500) for reads and writes alike, as in Sentry."""
    stored = copy.deepcopy(project.symbol_sources)
    try:
        v.validate_sources_gen_a(stored)
    except v.InvalidSourcesError as exc:
        raise v.ServerBug("stored sources are invalid") from exc
    assert isinstance(stored, list)
    return stored


def _get_a(query_id: str | None, read_body: BodyReader, project: Project, commit: Commit) -> Reply:
    sources = _parse_stored_a(project)
    redacted = [v.redact_gen_a(source) for source in sources]
    if query_id:  # "?id=" is falsy: the full list
        for source in redacted:
            if source["id"] == query_id:
                return Reply(200, [source])
        return error(404, f"Unknown source id: {query_id}")
    return Reply(200, redacted)


def _delete_a(
    query_id: str | None, read_body: BodyReader, project: Project, commit: Commit
) -> Reply:
    sources = _parse_stored_a(project)
    if query_id:
        kept = [source for source in sources if source["id"] != query_id]
        if len(kept) == len(sources):
            return error(404, f"Unknown source id: {query_id}")
        project.symbol_sources = kept
        commit()
        return Reply(204, committed=True)
    return error(404, "Missing source id")


def _post_a(query_id: str | None, read_body: BodyReader, project: Project, commit: Commit) -> Reply:
    sources = _parse_stored_a(project)
    source = read_body()
    if not isinstance(source, dict):
        raise v.ServerBug("body is not an object")  # ``source["id"] = ...`` raises TypeError
    if "id" not in source:
        source["id"] = str(uuid.uuid4())
    sources.append(source)
    try:
        v.validate_sources_gen_a(sources)
    except v.InvalidSourcesError:
        # The handler drops the message: any validation failure is an empty 400.
        return empty(400)
    project.symbol_sources = sources
    commit()
    return Reply(201, v.redact_gen_a(source), committed=True)


def _backfill_a(source: dict[str, Any], sources_by_id: dict[Any, dict[str, Any]]) -> None:
    """``backfill_source``: looks up the stored value under the BODY's id (not the ``?id=``).
    A body without ``type`` raises KeyError, which the PUT handler turns into an empty 400."""
    for secret in sorted(v.secret_fields_gen_a(source["type"])):
        if secret in source and spec.is_hidden_secret(source[secret]):
            stored = sources_by_id.get(source["id"])  # unhashable id: TypeError, a 500
            value = stored.get(secret) if stored is not None else None
            if value is None:
                raise v.InvalidSourcesError(MISSING_SECRET)
            source[secret] = value


def _put_a(query_id: str | None, read_body: BodyReader, project: Project, commit: Commit) -> Reply:
    source = read_body()  # DRF parses the body here, before the stored list is read
    sources = _parse_stored_a(project)
    if query_id is None:
        return error(404, "Missing source id")
    if not isinstance(source, dict):
        raise v.ServerBug("body is not an object")
    if "id" not in source:
        source["id"] = str(uuid.uuid4())  # not an error: the source is renamed
    try:
        _backfill_a(source, {stored["id"]: stored for stored in sources})
    except (v.InvalidSourcesError, KeyError):
        return empty(400)
    for index, stored in enumerate(sources):
        if stored["id"] == query_id:
            sources[index] = source
            break
    else:
        return error(404, f"Unknown source id: {query_id}")
    try:
        v.validate_sources_gen_a(sources)
    except v.InvalidSourcesError as exc:
        return error(400, str(exc))
    project.symbol_sources = sources
    commit()
    return Reply(200, v.redact_gen_a(source), committed=True)


Handler = Callable[[str | None, BodyReader, Project, Commit], Reply]

_GEN_A: Final[dict[str, Handler]] = {
    "GET": _get_a,
    "POST": _post_a,
    "PUT": _put_a,
    "DELETE": _delete_a,
}


# --------------------------------------------------------------------------------------------
# Gen B
# --------------------------------------------------------------------------------------------


class _UnknownSourceId(Exception):
    pass


class _Sources:
    """``ProjectSymbolSources``: parses the stored list (legacy entries dropped), validates every
    change of the whole list before saving it."""

    def __init__(self, project: Project, commit: Commit) -> None:
        self._project = project
        self._commit = commit
        stored = copy.deepcopy(project.symbol_sources)
        if not isinstance(stored, list):
            raise v.ServerBug("stored sources are not a list")
        # ``source.get`` on a non-object entry raises AttributeError: a 500.
        self.sources: list[dict[str, Any]] = [
            s for s in stored if s.get("type") != LEGACY_SOURCE_TYPE
        ]
        v.validate_sources_gen_b(self.sources)

    def index_of(self, source_id: str) -> int:
        for index, source in enumerate(self.sources):
            if source["id"] == source_id:
                return index
        raise _UnknownSourceId(f"Unknown source id: {source_id}")

    def save(self, sources: list[dict[str, Any]]) -> None:
        v.validate_sources_gen_b(sources)
        self._project.symbol_sources = sources
        self._commit()


def _source_id_b(query_id: str | None) -> str:
    if not query_id:
        raise v.InvalidSourcesError("Missing source id")
    return query_id


def _backfill_b(source: dict[str, Any], previous: dict[str, Any]) -> None:
    """Placeholders come from the source being replaced, whatever id the body has."""
    for secret in sorted(spec.ALL_SECRET_FIELDS):
        if not spec.is_hidden_secret(source.get(secret)):
            continue
        value = previous.get(secret)
        if value is None:
            raise v.InvalidSourcesError(MISSING_SECRET)
        source[secret] = value


def _gen_b(action: Callable[[str | None, BodyReader, _Sources], Reply]) -> Handler:
    def run(query_id: str | None, read_body: BodyReader, project: Project, commit: Commit) -> Reply:
        try:
            return action(query_id, read_body, _Sources(project, commit))
        except _UnknownSourceId as exc:
            return error(404, str(exc))
        except v.InvalidSourcesError as exc:
            return error(400, str(exc))

    return run


def _get_b(query_id: str | None, read_body: BodyReader, sources: _Sources) -> Reply:
    if query_id:
        return Reply(200, [v.redact_gen_b(sources.sources[sources.index_of(query_id)])])
    return Reply(200, [v.redact_gen_b(source) for source in sources.sources])


def _delete_b(query_id: str | None, read_body: BodyReader, sources: _Sources) -> Reply:
    index = sources.index_of(_source_id_b(query_id))
    sources.save([*sources.sources[:index], *sources.sources[index + 1 :]])
    return Reply(204, committed=True)


def _post_b(query_id: str | None, read_body: BodyReader, sources: _Sources) -> Reply:
    body = read_body()
    source = {**body}  # a body that is not an object raises TypeError: a 500
    source.setdefault("id", str(uuid.uuid4()))
    sources.save([*sources.sources, source])
    return Reply(201, v.redact_gen_b(source), committed=True)


def _put_b(query_id: str | None, read_body: BodyReader, sources: _Sources) -> Reply:
    source_id = _source_id_b(query_id)
    body = read_body()
    index = sources.index_of(source_id)
    source = {**body}
    source.setdefault("id", str(uuid.uuid4()))
    _backfill_b(source, sources.sources[index])
    sources.save([*sources.sources[:index], source, *sources.sources[index + 1 :]])
    return Reply(200, v.redact_gen_b(source), committed=True)


_GEN_B: Final[dict[str, Handler]] = {
    "GET": _gen_b(_get_b),
    "POST": _gen_b(_post_b),
    "PUT": _gen_b(_put_b),
    "DELETE": _gen_b(_delete_b),
}
