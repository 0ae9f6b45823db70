"""Builders shared by the plan/apply tests: project configs from plain dicts, fake clients."""

from __future__ import annotations

import copy
import threading
from pathlib import Path
from typing import Any

from reconciler.config.project_file import ProjectConfig, ProjectFile
from reconciler.core.errors import SymsyncError
from reconciler.sentry import spec


def project(org: str, name: str, sources: list[dict[str, Any]], **top: Any) -> ProjectConfig:
    return ProjectConfig(
        organization=org,
        project=name,
        path=Path(f"configs/{org}/{name}.yaml"),
        file=ProjectFile.model_validate({"sources": sources, **top}),
    )


def http(sid: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": sid,
        "type": "http",
        "name": f"{sid} server",
        "url": f"https://{sid}.example/",
        "layout": {"type": "native"},
        **extra,
    }


def s3(sid: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": sid,
        "type": "s3",
        "name": f"{sid} bucket",
        "bucket": f"{sid}-bucket",
        "region": "us-east-1",
        "access_key": "AKIAEXAMPLE",
        "secret_key": {"env": "S3_SECRET"},
        "layout": {"type": "unified"},
        **extra,
    }


def redacted(source: dict[str, Any]) -> dict[str, Any]:
    """A source as Sentry's GET shows it: secrets replaced by the placeholder."""
    out = copy.deepcopy(source)
    for name in spec.ALL_SECRET_FIELDS:
        if name in out:
            out[name] = spec.hidden_secret()
    return out


class FakeSentry:
    """In-memory stand-in with SentryClient's source methods; records every call."""

    def __init__(self, projects: dict[str, list[dict[str, Any]]] | None = None) -> None:
        self.projects = copy.deepcopy(projects or {})
        self.calls: list[tuple[str, str, str | None, dict[str, Any] | None]] = []
        self.fail: dict[tuple[str, str], str] = {}  # (method, key) -> message
        self._lock = threading.Lock()

    def _check(self, method: str, key: str) -> None:
        message = self.fail.get((method, key))
        if message is not None:
            raise SymsyncError(message)

    def list_sources(self, org: str, project: str) -> list[dict[str, Any]]:
        key = f"{org}/{project}"
        with self._lock:
            self.calls.append(("GET", key, None, None))
        self._check("GET", key)
        return [redacted(s) for s in self.projects.get(key, [])]

    def create_source(self, org: str, project: str, body: dict[str, Any]) -> dict[str, Any]:
        key = f"{org}/{project}"
        with self._lock:
            self.calls.append(("POST", key, None, copy.deepcopy(body)))
        self._check("POST", key)
        self.projects.setdefault(key, []).append(copy.deepcopy(body))
        return redacted(body)

    def update_source(
        self, org: str, project: str, source_id: str, body: dict[str, Any]
    ) -> dict[str, Any]:
        key = f"{org}/{project}"
        with self._lock:
            self.calls.append(("PUT", key, source_id, copy.deepcopy(body)))
        self._check("PUT", key)
        sources = self.projects[key]
        for i, s in enumerate(sources):
            if s["id"] == source_id:
                new = copy.deepcopy(body)
                for name in spec.ALL_SECRET_FIELDS:
                    if spec.is_hidden_secret(new.get(name)):
                        new[name] = s[name]
                sources[i] = new
                return redacted(new)
        raise SymsyncError(f"Unknown source id: {source_id}")

    def delete_source(self, org: str, project: str, source_id: str) -> None:
        key = f"{org}/{project}"
        with self._lock:
            self.calls.append(("DELETE", key, source_id, None))
        self._check("DELETE", key)
        self.projects[key] = [s for s in self.projects[key] if s["id"] != source_id]
