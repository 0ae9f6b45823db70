"""Auth, scopes, generic errors and the organization's project list, as Sentry answers them.

A name or comment that says unverified marks a behaviour read from Sentry's code and not
confirmed against a live server."""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
import requests

from reconciler.emulator.testing import EmulatorHandle, serving_emulator
from tests.support.emulator_support import ORG, http_source

READ, WRITE, ADMIN, ORG_READ = "t-read", "t-write", "t-admin", "t-org"
TOKENS = {
    READ: frozenset({"project:read"}),
    WRITE: frozenset({"project:write"}),
    ADMIN: frozenset({"project:admin"}),
    ORG_READ: frozenset({"org:read"}),
}
STATE = {
    "organizations": {
        ORG: {
            "id": "11",
            "projects": {
                "ios": {
                    "id": "42",
                    "previous_slugs": ["old-ios"],
                    "symbol_sources": [http_source("web")],
                },
                "android": {"symbol_sources": []},
                "backend": {"symbol_sources": []},
            },
        },
        "other": {"projects": {}},
    }
}
NOT_PROVIDED = {"detail": "Authentication credentials were not provided."}
FORBIDDEN = {"detail": "You do not have permission to perform this action."}
NOT_FOUND = {"detail": "The requested resource does not exist"}


@pytest.fixture(scope="module")
def emu() -> Iterator[EmulatorHandle]:
    with serving_emulator(STATE, tokens=TOKENS) as handle:
        yield handle


def _call(
    emu: EmulatorHandle,
    method: str,
    path: str = f"/api/0/projects/{ORG}/ios/symbol-sources/",
    token: str | None = ADMIN,
    headers: dict[str, str] | None = None,
    **kwargs: object,
) -> requests.Response:
    all_headers = dict(headers or {})
    if token is not None:
        all_headers["Authorization"] = f"Bearer {token}"
    return requests.request(method, emu.url + path, headers=all_headers, timeout=10, **kwargs)  # type: ignore[arg-type]


# The bodies of Sentry's 401 answers.
def test_no_credentials_returns_401_not_provided(emu: EmulatorHandle) -> None:
    response = _call(emu, "GET", token=None)
    assert response.status_code == 401
    assert response.json() == NOT_PROVIDED


# Unverified: the 401 challenge header of Sentry's first authenticator.
def test_401_carries_www_authenticate_xbasic_unverified(emu: EmulatorHandle) -> None:
    response = _call(emu, "GET", token=None)
    assert response.headers["WWW-Authenticate"] == 'xBasic realm="api"'


def test_unknown_token_returns_401_invalid_token(emu: EmulatorHandle) -> None:
    response = _call(emu, "GET", token="not-a-token")
    assert response.status_code == 401
    assert response.json() == {"detail": "Invalid token"}


def test_unknown_org_auth_token_returns_401_invalid_org_token(emu: EmulatorHandle) -> None:
    response = _call(emu, "GET", token="sntrys_unknown")
    assert response.status_code == 401
    assert response.json() == {"detail": "Invalid org token"}


def test_org_auth_token_scope_org_ci_cannot_read_sources() -> None:
    tokens = {"sntrys_ci": frozenset({"org:ci"})}
    with serving_emulator(STATE, tokens=tokens) as handle:
        response = requests.get(
            f"{handle.url}/api/0/projects/{ORG}/ios/symbol-sources/",
            headers={"Authorization": "Bearer sntrys_ci"},
            timeout=10,
        )
    assert response.status_code == 403


def test_bearer_without_token_returns_401_invalid_token_header(emu: EmulatorHandle) -> None:
    response = _call(emu, "GET", token=None, headers={"Authorization": "Bearer"})
    assert response.status_code == 401
    assert response.json() == {"detail": "Invalid token header. No credentials provided."}


def test_header_names_and_bearer_keyword_are_case_insensitive(emu: EmulatorHandle) -> None:
    response = _call(emu, "GET", token=None, headers={"authorization": f"bearer {ADMIN}"})
    assert response.status_code == 200


def test_other_auth_scheme_counts_as_no_credentials(emu: EmulatorHandle) -> None:
    response = _call(emu, "GET", token=None, headers={"Authorization": f"Token {ADMIN}"})
    assert response.status_code == 401
    assert response.json() == NOT_PROVIDED


# The token scopes each method needs.
@pytest.mark.parametrize(
    ("method", "token", "allowed"),
    [
        ("GET", READ, True),
        ("GET", WRITE, True),
        ("GET", ADMIN, True),
        ("POST", READ, False),
        ("POST", WRITE, True),
        ("PUT", READ, False),
        ("PUT", WRITE, True),
        ("DELETE", READ, False),
        ("DELETE", WRITE, False),
        ("DELETE", ADMIN, True),
        ("GET", ORG_READ, False),
    ],
)
def test_method_scopes(emu: EmulatorHandle, method: str, token: str, allowed: bool) -> None:
    # An allowed call gets past auth to the endpoint itself (its answer depends on the order
    # the cases run in: create, update, delete the same source).
    response = _call(
        emu,
        method,
        path=f"/api/0/projects/{ORG}/android/symbol-sources/?id=missing",
        token=token,
        json=http_source("missing"),
    )
    if allowed:
        assert response.status_code in (200, 201, 204, 404), response.text
        if response.status_code == 404:
            assert "error" in response.json()  # the endpoint's own envelope, not auth's
    else:
        assert response.status_code == 403
        assert response.json() == FORBIDDEN


