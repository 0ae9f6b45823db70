"""SentryClient against a scripted loopback server: wire format, retries, confirmed writes,
error messages and secrecy. Time is faked: no test sleeps."""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reconciler import __version__
from reconciler.core.errors import SymsyncError
from reconciler.core.redact import redact_data, redact_text, truncate
from reconciler.sentry.client import AccountWideError, SentryAPIError, SentryClient
from reconciler.sentry.errors import OrganizationError
from reconciler.sentry.settings import ConnectionSettings
from tests.support.fake_sentry import CLIENT_TOKEN, Recorded, Reply

TOKEN = CLIENT_TOKEN
SECRET = "PASSWORD-SENTINEL-42"
BASE = "/api/0/projects/acme/ios/symbol-sources/"

HTTP_SOURCE = {
    "id": "acme-symbols",
    "type": "http",
    "name": "ACME",
    "url": "https://symbols.acme.example/",
    "layout": {"type": "native", "casing": "default"},
    "username": "ci",
    "password": SECRET,
}
HTTP_REDACTED = {**HTTP_SOURCE, "password": {"hidden-secret": True}}
UNKNOWN_SOURCE = Reply(404, {"error": "Unknown source id: acme-symbols"})


# ------------------------------------------------------------------------------ wire format


def test_every_request_carries_token_user_agent_and_json(client, fake):
    fake.add(Reply(200, [HTTP_REDACTED]), Reply(201, HTTP_REDACTED))
    assert client.list_sources("acme", "ios") == [HTTP_REDACTED]
    client.create_source("acme", "ios", HTTP_SOURCE)
    for recorded in fake.requests:
        assert recorded.headers["Authorization"] == f"Bearer {TOKEN}"
        assert recorded.headers["User-Agent"] == f"symsync/{__version__}"
    post = fake.requests[1]
    assert post.method == "POST" and post.raw_path == BASE
    assert post.headers["Content-Type"] == "application/json"
    assert post.json() == HTTP_SOURCE


