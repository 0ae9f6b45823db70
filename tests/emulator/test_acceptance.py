"""Acceptance checks of the emulator against Sentry's own code, beyond the conformance table
(test_conformance.py).

Each test names the behaviour it checks; the comment above it says what Sentry does, and names
the Sentry or DRF code it follows where that helps. A name that says unverified marks a
behaviour read from Sentry's code and not confirmed against a live server. Everything is driven
over HTTP.
"""

from __future__ import annotations

import base64
import contextlib
import json
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator

import pytest
import requests

from reconciler.emulator.testing import EmulatorHandle, running_emulator, serving_emulator
from tests.support.emulator_support import (
    AUTH,
    ORG,
    PLACEHOLDER,
    http_source,
    internal_error,
    redacted,
    s3_source,
    state_of,
    stored_sources,
)

WEB = http_source("web", password="web-password")
S3 = s3_source("bucket")
FORM = "application/x-www-form-urlencoded"


def _url(handle: EmulatorHandle, project: str, query: str = "") -> str:
    base = f"{handle.url}/api/0/projects/{ORG}/{project}/symbol-sources/"
    return f"{base}?{query}" if query else base


@pytest.fixture(params=["a", "b"])
def both(request: pytest.FixtureRequest) -> Iterator[EmulatorHandle]:
    projects = {name: [dict(WEB), dict(S3)] for name in ("p1", "p2", "p3", "p4", "p5")}
    with serving_emulator(state_of(projects), generation=request.param) as handle:
        yield handle


# --- Unknown routes: Sentry's CatchallEndpoint (src/sentry/api/endpoints/catchall.py) -------


def test_api_path_without_trailing_slash_is_404_with_a_plain_text_hint() -> None:
    with serving_emulator(state_of({"ios": []})) as handle:
        response = requests.get(_url(handle, "ios").rstrip("/"), headers=AUTH, timeout=10)
    assert response.status_code == 404
    assert response.headers["Content-Type"] == "text/plain"
    path = f"/api/0/projects/{ORG}/ios/symbol-sources"
    assert response.text.startswith(
        f"Route not found, did you forget a trailing slash?\n\ntry: {path}/\n"
    )


def test_api_path_without_trailing_slash_answers_json_to_a_json_request() -> None:
    with serving_emulator(state_of({"ios": []})) as handle:
        response = requests.post(
            _url(handle, "ios").rstrip("/"), json=http_source("x"), headers=AUTH, timeout=10
        )
        stored = stored_sources(handle, "ios")
    assert response.status_code == 404
    path = f"/api/0/projects/{ORG}/ios/symbol-sources"
    assert response.json() == {
        "info": f"Route not found, did you forget a trailing slash? try: {path}/"
    }
    assert stored == []  # nothing was written


def test_unknown_api_route_is_an_empty_404_without_auth() -> None:
    with serving_emulator(state_of({"ios": []})) as handle:
        response = requests.get(f"{handle.url}/api/0/no/such/route/", timeout=10)
    assert response.status_code == 404  # not 401: the catch-all view has no permission classes
    assert response.content == b""


# --- Request bodies: Sentry's DRF parsers are JSON, multipart and form ----------------------


# A body that is not valid JSON is DRF's ParseError; DRF rejects NaN (strict JSON).
def test_nan_in_a_json_body_is_400_json_parse_error_naming_the_constant(
    both: EmulatorHandle,
) -> None:
    response = requests.post(
        _url(both, "p1"),
        data=b'{"id": "x", "type": "http", "url": NaN}',
        headers={**AUTH, "Content-Type": "application/json"},
        timeout=10,
    )
    assert response.status_code == 400
    assert response.json() == {
        "detail": "JSON parse error - Out of range float values are not JSON compliant: 'NaN'"
    }


# A form body without an id (Gen A generates one): DRF's FormParser gives an immutable
# QueryDict, and assigning the generated id raises.
def test_gen_a_form_post_without_id_is_a_500() -> None:
    with serving_emulator(state_of({"ios": []})) as handle:
        response = requests.post(
            _url(handle, "ios"),
            data="type=http&url=x",
            headers={**AUTH, "Content-Type": FORM},
            timeout=10,
        )
        assert stored_sources(handle, "ios") == []
    assert response.status_code == 500
    assert internal_error(response.json())


# Gen A: POST validation failures are an empty 400 (a form value is never a layout object).
def test_gen_a_form_post_with_id_is_an_empty_400() -> None:
    with serving_emulator(state_of({"ios": []})) as handle:
        response = requests.post(
            _url(handle, "ios"),
            data="id=x&type=http&url=x",
            headers={**AUTH, "Content-Type": FORM},
            timeout=10,
        )
        assert stored_sources(handle, "ios") == []
    assert (response.status_code, response.content) == (400, b"")


