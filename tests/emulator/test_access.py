"""Who a token is: roles, organization auth tokens, integration tokens, and the rate-limit
windows keyed by who holds the token and the HTTP method, as Sentry has them.

A name that says unverified marks a behaviour read from Sentry's code and not confirmed against
a live server."""

from __future__ import annotations

import json

import pytest
import requests

from reconciler.emulator.server import RateLimit
from reconciler.emulator.testing import EmulatorHandle, serving_emulator
from tests.support.emulator_support import ORG, http_source

OTHER = "globex"
STATE = {
    "organizations": {
        ORG: {"projects": {"ios": {"symbol_sources": [http_source("web")]}}},
        OTHER: {"projects": {"ios": {"symbol_sources": []}}},
    }
}
FULL = frozenset({"project:admin", "org:read"})


def _call(
    handle: EmulatorHandle,
    method: str,
    token: str,
    org: str = ORG,
    *,
    query: str = "",
    body: object = None,
) -> requests.Response:
    return requests.request(
        method,
        f"{handle.url}/api/0/projects/{org}/ios/symbol-sources/{query}",
        headers={"Authorization": f"Bearer {token}"},
        json=body,
        timeout=10,
    )


def _projects(handle: EmulatorHandle, token: str, org: str = ORG) -> requests.Response:
    return requests.get(
        f"{handle.url}/api/0/organizations/{org}/projects/",
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )


# --- roles -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "writes"),
    [("member", False), ("admin", True), ("manager", True), ("owner", True)],
)
def test_a_tokens_scopes_are_cut_to_its_holders_role(role: str, writes: bool) -> None:
    with serving_emulator(STATE, tokens={"t": FULL}, roles={"t": role}) as handle:
        assert _call(handle, "GET", "t").status_code == 200
        assert _projects(handle, "t").status_code == 200  # every role has org:read
        created = _call(handle, "POST", "t", body=http_source("new"))
        updated = _call(handle, "PUT", "t", query="?id=web", body=http_source("web", name="n"))
        deleted = _call(handle, "DELETE", "t", query="?id=web")
        statuses = [created.status_code, updated.status_code, deleted.status_code]
        stored = handle.state()["organizations"][ORG]["projects"]["ios"]["symbol_sources"]
    if writes:
        assert statuses == [201, 200, 204]
    else:
        assert statuses == [403, 403, 403]
        assert created.json() == {"detail": "You do not have permission to perform this action."}
        assert [s["id"] for s in stored] == ["web"]


def test_a_role_adds_no_scope_the_token_lacks() -> None:
    with serving_emulator(
        STATE, tokens={"r": frozenset({"project:read"})}, roles={"r": "owner"}
    ) as handle:
        assert _call(handle, "GET", "r").status_code == 200
        assert _call(handle, "POST", "r", body=http_source("new")).status_code == 403
        assert _projects(handle, "r").status_code == 403  # no org:read in the token


def test_without_a_role_a_token_is_an_owners() -> None:
    with serving_emulator(STATE, tokens={"t": FULL}) as handle:
        assert _call(handle, "DELETE", "t", query="?id=web").status_code == 204


# --- organization auth tokens ----------------------------------------------------------------


def test_an_organization_auth_token_has_org_ci_only_whatever_it_is_given() -> None:
    with serving_emulator(STATE, tokens={"sntrys_abc": FULL}) as handle:
        assert _call(handle, "GET", "sntrys_abc").status_code == 403
        assert _call(handle, "POST", "sntrys_abc", body=http_source("x")).status_code == 403
        assert _projects(handle, "sntrys_abc").status_code == 403


# --- an internal integration's token ---------------------------------------------------------


def test_an_integration_token_works_in_its_organization_only() -> None:
    org_tokens = {"int-acme": (ORG, frozenset({"project:admin", "org:read"}))}
    with serving_emulator(STATE, tokens={}, org_tokens=org_tokens) as handle:
        assert _call(handle, "GET", "int-acme").status_code == 200
        assert _call(handle, "POST", "int-acme", body=http_source("n")).status_code == 201
        assert _projects(handle, "int-acme").status_code == 200
        other = _call(handle, "GET", "int-acme", OTHER)
        assert other.status_code == 403
        assert other.json() == {"detail": "You do not have permission to perform this action."}
        assert _projects(handle, "int-acme", OTHER).status_code == 403
        assert _call(handle, "POST", "int-acme", OTHER, body=http_source("n")).status_code == 403
        # An organization that does not exist is still 404: the lookup comes first.
        assert _call(handle, "GET", "int-acme", "nowhere").status_code == 404


# --- rate-limit windows ----------------------------------------------------------------------