def test_a_netrc_entry_does_not_replace_the_token(fake, ftime, tmp_path, monkeypatch):
    netrc = tmp_path / "netrc"
    netrc.write_text("machine 127.0.0.1 login someone password other\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    with SentryClient(fake.url, TOKEN, sleep=ftime.sleep, jitter=ftime.jitter) as c:
        c.list_sources("acme", "ios")
    assert fake.requests[0].headers["Authorization"] == f"Bearer {TOKEN}"


@pytest.mark.parametrize(
    ("org", "project", "source_id", "raw"),
    [
        (
            "a b/c",
            "p?q#r&s",
            "x y/z?&#=é+",
            "/api/0/projects/a%20b%2Fc/p%3Fq%23r%26s/symbol-sources/?id=x%20y%2Fz%3F%26%23%3D%C3%A9%2B",
        ),
        ("acme", "ios", "..", "/api/0/projects/acme/ios/symbol-sources/?id=.."),
        ("ünï", "çødé", "日本", None),
    ],
)
def test_paths_and_id_are_url_encoded(client, fake, org, project, source_id, raw):
    fake.default = Reply(204)
    client.delete_source(org, project, source_id)
    recorded = fake.requests[0]
    if raw is not None:
        assert recorded.raw_path == raw
    from urllib.parse import unquote

    segments = recorded.path.split("/")
    assert [unquote(s) for s in segments[4:6]] == [org, project]
    assert recorded.query == {"id": [source_id]}


def test_base_url_may_have_a_path_prefix(fake, ftime):
    with SentryClient(fake.url + "/sentry/", TOKEN, sleep=ftime.sleep, jitter=ftime.jitter) as c:
        c.list_sources("acme", "ios")
    assert fake.requests[0].raw_path == "/sentry" + BASE


def test_get_source_unwraps_the_one_element_list(client, fake):
    fake.add(Reply(200, [HTTP_REDACTED]))
    assert client.get_source("acme", "ios", "acme-symbols") == HTTP_REDACTED
    assert fake.requests[0].query == {"id": ["acme-symbols"]}


def test_get_source_unknown_id_is_none(client, fake):
    fake.add(Reply(404, {"error": "Unknown source id: nope"}))
    assert client.get_source("acme", "ios", "nope") is None
    assert len(fake.requests) == 1


def test_get_source_on_unknown_project_raises(client, fake):
    fake.default = Reply(404, {"detail": "The requested resource does not exist"})
    with pytest.raises(SentryAPIError) as info:
        client.get_source("acme", "nope", "x")
    assert info.value.status == 404
    assert "project `nope`" in str(info.value)


def test_update_and_delete_send_id_in_query(client, fake):
    fake.add(Reply(200, HTTP_REDACTED), Reply(204))
    body = {**HTTP_SOURCE, "password": {"hidden-secret": True}}
    assert client.update_source("acme", "ios", "acme-symbols", body) == HTTP_REDACTED
    client.delete_source("acme", "ios", "acme-symbols")
    put, delete = fake.requests
    assert (put.method, put.query, put.json()) == ("PUT", {"id": ["acme-symbols"]}, body)
    assert (delete.method, delete.query) == ("DELETE", {"id": ["acme-symbols"]})


def test_list_projects_follows_cursor_links(client, fake):
    def link(cursor: str, results: str) -> dict[str, str]:
        url = f"{fake.url}/api/0/organizations/acme/projects/?&cursor={cursor}"
        return {
            "Link": f'<{url}>; rel="previous"; results="false"; cursor="0:0:1", '
            f'<{url}>; rel="next"; results="{results}"; cursor="{cursor}"'
        }

    fake.add(
        Reply(200, [{"slug": "a"}, {"slug": "b"}], link("0:2:0", "true")),
        Reply(200, [{"slug": "c"}], link("0:3:0", "true")),
        Reply(200, [{"slug": "d"}], link("0:4:0", "false")),
    )
    projects = client.list_projects("acme")
    assert [p["slug"] for p in projects] == ["a", "b", "c", "d"]
    assert [r.query.get("cursor") for r in fake.requests] == [None, ["0:2:0"], ["0:3:0"]]
    assert all(r.path == "/api/0/organizations/acme/projects/" for r in fake.requests)


# ------------------------------------------------------------------- confirmed uncertain writes


@pytest.mark.parametrize(
    "duplicate",
    [Reply(400), Reply(400, {"error": "Duplicate source id: acme-symbols"})],
    ids=["gen-a-empty-400", "gen-b-error-400"],
)
@pytest.mark.parametrize(
    "first",
    [Reply(500, {"detail": "Internal Error"}), Reply(drop=True), Reply(502)],
    ids=["500-after-commit", "dropped", "502"],
)
def test_post_landing_after_its_settling_read_is_confirmed_by_get(client, fake, duplicate, first):
    # The read finds nothing yet, so the POST goes again, and its "duplicate" is read back.
    fake.add(first, UNKNOWN_SOURCE, duplicate, Reply(200, [HTTP_REDACTED]))
    assert client.create_source("acme", "ios", HTTP_SOURCE) == HTTP_REDACTED
    assert fake.methods() == ["POST", "GET", "POST", "GET"]
    assert fake.requests[1].query == {"id": ["acme-symbols"]}
    assert fake.requests[3].query == {"id": ["acme-symbols"]}


@pytest.mark.parametrize(
    "first",
    [Reply(500, {"detail": "Internal Error"}), Reply(drop=True), Reply(502)],
    ids=["500-after-commit", "dropped", "502"],
)
def test_post_found_by_its_settling_read_is_not_sent_again(client, fake, first):
    fake.add(first, Reply(200, [HTTP_REDACTED]))
    assert client.create_source("acme", "ios", HTTP_SOURCE) == HTTP_REDACTED
    assert fake.methods() == ["POST", "GET"]


def test_post_that_exhausts_retries_on_500_is_confirmed(fake, ftime):
    fake.add(Reply(500), UNKNOWN_SOURCE, Reply(500), Reply(200, [HTTP_REDACTED]))
    with SentryClient(fake.url, TOKEN, max_retries=1, sleep=ftime.sleep, jitter=ftime.jitter) as c:
        assert c.create_source("acme", "ios", HTTP_SOURCE) == HTTP_REDACTED
    assert fake.methods() == ["POST", "GET", "POST", "GET"]


def test_post_first_attempt_400_is_a_real_failure(client, fake):
    fake.add(Reply(400))
    with pytest.raises(SentryAPIError) as info:
        client.create_source("acme", "ios", HTTP_SOURCE)
    assert info.value.status == 400
    assert "Sentry rejected the source without a reason; run `symsync validate`" in str(info.value)
    assert "may still have been written" not in str(info.value)
    assert fake.methods() == ["POST"]


def test_post_duplicate_with_other_content_is_reported(client, fake):
    other = {**HTTP_REDACTED, "url": "https://elsewhere.example/"}
    fake.add(Reply(500), Reply(200, [other]), Reply(400), Reply(200, [other]))
    with pytest.raises(SentryAPIError) as info:
        client.create_source("acme", "ios", HTTP_SOURCE)
    assert "already exists" in str(info.value) and "other content" in str(info.value)
    assert fake.methods() == ["POST", "GET", "POST", "GET"]


@pytest.mark.parametrize("body_id", [None, "renamed"])
def test_put_must_keep_the_id(client, fake, body_id):
    body = {k: v for k, v in HTTP_REDACTED.items() if k != "id"}
    if body_id:
        body["id"] = body_id
    with pytest.raises(SymsyncError, match="must carry the same `id`"):
        client.update_source("acme", "ios", "acme-symbols", body)
    assert fake.requests == []


def test_post_uncertain_then_400_for_an_absent_source_is_the_400(client, fake):
    fake.add(Reply(503), UNKNOWN_SOURCE, Reply(400), UNKNOWN_SOURCE)
    fake.default = Reply(404, {"error": "Unknown source id: acme-symbols"})
    with pytest.raises(SentryAPIError) as info:
        client.create_source("acme", "ios", HTTP_SOURCE)
    assert info.value.status == 400
    assert fake.methods().count("POST") == 2


def test_post_without_id_is_refused_before_sending(client, fake):
    with pytest.raises(SymsyncError):
        client.create_source("acme", "ios", {"type": "http"})
    assert fake.requests == []


def test_put_retried_after_500_is_resent_identically(client, fake):
    body = {**HTTP_SOURCE, "password": {"hidden-secret": True}}
    old = {**HTTP_REDACTED, "name": "Old"}
    fake.add(Reply(500), Reply(200, [old]), Reply(200, HTTP_REDACTED))
    assert client.update_source("acme", "ios", "acme-symbols", body) == HTTP_REDACTED
    assert fake.methods() == ["PUT", "GET", "PUT"]  # the read found the old source
    assert [r.json() for r in fake.requests if r.method == "PUT"] == [body, body]


def test_put_found_by_its_settling_read_is_not_sent_again(client, fake):
    body = {**HTTP_SOURCE, "password": {"hidden-secret": True}}
    fake.add(Reply(502), Reply(200, [HTTP_REDACTED]))
    assert client.update_source("acme", "ios", "acme-symbols", body) == HTTP_REDACTED
    assert fake.methods() == ["PUT", "GET"]


def test_put_exhausted_after_uncertain_attempts_is_confirmed(fake, ftime):
    body = {**HTTP_SOURCE, "password": {"hidden-secret": True}}
    old = {**HTTP_REDACTED, "name": "Old"}
    fake.add(Reply(500), Reply(200, [old]), Reply(500), Reply(200, [HTTP_REDACTED]))
    with SentryClient(fake.url, TOKEN, max_retries=1, sleep=ftime.sleep, jitter=ftime.jitter) as c:
        assert c.update_source("acme", "ios", "acme-symbols", body) == HTTP_REDACTED
    assert fake.methods() == ["PUT", "GET", "PUT", "GET"]


def test_put_with_a_new_secret_value_is_not_confirmed_by_presence(fake, ftime):
    fake.add(Reply(500), Reply(500), Reply(200, [HTTP_REDACTED]))
    c = SentryClient(fake.url, TOKEN, max_retries=1, sleep=ftime.sleep, jitter=ftime.jitter)
    with c, pytest.raises(SentryAPIError) as info:
        c.update_source("acme", "ios", "acme-symbols", HTTP_SOURCE)
    assert info.value.status == 500 and info.value.uncertain
    assert fake.methods() == ["PUT", "PUT"]
    # The user learns the write may have landed (the new value cannot be read back).
    assert "an earlier attempt may still have been written" in str(info.value)
    assert SECRET not in str(info.value)


def test_delete_retry_finding_it_gone_is_success(client, fake):
    fake.add(Reply(500), Reply(200, [HTTP_REDACTED]), UNKNOWN_SOURCE, Reply(200, []))
    client.delete_source("acme", "ios", "acme-symbols")
    assert fake.methods() == ["DELETE", "GET", "DELETE", "GET"]
    assert fake.requests[3].query == {}


def test_delete_found_done_by_its_settling_read_is_not_sent_again(client, fake):
    fake.add(Reply(503), Reply(200, []))
    client.delete_source("acme", "ios", "acme-symbols")
    assert fake.methods() == ["DELETE", "GET"]


def test_delete_first_attempt_404_is_a_failure(client, fake):
    fake.add(Reply(404, {"error": "Unknown source id: acme-symbols"}))
    with pytest.raises(SentryAPIError) as info:
        client.delete_source("acme", "ios", "acme-symbols")
    assert info.value.status == 404
    assert "source `acme-symbols` does not exist in acme/ios" in str(info.value)


def test_delete_retry_404_but_project_still_lists_it_is_a_failure(client, fake):
    fake.add(Reply(503), Reply(404), Reply(200, [HTTP_REDACTED]))
    with pytest.raises(SentryAPIError):
        client.delete_source("acme", "ios", "acme-symbols")


# ------------------------------------------------------------------------------ error messages


@pytest.mark.parametrize(
    ("method", "status", "body", "expected"),
    [
        ("GET", 401, {"detail": "Invalid token"}, "the token is invalid or expired (GET " + BASE),
        (
            "DELETE",
            403,
            {"detail": "You do not have permission to perform this action."},
            "DELETE needs the `project:admin` scope on acme/ios",
        ),
        ("POST", 403, {"detail": "nope"}, "POST needs the `project:write` scope"),
        ("PUT", 403, {"detail": "nope"}, "PUT needs the `project:write` scope"),
        ("GET", 403, {"detail": "nope"}, "GET needs the `project:read` scope"),
        (
            "GET",
            404,
            {"detail": "The requested resource does not exist"},
            "organization `acme` or project `ios` was not found on 127.0.0.1",
        ),
        ("POST", 400, None, "Sentry rejected the source without a reason; run `symsync validate`"),
        (
            "PUT",
            400,
            None,
            "Sentry rejected the source without a reason; run `symsync validate` (for an update, "
            "also when a secret kept as it is has no stored value",
        ),
        (
            "PUT",
            400,
            {"error": "Duplicate source id: other"},
            "Sentry rejected the request: Sentry says 'Duplicate source id: other'",
        ),
        (
            "GET",
            302,
            {"slug": "ios-new", "detail": {"extra": {"slug": "ios-new"}}},
            "project `acme/ios` was renamed in Sentry to `ios-new`",
        ),
        ("GET", 418, "teapot", "Sentry answered 418"),
        # Gen A says a lost `?id=` with a 404, Gen B with a 400: never "source does not exist".
        (
            "DELETE",
            404,
            {"error": "Missing source id"},
            "Sentry did not receive the source id (`?id=`) that symsync sent for source "
            "`acme-symbols` in acme/ios",
        ),
        ("PUT", 400, {"error": "Missing source id"}, "a proxy in front of 127.0.0.1"),
        (
            "GET",
            500,
            {"detail": "Internal Error", "errorId": "0b7e1c2d9f"},
            "Sentry failed with 500 after 6 attempts: Sentry says 'Internal Error' (Sentry's "
            "error id 0b7e1c2d9f, for its support)",
        ),
        (
            "GET",
            407,
            b"<html>Proxy Authentication Required</html>",
            "a proxy between symsync and 127.0.0.1",
        ),
    ],
)
def test_errors_read_well(client, fake, method, status, body, expected):
    fake.default = Reply(status, body)
    with pytest.raises(SentryAPIError) as info:
        if method == "GET":
            client.list_sources("acme", "ios")
        elif method == "POST":
            client.create_source("acme", "ios", HTTP_SOURCE)
        elif method == "PUT":
            client.update_source("acme", "ios", "acme-symbols", HTTP_REDACTED)
        else:
            client.delete_source("acme", "ios", "acme-symbols")
    err = info.value
    assert expected in str(err)
    assert (err.status, err.method) == (status, method)
    assert err.path.startswith(BASE)
    assert f": {status})" in str(err)


def test_401_mentions_the_variable_and_the_status(client, fake):
    fake.default = Reply(401, {"detail": "Invalid token"})
    with pytest.raises(SentryAPIError) as info:
        client.list_projects("acme")
    assert "SENTRY_AUTH_TOKEN" in str(info.value)
    assert "/api/0/organizations/acme/projects/: 401)" in str(info.value)


def test_404_on_organization_projects(client, fake):
    fake.default = Reply(404, {"detail": "The requested resource does not exist"})
    with pytest.raises(SentryAPIError) as info:
        client.list_projects("nope")
    assert "organization `nope` was not found" in str(info.value)


def test_success_that_is_not_json_is_not_sentry(client, fake):
    fake.default = Reply(200, b"<html>login</html>", {"Content-Type": "text/html"})
    with pytest.raises(AccountWideError) as info:
        client.list_sources("acme", "ios")
    assert "does not answer like Sentry's API: it sent an HTML page" in str(info.value)
    assert "check SENTRY_URL or --url" in str(info.value)


def test_json_of_another_shape_is_reported_for_its_project(client, fake):
    fake.default = Reply(200, {"sources": []})
    with pytest.raises(SentryAPIError) as info:
        client.list_sources("acme", "ios")
    assert not isinstance(info.value, AccountWideError)
    assert "with something other than a list of sources" in str(info.value)


@pytest.mark.parametrize(
    ("reply", "came"),
    [
        (
            Reply(404, b"<html><h1>Not Found</h1></html>", {"Content-Type": "text/html"}),
            "an HTML page",
        ),
        (Reply(404, b"no such page", {"Content-Type": "text/plain"}), "an answer that is not JSON"),
        (Reply(404), "an empty answer"),
        (Reply(404, {"message": "not found"}), "JSON that is not Sentry's"),
    ],
    ids=["html", "text", "empty", "other-json"],
)
def test_a_404_without_sentrys_error_body_means_the_url_is_not_sentrys_api(
    client, fake, reply, came
):
    fake.default = reply
    with pytest.raises(AccountWideError) as info:
        client.list_sources("acme", "ios")
    assert f"does not answer like Sentry's API: it sent {came}" in str(info.value)


@pytest.mark.parametrize(
    "body", [{"detail": "The requested resource does not exist"}, {"error": "nope"}]
)
def test_a_404_from_sentry_is_about_its_project(client, fake, body):
    fake.default = Reply(404, body)
    with pytest.raises(SentryAPIError) as info:
        client.list_sources("acme", "ios")
    assert not isinstance(info.value, AccountWideError)
    assert "organization `acme` or project `ios` was not found" in str(info.value)


def test_a_403_on_a_project_is_about_that_project_and_on_the_organization_about_it(client, fake):
    fake.default = Reply(403, {"detail": "You do not have permission to perform this action."})
    with pytest.raises(SentryAPIError) as info:
        client.list_sources("acme", "ios")
    assert not isinstance(info.value, AccountWideError)
    with pytest.raises(OrganizationError) as org:
        client.list_projects("acme")
    assert not isinstance(org.value, AccountWideError)
    assert org.value.organization == "acme"
    assert "org:read" in str(org.value)
    # The client is not stopped: another organization's requests still go.
    fake.default = Reply(200, [])
    assert client.list_projects("globex") == []


def test_a_403_says_the_role_may_be_the_cause_and_rules_out_organization_tokens(client, fake):
    fake.default = Reply(403, {"detail": "You do not have permission to perform this action."})
    with pytest.raises(SentryAPIError) as info:
        client.update_source("acme", "ios", "acme-symbols", HTTP_SOURCE)
    message = str(info.value)
    assert "needs the `project:write` scope on acme/ios" in message
    assert "if the token has `project:write`, the role of its user in organization `acme`" in (
        message
    )
    assert "a Member cannot change a project's settings" in message
    assert "Organization auth tokens (sntrys_...) cannot be used here at all" in message
    assert TOKEN not in message


def test_an_organization_auth_token_is_named_as_unusable(fake):
    fake.default = Reply(403, {"detail": "You do not have permission to perform this action."})
    org_token = "sntrys_SENTINEL-org-token"
    with (
        SentryClient(fake.url, org_token, sleep=lambda s: None) as org_client,
        pytest.raises(AccountWideError) as info,
    ):
        org_client.list_sources("acme", "ios")
    message = str(info.value)
    assert "SENTRY_AUTH_TOKEN is an organization auth token (sntrys_...)" in message
    assert "`org:ci` scope only" in message
    assert org_token not in message


def test_a_404_on_a_create_names_the_endpoint_not_a_source(client, fake):
    fake.default = Reply(404, {"error": "Not found"})
    with pytest.raises(SentryAPIError) as info:
        client.create_source("acme", "ios", HTTP_SOURCE)
    message = str(info.value)
    assert "Sentry has no symbol-sources endpoint for project acme/ios" in message
    assert "does not exist" not in message and "source `" not in message


def test_a_redirect_to_another_host_is_not_followed_and_says_so(client, fake):
    location = f"https://elsewhere.example/api/0/projects/acme/ios/symbol-sources/?t={TOKEN}"
    fake.default = Reply(302, {"slug": "ios"}, {"Location": location})
    with pytest.raises(AccountWideError) as info:
        client.list_sources("acme", "ios")
    message = str(info.value)
    assert "redirected the request to another host, https://elsewhere.example" in message
    assert "renamed" not in message and TOKEN not in message
    assert len(fake.requests) == 1


def test_a_same_host_redirect_of_a_renamed_project_keeps_its_message(client, fake):
    location = f"{fake.url}/api/0/projects/acme/ios-new/symbol-sources/"
    fake.default = Reply(302, {"slug": "ios-new", "detail": {"extra": {"slug": "ios-new"}}},
                         {"Location": location})  # fmt: skip
    with pytest.raises(SentryAPIError) as info:
        client.list_sources("acme", "ios")
    assert not isinstance(info.value, AccountWideError)
    assert "project `acme/ios` was renamed in Sentry to `ios-new`" in str(info.value)


def test_an_account_wide_error_stops_every_later_request(client, fake):
    fake.default = Reply(401, {"detail": "Invalid token"})
    with pytest.raises(AccountWideError) as first:
        client.list_sources("acme", "ios")
    with pytest.raises(AccountWideError) as later:
        client.create_source("acme", "web", HTTP_SOURCE)
    assert str(later.value) == str(first.value)
    assert len(fake.requests) == 1


def test_missing_token_and_bad_url(monkeypatch):
    monkeypatch.delenv("SENTRY_AUTH_TOKEN", raising=False)
    with pytest.raises(SymsyncError, match="SENTRY_AUTH_TOKEN is not set"):
        SentryClient.from_env()
    monkeypatch.setenv("SENTRY_AUTH_TOKEN", "")
    with pytest.raises(SymsyncError, match="SENTRY_AUTH_TOKEN is not set"):
        SentryClient.from_env()
    monkeypatch.setenv("SENTRY_AUTH_TOKEN", TOKEN)
    with pytest.raises(SymsyncError, match="not a Sentry URL") as info:
        SentryClient.from_env(ConnectionSettings(url="ftp://user:pw@example.com"))
    assert "pw" not in str(info.value)


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("http://127.0.0.1:99999", "its port is not a number from 1 to 65535"),
        ("https://sentry.example.com:port/", "its port is not a number"),
        (f"https://{TOKEN}@sentry.example.com/", "must not carry credentials"),
        (f"https://me:{TOKEN}@sentry.example.com/", "must not carry credentials"),
        (f"https://sentry.example.com/?token={TOKEN}", "must not have a query"),
        ("https://sentry.example.com/#top", "must not have a query (`?`) or a fragment"),
        ("https://sentry example.com", "it contains spaces"),
        ("sentry.example.com", "must start with https://"),
        ("ftp://sentry.example.com", "must start with https://"),
    ],
)
def test_unusable_base_urls_are_refused_before_any_request(url, problem):
    # A query or fragment would end up in front of every path (or drop it), userinfo is a
    # credential in a place that gets printed, and a bad port used to raise a bare ValueError.
    with pytest.raises(SymsyncError) as info:
        SentryClient(url, TOKEN)
    message = str(info.value)
    assert problem in message and "is not a Sentry URL" in message
    assert TOKEN not in message


