"""GitHub's REST API for one repository, and the run's GitHub settings from the runner.

The settings are the variables the Actions runner sets: ``GITHUB_API_URL``
(``https://api.github.com``, or ``https://HOST/api/v3`` on GitHub Enterprise: a path is kept),
``GITHUB_REPOSITORY`` (``owner/name``), ``GITHUB_TOKEN``, ``GITHUB_EVENT_PATH`` (the event's
JSON), ``GITHUB_SERVER_URL`` and ``GITHUB_RUN_ID`` (to link the run). What symsync does with the
API is elsewhere: the pull-request comment in ``comment``, the drift issue in ``drift``.

The token goes only into the Authorization header of requests to ``GITHUB_API_URL``'s origin
(a ``Link`` to any other host is not followed), and never into a message: every error text is
redacted with the token as a known secret.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlsplit

import requests

from reconciler import __version__
from reconciler.core.errors import SymsyncError
from reconciler.core.redact import redact_text, truncate

TIMEOUT: Final = (10.0, 60.0)  # connect, read
# A GET that GitHub could not answer (a dropped connection, 502, 503, 504) is tried again after
# these pauses; a write is never repeated, so a comment or an issue is never made twice.
GET_RETRY_PAUSES: Final = (1.0, 3.0)
_TRANSIENT: Final = frozenset({502, 503, 504})
_REPOSITORY: Final = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")


class GitHubError(SymsyncError):
    """A GitHub setting is missing or wrong, or GitHub answered with an error."""


@dataclass(frozen=True)
class GitHubEnv:
    """The run's GitHub settings, from the variables the Actions runner sets."""

    api_url: str
    repository: str
    token: str
    server_url: str
    run_id: str | None
    event_path: Path | None

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> GitHubEnv:
        env = os.environ if environ is None else environ
        token = env.get("GITHUB_TOKEN", "")
        if not token:
            raise GitHubError(
                "GITHUB_TOKEN is not set: pass the workflow's token to this step, e.g. "
                "`env: GITHUB_TOKEN: ${{ github.token }}`"
            )
        repository = env.get("GITHUB_REPOSITORY", "")
        if not _REPOSITORY.match(repository):
            shown = f"`{truncate(redact_text(repository), 100)}`" if repository else "not set"
            raise GitHubError(
                f"GITHUB_REPOSITORY is {shown}: it must be OWNER/NAME, as GitHub Actions sets it"
            )
        api_url = _http_url("GITHUB_API_URL", env.get("GITHUB_API_URL") or "https://api.github.com")
        server_url = _http_url(
            "GITHUB_SERVER_URL", env.get("GITHUB_SERVER_URL") or "https://github.com"
        )
        event = env.get("GITHUB_EVENT_PATH", "")
        return cls(
            api_url=api_url,
            repository=repository,
            token=token,
            server_url=server_url,
            run_id=env.get("GITHUB_RUN_ID") or None,
            event_path=Path(event) if event else None,
        )

    @property
    def run_url(self) -> str | None:
        """The page of this workflow run, when ``GITHUB_RUN_ID`` is set."""
        if self.run_id is None:
            return None
        return f"{self.server_url}/{self.repository}/actions/runs/{self.run_id}"

    def event(self) -> dict[str, Any]:
        """The JSON of the event that started the run."""
        if self.event_path is None:
            raise GitHubError(
                "GITHUB_EVENT_PATH is not set: run this in a GitHub Actions job, which sets it"
            )
        try:
            data = json.loads(self.event_path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise GitHubError(
                f"cannot read the event file {self.event_path} (GITHUB_EVENT_PATH): "
                f"{exc.strerror or exc}"
            ) from None
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise GitHubError(
                f"the event file {self.event_path} (GITHUB_EVENT_PATH) is not JSON"
            ) from None
        if not isinstance(data, dict):
            raise GitHubError(
                f"the event file {self.event_path} (GITHUB_EVENT_PATH) is not an object"
            )
        return data

    def pull_request_number(self) -> int:
        """The pull request of the event (``pull_request``, or a comment on a pull request)."""
        event = self.event()
        pull = event.get("pull_request")
        if isinstance(pull, dict) and isinstance(pull.get("number"), int):
            return int(pull["number"])
        issue = event.get("issue")
        if (
            isinstance(issue, dict)
            and "pull_request" in issue
            and isinstance(issue.get("number"), int)
        ):
            return int(issue["number"])
        raise GitHubError(
            "the event that started this run has no pull request: run this on `pull_request` "
            "events, or name one with --pull-request"
        )


def _http_url(name: str, value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise GitHubError(
            f"{name} is `{truncate(redact_text(value), 100)}`: it must be an http(s) URL, "
            "as GitHub Actions sets it"
        )
    return value.rstrip("/")


class GitHubAPI:
    """GitHub's REST API for one repository: one method for every request, which owns the
    headers, the timeouts and the wording of errors."""

    def __init__(
        self,
        env: GitHubEnv,
        *,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.env = env
        self._sleep = sleep
        self.repo_path = f"/repos/{env.repository}"
        self._origin = _origin(env.api_url)
        self._session = session or requests.Session()
        self._session.headers.update(
            {
                "Accept": "application/vnd.github+json",
                "X-GitHub-Api-Version": "2022-11-28",
                "User-Agent": f"symsync/{__version__}",
            }
        )

    def __enter__(self) -> GitHubAPI:
        return self

    def __exit__(self, *exc: object) -> None:
        self._session.close()

    def url(self, path: str) -> str:
        """``GITHUB_API_URL`` + ``path``, keeping any path the API URL has (``/api/v3``)."""
        return self.env.api_url + path

    def request(
        self,
        method: str,
        path_or_url: str,
        *,
        json_body: Any = None,
        params: Mapping[str, str | int] | None = None,
        stream: bool = False,
    ) -> requests.Response:
        url = path_or_url if "://" in path_or_url else self.url(path_or_url)
        if _origin(url) != self._origin:
            raise GitHubError(
                f"GitHub pointed to {truncate(redact_text(url, [self.env.token]), 200)}, "
                f"outside {self.env.api_url}; not sending the token there"
            )
        what = f"{method} {urlsplit(url).path}"
        pauses = list(GET_RETRY_PAUSES) if method == "GET" else []
        while True:
            try:
                response = self._session.request(
                    method,
                    url,
                    json=json_body,
                    params=params,
                    headers={"Authorization": f"Bearer {self.env.token}"},
                    timeout=TIMEOUT,
                    stream=stream,
                )
            except requests.RequestException as exc:
                if pauses:
                    self._sleep(pauses.pop(0))
                    continue
                raise GitHubError(self._describe_no_answer(what, url, exc)) from None
            if response.status_code in _TRANSIENT and pauses:
                response.close()
                self._sleep(pauses.pop(0))
                continue
            if response.status_code >= 400:
                raise GitHubError(self._describe_failure(what, response))
            return response

    def json(
        self,
        method: str,
        path_or_url: str,
        *,
        json_body: Any = None,
        params: Mapping[str, str | int] | None = None,
    ) -> Any:
        response = self.request(method, path_or_url, json_body=json_body, params=params)
        try:
            return response.json()
        except ValueError:
            raise GitHubError(
                f"GitHub's answer to {method} {urlsplit(response.url).path} is not JSON"
            ) from None

    def paginate(
        self, path: str, *, params: Mapping[str, str | int] | None = None, key: str | None = None
    ) -> Iterator[dict[str, Any]]:
        """Every item of a listing, page after page, following ``Link: <...>; rel="next"``.
        ``key`` names the list in an object answer (``workflow_runs``, ``artifacts``)."""
        url: str | None = path
        query: Mapping[str, str | int] | None = {"per_page": 100, **(params or {})}
        pages = 0
        while url is not None:
            pages += 1
            if pages > 1000:  # a Link loop; 100,000 items is beyond any listing used here
                raise GitHubError(f"GitHub's listing of {path} does not end; stopped")
            response = self.request("GET", url, params=query)
            try:
                data = response.json()
            except ValueError:
                raise GitHubError(f"GitHub's listing of {path} is not JSON") from None
            items = data.get(key) if key is not None and isinstance(data, dict) else data
            if not isinstance(items, list):
                raise GitHubError(f"GitHub's listing of {path} is not a list")
            yield from (item for item in items if isinstance(item, dict))
            url = response.links.get("next", {}).get("url")
            query = None  # the next link carries the query

    def _describe_no_answer(self, what: str, url: str, exc: requests.RequestException) -> str:
        """One line naming the host, what went wrong in words of our own (never the library's
        message, which is long, holds the whole URL and is cut mid-word) and what to check."""
        from reconciler.sentry.connection import describe_failure

        host = urlsplit(url).hostname or urlsplit(url).netloc
        reason = describe_failure(exc, TIMEOUT[1]).reason
        if reason == type(exc).__name__:  # nothing more said than the library's class
            reason = "no answer"
        check = "the network"
        if isinstance(exc, requests.exceptions.SSLError):
            check = "the host's TLS certificate (a proxy's own CA needs REQUESTS_CA_BUNDLE)"
        return (
            f"GitHub did not answer {what}: could not reach {host} ({reason}); check "
            f"GITHUB_API_URL ({self.env.api_url}), GITHUB_TOKEN and {check}"
        )

    def _describe_failure(self, what: str, response: requests.Response) -> str:
        detail = ""
        try:
            body = response.json()
            if isinstance(body, dict) and isinstance(body.get("message"), str):
                detail = body["message"]
        except ValueError:
            detail = response.text
        # One line: an error page's text (a proxy's HTML) would otherwise span many.
        detail = truncate(redact_text(" ".join(detail.split()), [self.env.token]), 300)
        hint = {
            401: "the token is not valid (GITHUB_TOKEN)",
            403: "the token lacks a permission: check the job's `permissions:`",
            404: "not found, or the token may not see it: check GITHUB_API_URL and "
            "GITHUB_REPOSITORY",
        }.get(response.status_code)
        if hint is None and response.status_code >= 500:
            hint = "GitHub could not answer it now: run the job again later"
        host = urlsplit(response.url or self.env.api_url).netloc
        parts = [f"GitHub answered {response.status_code} to {what} on {host}"]
        if detail:
            parts.append(detail)
        if hint:
            parts.append(hint)
        return ": ".join(parts)


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme.lower(), parts.netloc.lower()