# Gen A: the PUT message is the repr of the whole list, and Django prints a QueryDict.
def test_gen_a_form_put_message_shows_the_query_dict_with_its_secret_redacted() -> None:
    with serving_emulator(state_of({"ios": [dict(WEB)]})) as handle:
        response = requests.put(
            _url(handle, "ios", "id=web"),
            data="id=web&type=http&url=x&password=SENTINEL-form",
            headers={**AUTH, "Content-Type": FORM},
            timeout=10,
        )
        assert stored_sources(handle, "ios") == [WEB]
    assert response.status_code == 400
    assert response.json() == {
        "error": "Failed to validate source [<QueryDict: {'id': ['web'], 'type': ['http'], "
        "'url': ['x'], 'password': [{'hidden-secret': True}]}>]"
    }


# Gen B copies the body into a dict first, so a form is validated like JSON.
def test_gen_b_form_post_is_validated_by_the_serializer() -> None:
    with serving_emulator(state_of({"ios": []}), generation="b") as handle:
        response = requests.post(
            _url(handle, "ios"),
            data="id=x&type=http&url=x",
            headers={**AUTH, "Content-Type": FORM},
            timeout=10,
        )
    assert response.status_code == 400
    assert response.json() == {"error": "Invalid http source: layout: This field is required."}


def test_multipart_without_boundary_is_400_parse_error() -> None:
    with serving_emulator(state_of({"ios": []})) as handle:
        response = requests.post(
            _url(handle, "ios"),
            data=b"--x\r\n",
            headers={**AUTH, "Content-Type": "multipart/form-data"},
            timeout=10,
        )
    assert response.status_code == 400
    assert response.json() == {
        "detail": "Multipart form parse error - Invalid boundary in multipart: None"
    }


def test_multipart_fields_reach_the_handler_like_a_form() -> None:
    with serving_emulator(state_of({"ios": []})) as handle:
        response = requests.post(
            _url(handle, "ios"),
            files={"id": (None, "x"), "type": (None, "http")},
            headers=AUTH,
            timeout=10,
        )
    assert (response.status_code, response.content) == (400, b"")


def test_a_large_json_body_is_read_whole_and_stored() -> None:
    big = http_source("big", name="n" * 3_000_000)
    with serving_emulator(state_of({"ios": []})) as handle:
        response = requests.post(_url(handle, "ios"), json=big, headers=AUTH, timeout=30)
        assert response.status_code == 201
        assert stored_sources(handle, "ios") == [big]


# --- Auth: DRF's BasicAuthentication under Sentry's ApiKeyAuthentication --------------------


def _basic(raw: bytes) -> str:
    return "Basic " + base64.b64encode(raw).decode()


@pytest.mark.parametrize(
    ("header", "message"),
    [
        ("Basic", "Invalid basic header. No credentials provided."),
        ("Basic a b", "Invalid basic header. Credentials string should not contain spaces."),
        (_basic(b"no-colon"), "Invalid basic header. Credentials not correctly base64 encoded."),
        (_basic(b"legacy-key:"), "API key is not valid"),
        (_basic(b"user:password"), "Authentication credentials were not provided."),
    ],
)
def test_basic_auth_answers_401_with_drf_messages(header: str, message: str) -> None:
    with serving_emulator(state_of({"ios": []})) as handle:
        response = requests.get(_url(handle, "ios"), headers={"Authorization": header}, timeout=10)
    assert response.status_code == 401
    assert response.json() == {"detail": message}


# --- Renames ---------------------------------------------------------------------------------


def test_put_renaming_onto_another_stored_id_is_400_duplicate(both: EmulatorHandle) -> None:
    response = requests.put(
        _url(both, "p1", "id=web"),
        json=http_source("bucket", password="x"),
        headers=AUTH,
        timeout=10,
    )
    assert response.status_code == 400
    assert response.json() == {"error": "Duplicate source id: bucket"}
    assert stored_sources(both, "p1") == [WEB, S3]


def test_put_rename_replaces_in_place_and_the_old_id_is_gone(both: EmulatorHandle) -> None:
    new = http_source("renamed", password="new-password")
    response = requests.put(_url(both, "p2", "id=web"), json=new, headers=AUTH, timeout=10)
    assert (response.status_code, response.json()) == (200, redacted(new))
    assert stored_sources(both, "p2") == [new, S3]
    gone = requests.get(_url(both, "p2", "id=web"), headers=AUTH, timeout=10)
    assert (gone.status_code, gone.json()) == (404, {"error": "Unknown source id: web"})