def test_get_source_picks_its_id_from_a_whole_list(client, fake):
    """A server or proxy that ignores `?id=` answers the whole list: the first element is not
    necessarily the source asked for."""
    other = {**HTTP_REDACTED, "id": "other"}
    fake.add(Reply(200, [other, HTTP_REDACTED]), Reply(200, [other]))
    assert client.get_source("acme", "ios", "acme-symbols") == HTTP_REDACTED
    assert client.get_source("acme", "ios", "acme-symbols") is None


@pytest.mark.parametrize(
    "token",
    ["TOKEN-SENTINEL-4711\r\nX-Injected: 1", "TOKEN-SENTINEL-4711 second", "TOKÉN-SENTINEL-4711"],
)
def test_a_token_that_cannot_be_a_header_is_a_clear_error(tmp_path, token):
    """A pasted token with a line break or a non-ASCII letter used to fail inside http.client
    with a traceback that printed the token."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "SENTRY_AUTH_TOKEN": token, "SENTRY_URL": "http://127.0.0.1:9"}
    for command in (("import", "--org", "acme"), ("plan",)):
        (tmp_path / "configs" / "acme").mkdir(parents=True, exist_ok=True)
        (tmp_path / "configs" / "acme" / "ios.yaml").write_text("sources: []\n")
        proc = subprocess.run(
            [sys.executable, "-m", "reconciler", *command, "--config-dir", "configs"],
            capture_output=True, text=True, env=env, cwd=tmp_path, timeout=60,
        )  # fmt: skip
        assert proc.returncode == 1, proc.stderr
        assert "SENTRY_AUTH_TOKEN holds characters no Sentry auth token has" in proc.stderr
        assert "Traceback" not in proc.stderr
        assert "SENTINEL-4711" not in proc.stdout + proc.stderr


def test_url_precedence(monkeypatch):
    monkeypatch.setenv("SENTRY_AUTH_TOKEN", TOKEN)
    monkeypatch.delenv("SENTRY_URL", raising=False)
    assert SentryClient.from_env().base_url == "https://sentry.io"
    monkeypatch.setenv("SENTRY_URL", "https://sentry.acme.example/")
    assert SentryClient.from_env().base_url == "https://sentry.acme.example"
    assert (
        SentryClient.from_env(ConnectionSettings(url="http://127.0.0.1:9")).base_url
        == "http://127.0.0.1:9"
    )


# --------------------------------------------------------------------------------- secrecy


def _gen_a_message() -> str:
    # What Gen A's PUT validation failure looks like: the repr of the whole list.
    return (
        "Failed to validate source [{'id': 'a', 'type': 'http', 'url': 'https://x', "
        f"'password': '{SECRET}', 'layout': {{'type': 'native'}}}}, "
        f"{{'id': 'b', 'type': 's3', 'secret_key': \"{SECRET}\", 'access_key': 'AK', "
        "'bucket': 'b', 'region': 'us-east-1', 'layout': {'type': 'unified'}, "
        "'private_key': {'hidden-secret': True}}" + ", {'id': 'c'}" * 200 + "]"
    )


def test_no_token_or_secret_in_errors_logs_or_repr(fake, ftime, caplog):
    echo = {
        "error": _gen_a_message(),
        "echo": {"Authorization": f"Bearer {TOKEN}", "password": SECRET},
        "raw": f"token={TOKEN} body password={SECRET}",
    }
    fake.add(Reply(500, echo), Reply(400, echo), Reply(404, echo), Reply(404, echo))
    fake.default = Reply(404, echo)
    caplog.set_level(logging.DEBUG)
    with SentryClient(
        fake.url, TOKEN, sleep=ftime.sleep, jitter=ftime.jitter, clock=ftime.clock
    ) as c:
        assert TOKEN not in repr(c) and TOKEN not in str(vars(c))
        with pytest.raises(SentryAPIError) as info:
            c.update_source("acme", "ios", "acme-symbols", HTTP_SOURCE)
        err = info.value
        texts = [str(err), repr(err), err.body, err.path, caplog.text]
        for text in texts:
            assert TOKEN not in text
            assert SECRET not in text
        assert len(err.body) < 700
        assert "Failed to validate source" in str(err)
        assert "hidden-secret" in err.body
    records = [r for r in caplog.records if r.name == "reconciler.client"]
    assert any(
        "PUT " + BASE + "?id=acme-symbols -> 500 (attempt 1" in r.getMessage() for r in records
    )


def test_secret_echoed_in_a_non_json_error_is_masked(client, fake):
    fake.default = Reply(
        502,
        f"proxy saw Authorization: Bearer {TOKEN} and {SECRET}".encode(),
        {"Content-Type": "text/plain"},
    )
    with pytest.raises(SentryAPIError) as info:
        client.create_source("acme", "ios", HTTP_SOURCE)
    assert TOKEN not in info.value.body and SECRET not in info.value.body
    assert TOKEN not in str(info.value) and SECRET not in str(info.value)


# ------------------------------------------------------------------------------ concurrency


def test_safe_from_many_threads(fake, ftime):
    lock = threading.Lock()
    counter = {"n": 0}

    def respond(recorded: Recorded) -> Reply:
        with lock:
            counter["n"] += 1
            n = counter["n"]
        if n % 5 == 0:
            return Reply(503)
        project = recorded.path.split("/")[5]
        return Reply(200, [{"id": project}])

    fake.default = respond
    with SentryClient(fake.url, TOKEN, sleep=lambda s: None, pool_size=8) as c:
        projects = [f"p{i}" for i in range(64)]
        with ThreadPoolExecutor(8) as pool:
            results = list(pool.map(lambda p: c.list_sources("acme", p), projects))
    assert results == [[{"id": p}] for p in projects]


# ------------------------------------------------------------------------------- redaction

MARK = "Q7XZ"  # in every generated secret, in no other text


@given(
    secret=st.text(
        alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=0, max_size=30
    ).map(lambda s: f"{MARK}{s}{MARK}"),
    field=st.sampled_from(["password", "secret_key", "private_key"]),
)
@settings(max_examples=300, deadline=None)
def test_secret_values_in_reprs_and_json_are_masked_without_knowing_them(secret, field):
    import json

    source = {"id": "a", "type": "http", field: secret, "url": "https://x"}
    texts = [
        f"Failed to validate source [{source!r}, {{'id': 'b'}}]",  # Gen A, Python repr
        json.dumps(source),  # JSON
        json.dumps({"error": f"Failed to validate source [{source!r}]"}),  # repr inside JSON
        json.dumps({"error": json.dumps(source)}),  # JSON inside JSON (escaped quotes)
    ]
    for text in texts:
        assert MARK not in redact_text(text), text
    assert MARK not in json.dumps(redact_data(json.loads(texts[2])))


def test_redaction_keeps_what_is_not_secret():
    text = (
        "Failed to validate source [{'id': 'a', 'username': 'ci', 'password': 'hunter22', "
        "'secret_key': {'hidden-secret': True}, 'access_key': 'AKIA'}]"
    )
    assert redact_text(text) == (
        "Failed to validate source [{'id': 'a', 'username': 'ci', 'password': '***', "
        "'secret_key': {'hidden-secret': True}, 'access_key': 'AKIA'}]"
    )
    assert redact_text("https://user:pa55word@host/x?password=abc&x=1 Bearer abc.def") == (
        "https://user:***@host/x?password=***&x=1 Bearer ***"
    )
    assert redact_text("token sntrys_eyJpYXQiOjE3MDAwMDAw expired") == "token *** expired"
    assert redact_text("Token expired") == "Token expired"
    assert redact_text("a long secret value here", ["secret value"]) == "a long *** here"
    assert redact_data({"password": {"hidden-secret": True}, "private_key": "k"}) == {
        "password": {"hidden-secret": True},
        "private_key": "***",
    }
    assert truncate("x" * 600, 500).endswith("... (100 more characters)")


@given(
    org=st.text(min_size=1, max_size=12),
    project=st.text(min_size=1, max_size=12),
    source_id=st.text(min_size=1, max_size=20),
)
@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_any_org_project_and_id_arrive_intact(fake, ftime, org, project, source_id):
    from urllib.parse import unquote

    fake.requests.clear()
    fake.default = Reply(200, [HTTP_REDACTED])
    with SentryClient(fake.url, TOKEN, sleep=ftime.sleep, jitter=ftime.jitter) as c:
        c.get_source(org, project, source_id)
    recorded = fake.requests[0]
    assert [unquote(s) for s in recorded.path.split("/")[4:6]] == [org, project]
    assert recorded.query == {"id": [source_id]}


# ------------------------------------------------------------------ against the real emulator

EMULATOR_TOKEN = "symsync-emulator"
S3_SECRET = "S3-SECRET-SENTINEL-77"
ROTATED = "ROTATED-SENTINEL-88"


def _seed_state() -> dict:
    return {
        "organizations": {
            "acme": {
                "projects": {
                    "ios": {
                        "symbol_sources": [
                            {
                                "id": "old",
                                "type": "http",
                                "name": "Old",
                                "url": "https://old.example/",
                                "layout": {"type": "native"},
                            },
                            {
                                "id": "keep",
                                "type": "http",
                                "name": "Keep",
                                "url": "https://keep.example/",
                                "layout": {"type": "native", "casing": "default"},
                                "username": "u",
                                "password": "KEEP-SECRET",
                            },
                        ]
                    }
                }
            }
        }
    }


S3_SOURCE = {
    "id": "acme-s3",
    "type": "s3",
    "name": "Release builds",
    "bucket": "acme-symbols",
    "region": "us-east-1",
    "access_key": "AKIAEXAMPLE",
    "secret_key": S3_SECRET,
    "layout": {"type": "unified", "casing": "default"},
}


def _run_writes(url: str) -> list:
    """A plan's worth of writes and reads, as apply would send them."""
    with SentryClient(url, EMULATOR_TOKEN, sleep=lambda s: None) as c:
        created = c.create_source("acme", "ios", HTTP_SOURCE)
        c.create_source("acme", "ios", S3_SOURCE)
        kept = {
            **c.get_source("acme", "ios", "keep"),
            "url": "https://keep.example/v2",
        }
        updated = c.update_source("acme", "ios", "keep", kept)
        c.update_source("acme", "ios", "acme-s3", {**S3_SOURCE, "secret_key": ROTATED})
        c.delete_source("acme", "ios", "old")
        assert c.get_source("acme", "ios", "old") is None
        return [created, updated, c.list_sources("acme", "ios")]