# Unverified: InsufficientScope's challenge header.
def test_403_carries_insufficient_scope_challenge_unverified(emu: EmulatorHandle) -> None:
    response = _call(
        emu, "DELETE", path=f"/api/0/projects/{ORG}/ios/symbol-sources/?id=web", token=WRITE
    )
    assert response.status_code == 403
    assert response.headers["WWW-Authenticate"] == (
        'Bearer error="insufficient_scope", scope="project:admin"'
    )


# The scope check (has_permission) runs before the project lookup (convert_args).
def test_missing_scope_is_403_even_for_an_unknown_project(emu: EmulatorHandle) -> None:
    response = _call(
        emu, "POST", path=f"/api/0/projects/{ORG}/nope/symbol-sources/", token=READ, json={}
    )
    assert response.status_code == 403


def test_no_credentials_is_401_even_for_an_unknown_project(emu: EmulatorHandle) -> None:
    response = _call(emu, "GET", path="/api/0/projects/nope/nope/symbol-sources/", token=None)
    assert response.status_code == 401


def test_unknown_project_returns_404_does_not_exist(emu: EmulatorHandle) -> None:
    response = _call(emu, "GET", path=f"/api/0/projects/{ORG}/nope/symbol-sources/")
    assert response.status_code == 404
    assert response.json() == NOT_FOUND


def test_unknown_organization_returns_404_does_not_exist(emu: EmulatorHandle) -> None:
    response = _call(emu, "GET", path="/api/0/projects/nope/ios/symbol-sources/")
    assert response.status_code == 404
    assert response.json() == NOT_FOUND


def test_project_in_another_organization_is_404(emu: EmulatorHandle) -> None:
    response = _call(emu, "GET", path="/api/0/projects/other/ios/symbol-sources/")
    assert response.status_code == 404


# Both path parts accept a numeric id or a slug.
@pytest.mark.parametrize(("org", "project"), [("11", "42"), ("11", "ios"), (ORG, "42")])
def test_path_accepts_numeric_ids_or_slugs(emu: EmulatorHandle, org: str, project: str) -> None:
    response = _call(emu, "GET", path=f"/api/0/projects/{org}/{project}/symbol-sources/")
    assert response.status_code == 200
    assert [s["id"] for s in response.json()] == ["web"]


# The list of symbol sources is never paginated.
def test_symbol_source_list_has_no_link_header(emu: EmulatorHandle) -> None:
    response = _call(emu, "GET")
    assert response.status_code == 200
    assert "Link" not in response.headers


# An old slug of a renamed project answers 302 to the new one.
def test_renamed_project_slug_redirects_with_302(emu: EmulatorHandle) -> None:
    response = _call(
        emu,
        "GET",
        path=f"/api/0/projects/{ORG}/old-ios/symbol-sources/?id=web",
        allow_redirects=False,
    )
    new_url = f"/api/0/projects/{ORG}/ios/symbol-sources/?id=web"
    assert response.status_code == 302
    assert response.headers["Location"] == new_url
    assert response.json() == {
        "slug": "ios",
        "detail": {
            "code": "resource-moved",
            "message": "Resource has been moved",
            "extra": {"url": new_url, "slug": "ios"},
        },
    }
    followed = _call(emu, "GET", path=f"/api/0/projects/{ORG}/old-ios/symbol-sources/")
    assert followed.status_code == 200
    assert [s["id"] for s in followed.json()] == ["web"]


def test_renamed_project_slug_needs_auth_first(emu: EmulatorHandle) -> None:
    response = _call(
        emu,
        "GET",
        path=f"/api/0/projects/{ORG}/old-ios/symbol-sources/",
        token=None,
        allow_redirects=False,
    )
    assert response.status_code == 401


def test_a_method_outside_the_scope_map_is_403(emu: EmulatorHandle) -> None:
    assert _call(emu, "PATCH", json={}).status_code == 403


def test_unknown_api_path_is_404(emu: EmulatorHandle) -> None:
    assert _call(emu, "GET", path="/api/0/nothing/here/").status_code == 404


