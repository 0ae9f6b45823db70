"""``GET /api/0/organizations/{org}/``, as Sentry answers it: scopes checked before the lookup,
404 for an unknown organization, and ``links`` with the organization's and its region's URL
(``--region-url``, or by default the scheme and host the request was addressed to)."""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
import requests

from reconciler.emulator.testing import EmulatorHandle, serving_emulator
from tests.support.e2e_helpers import EMULATOR_TOKEN, clean_env, symsync

PROJECT_READ, ORG_READ, ORG_ADMIN = "t-project-read", "t-org-read", "t-org-admin"
TOKENS = {
    PROJECT_READ: frozenset({"project:read"}),
    ORG_READ: frozenset({"org:read"}),
    ORG_ADMIN: frozenset({"org:admin"}),
}
STATE = {
    "organizations": {
        "acme": {"id": "11", "name": "ACME Corp", "projects": {}},
        "beta": {"projects": {"web": {"symbol_sources": []}}},
    }
}
NOT_FOUND = {"detail": "The requested resource does not exist"}
FORBIDDEN = {"detail": "You do not have permission to perform this action."}


@pytest.fixture(scope="module")
def emu() -> Iterator[EmulatorHandle]:
    region_urls = {"beta": "https://de.sentry.example"}
    with serving_emulator(STATE, tokens=TOKENS, region_urls=region_urls) as handle:
        yield handle


def _get(emu: EmulatorHandle, org: str, token: str | None = ORG_READ, **headers: str):
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return requests.get(f"{emu.url}/api/0/organizations/{org}/", headers=headers, timeout=10)


def test_the_details_name_the_organization_and_its_links(emu):
    answer = _get(emu, "acme")
    assert answer.status_code == 200
    body = answer.json()
    assert (body["id"], body["slug"], body["name"]) == ("11", "acme", "ACME Corp")
    # By default the region is the URL the request was addressed to.
    assert body["links"] == {"organizationUrl": emu.url, "regionUrl": emu.url}
    assert _get(emu, "11").json()["slug"] == "acme"  # by id too


def test_the_region_follows_the_host_the_request_was_addressed_to(emu):
    """A proxy in front of the emulator stays in the path: its Host comes back."""
    parts = urlsplit(emu.url)
    connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=10)
    connection.request(
        "GET",
        "/api/0/organizations/acme/",
        headers={"Host": "symbols-proxy.internal:8443", "Authorization": f"Bearer {ORG_READ}"},
    )
    links = json.loads(connection.getresponse().read())["links"]
    connection.close()
    assert links == {
        "organizationUrl": "http://symbols-proxy.internal:8443",
        "regionUrl": "http://symbols-proxy.internal:8443",
    }


def test_region_url_sets_the_region_advertised(emu):
    assert _get(emu, "beta").json()["links"]["regionUrl"] == "https://de.sentry.example"
    with serving_emulator(STATE, region_urls={None: "http://127.0.0.1:1"}) as other:
        answer = _get(other, "acme", EMULATOR_TOKEN)
    assert answer.json()["links"] == {
        "organizationUrl": other.url,
        "regionUrl": "http://127.0.0.1:1",
    }


def test_an_unknown_organization_is_404(emu):
    answer = _get(emu, "nope")
    assert (answer.status_code, answer.json()) == (404, NOT_FOUND)


def test_the_token_needs_an_organization_scope_before_the_lookup(emu):
    for org in ("acme", "nope"):  # a missing scope is 403 even for an unknown organization
        answer = _get(emu, org, PROJECT_READ)
        assert (answer.status_code, answer.json()) == (403, FORBIDDEN)
    assert _get(emu, "acme", ORG_ADMIN).status_code == 200
    assert _get(emu, "acme", None).status_code == 401
    assert _get(emu, "acme", "unknown-token").status_code == 401


def test_region_url_on_the_command_line():
    bad = symsync("emulator", "--region-url", "not a url", env=clean_env())
    assert bad.returncode != 0 and "--region-url" in bad.stderr
    assert "Traceback" not in bad.stderr