def test_a_users_window_is_per_http_method() -> None:
    with serving_emulator(STATE, tokens={"t": FULL}, rate_limit=RateLimit(2, 60)) as handle:
        gets = [_call(handle, "GET", "t").status_code for _ in range(3)]
        posts = [
            _call(handle, "POST", "t", body=http_source(f"p{i}")).status_code for i in range(3)
        ]
    assert gets == [200, 200, 429]
    assert posts == [201, 201, 429]


def test_a_users_window_spans_organizations_and_endpoints() -> None:
    with serving_emulator(STATE, tokens={"t": FULL}, rate_limit=RateLimit(3, 60)) as handle:
        statuses = [
            _call(handle, "GET", "t", ORG).status_code,
            _call(handle, "GET", "t", OTHER).status_code,
            _projects(handle, "t").status_code,
            _call(handle, "GET", "t", OTHER).status_code,
        ]
    assert statuses == [200, 200, 200, 429]


def test_each_user_has_its_own_window() -> None:
    tokens = {"one": FULL, "two": FULL}
    with serving_emulator(STATE, tokens=tokens, rate_limit=RateLimit(1, 60)) as handle:
        assert [_call(handle, "GET", "one").status_code for _ in range(2)] == [200, 429]
        assert _call(handle, "GET", "two").status_code == 200


def test_integration_tokens_of_one_organization_share_its_window() -> None:
    org_tokens = {"i1": (ORG, FULL), "i2": (ORG, FULL), "i3": (OTHER, FULL)}
    with serving_emulator(
        STATE, tokens={}, org_tokens=org_tokens, rate_limit=RateLimit(1, 60)
    ) as handle:
        assert _call(handle, "GET", "i1").status_code == 200
        assert _call(handle, "GET", "i2").status_code == 429
        assert _call(handle, "GET", "i3", OTHER).status_code == 200


def test_the_window_follows_the_injected_clock() -> None:
    from reconciler.emulator.server import Emulator, Settings
    from reconciler.emulator.state import EmulatorState

    now = [1_700_000_000.0]
    emulator = Emulator(
        Settings(rate_limit=RateLimit(1, 10)),
        EmulatorState.from_dict(STATE),
        clock=lambda: now[0],
    )
    try:
        auth = {"authorization": "Bearer symsync-emulator"}
        path = f"/api/0/projects/{ORG}/ios/symbol-sources/"
        first, _ = emulator.serve_api("GET", path, "", auth, b"")
        second, _ = emulator.serve_api("GET", path, "", auth, b"")
        now[0] += 10
        third, _ = emulator.serve_api("GET", path, "", auth, b"")
    finally:
        emulator.server.server_close()
    statuses = [getattr(reply, "status", None) for reply in (first, second, third)]
    assert statuses == [200, 429, 200]
    assert getattr(second, "headers", {})["X-Sentry-Rate-Limit-Reset"] == "1700000010"


# Unverified: Sentry's 429 comes from a plain HttpResponse (Django's default content type),
# with a JSON body and no Retry-After.
def test_429_has_sentrys_body_content_type_and_no_retry_after_unverified() -> None:
    with serving_emulator(STATE, rate_limit=RateLimit(1, 60)) as handle:
        requests.get(
            f"{handle.url}/api/0/projects/{ORG}/ios/symbol-sources/",
            headers={"Authorization": "Bearer symsync-emulator"},
            timeout=10,
        )
        limited = _call(handle, "GET", "symsync-emulator")
    assert limited.status_code == 429
    assert limited.headers["Content-Type"].startswith("text/html")
    assert "Retry-After" not in limited.headers
    assert json.loads(limited.text) == {
        "detail": "You are attempting to use this endpoint too frequently. "
        "Limit is 1 requests in 60 seconds"
    }


# --- Gen B strings over HTTP -----------------------------------------------------------------


def test_gen_b_answers_a_nul_in_a_string_with_drfs_message() -> None:
    with serving_emulator(STATE, generation="b") as handle:
        response = requests.post(
            f"{handle.url}/api/0/projects/{ORG}/ios/symbol-sources/",
            data=json.dumps(http_source("x", url="https://a.example/\u0000")),
            headers={
                "Authorization": "Bearer symsync-emulator",
                "Content-Type": "application/json",
            },
            timeout=10,
        )
        stored = handle.state()["organizations"][ORG]["projects"]["ios"]["symbol_sources"]
    assert response.status_code == 400
    assert response.json() == {
        "error": "Invalid http source: url: Null characters are not allowed."
    }
    assert [s["id"] for s in stored] == ["web"]


def test_organization_auth_tokens_are_counted_by_the_callers_address() -> None:
    tokens = {"sntrys_one": FULL, "sntrys_two": FULL, "user": FULL}
    with serving_emulator(STATE, tokens=tokens, rate_limit=RateLimit(1, 60)) as handle:
        assert _call(handle, "GET", "sntrys_one").status_code == 403
        assert _call(handle, "GET", "sntrys_two").status_code == 429  # one address, one window
        assert _call(handle, "GET", "user").status_code == 200
