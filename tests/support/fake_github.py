"""A small fake of GitHub's REST API on 127.0.0.1, for the `symsync github` tests.

It serves what the glue uses: issue comments, issues (which, as on GitHub, include pull
requests), the pull requests of a commit, a commit, workflow runs, run artifacts and their zip
(through a redirect to a "storage" path, as GitHub does), the comparison of two commits.
Listings are paginated with a small page size and `Link: <...>; rel="next"` headers. Every
request is recorded, with whether it carried the right token. An optional path prefix plays
GitHub Enterprise (`/api/v3`).

Tokens: the one the fake is made with may do everything; a job's token (``mint``) may do what
the job's ``permissions:`` grant, as GitHub's ``GITHUB_TOKEN`` does: a request beyond them is
answered 403 "Resource not accessible by integration". ``ConcurrencyGroups`` keeps one run in
progress and ONE pending run per group, as GitHub does: a newer pending run cancels the older.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
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
    tokens: dict[str, dict[str, str]] = field(default_factory=dict)  # job token -> permissions
    pulls: dict[int, dict[str, Any]] = field(default_factory=dict)
    # (base, head) -> ("ahead" | "identical" | "behind" | "diverged", [shas after base, oldest
    # first]); the workflow tests answer it from their git repository.
    compare: Callable[[str, str], tuple[str, list[str]]] | None = None
    denied: list[Recorded] = field(default_factory=list)
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

    def mint(self, permissions: dict[str, str]) -> str:
        """A job's token, allowed what ``permissions`` grant (``{"issues": "write", ...}``)."""
        token = f"ghs_job{self.new_id()}"
        self.tokens[token] = dict(permissions)
        return token

    def allows(self, auth: str | None, needs: list[tuple[str, str]]) -> bool:
        """Whether ``auth`` may make a request that needs all of ``needs`` (scope, level)."""
        if auth == f"Bearer {self.token}":
            return True
        token = (auth or "").removeprefix("Bearer ")
        granted = self.tokens.get(token)
        if granted is None:
            return False
        rank = {"none": 0, "read": 1, "write": 2}
        return all(
            any(rank.get(granted.get(scope, "none"), 0) >= rank[level] for scope in alternatives)
            for alternatives, level in ((n[0].split("|"), n[1]) for n in needs)
        )

    def writes(self) -> list[Recorded]:
        return [r for r in self.requests if r.method != "GET"]

    @property
    def api_url(self) -> str:
        return self.url + self.prefix


def _needs(method: str, segments: list[str], fake: FakeGitHub) -> list[tuple[str, str]]:
    """The permissions (``scope`` or ``scope|scope`` for either, level) a request needs, as
    GitHub's documentation gives them for a GITHUB_TOKEN."""
    level = "read" if method == "GET" else "write"
    match segments:
        case ["issues", number, "comments"] if int(number) in fake.pulls:
            return [("pull-requests|issues", level)]
        case ["issues", "comments", _]:
            return [("pull-requests|issues", level)]
        case ["issues", *_]:
            return [("issues", level)]
        case ["commits", _, "pulls"]:
            return [("contents", "read"), ("pull-requests", "read")]
        case ["commits", *_] | ["compare", *_]:
            return [("contents", "read")]
        case ["actions", *_]:
            return [("actions", level)]
    return [("contents", level)]


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
            authorized = auth == f"Bearer {fake.token}" or (
                (auth or "").removeprefix("Bearer ") in fake.tokens
            )
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
            auth = self.headers.get("Authorization")
            if not fake.allows(auth, _needs(method, segments, fake)):
                fake.denied.append(fake.requests[-1])
                self._send(403, {"message": "Resource not accessible by integration"})
                return
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
                    state = query.get("state", "open")
                    found = [
                        i
                        for i in fake.issues
                        if (state == "all" or i["state"] == state)
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
                    if body.get("state") == "closed":
                        issue["closed_at"] = f"2026-01-01T00:00:{fake.new_id() % 60:02d}Z"
                    self._send(200, issue)
                case ("GET", ["commits", sha, "pulls"]):
                    self._list(path, query, fake.commit_pulls.get(sha, []), None)
                case ("GET", ["commits", sha]):
                    commit = fake.commits.get(sha)
                    self._send(200 if commit else 404, commit or {"message": "No commit"})
                case ("GET", ["compare", spec]) if fake.compare is not None and "..." in spec:
                    base, head = spec.split("...", 1)
                    status, shas = fake.compare(base, head)
                    per_page = int(query.get("per_page", "250"))
                    page = int(query.get("page", "1"))
                    chunk = shas[(page - 1) * per_page : page * per_page]
                    self._send(200, {
                        "status": status, "total_commits": len(shas),
                        "commits": [{"sha": c} for c in chunk],
                    })  # fmt: skip
                case ("GET", ["actions", "workflows", workflow, "runs"]):
                    runs = [
                        r
                        for r in fake.runs.get(workflow, [])
                        if ("head_sha" not in query or r.get("head_sha") == query["head_sha"])
                        and ("branch" not in query or r.get("head_branch") == query["branch"])
                        and ("event" not in query or r.get("event") == query["event"])
                        and ("status" not in query or r.get("conclusion") == query["status"])
                    ][::-1]  # newest first, as GitHub lists them
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


@dataclass
class QueuedRun:
    """A workflow run waiting in its concurrency group."""

    name: str
    start: Callable[[], Any]
    state: str = "queued"  # queued, pending, in_progress, completed, cancelled
    result: Any = None


@dataclass
class ConcurrencyGroups:
    """GitHub's concurrency groups: one run in progress per group, and at most one pending; a
    newer run cancels the pending one (and, with cancel-in-progress, the one in progress)."""

    running: dict[str, QueuedRun] = field(default_factory=dict)
    pending: dict[str, QueuedRun] = field(default_factory=dict)
    cancelled: list[QueuedRun] = field(default_factory=list)
    order: list[QueuedRun] = field(default_factory=list)

    def submit(self, group: str, run: QueuedRun, *, cancel_in_progress: bool = False) -> None:
        if group not in self.running:
            run.state = "in_progress"
            self.running[group] = run
            self.order.append(run)
            return
        if cancel_in_progress:
            self._cancel(self.running.pop(group))
            run.state = "in_progress"
            self.running[group] = run
            self.order.append(run)
            return
        older = self.pending.pop(group, None)
        if older is not None:
            self._cancel(older)
        run.state = "pending"
        self.pending[group] = run

    def _cancel(self, run: QueuedRun) -> None:
        run.state = "cancelled"
        self.cancelled.append(run)

    def drain(self, only: str = "") -> list[QueuedRun]:
        """Run everything in progress, then what was pending, in order, until all are done;
        with ``only``, just the groups whose name starts with it (the others wait)."""
        done: list[QueuedRun] = []
        while True:
            ready = [(g, r) for g, r in self.running.items() if g.startswith(only)]
            if not ready:
                return done
            group, run = ready[0]
            run.result = run.start()
            run.state = "completed"
            done.append(run)
            del self.running[group]
            follower = self.pending.pop(group, None)
            if follower is not None:
                follower.state = "in_progress"
                self.running[group] = follower
