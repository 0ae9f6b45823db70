"""Helpers for the emulator's tests: sample sources and a table-driven conformance runner.

Every conformance case runs on its own project of one shared in-process emulator, so the
table runs fast and the cases cannot disturb each other.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest
import requests

from reconciler.emulator.testing import EmulatorHandle, serving_emulator

ORG = "acme"
TOKEN = "symsync-emulator"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
PLACEHOLDER = {"hidden-secret": True}


def http_source(source_id: str = "web", **extra: Any) -> dict[str, Any]:
    source: dict[str, Any] = {
        "id": source_id,
        "type": "http",
        "name": "Web",
        "url": "https://symbols.example/",
        "layout": {"type": "native", "casing": "default"},
    }
    source.update(extra)
    return source


def s3_source(source_id: str = "bucket", **extra: Any) -> dict[str, Any]:
    source: dict[str, Any] = {
        "id": source_id,
        "type": "s3",
        "name": "Bucket",
        "bucket": "acme-symbols",
        "region": "us-east-1",
        "access_key": "AKIAEXAMPLE",
        "secret_key": "s3-secret",
        "layout": {"type": "unified"},
    }
    source.update(extra)
    return source


def gcs_source(source_id: str = "gcs", **extra: Any) -> dict[str, Any]:
    source: dict[str, Any] = {
        "id": source_id,
        "type": "gcs",
        "name": "GCS",
        "bucket": "acme-nightly",
        "client_email": "symbols@acme.iam.gserviceaccount.com",
        "private_key": "gcs-private-key",
        "layout": {"type": "symstore", "casing": "lowercase"},
    }
    source.update(extra)
    return source


def without(source: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {k: v for k, v in source.items() if k not in keys}


def redacted(source: dict[str, Any]) -> dict[str, Any]:
    out = dict(source)
    for key in ("password", "secret_key", "private_key"):
        if key in out:
            out[key] = dict(PLACEHOLDER)
    return out


def state_of(projects: dict[str, list[Any]]) -> dict[str, Any]:
    return {
        "organizations": {
            ORG: {"projects": {slug: {"symbol_sources": s} for slug, s in projects.items()}}
        }
    }


def stored_sources(handle: EmulatorHandle, project: str) -> Any:
    return handle.state()["organizations"][ORG]["projects"][project]["symbol_sources"]


class _Marker:
    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


EMPTY = _Marker("EMPTY")  # the response body must be empty
ANY = _Marker("ANY")  # any body
UNCHANGED = _Marker("UNCHANGED")  # the stored list must be what it was
NO_BODY = _Marker("NO_BODY")  # send no body

UUID4_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


def internal_error(body: Any) -> bool:
    return (
        isinstance(body, dict)
        and body.get("detail") == "Internal Error"
        and isinstance(body.get("errorId"), str)
    )


@dataclass(frozen=True)
class Answer:
    """What one API generation answers to a case's request."""

    status: int
    response: Any = ANY  # exact JSON, EMPTY, ANY or a predicate over the JSON
    after: Any = UNCHANGED  # the stored list afterwards, UNCHANGED, or a predicate
    # Read from Sentry's code, not confirmed against a live server; the test id says so.
    unverified: bool = False


@dataclass
class Case:
    """One behaviour: a request on a project holding ``stored``, and each generation's answer.

    A generation without an answer (``None``) does not run the case."""

    name: str
    method: str
    a: Answer | None
    b: Answer | None
    stored: list[Any] = field(default_factory=list)
    query: str | None = None
    body: Any = NO_BODY
    raw_body: bytes | None = None
    content_type: str = "application/json"

    def answer(self, generation: str) -> Answer | None:
        answer: Answer | None = {"a": self.a, "b": self.b}[generation]
        return answer

    def __repr__(self) -> str:
        return self.name


def both(
    name: str,
    method: str,
    status: int,
    *,
    response: Any = ANY,
    after: Any = UNCHANGED,
    unverified: bool = False,
    **request: Any,
) -> Case:
    """A case both generations answer alike."""
    answer = Answer(status, response, after, unverified)
    return Case(name, method, a=answer, b=answer, **request)


def only(
    generation: str,
    name: str,
    method: str,
    status: int,
    *,
    response: Any = ANY,
    after: Any = UNCHANGED,
    unverified: bool = False,
    **request: Any,
) -> Case:
    """A case for one generation alone."""
    answer = Answer(status, response, after, unverified)
    if generation == "a":
        return Case(name, method, a=answer, b=None, **request)
    return Case(name, method, a=None, b=answer, **request)


def differs(name: str, method: str, *, a: Answer, b: Answer, **request: Any) -> Case:
    """A case the two generations answer differently."""
    return Case(name, method, a=a, b=b, **request)


def project_slug(index: int) -> str:
    return f"case-{index}"


class ConformanceTable:
    """Runs one list of cases on one emulator of each API generation."""

    def __init__(self, cases: Sequence[Case]) -> None:
        names = [case.name for case in cases]
        duplicates = {name for name in names if names.count(name) > 1}
        assert not duplicates, f"case names must be unique: {duplicates}"
        self.cases = list(cases)

    def params(self) -> list[Any]:
        """``(generation, index)`` for every case and generation that answers it; the id is
        ``GENERATION-NAME``, with ``_unverified`` after an unverified answer's name."""
        params = []
        for generation in ("a", "b"):
            for i, case in enumerate(self.cases):
                answer = case.answer(generation)
                if answer is not None:
                    suffix = "_unverified" if answer.unverified else ""
                    name = f"{generation}-{case.name}{suffix}"
                    params.append(pytest.param(generation, i, id=name))
        return params

    def serve(self, generation: str) -> Iterator[EmulatorHandle]:
        state = state_of(
            {
                project_slug(i): c.stored
                for i, c in enumerate(self.cases)
                if c.answer(generation) is not None
            }
        )
        with serving_emulator(state, generation=generation) as handle:
            yield handle

    def run(self, handle: EmulatorHandle, generation: str, index: int) -> None:
        case = self.cases[index]
        answer = case.answer(generation)
        assert answer is not None, f"{case.name} has no answer for Gen {generation.upper()}"
        slug = project_slug(index)
        url = f"{handle.url}/api/0/projects/{ORG}/{slug}/symbol-sources/"
        if case.query is not None:
            url += f"?{case.query}"
        headers = dict(AUTH)
        data: bytes | None = None
        if case.raw_body is not None:
            data = case.raw_body
        elif case.body is not NO_BODY:
            data = json.dumps(case.body).encode()
        if data is not None:
            headers["Content-Type"] = case.content_type
        response = requests.request(case.method, url, data=data, headers=headers, timeout=10)
        assert response.status_code == answer.status, (response.status_code, response.text)
        assert "Content-Length" in response.headers
        check_body(response, answer.response)
        after = stored_sources(handle, slug)
        if answer.after is UNCHANGED:
            assert after == case.stored
        elif callable(answer.after):
            assert answer.after(after), after
        else:
            assert after == answer.after


def check_body(response: requests.Response, expected: Any) -> None:
    if expected is ANY:
        return
    if expected is EMPTY:
        assert response.content == b"", response.content
        return
    body = response.json()
    if callable(expected):
        assert expected(body), body
    else:
        assert body == expected


Predicate = Callable[[Any], bool]