# POST never backfills a secret placeholder, in either generation.
def test_post_with_a_placeholder_never_backfills(both: EmulatorHandle) -> None:
    body = http_source("web2", password=PLACEHOLDER)
    response = requests.post(_url(both, "p3"), json=body, headers=AUTH, timeout=10)
    assert response.status_code == 400
    assert stored_sources(both, "p3") == [WEB, S3]


# Every answer is redacted, storage keeps the plaintext in order.
def test_every_answer_is_redacted_and_storage_keeps_plaintext(both: EmulatorHandle) -> None:
    sentinel = "pw-SENTINEL-acc"
    new = http_source("third", password=sentinel)
    answers = [
        requests.post(_url(both, "p4"), json=new, headers=AUTH, timeout=10),
        requests.put(_url(both, "p4", "id=third"), json=new, headers=AUTH, timeout=10),
        requests.get(_url(both, "p4"), headers=AUTH, timeout=10),
        requests.get(_url(both, "p4", "id=third"), headers=AUTH, timeout=10),
    ]
    assert [a.status_code for a in answers] == [201, 200, 200, 200]
    assert all(sentinel not in a.text for a in answers)
    assert answers[0].json() == answers[1].json() == redacted(new)
    assert answers[3].json() == [redacted(new)]
    assert stored_sources(both, "p4") == [WEB, S3, new]
    assert sentinel in json.dumps(both.state())


# --- Operation -------------------------------------------------------------------------------


def test_malformed_http_is_answered_400_and_the_server_keeps_serving() -> None:
    with serving_emulator(state_of({"ios": []})) as handle:
        host, port = handle.url.removeprefix("http://").split(":")
        for raw in (
            b"NOT HTTP AT ALL\r\n\r\n",
            b"POST /api/0/x/ HTTP/1.1\r\nHost: x\r\nContent-Length: nope\r\n\r\n",
            b"POST /api/0/x/ HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        ):
            with socket.create_connection((host, int(port)), timeout=5) as sock:
                sock.sendall(raw)
                answer = sock.recv(4096)
            assert answer.startswith(b"HTTP/1.") and b" 400 " in answer.split(b"\r\n")[0]
        response = requests.get(_url(handle, "ios"), headers=AUTH, timeout=10)
    assert (response.status_code, response.json()) == (200, [])


@pytest.mark.e2e
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_stops_quickly_with_keep_alive_clients_and_a_request_in_flight(
    sig: signal.Signals,
) -> None:
    """The emulator stops at the signal: it waits neither for an idle keep-alive connection
    nor for the answer to a request in flight, which would take a minute."""
    with running_emulator("--latency-ms", "60000", state=state_of({"ios": []})) as emu:
        assert emu.process is not None
        host, port = emu.url.removeprefix("http://").split(":")
        idle = socket.create_connection((host, int(port)), timeout=5)
        busy = socket.create_connection((host, int(port)), timeout=10)
        request = f"GET /api/0/projects/{ORG}/ios/symbol-sources/ HTTP/1.1\r\nHost: x\r\n"
        headers = "Authorization: Bearer symsync-emulator\r\nExpect: 100-continue\r\n"
        busy.sendall(f"{request}{headers}\r\n".encode())
        # The interim answer comes once the emulator has read the request: it is in flight.
        assert busy.recv(4096).startswith(b"HTTP/1.1 100 ")
        emu.process.send_signal(sig)
        assert emu.process.wait(timeout=30) == 0  # not the minute the answer would take
        with contextlib.suppress(ConnectionResetError):
            assert busy.recv(4096) == b"", "the request in flight was answered before the stop"
        idle.close()
        busy.close()
        assert "Traceback" not in emu.stderr()


@pytest.mark.e2e
def test_listening_line_comes_first_and_is_flushed_without_unbuffered_env() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "reconciler", "emulator", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": ":".join(sys.path)},
    )
    try:
        assert process.stdout is not None
        line: list[bytes] = []
        reader = threading.Thread(target=lambda: line.append(process.stdout.readline()))  # type: ignore[union-attr]
        reader.start()
        reader.join(timeout=10)
        assert line and line[0].startswith(b"listening on http://127.0.0.1:")
        url = line[0].decode().split()[-1]
        answer = requests.get(url + f"/api/0/projects/{ORG}/x/symbol-sources/", timeout=5)
        assert answer.status_code == 401
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
        stderr = process.stderr.read() if process.stderr else b""
        process.stdout and process.stdout.close()
        process.stderr and process.stderr.close()
    assert b"Traceback" not in stderr


