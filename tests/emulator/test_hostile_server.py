"""The hostile fake Sentry really is hostile: each behaviour does what the suites rely on."""

from __future__ import annotations

import time

import pytest
import requests

from tests.support.hostile_sentry import (
    HostileSentry,
    Rule,
    cut_reply,
    echo_reply,
    hang,
    html_reply,
    huge_reply,
    json_reply,
    redirect_to,
    trickle,
)


def _get(server: HostileSentry, path: str = "/x/", **kwargs) -> requests.Response:
    return requests.get(server.url + path, timeout=kwargs.pop("timeout", 5), **kwargs)


def test_rules_match_by_method_and_path_and_requests_are_recorded_on_arrival():
    rules = [Rule("POST", "/w/$", json_reply(201, {"ok": 1})), Rule("GET", "/r/", html_reply())]
    with HostileSentry(rules) as server:
        assert _get(server, "/r/").headers["Content-Type"].startswith("text/html")
        assert requests.post(server.url + "/w/", json={"a": 1}, timeout=5).status_code == 201
        assert _get(server, "/other/").status_code == 404  # no rule: Sentry's 404
        got = [(r.method, r.path, r.is_write) for r in server.requests()]
        assert got == [("GET", "/r/", False), ("POST", "/w/", True), ("GET", "/other/", False)]
        assert server.writes()[0].body == b'{"a": 1}'


def test_a_cut_answer_ends_before_its_content_length():
    with (
        HostileSentry([Rule("GET", ".", cut_reply())]) as server,
        pytest.raises(requests.exceptions.ChunkedEncodingError),
    ):
        _get(server)


def test_a_hang_never_answers_and_a_trickle_never_finishes():
    with HostileSentry([Rule("GET", "/hang/", hang), Rule("GET", "/slow/", trickle(0.2))]) as s:
        with pytest.raises(requests.exceptions.ReadTimeout):
            _get(s, "/hang/", timeout=0.5)
        response = requests.get(s.url + "/slow/", timeout=5, stream=True)
        assert response.status_code == 200
        started = time.monotonic()
        first = response.raw.read(3)  # "[", then one byte per 0.2 s
        assert first == b"[  "
        assert time.monotonic() - started > 0.3
        response.close()


def test_a_huge_answer_is_as_large_as_asked():
    with HostileSentry([Rule("GET", ".", huge_reply(2))]) as server:
        response = _get(server)
        assert len(response.content) == 2 * (1 << 20) + 4
        assert isinstance(response.json(), list)


def test_an_echo_shows_the_token_and_a_redirect_points_elsewhere():
    rules = [Rule("GET", "/echo/", echo_reply()), Rule("GET", "/away/", redirect_to("http://x"))]
    with HostileSentry(rules) as server:
        echoed = _get(server, "/echo/", headers={"Authorization": "Bearer sentinel"})
        assert echoed.json()["headers"]["authorization"] == "Bearer sentinel"
        moved = _get(server, "/away/?id=1", allow_redirects=False)
        assert (moved.status_code, moved.headers["Location"]) == (302, "http://x/away/?id=1")