# The request body is stored verbatim, in its key order.
def test_body_is_stored_in_its_original_key_order(emu: EmulatorHandle) -> None:
    body = '{"url": "https://z.example/", "layout": {"type": "native"}, "type": "http", "id": "zz"}'
    response = _call(
        emu,
        "POST",
        path=f"/api/0/projects/{ORG}/backend/symbol-sources/",
        data=body,
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 201
    assert list(response.json()) == ["url", "layout", "type", "id"]
    stored = emu.state()["organizations"][ORG]["projects"]["backend"]["symbol_sources"]
    assert [list(s) for s in stored if s["id"] == "zz"] == [["url", "layout", "type", "id"]]


def test_keep_alive_serves_many_requests_on_one_connection(emu: EmulatorHandle) -> None:
    parts = urlsplit(emu.url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    auth = {"Authorization": f"Bearer {ADMIN}", "Content-Type": "application/json"}
    base = f"/api/0/projects/{ORG}/android/symbol-sources/"
    steps = [
        ("POST", base, json.dumps(http_source("k1")), 201),
        ("GET", base + "?id=nope", None, 404),
        ("POST", base, json.dumps({"type": "http"}), 400),
        ("DELETE", base + "?id=k1", None, 204),
        ("GET", base, None, 200),
        ("GET", base, None, 200),
    ]
    socket_before = None
    for method, path, body, status in steps:
        conn.request(method, path, body=body, headers=auth)
        response = conn.getresponse()
        assert response.status == status
        assert response.getheader("Content-Length") is not None
        response.read()
        socket_before = socket_before or conn.sock
        assert conn.sock is socket_before  # the same connection throughout
    conn.close()


# --- GET /api/0/organizations/{org}/projects/ ------------------------------------------------


def test_org_projects_lists_id_slug_and_name_sorted_by_slug(emu: EmulatorHandle) -> None:
    response = _call(emu, "GET", path=f"/api/0/organizations/{ORG}/projects/", token=ORG_READ)
    assert response.status_code == 200
    projects = response.json()
    assert [p["slug"] for p in projects] == ["android", "backend", "ios"]
    ios = projects[2]
    assert ios["id"] == "42" and ios["name"] == "ios"
    assert all(isinstance(p["id"], str) and p["id"].isdecimal() for p in projects)


def test_org_projects_link_header_without_more_pages(emu: EmulatorHandle) -> None:
    response = _call(emu, "GET", path=f"/api/0/organizations/{ORG}/projects/", token=ORG_READ)
    links = requests.utils.parse_header_links(response.headers["Link"])
    by_rel = {link["rel"]: link for link in links}
    assert by_rel["previous"]["results"] == "false"
    assert by_rel["next"]["results"] == "false"
    assert by_rel["next"]["url"].endswith(f"cursor={by_rel['next']['cursor']}")


def test_org_projects_are_paginated_by_cursor(emu: EmulatorHandle) -> None:
    url = f"{emu.url}/api/0/organizations/{ORG}/projects/?per_page=2"
    seen: list[str] = []
    pages = 0
    while url:
        response = requests.get(url, headers={"Authorization": f"Bearer {ORG_READ}"}, timeout=10)
        assert response.status_code == 200
        seen += [p["slug"] for p in response.json()]
        pages += 1
        next_link = response.links["next"]
        url = next_link["url"] if next_link["results"] == "true" else ""
        assert pages < 5
    assert seen == ["android", "backend", "ios"]
    assert pages == 2


def test_org_projects_second_page_has_previous_results(emu: EmulatorHandle) -> None:
    first = _call(
        emu, "GET", path=f"/api/0/organizations/{ORG}/projects/?per_page=2", token=ORG_READ
    )
    second = requests.get(
        first.links["next"]["url"], headers={"Authorization": f"Bearer {ORG_READ}"}, timeout=10
    )
    assert second.links["previous"]["results"] == "true"
    assert second.links["next"]["results"] == "false"


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("per_page=abc", "Invalid per_page parameter."),
        ("per_page=101", "Invalid per_page value. Cannot exceed 100."),
        ("cursor=garbage", "Invalid cursor parameter."),
    ],
)
def test_org_projects_bad_paging_parameters_are_400(
    emu: EmulatorHandle, query: str, message: str
) -> None:
    response = _call(
        emu, "GET", path=f"/api/0/organizations/{ORG}/projects/?{query}", token=ORG_READ
    )
    assert response.status_code == 400
    assert response.json() == {"detail": message}


def test_org_projects_need_an_org_scope(emu: EmulatorHandle) -> None:
    response = _call(emu, "GET", path=f"/api/0/organizations/{ORG}/projects/", token=ADMIN)
    assert response.status_code == 403


def test_org_projects_unknown_org_is_404(emu: EmulatorHandle) -> None:
    response = _call(emu, "GET", path="/api/0/organizations/nope/projects/", token=ORG_READ)
    assert response.status_code == 404
    assert response.json() == NOT_FOUND


def test_default_token_can_list_projects_and_write_sources() -> None:
    with serving_emulator(STATE) as handle:
        headers = {"Authorization": "Bearer symsync-emulator"}
        listed = requests.get(
            f"{handle.url}/api/0/organizations/{ORG}/projects/", headers=headers, timeout=10
        )
        assert listed.status_code == 200
        deleted = requests.delete(
            f"{handle.url}/api/0/projects/{ORG}/ios/symbol-sources/?id=web",
            headers=headers,
            timeout=10,
        )
        assert deleted.status_code == 204
