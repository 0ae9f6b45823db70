"""A small fake of GitHub's REST API on 127.0.0.1, for the `symsync github` tests.

It serves what the glue uses: issue comments, issues (which, as on GitHub, include pull
requests), the pull requests of a commit, a commit, workflow runs, run artifacts and their zip
(through a redirect to a "storage" path, as GitHub does). Listings are paginated with a small
page size and `Link: <...>; rel="next"` headers. Every request is recorded, with whether it
carried the right token. An optional path prefix plays GitHub Enterprise (`/api/v3`).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

BODY_LIMIT = 65_536


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, str]
    authorized: bool
    authorization: str | None
    body: Any


@dataclass
class FakeGitHub:
    token: str
    prefix: str = ""
    page_size: int = 2
    url: str = ""
    comments: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    issues: list[dict[str, Any]] = field(default_factory=list)
    commit_pulls: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    commits: dict[str, dict[str, Any]] = field(default_factory=dict)
    runs: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # workflow -> runs
    artifacts: dict[int, list[dict[str, Any]]] = field(default_factory=dict)  # run id -> list
    blobs: dict[int, bytes] = field(default_factory=dict)  # artifact id -> zip
    requests: list[Recorded] = field(default_factory=list)
    fail_with: tuple[int, str] | None = None  # every API request answers this
    fail_next: list[int] = field(default_factory=list)  # the next API requests answer these
    _next_id: int = 1000
    lock: threading.Lock = field(default_factory=threading.Lock)

    def new_id(self) -> int:
        self._next_id += 1
        return self._next_id

    def add_comment(self, number: int, body: str, user: str = "someone") -> dict[str, Any]:
        comment = {"id": self.new_id(), "body": body, "user": {"login": user}}
        self.comments.setdefault(number, []).append(comment)
        return comment

    def add_issue(self, **fields: Any) -> dict[str, Any]:
        number = len(self.issues) + 1
        issue = {"number": number, "state": "open", "labels": [], "body": "", **fields}
        issue["labels"] = [{"name": n} if isinstance(n, str) else n for n in issue["labels"]]
        self.issues.append(issue)
        return issue

    def writes(self) -> list[Recorded]:
        return [r for r in self.requests if r.method != "GET"]

    @property
    def api_url(self) -> str:
        return self.url + self.prefix


def _page(items: list[Any], query: dict[str, str], size: int) -> tuple[list[Any], int | None]:
    per_page = min(int(query.get("per_page", "30")), size)
    page = int(query.get("page", "1"))
    start = (page - 1) * per_page
    chunk = items[start : start + per_page]
    return chunk, page + 1 if start + per_page < len(items) else None


def _handler(fake: FakeGitHub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _send(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
            data = json.dumps(body).encode() if body is not None else b""
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(data)

        def _list(
            self, path: str, query: dict[str, str], items: list[Any], key: str | None
        ) -> None:
            chunk, next_page = _page(items, query, fake.page_size)
            headers = {}
            if next_page is not None:
                link_query = urlencode({**query, "page": str(next_page)})
                headers["Link"] = f'<{fake.url}{path}?{link_query}>; rel="next"'
            body: Any = chunk if key is None else {"total_count": len(items), key: chunk}
            self._send(200, body, headers)

        def _handle(self, method: str) -> None:
            parts = urlsplit(self.path)
            query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            body = json.loads(raw) if raw else None
            auth = self.headers.get("Authorization")
            authorized = auth == f"Bearer {fake.token}"
            with fake.lock:
                fake.requests.append(Recorded(method, parts.path, query, authorized, auth, body))
                self._route(method, parts.path, query, body, authorized)

        def _route(
            self, method: str, path: str, query: dict[str, str], body: Any, authorized: bool
        ) -> None:
            if path.startswith("/_blob/"):  # the storage an artifact redirects to: no token
                blob = fake.blobs.get(int(path.rsplit("/", 1)[1]))
                if blob is None:
                    self._send(404, {"message": "Not Found"})
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/zip")
                self.send_header("Content-Length", str(len(blob)))
                self.end_headers()
                self.wfile.write(blob)
                return
            if not path.startswith(fake.prefix + "/repos/"):
                self._send(404, {"message": "Not Found"})
                return
            if not authorized:
                self._send(401, {"message": "Bad credentials"})
                return
            if fake.fail_next:
                self._send(fake.fail_next.pop(0), {"message": "Server Error"})
                return
            if fake.fail_with is not None:
                self._send(fake.fail_with[0], {"message": fake.fail_with[1]})
                return
            segments = path[len(fake.prefix) :].strip("/").split("/")[3:]  # after repos/o/r
            if isinstance(body, dict) and len(str(body.get("body", ""))) > BODY_LIMIT:
                self._send(
                    422,
                    {"message": "Validation Failed", "errors": [
                        {"message": "body is too long (maximum is 65536 characters)"}]},
                )  # fmt: skip
                return
            match (method, segments):
                case ("GET", ["issues", number, "comments"]):
                    self._list(path, query, fake.comments.get(int(number), []), None)
                case ("POST", ["issues", number, "comments"]):
                    self._send(201, fake.add_comment(int(number), body["body"], user="bot"))
                case ("PATCH", ["issues", "comments", cid]):
                    for comments in fake.comments.values():
                        for comment in comments:
                            if comment["id"] == int(cid):
                                comment["body"] = body["body"]
                                self._send(200, comment)
                                return
                    self._send(404, {"message": "Not Found"})
                case ("GET", ["issues"]):
                    wanted = query.get("labels")
                    found = [
                        i
                        for i in fake.issues
                        if i["state"] == query.get("state", "open")
                        and (wanted is None or wanted in {lab["name"] for lab in i["labels"]})
                    ]
                    self._list(path, query, found, None)
                case ("POST", ["issues"]):
                    issue = fake.add_issue(
                        title=body["title"], body=body.get("body", ""),
                        labels=body.get("labels", []),
                    )  # fmt: skip
                    self._send(201, issue)
                case ("PATCH", ["issues", number]):
                    issue = next(i for i in fake.issues if i["number"] == int(number))
                    issue.update(body)
                    self._send(200, issue)
                case ("GET", ["commits", sha, "pulls"]):
                    self._list(path, query, fake.commit_pulls.get(sha, []), None)
                case ("GET", ["commits", sha]):
                    commit = fake.commits.get(sha)
                    self._send(200 if commit else 404, commit or {"message": "No commit"})
                case ("GET", ["actions", "workflows", workflow, "runs"]):
                    runs = [
                        r
                        for r in fake.runs.get(workflow, [])
                        if r.get("head_sha") == query.get("head_sha")
                        and ("status" not in query or r.get("conclusion") == query["status"])
                    ]
                    self._list(path, query, runs, "workflow_runs")
                case ("GET", ["actions", "runs", run_id, "artifacts"]):
                    found = [
                        a
                        for a in fake.artifacts.get(int(run_id), [])
                        if "name" not in query or a["name"] == query["name"]
                    ]
                    self._list(path, query, found, "artifacts")
                case ("GET", ["actions", "artifacts", artifact_id, "zip"]):
                    # Another host name, as GitHub's storage is: the client must drop the token.
                    location = f"{fake.url.replace('127.0.0.1', 'localhost')}/_blob/{artifact_id}"
                    self._send(302, None, {"Location": location})
                case _:
                    self._send(404, {"message": "Not Found"})

        def do_GET(self) -> None:
            self._handle("GET")

        def do_POST(self) -> None:
            self._handle("POST")

        def do_PATCH(self) -> None:
            self._handle("PATCH")

    return Handler


@contextmanager
def running_fake_github(
    token: str, *, prefix: str = "", page_size: int = 2
) -> Iterator[FakeGitHub]:
    fake = FakeGitHub(token=token, prefix=prefix, page_size=page_size)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake))
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
