"""SentryClient with several organizations: each one's token, each one's region, each one's
own errors, and each token's rate-limit window paced on its own. Scripted loopback servers
stand for the configured (control) URL and two regions; time is faked."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from reconciler.core.errors import SymsyncError
from reconciler.sentry.client import SentryClient
from reconciler.sentry.connection import Secret
from reconciler.sentry.errors import AccountWideError, OrganizationError
from reconciler.sentry.pacing import Permit
from tests.support.fake_sentry import FakeSentry, FakeTime, Recorded, Reply, fake_sentry

TOKEN_A = "sntryu_ACMESENTINEL0123456789abcdef"
TOKEN_B = "sntryu_BETASENTINEL0123456789abcdef"
DEFAULT = "sntryu_DEFAULTSENTINEL0123456789ab"


@pytest.fixture
def region_a() -> Iterator[FakeSentry]:
    with fake_sentry() as server:
        yield server


@pytest.fixture
def region_b() -> Iterator[FakeSentry]:
    with fake_sentry() as server:
        yield server


def _details(regions: dict[str, str]) -> object:
    def reply(recorded: Recorded) -> Reply:
        slug = recorded.path.strip("/").split("/")[-1]
        if slug not in regions:
            return Reply(404, {"detail": "The requested resource does not exist"})
        links = {"organizationUrl": f"https://{slug}.example", "regionUrl": regions[slug]}
        return Reply(200, {"id": "1", "slug": slug, "name": slug, "links": links})

    return reply


def _client(
    url: str,
    ftime: FakeTime,
    *,
    token: str | None = None,
    own_tokens: dict[str, str] | None = None,
    region_discovery: bool = True,
) -> SentryClient:
    return SentryClient(
        url,
        token,
        own_tokens=own_tokens,
        region_discovery=region_discovery,
        timeout=5,
        **ftime.kwargs(),
    )


def test_each_organization_is_read_at_its_region_with_its_own_token(
    fake, region_a, region_b, ftime
):
    fake.org_details = _details({"acme": region_a.url, "beta": region_b.url})
    own = {"acme": TOKEN_A, "beta": TOKEN_B}
    with _client(fake.url, ftime, own_tokens=own) as client:
        with ThreadPoolExecutor(4) as pool:
            list(
                pool.map(
                    lambda p: client.list_sources(*p), [("acme", "ios")] * 3 + [("beta", "web")] * 3
                )
            )
        assert client.organization_url("acme") == region_a.url
        assert client.served_by("beta") == region_b.url
        assert client.base_url == fake.url  # still the configured URL
    # The details once per organization, at the configured URL, each with its own token.
    assert sorted((r.path, r.headers["Authorization"]) for r in fake.lookups) == [
        ("/api/0/organizations/acme/", f"Bearer {TOKEN_A}"),
        ("/api/0/organizations/beta/", f"Bearer {TOKEN_B}"),
    ]
    assert fake.requests == []  # nothing else went through the configured URL
    assert {(r.path, r.headers["Authorization"]) for r in region_a.requests} == {
        ("/api/0/projects/acme/ios/symbol-sources/", f"Bearer {TOKEN_A}")
    }
    assert {(r.path, r.headers["Authorization"]) for r in region_b.requests} == {
        ("/api/0/projects/beta/web/symbol-sources/", f"Bearer {TOKEN_B}")
    }
    assert region_a.lookups == region_b.lookups == []


def test_the_default_token_serves_organizations_without_their_own(fake, region_a, ftime):
    fake.org_details = _details({"acme": region_a.url, "globex": fake.url})
    with _client(fake.url, ftime, token=DEFAULT, own_tokens={"acme": TOKEN_A}) as client:
        client.list_sources("globex", "app")
        client.list_sources("acme", "ios")
    assert [r.headers["Authorization"] for r in fake.requests] == [f"Bearer {DEFAULT}"]
    assert [r.headers["Authorization"] for r in region_a.requests] == [f"Bearer {TOKEN_A}"]


def test_a_region_on_another_host_is_refused_and_receives_nothing(fake, ftime):
    with fake_sentry() as rogue:
        rogue_url = rogue.url.replace("127.0.0.1", "localhost")
        fake.org_details = _details({"acme": fake.url, "beta": rogue_url})
        own = {"acme": TOKEN_A, "beta": TOKEN_B}
        with _client(fake.url, ftime, own_tokens=own) as client:
            client.list_sources("acme", "ios")
            for _ in range(2):  # every request of the organization, without another lookup
                with pytest.raises(OrganizationError) as raised:
                    client.list_sources("beta", "web")
            assert client.organization_url("beta") is None
            client.list_sources("acme", "android")  # the other organization goes on
        assert rogue.requests == [] and rogue.lookups == []
    message = str(raised.value)
    assert "organization `beta`" in message and "does not follow" in message
    assert "no request or token was sent there" in message
    assert "--no-region-discovery" in message
    assert TOKEN_B not in message
    assert [r.path for r in fake.lookups].count("/api/0/organizations/beta/") == 1


def test_an_organization_without_a_token_fails_alone_without_a_request(fake, ftime):
    with _client(fake.url, ftime, own_tokens={"acme": TOKEN_A}) as client:
        with pytest.raises(OrganizationError) as raised:
            client.list_sources("beta", "web")
        client.list_sources("acme", "ios")
    assert "organization `beta` has no token" in str(raised.value)
    assert "SENTRY_AUTH_TOKENS" in str(raised.value)
    assert all("/beta/" not in r.path for r in fake.requests + fake.lookups)


def test_an_organizations_own_token_refused_fails_that_organization_alone(fake, ftime):
    def details(recorded: Recorded) -> Reply:
        if recorded.headers["Authorization"] == f"Bearer {TOKEN_B}":
            return Reply(401, {"detail": "Invalid token"})
        return _details({"acme": fake.url})(recorded)  # type: ignore[operator]

    fake.org_details = details
    own = {"acme": TOKEN_A, "beta": TOKEN_B}
    with _client(fake.url, ftime, own_tokens=own) as client:
        with pytest.raises(OrganizationError) as raised:
            client.list_sources("beta", "web")
        assert client.list_sources("acme", "ios") == []
        assert client.stopped_by is None
    assert "organization `beta`" in str(raised.value)
    assert "invalid or expired" in str(raised.value)


def test_the_default_tokens_refusal_still_stops_the_run(fake, ftime):
    fake.org_details = Reply(401, {"detail": "Invalid token"})
    with _client(fake.url, ftime, token=DEFAULT) as client:
        with pytest.raises(AccountWideError):
            client.list_sources("acme", "ios")
        assert client.stopped_by is not None


def test_an_unknown_organization_is_its_own_error(fake, ftime):
    fake.org_details = _details({"acme": fake.url})
    with _client(fake.url, ftime, token=DEFAULT) as client:
        with pytest.raises(OrganizationError) as raised:
            client.list_sources("nope", "web")
        client.list_sources("acme", "ios")
    assert "`nope` was not found" in str(raised.value)


def test_details_without_a_region_or_without_org_read_leave_the_configured_url(fake, ftime, caplog):
    answers = {
        "old": Reply(200, {"id": "1", "slug": "old", "name": "old"}),
        "noscope": Reply(403, {"detail": "You do not have permission to perform this action."}),
    }
    fake.org_details = lambda r: answers[r.path.strip("/").split("/")[-1]]
    with (
        caplog.at_level(logging.DEBUG, logger="reconciler.client"),
        _client(fake.url, ftime, token=DEFAULT) as client,
    ):
        client.list_sources("old", "web")
        client.list_sources("noscope", "web")
        assert client.served_by("noscope") == fake.url
    assert len(fake.requests) == 2
    assert "noscope: the token may not read the organization's details" in caplog.text


def test_without_discovery_nothing_is_looked_up(fake, ftime):
    with _client(fake.url, ftime, token=DEFAULT, region_discovery=False) as client:
        client.list_sources("acme", "ios")
        assert client.served_by("acme") == fake.url
    assert fake.lookups == [] and len(fake.requests) == 1


def test_the_verbose_log_says_which_url_serves_each_organization(fake, region_a, ftime, caplog):
    fake.org_details = _details({"acme": region_a.url})
    with (
        caplog.at_level(logging.DEBUG, logger="reconciler.client"),
        _client(fake.url, ftime, own_tokens={"acme": TOKEN_A}) as client,
    ):
        client.list_sources("acme", "ios")
    assert f"acme: served by {region_a.url} (links.regionUrl of GET {fake.url}" in caplog.text
    assert TOKEN_A not in caplog.text


def test_each_token_is_paced_in_its_own_window(fake, ftime):
    """Sentry keys a window by the token's owner: one token's window used up holds its own
    organization's requests, never another token's."""
    with _client(fake.url, ftime, own_tokens={"acme": TOKEN_A, "beta": TOKEN_B}) as client:
        transport = client._transport
        pacer_a = transport.pacer_for(Secret(TOKEN_A))
        pacer_b = transport.pacer_for(Secret(TOKEN_B))
        assert pacer_a is not pacer_b
        assert transport.pacer_for(Secret(TOKEN_A)) is pacer_a
        # acme's window: one request allowed, used, and the reset 30 s away.
        ticket = pacer_a.ticket()
        pacer_a.join("acme", ticket)
        permit = pacer_a.poll("acme", ticket)
        assert isinstance(permit, Permit)
        headers = {
            "X-Sentry-Rate-Limit-Limit": "1",
            "X-Sentry-Rate-Limit-Remaining": "0",
            "X-Sentry-Rate-Limit-Reset": str(int(ftime.now) + 30),
        }
        pacer_a.answered(permit, 200, headers)
        held = pacer_a.ticket()
        pacer_a.join("acme", held)
        assert not isinstance(pacer_a.poll("acme", held), Permit)  # acme waits for its reset
        pacer_a.leave("acme", held)
        free = pacer_b.ticket()
        pacer_b.join("beta", free)
        assert isinstance(pacer_b.poll("beta", free), Permit)  # beta goes at once


def test_a_client_needs_some_token():
    with pytest.raises(SymsyncError, match="SENTRY_AUTH_TOKEN is not set"):
        SentryClient("https://sentry.io", None)
