"""What a handler answers, and Sentry's generic answers (auth, permission, not found)."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from typing import Any, Final

JSON_TYPE: Final = "application/json"

NOT_AUTHENTICATED: Final = "Authentication credentials were not provided."
INVALID_TOKEN: Final = "Invalid token"
NO_PERMISSION: Final = "You do not have permission to perform this action."
DOES_NOT_EXIST: Final = "The requested resource does not exist"


@dataclass
class Reply:
    """One HTTP answer. ``body`` is JSON data; ``None`` means an empty body."""

    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = JSON_TYPE
    raw: bytes | None = None  # a non-JSON body, sent as is
    committed: bool = False  # a write was saved while producing this answer

    def encode(self) -> bytes:
        if self.raw is not None:
            return self.raw
        if self.body is None:
            return b""
        return json.dumps(self.body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


class FormData(dict[str, Any]):
    """What DRF's form and multipart parsers give the view: Django's immutable ``QueryDict``.

    Lookups see the last value of each key, as ``QueryDict.__getitem__`` does; assignment fails
    as on an immutable ``QueryDict`` (an uncaught ``AttributeError``, a 500 in Sentry); ``repr``
    shows every value list, as Django prints a ``QueryDict``.
    """

    def __init__(self, pairs: list[tuple[str, Any]]) -> None:
        lists: dict[str, list[Any]] = {}
        for key, value in pairs:
            lists.setdefault(key, []).append(value)
        super().__init__({key: values[-1] for key, values in lists.items()})
        self.lists = lists

    def __setitem__(self, key: str, value: Any) -> None:
        raise AttributeError("This QueryDict instance is immutable")

    def setdefault(self, key: str, default: Any = None) -> Any:
        raise AttributeError("This QueryDict instance is immutable")

    def __repr__(self) -> str:
        return f"<QueryDict: {self.lists!r}>"

    def with_values(self, replacements: dict[str, Any]) -> FormData:
        """A copy with some keys set to one value (Sentry redacts a mutable deep copy)."""
        copy = FormData([])
        lists = {key: list(values) for key, values in self.lists.items()}
        lists.update({key: [value] for key, value in replacements.items()})
        dict.update(copy, {key: values[-1] for key, values in lists.items()})
        copy.lists = lists
        return copy


class ParseError(Exception):
    """DRF's ParseError: the request body is not valid JSON (400 ``{"detail": ...}``)."""


def detail(status: int, message: str, **headers: str) -> Reply:
    return Reply(status, {"detail": message}, dict(headers))


def error(status: int, message: str) -> Reply:
    """The symbol-sources endpoint's own ``{"error": ...}`` envelope."""
    return Reply(status, {"error": message})


def empty(status: int) -> Reply:
    return Reply(status)


def internal_error() -> Reply:
    """Sentry's answer to an uncaught exception."""
    return Reply(500, {"detail": "Internal Error", "errorId": uuid.uuid4().hex})


NOT_DURABLE: Final = "The write could not be saved, so it was not applied. Try again later."


def not_durable() -> Reply:
    """A write the emulator could not make durable (its disk is full, or failing): refused,
    and nothing changed. Sentry answers an unavailable database with a 5xx too."""
    return Reply(503, {"detail": NOT_DURABLE})