EXPECTED_FINAL = [
    {
        "id": "keep",
        "type": "http",
        "name": "Keep",
        "url": "https://keep.example/v2",
        "layout": {"type": "native", "casing": "default"},
        "username": "u",
        "password": "KEEP-SECRET",
    },
    HTTP_SOURCE,
    {**S3_SOURCE, "secret_key": ROTATED},
]


@pytest.mark.e2e
@pytest.mark.parametrize("generation", ["a", "b"])
def test_writes_against_the_emulator(generation):
    from reconciler.emulator.testing import serving_emulator

    with serving_emulator(_seed_state(), generation=generation) as emulator:
        created, updated, listed = _run_writes(emulator.url)
        final = emulator.state()["organizations"]["acme"]["projects"]["ios"]["symbol_sources"]
        log = emulator.requests()
    assert created == HTTP_REDACTED
    assert updated["password"] == {"hidden-secret": True}
    assert final == EXPECTED_FINAL
    assert [s["id"] for s in listed] == ["keep", "acme-symbols", "acme-s3"]
    assert [(r["method"], r["status"]) for r in log if r["method"] != "GET"] == [
        ("POST", 201), ("POST", 201), ("PUT", 200), ("PUT", 200), ("DELETE", 204)
    ]  # fmt: skip


@pytest.mark.e2e
@pytest.mark.parametrize("generation", ["a", "b"])
# Seeds 3, 6 and 10 hide a committed POST, PUT and DELETE behind a 500 (500-after-write).
@pytest.mark.parametrize("seed", [1, 2, 3, 6, 7, 10])
def test_writes_converge_under_faults(generation, seed):
    from reconciler.emulator.testing import serving_emulator

    with serving_emulator(
        _seed_state(), generation=generation, fault_rate=0.3, fault_seed=seed
    ) as emulator:
        _run_writes(emulator.url)
        final = emulator.state()["organizations"]["acme"]["projects"]["ios"]["symbol_sources"]
        log = emulator.requests()
    assert final == EXPECTED_FINAL
    assert any("fault" in r for r in log)
    committed = [r["method"] for r in log if r["committed"]]
    # Each create and the delete were committed exactly once, whatever the faults hid.
    assert committed.count("POST") == 2
    assert committed.count("DELETE") == 1


