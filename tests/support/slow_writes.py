"""A Sentry whose writes are slow: each write is applied at once but answered only after the
client has moved on (its next request to the same project arrives), so every write outlives the
client's ``--timeout``. Events, not sleeps, decide the order: the answer waits for the request
that follows it.

``lose`` names writes (``"POST o/p id"``, ``"PUT o/p id"``, ``"DELETE o/p id"``) whose first
attempt is never applied, as a write that timed out before Sentry committed it.
"""

from __future__ import annotations

import copy
import threading
from typing import Any
from urllib.parse import unquote

from tests.support.fake_sentry import Recorded, Reply

ANSWER_CAP = 30.0  # seconds a write waits for the next request before it is answered anyway


class SlowWrites:
    def __init__(self, state: dict[str, list[dict[str, Any]]], lose: set[str] = frozenset()):
        self.state = copy.deepcopy(state)
        self.lose = set(lose)
        self.writes: list[str] = []  # every write received, "METHOD org/project id"
        self._seen: dict[str, int] = {}  # requests received per project
        self._cond = threading.Condition()

    def __call__(self, recorded: Recorded) -> Reply:
        parts = recorded.path.strip("/").split("/")
        key = f"{unquote(parts[3])}/{unquote(parts[4])}"
        with self._cond:
            self._seen[key] = self._seen.get(key, 0) + 1
            mine = self._seen[key]
            self._cond.notify_all()
            if recorded.method == "GET":
                return self._read(recorded, key)
            reply = self._write(recorded, key)
            # Answered once the client has sent its next request to this project: too late.
            self._cond.wait_for(lambda: self._seen[key] > mine, timeout=ANSWER_CAP)
        return reply

    def _read(self, recorded: Recorded, key: str) -> Reply:
        sources = self.state.get(key)
        if sources is None:
            return Reply(404, {"detail": "The requested resource does not exist"})
        wanted = recorded.query.get("id", [""])[-1]
        if wanted:
            found = [s for s in sources if s["id"] == wanted]
            return Reply(200, _redact(found)) if found else Reply(404, {"error": "Unknown"})
        return Reply(200, _redact(sources))

    def _write(self, recorded: Recorded, key: str) -> Reply:
        sources = self.state[key]
        body = recorded.json() if recorded.body else None
        source_id = body["id"] if recorded.method == "POST" else recorded.query["id"][-1]
        name = f"{recorded.method} {key} {source_id}"
        self.writes.append(name)
        if name in self.lose:
            self.lose.discard(name)
            return Reply(500, {"detail": "Internal Error"})
        if recorded.method == "POST":
            if any(s["id"] == source_id for s in sources):
                return Reply(400)
            self.state[key] = [*sources, body]
            return Reply(201, _redact([body])[0])
        index = next((i for i, s in enumerate(sources) if s["id"] == source_id), None)
        if index is None:
            return Reply(404, {"error": f"Unknown source id: {source_id}"})
        if recorded.method == "DELETE":
            self.state[key] = [s for s in sources if s["id"] != source_id]
            return Reply(204)
        stored = dict(body)
        for field in ("password", "secret_key", "private_key"):
            if stored.get(field) == {"hidden-secret": True}:
                stored[field] = sources[index][field]
        self.state[key] = [*sources[:index], stored, *sources[index + 1 :]]
        return Reply(200, _redact([stored])[0])


def _redact(sources: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for source in sources:
        shown = dict(source)
        for field in ("password", "secret_key", "private_key"):
            if field in shown:
                shown[field] = {"hidden-secret": True}
        out.append(shown)
    return out