@pytest.mark.e2e
def test_host_option_binds_the_given_loopback_address() -> None:
    with running_emulator("--host", "127.0.0.2", state=state_of({"ios": [dict(WEB)]})) as emu:
        assert emu.url.startswith("http://127.0.0.2:")
        response = requests.get(
            emu.url + f"/api/0/projects/{ORG}/ios/symbol-sources/", headers=AUTH, timeout=10
        )
        assert (response.status_code, response.json()) == (200, [redacted(WEB)])
        port = int(emu.url.rsplit(":", 1)[1])
        with pytest.raises(OSError):  # not bound on 127.0.0.1
            socket.create_connection(("127.0.0.1", port), timeout=2).close()


# "?id=" (empty) on every method, in both generations.
@pytest.mark.parametrize(
    ("method", "gen_a", "gen_b"),
    [
        ("GET", (200, None), (200, None)),
        ("POST", (201, None), (201, None)),
        ("PUT", (404, "Unknown source id: "), (400, "Missing source id")),
        ("DELETE", (404, "Missing source id"), (400, "Missing source id")),
    ],
)
def test_empty_id_parameter_on_every_method(
    both: EmulatorHandle,
    request: pytest.FixtureRequest,
    method: str,
    gen_a: tuple[int, str | None],
    gen_b: tuple[int, str | None],
) -> None:
    generation = request.node.callspec.params["both"]
    status, message = gen_b if generation == "b" else gen_a
    body = http_source("new-one") if method in ("POST", "PUT") else None
    response = requests.request(
        method, _url(both, "p5", "id="), json=body, headers=AUTH, timeout=10
    )
    assert response.status_code == status
    if message is not None:
        assert response.json() == {"error": message}
    expected = [WEB, S3, body] if method == "POST" else [WEB, S3]
    assert stored_sources(both, "p5") == expected
    if method == "GET":
        assert response.json() == [redacted(WEB), redacted(S3)]


# Sentry's OrganizationProjectsEndpoint: ``all_projects=1`` skips pagination.
def test_org_projects_all_projects_answers_every_project_without_a_link() -> None:
    projects = {f"p{i:03d}": [] for i in range(130)}
    with serving_emulator(state_of(projects)) as handle:
        response = requests.get(
            f"{handle.url}/api/0/organizations/{ORG}/projects/?all_projects=1",
            headers=AUTH,
            timeout=10,
        )
    assert response.status_code == 200
    assert [p["slug"] for p in response.json()] == sorted(projects)
    assert "Link" not in response.headers


# The emulator's project list: following rel="next" with per_page walks every project exactly once.
def test_org_projects_following_next_visits_every_project_once() -> None:
    projects = {f"p{i:03d}": [] for i in range(205)}
    with serving_emulator(state_of(projects)) as handle:
        url: str | None = f"{handle.url}/api/0/organizations/{ORG}/projects/?per_page=40"
        seen: list[str] = []
        pages = 0
        while url is not None:
            response = requests.get(url, headers=AUTH, timeout=10)
            assert response.status_code == 200
            page = response.json()
            assert all({"id", "slug", "name"} <= set(p) for p in page)
            seen += [p["slug"] for p in page]
            pages += 1
            links = response.links
            assert set(links) == {"previous", "next"}
            assert links["previous"]["results"] == ("true" if pages > 1 else "false")
            url = links["next"]["url"] if links["next"]["results"] == "true" else None
    assert seen == sorted(projects)
    assert pages == 6


def test_a_body_shorter_than_its_huge_content_length_is_400_without_allocating_it() -> None:
    with serving_emulator(state_of({"ios": []})) as handle:
        host, port = handle.url.removeprefix("http://").split(":")
        head = (
            f"POST /api/0/projects/{ORG}/ios/symbol-sources/ HTTP/1.1\r\nHost: x\r\n"
            "Content-Type: application/json\r\nAuthorization: Bearer symsync-emulator\r\n"
            "Content-Length: 1000000000000\r\n\r\n{}"
        )
        with socket.create_connection((host, int(port)), timeout=5) as sock:
            sock.sendall(head.encode())
            sock.shutdown(socket.SHUT_WR)
            answer = sock.recv(4096)
        assert answer.split(b"\r\n")[0] == b"HTTP/1.1 400 Bad Request"
        assert answer.endswith(b'{"detail":"Malformed request body."}')
        assert "MemoryError" not in handle.stderr()
        assert stored_sources(handle, "ios") == []
