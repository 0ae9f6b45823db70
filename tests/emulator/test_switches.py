"""The emulator's behaviour switches: latency, rate and concurrency limits, faults.

A name or comment that says unverified marks a behaviour read from Sentry's code and not
confirmed against a live server."""

from __future__ import annotations

import contextlib
import threading
import time
from collections import Counter
from typing import Any

import pytest
import requests

from reconciler.emulator import server
from reconciler.emulator.server import FAULT_KINDS, RateLimit
from reconciler.emulator.testing import EmulatorHandle, serving_emulator
from tests.support.emulator_support import AUTH, ORG, http_source, state_of, stored_sources

STATE = state_of({"ios": [http_source("web")]})
SOURCES = f"/api/0/projects/{ORG}/ios/symbol-sources/"


def _get(
    handle: EmulatorHandle, path: str = SOURCES, token: str | None = None
) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else AUTH
    return requests.get(handle.url + path, headers=headers, timeout=10)


class ServerTime:
    """Stands in for the ``time`` module of the emulator's server (in this process): a wall clock
    that moves only when the test moves it, and sleeps (the latency) recorded instead of slept.
    While ``hold`` is set, each sleep waits at that barrier: the requests stay in flight until
    enough of them are. Everything else is the real ``time``."""

    def __init__(self) -> None:
        self.now = 1_700_000_000.0
        self.sleeps: list[float] = []
        self.hold: threading.Barrier | None = None

    def time(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        if self.hold is not None:
            self.hold.wait()

    def __getattr__(self, name: str) -> Any:
        return getattr(time, name)


@pytest.fixture
def server_time(monkeypatch: pytest.MonkeyPatch) -> ServerTime:
    fake = ServerTime()
    monkeypatch.setattr(server, "time", fake)
    return fake


# --- latency ---------------------------------------------------------------------------------


def test_latency_delays_every_api_request(server_time: ServerTime) -> None:
    with serving_emulator(STATE, latency_ms=150) as handle:
        for call in (lambda: _get(handle), lambda: _get(handle, token="bad")):
            before = len(server_time.sleeps)
            call()
            assert server_time.sleeps[before:] == [0.15]  # before the answer was sent


def test_latency_does_not_apply_to_control_endpoints(server_time: ServerTime) -> None:
    with serving_emulator(STATE, latency_ms=500) as handle:
        handle.state()
        handle.requests()
        assert server_time.sleeps == []
        _get(handle)
        assert server_time.sleeps == [0.5]


# --- rate limit ------------------------------------------------------------------------------


def test_rate_limit_headers_count_down_then_429_with_sentry_body(server_time: ServerTime) -> None:
    server_time.now = 1_700_000_030.5  # half way through a 60 s window
    with serving_emulator(STATE, rate_limit=RateLimit(3, 60)) as handle:
        responses = [_get(handle) for _ in range(4)]
    assert [r.status_code for r in responses] == [200, 200, 200, 429]
    assert [r.headers["X-Sentry-Rate-Limit-Remaining"] for r in responses] == ["2", "1", "0", "0"]
    for response in responses:
        assert response.headers["X-Sentry-Rate-Limit-Limit"] == "3"
        assert response.headers["X-Sentry-Rate-Limit-Reset"] == "1700000040"  # the window's end
        assert "Retry-After" not in response.headers
    assert responses[3].headers["Access-Control-Allow-Methods"] == "GET"  # CORS, as Sentry
    assert "Retry-After" in responses[3].headers["Access-Control-Expose-Headers"]
    assert responses[3].json() == {
        "detail": "You are attempting to use this endpoint too frequently. "
        "Limit is 3 requests in 60 seconds"
    }


# Unverified: the rate-limit middleware's 429 is a plain HttpResponse, with Django's default
# content type.
def test_rate_limit_429_content_type_is_text_html_unverified() -> None:
    with serving_emulator(STATE, rate_limit=RateLimit(1, 60)) as handle:
        _get(handle)
        limited = _get(handle)
    assert limited.status_code == 429
    assert limited.headers["Content-Type"].startswith("text/html")


def test_rate_limit_is_per_token() -> None:
    tokens = {"one": frozenset({"project:admin"}), "two": frozenset({"project:admin"})}
    with serving_emulator(STATE, tokens=tokens, rate_limit=RateLimit(2, 60)) as handle:
        assert [_get(handle, token="one").status_code for _ in range(3)] == [200, 200, 429]
        assert _get(handle, token="two").status_code == 200


def test_rate_limit_window_resets(server_time: ServerTime) -> None:
    server_time.now = 1_700_000_000.1
    with serving_emulator(STATE, rate_limit=RateLimit(1, 0.5)) as handle:
        assert _get(handle).status_code == 200
        limited = _get(handle)
        assert limited.status_code == 429
        server_time.now = float(limited.headers["X-Sentry-Rate-Limit-Reset"])
        assert _get(handle).status_code == 200


def test_rate_limit_headers_on_errors_too() -> None:
    with serving_emulator(STATE, rate_limit=RateLimit(5, 60)) as handle:
        response = _get(handle, token="unknown")
    assert response.status_code == 401
    assert response.headers["X-Sentry-Rate-Limit-Limit"] == "5"


def test_no_rate_limit_headers_when_switched_off() -> None:
    with serving_emulator(STATE) as handle:
        response = _get(handle)
    assert not [h for h in response.headers if h.startswith("X-Sentry-Rate-Limit")]


def test_control_endpoints_are_not_rate_limited_nor_recorded() -> None:
    with serving_emulator(STATE, rate_limit=RateLimit(1, 60)) as handle:
        _get(handle)
        for _ in range(5):
            handle.state()
        log = handle.requests()
    assert [entry["path"] for entry in log] == [SOURCES]


# --- concurrency limit -----------------------------------------------------------------------


def _parallel(handle: EmulatorHandle, count: int) -> list[requests.Response]:
    results: list[Any] = [None] * count
    barrier = threading.Barrier(count)

    def run(index: int) -> None:
        barrier.wait()
        results[index] = _get(handle)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def test_concurrent_limit_rejects_requests_over_the_cap(server_time: ServerTime) -> None:
    # Each request waits out its latency until all four are in flight at once.
    server_time.hold = threading.Barrier(4, timeout=10)
    with serving_emulator(STATE, concurrent_limit=2, latency_ms=400) as handle:
        responses = _parallel(handle, 4)
    statuses = Counter(r.status_code for r in responses)
    assert statuses == {200: 2, 429: 2}
    for response in responses:
        assert response.headers["X-Sentry-Rate-Limit-ConcurrentLimit"] == "2"
        assert int(response.headers["X-Sentry-Rate-Limit-ConcurrentRemaining"]) >= 0
    limited = next(r for r in responses if r.status_code == 429)
    assert limited.json() == {
        "detail": "You are attempting to go above the allowed concurrency for this endpoint. "
        "Concurrency limit is 2"
    }


def test_concurrent_limit_frees_slots_when_requests_finish() -> None:
    with serving_emulator(STATE, concurrent_limit=1) as handle:
        assert [_get(handle).status_code for _ in range(3)] == [200, 200, 200]


# --- faults ----------------------------------------------------------------------------------


def _post(handle: EmulatorHandle, source_id: str) -> tuple[int | None, bool]:
    """POSTs one source; returns (status or None if the connection dropped, stored?)."""
    try:
        response = requests.post(
            handle.url + SOURCES, json=http_source(source_id), headers=AUTH, timeout=10
        )
        status: int | None = response.status_code
    except requests.ConnectionError:
        status = None
    stored = any(s["id"] == source_id for s in stored_sources(handle, "ios"))
    return status, stored


def test_each_fault_kind_behaves_as_described() -> None:
    with serving_emulator(STATE, fault_rate=1.0, fault_seed=3) as handle:
        outcomes = [_post(handle, f"s{i}") for i in range(60)]
        log = handle.requests()
    assert len(log) == len(outcomes)
    seen = set()
    for (status, stored), entry in zip(outcomes, log, strict=True):
        fault = entry["fault"]
        seen.add(fault)
        assert entry["committed"] is stored
        if fault == "500-before-write":
            assert (status, stored) == (500, False)
        elif fault == "500-after-write":
            assert (status, stored) == (500, True)  # committed, but the client hears 500
        elif fault in ("502", "503"):
            assert (status, stored) == (int(fault), False)
        else:
            assert fault == "dropped-connection"
            assert (status, stored) == (None, False)
            assert entry["status"] is None
    assert seen == set(FAULT_KINDS)


def test_fault_500_is_sentry_internal_error_body() -> None:
    with serving_emulator(STATE, fault_rate=1.0, fault_seed=3) as handle:
        for _ in range(20):
            try:
                response = _get(handle)
            except requests.ConnectionError:
                continue
            if response.status_code == 500:
                body = response.json()
                assert body["detail"] == "Internal Error" and body["errorId"]
                return
    pytest.fail("no 500 fault in 20 requests")


def _fault_sequence(seed: int, rate: float, count: int) -> list[tuple[int | None, str | None]]:
    with serving_emulator(STATE, fault_rate=rate, fault_seed=seed) as handle:
        for i in range(count):
            if i % 2:
                _post(handle, f"x{i}")
            else:
                with contextlib.suppress(requests.ConnectionError):
                    _get(handle)
        return [(e["status"], e.get("fault")) for e in handle.requests()]


def test_same_seed_gives_the_same_faults() -> None:
    first = _fault_sequence(7, 0.3, 40)
    second = _fault_sequence(7, 0.3, 40)
    assert first == second
    assert any(fault for _, fault in first)


def test_different_seed_gives_different_faults() -> None:
    assert _fault_sequence(7, 0.5, 40) != _fault_sequence(8, 0.5, 40)


def test_fault_rate_is_roughly_the_fraction_requested() -> None:
    sequence = _fault_sequence(11, 0.3, 120)
    faulted = sum(1 for _, fault in sequence if fault)
    assert 0.15 * 120 <= faulted <= 0.45 * 120


def test_no_faults_when_rate_is_zero() -> None:
    assert all(fault is None for _, fault in _fault_sequence(1, 0.0, 20))


def test_control_endpoints_never_fault() -> None:
    with serving_emulator(STATE, fault_rate=1.0, fault_seed=1) as handle:
        for _ in range(10):
            assert handle.state()["organizations"][ORG]["projects"]["ios"]
        assert handle.requests() == []


def test_read_fault_of_a_write_only_kind_is_a_plain_500() -> None:
    with serving_emulator(STATE, fault_rate=1.0, fault_seed=3) as handle:
        for _ in range(30):
            with contextlib.suppress(requests.ConnectionError):
                _get(handle)
        log = handle.requests()
    after = [e for e in log if e.get("fault") == "500-after-write"]
    assert after and all(e["status"] == 500 for e in after)


def test_request_log_says_which_requests_committed_a_write() -> None:
    with serving_emulator(STATE) as handle:
        requests.post(handle.url + SOURCES, json=http_source("new"), headers=AUTH, timeout=10)
        requests.post(handle.url + SOURCES, json=http_source("new"), headers=AUTH, timeout=10)
        _get(handle)
        log = handle.requests()
    assert [(e["method"], e["status"], e["committed"]) for e in log] == [
        ("POST", 201, True),
        ("POST", 400, False),  # duplicate id
        ("GET", 200, False),
    ]