@pytest.mark.e2e
def test_renamed_project_is_not_followed_but_explained():
    from reconciler.emulator.testing import serving_emulator

    state = _seed_state()
    state["organizations"]["acme"]["projects"]["ios"]["previous_slugs"] = ["iphone"]
    with serving_emulator(state) as emulator:
        with SentryClient(emulator.url, EMULATOR_TOKEN, sleep=lambda s: None) as c:
            with pytest.raises(SentryAPIError) as info:
                c.delete_source("acme", "iphone", "old")
            assert [s["id"] for s in c.list_sources("acme", "ios")] == ["old", "keep"]
        log = emulator.requests()
    assert info.value.status == 302
    assert "project `acme/iphone` was renamed in Sentry to `ios`" in str(info.value)
    assert [(r["method"], r["status"]) for r in log] == [("DELETE", 302), ("GET", 200)]


def test_a_write_slower_than_the_timeout_is_settled_by_one_read_not_sent_again(fake):
    """The POST is stored at once but answered only after the next request arrives (an event,
    not a sleep): the client times out, reads, finds it, and sends nothing more."""
    stored: list[dict] = []
    next_request = threading.Event()

    def slow_post(recorded: Recorded) -> Reply:
        stored.append(recorded.json())
        next_request.wait(30)
        return Reply(201, HTTP_REDACTED)

    def read(recorded: Recorded) -> Reply:
        next_request.set()
        return Reply(200, [HTTP_REDACTED] if stored else [])

    fake.add(slow_post)
    fake.default = read
    with SentryClient(fake.url, TOKEN, timeout=0.3, sleep=lambda s: None) as c:
        assert c.create_source("acme", "ios", HTTP_SOURCE) == HTTP_REDACTED
    assert fake.methods() == ["POST", "GET"]
    assert len(stored) == 1
