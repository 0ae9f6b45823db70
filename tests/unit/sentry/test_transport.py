"""The transport under SentryClient, against a scripted loopback server: retries and their
budget, waits for Sentry's rate limits, whole-answer deadlines, the environment read once,
counters and the breaker. Time is faked where the test checks waits; the deadline tests use
real sockets with small timeouts and generous bounds."""

from __future__ import annotations

import logging
import socket
import threading
import time

import pytest

from reconciler.sentry.client import AccountWideError, SentryAPIError, SentryClient
from tests.support.fake_sentry import CLIENT_TOKEN, NOW, Recorded, Reply
from tests.support.waiting import ends_within

TOKEN = CLIENT_TOKEN
HTTP_REDACTED = {
    "id": "acme-symbols",
    "type": "http",
    "name": "ACME",
    "url": "https://symbols.acme.example/",
    "layout": {"type": "native", "casing": "default"},
    "password": {"hidden-secret": True},
}
HTTP_SOURCE = {**HTTP_REDACTED, "password": "PASSWORD-SENTINEL-42"}


def limit_headers(limit: int, remaining: int, reset: float) -> dict[str, str]:
    return {
        "X-Sentry-Rate-Limit-Limit": str(limit),
        "X-Sentry-Rate-Limit-Remaining": str(remaining),
        "X-Sentry-Rate-Limit-Reset": str(int(reset)),
    }


# ------------------------------------------------------------------------------ retries


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_server_errors_are_retried(client, fake, ftime, status):
    fake.add(Reply(status), Reply(status), Reply(200, [HTTP_REDACTED]))
    assert client.list_sources("acme", "ios") == [HTTP_REDACTED]
    assert ftime.sleeps == [0.5, 1.0]
    assert len(fake.requests) == 3


def test_retry_after_as_http_date(client, fake, ftime):
    from email.utils import formatdate

    fake.add(Reply(503, None, {"Retry-After": formatdate(NOW + 12, usegmt=True)}), Reply(200, []))
    client.list_sources("acme", "ios")
    assert ftime.sleeps == [12.0]


def test_dropped_connection_is_retried(client, fake, ftime):
    fake.add(Reply(drop=True), Reply(200, []))
    assert client.list_sources("acme", "ios") == []
    assert len(fake.requests) == 2 and ftime.sleeps == [0.5]


@pytest.mark.parametrize(
    ("failure", "reason"),
    [
        (Reply(reset=True), "connection reset"),
        (Reply(200, [HTTP_REDACTED] * 20, cut=True), "the answer was cut off"),
        (Reply(200, [], delay=1.0), "no answer within 0.3 s"),
    ],
    ids=["reset", "cut-off-body", "read-timeout"],
)
def test_connection_failures_are_retried(fake, ftime, caplog, failure, reason):
    caplog.set_level(logging.DEBUG, logger="reconciler.client")
    fake.add(failure, Reply(200, [HTTP_REDACTED]))
    with SentryClient(fake.url, TOKEN, timeout=0.3, **ftime.kwargs()) as c:
        assert c.list_sources("acme", "ios") == [HTTP_REDACTED]
    assert len(fake.requests) == 2 and ftime.sleeps == [0.5]
    assert f"-> {reason} (attempt 1" in caplog.text


def test_write_that_kept_losing_its_connection_is_confirmed(fake, ftime):
    unknown = Reply(404, {"error": "Unknown source id: acme-symbols"})
    fake.add(Reply(reset=True), unknown, Reply(reset=True), Reply(200, [HTTP_REDACTED]))
    with SentryClient(fake.url, TOKEN, max_retries=1, **ftime.kwargs()) as c:
        assert c.create_source("acme", "ios", HTTP_SOURCE) == HTTP_REDACTED
    assert fake.methods() == ["POST", "GET", "POST", "GET"]


def test_lost_connection_message(fake, ftime):
    fake.default = Reply(reset=True)
    with (
        SentryClient(fake.url, TOKEN, max_retries=2, **ftime.kwargs()) as c,
        pytest.raises(SentryAPIError) as info,
    ):
        c.list_sources("acme", "ios")
    assert info.value.status is None and info.value.attempts == 3
    assert "lost the connection to 127.0.0.1" in str(info.value)
    assert "(connection reset) after 3 attempts" in str(info.value)
    # A server that resets connections is there: the project fails, the run goes on.
    assert not isinstance(info.value, AccountWideError)


def test_retries_are_bounded_by_count(fake, ftime):
    fake.default = Reply(503, {"detail": "down"})
    with (
        SentryClient(fake.url, TOKEN, max_retries=3, **ftime.kwargs()) as c,
        pytest.raises(SentryAPIError) as info,
    ):
        c.list_sources("acme", "ios")
    assert len(fake.requests) == 4
    assert info.value.status == 503 and info.value.attempts == 4
    assert "503 after 4 attempts" in str(info.value)


def test_backoff_steps_are_capped(fake, ftime):
    fake.default = Reply(500)
    with (
        SentryClient(fake.url, TOKEN, retry_budget=1000, **ftime.kwargs()) as c,
        pytest.raises(SentryAPIError) as info,
    ):
        c.list_sources("acme", "ios")
    assert ftime.sleeps == [0.5, 1, 2, 4, 8, 8, 8, 8]
    assert "Sentry failed with 500 after 9 attempts" in str(info.value)


def test_a_project_answering_500_forever_is_reported_within_the_retry_budget(fake, ftime):
    """At the defaults (20 s budget) a project whose reads always fail is reported after
    about 15 s of retries, not after 40 s."""
    fake.default = Reply(500, {"detail": "Internal Error"})
    with (
        SentryClient(fake.url, TOKEN, **ftime.kwargs()) as c,
        pytest.raises(SentryAPIError) as info,
    ):
        c.list_sources("acme", "ios")
    assert sum(ftime.sleeps) <= c.retry_budget == 20
    assert ftime.sleeps == [0.5, 1, 2, 4, 8]  # the next 8 s would end past the budget
    assert "Sentry failed with 500 after 6 attempts" in str(info.value)
    assert not isinstance(info.value, AccountWideError)


def test_waits_are_jittered(fake, ftime):
    """Back-off steps are cut by up to half at random, so threads that failed together do not
    come back together."""
    draws = iter([1.0, 0.5, 0.0])
    fake.add(Reply(503), Reply(503), Reply(503), Reply(200, []))
    clocks = {**ftime.kwargs(), "jitter": lambda: next(draws)}
    with SentryClient(fake.url, TOKEN, **clocks) as c:
        assert c.list_sources("acme", "ios") == []
    assert ftime.sleeps == [0.25, 0.75, 2.0]


# ------------------------------------------------------------------------- rate limits


def test_429_waits_until_sentry_rate_limit_reset(client, fake, ftime):
    fake.add(
        Reply(
            429,
            {"detail": "You are attempting to use this endpoint too frequently."},
            {"X-Sentry-Rate-Limit-Reset": str(int(NOW) + 7)},
        ),
        Reply(200, []),
    )
    assert client.list_sources("acme", "ios") == []
    assert ftime.sleeps == [7.0]
    assert client.stats.rate_limited == 1 and client.stats.requests == 2
    assert client.stats.rate_limit_wait == 7.0


def test_429_honours_retry_after_from_a_proxy(client, fake, ftime):
    fake.add(Reply(429, None, {"Retry-After": "3"}), Reply(200, []))
    client.list_sources("acme", "ios")
    assert ftime.sleeps == [3.0]


def test_429_without_headers_backs_off_exponentially(client, fake, ftime):
    fake.add(Reply(429), Reply(429), Reply(429), Reply(200, []))
    client.list_sources("acme", "ios")
    assert ftime.sleeps == [0.5, 1.0, 2.0]


def test_a_reset_that_passed_while_the_answer_travelled_is_retried_at_once(client, fake, ftime):
    """Sentry's reset is a whole second: an answer sent just before it may arrive after it.
    That is no broken header and no reason for a back-off."""

    def travelling(recorded: Recorded) -> Reply:
        ftime.now += 2  # sent at NOW, the window ended at NOW + 1, the answer came at NOW + 2
        return Reply(429, None, limit_headers(40, 0, NOW + 1))

    fake.add(travelling, Reply(200, []))
    assert client.list_sources("acme", "ios") == []
    assert ftime.sleeps == []
    assert len(fake.requests) == 2


def test_a_reset_that_keeps_being_in_the_past_backs_off(client, fake, ftime):
    fake.add(*[Reply(429, None, limit_headers(40, 0, NOW - 30))] * 3, Reply(200, []))
    assert client.list_sources("acme", "ios") == []
    assert ftime.sleeps == [0.5, 1.0]


@pytest.mark.parametrize(
    "headers",
    [
        {"X-Sentry-Rate-Limit-Reset": "nan"},
        {"Retry-After": "nan"},
        {"Retry-After": "inf", "X-Sentry-Rate-Limit-Reset": "-inf"},
        # Milliseconds instead of seconds: 31,000 years away.
        {"X-Sentry-Rate-Limit-Reset": str(int(NOW * 1000) + 5000)},
        {"Retry-After": "Fri, 01 Jan 2100 00:00:00 GMT"},
    ],
)
def test_rate_limit_headers_that_are_not_plausible_fall_back_to_backoff(fake, ftime, headers):
    fake.add(Reply(429, None, headers), Reply(200, []))
    with SentryClient(fake.url, TOKEN, **ftime.kwargs()) as c:
        assert c.list_sources("acme", "ios") == []
    assert ftime.sleeps == [0.5]


def test_long_waits_are_capped(fake, ftime):
    fake.add(Reply(429, None, {"X-Sentry-Rate-Limit-Reset": str(int(NOW) + 3600)}), Reply(200, []))
    with SentryClient(fake.url, TOKEN, max_wait=20, retry_budget=60, **ftime.kwargs()) as c:
        c.list_sources("acme", "ios")
    assert ftime.sleeps == [20]


def test_pacing_is_per_organization(client, fake, ftime):
    """After acme's window is used up, acme's next request waits for its reset; globex's
    goes at once."""
    fake.add(
        Reply(200, [], limit_headers(2, 1, NOW + 1)),
        Reply(200, [], limit_headers(2, 0, NOW + 1)),
        Reply(200, [], limit_headers(2, 1, NOW + 1)),  # globex
        Reply(200, [], limit_headers(2, 1, NOW + 2)),  # acme, next window
    )
    client.list_sources("acme", "a")
    client.list_sources("acme", "b")
    client.list_sources("globex", "a")
    assert ftime.sleeps == []
    client.list_sources("acme", "c")
    assert ftime.sleeps == [1.0]
    assert [r.path.split("/")[4] for r in fake.requests] == ["acme", "acme", "globex", "acme"]
    assert client.stats.rate_limited == 0


def test_429_exhausting_the_budget_while_nothing_is_granted_stops_the_run(client, fake, ftime):
    """A server that only ever answers 429 ends within the retry budget, with one error for
    the whole run."""

    def refuse(recorded: Recorded) -> Reply:
        return Reply(429, {"detail": "too many"}, limit_headers(40, 0, ftime.now + 1))

    fake.default = refuse
    with pytest.raises(AccountWideError) as info:
        client.list_sources("acme", "ios")
    assert sum(ftime.sleeps) <= 20
    assert "Sentry refused every request with 429" in str(info.value)
    # Later requests fail at once, without being sent.
    sent = len(fake.requests)
    with pytest.raises(AccountWideError):
        client.list_sources("acme", "other")
    assert len(fake.requests) == sent


def test_429_never_fails_a_project_while_others_are_granted(fake):
    """Real threads, real time (about a second): acme/ios is refused for longer than its
    retry budget, but acme/web keeps being answered meanwhile, so ios waits its turn."""
    started = time.monotonic()

    def respond(recorded: Recorded) -> Reply:
        if recorded.path.split("/")[5] == "ios" and time.monotonic() - started < 1.0:
            return Reply(429, {"detail": "too many"}, {"Retry-After": "0.1"})
        return Reply(200, [])

    fake.default = respond
    stop = threading.Event()
    with SentryClient(fake.url, TOKEN, retry_budget=0.5) as c:

        def others() -> None:
            while not stop.is_set():
                c.list_sources("acme", "web")

        thread = threading.Thread(target=others)
        thread.start()
        try:
            assert c.list_sources("acme", "ios") == []
        finally:
            stop.set()
            thread.join()
    assert time.monotonic() - started >= 1.0


# -------------------------------------------------------------------------------- deadlines


def _error_of(action) -> BaseException | None:
    """What ``action`` raised, if anything. The deadlines here are a fraction of a second; the
    wait for ``action`` is 10 s, room for a busy machine, and far less than a silent or
    trickling server would hold it without them."""

    def run() -> BaseException | None:
        try:
            action()
        except Exception as exc:
            return exc
        return None

    return ends_within(10, run)


@pytest.mark.parametrize(
    ("reply", "reason"),
    [
        (Reply(200, [], delay=30), "no answer within 0.5 s"),
        (Reply(200, [HTTP_REDACTED] * 5, trickle=0.05), "the answer did not complete within 0.5 s"),
        (Reply(trickle_head=0.05), "no answer within 0.5 s"),
    ],
    ids=["silent", "trickling-body", "trickling-headers"],
)
def test_every_answer_has_a_deadline_for_the_whole_of_it(fake, reply, reason):
    """`requests`' timeout bounds each socket read; a server that sends a byte now and then
    would never be cut off by it. The deadline covers connect, headers and body."""
    fake.default = reply
    with SentryClient(fake.url, TOKEN, timeout=0.5, retry_budget=0) as c:
        error = _error_of(lambda: c.list_sources("acme", "ios"))
    assert isinstance(error, AccountWideError), error
    assert reason in str(error)
    assert "did not answer in time" in str(error) and "--timeout" in str(error)
    assert len(fake.requests) == 1


def test_retries_share_one_budget(fake):
    """Attempts that each run out their 0.3 s deadline share one budget of 0.5 s: the second
    starts (0.3 s spent), a third would start past the budget and does not, where each
    attempt's own deadline would allow eight. The budget's clock moves 0.3 s per attempt that
    reached the server, so the count does not depend on how busy the machine is."""
    fake.default = Reply(200, [], delay=30)

    def spent() -> float:
        return NOW + 0.3 * len(fake.requests)

    with SentryClient(
        fake.url, TOKEN, timeout=0.3, retry_budget=0.5, backoff=0.01, monotonic=spent
    ) as c:
        error = _error_of(lambda: c.list_sources("acme", "ios"))
    assert isinstance(error, SentryAPIError)
    assert len(fake.requests) == 2


def test_the_deadline_leaves_other_requests_alone(fake):
    """The watchdog shuts only the connection of the attempt that ran out of time."""

    def respond(recorded: Recorded) -> Reply:
        if recorded.path.split("/")[5] == "slow":
            return Reply(200, [], delay=5)
        return Reply(200, [], delay=0.05)

    fake.default = respond
    with SentryClient(fake.url, TOKEN, timeout=0.4, retry_budget=0) as c:
        results: list[object] = []

        def fast() -> None:
            for _ in range(10):
                results.append(c.list_sources("acme", "fast"))

        thread = threading.Thread(target=fast)
        thread.start()
        with pytest.raises(SentryAPIError):
            c.list_sources("acme", "slow")
        thread.join()
    assert results == [[]] * 10


# ------------------------------------------------------------------ environment, once


def test_proxy_settings_are_read_once_when_the_client_is_made(fake, monkeypatch):
    """The fake server stands in for a proxy: requests to an unreachable Sentry go through it
    with the absolute URL, as they go to a proxy. A change of the environment afterwards does
    not change where requests go (it is not read again)."""
    monkeypatch.setenv("HTTP_PROXY", fake.url)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    with SentryClient("http://sentry.invalid", TOKEN, retry_budget=0) as c:
        monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")
        monkeypatch.setenv("NO_PROXY", "*")
        assert c.list_sources("acme", "ios") == []
    assert fake.requests[0].raw_path.startswith("http://sentry.invalid/api/0/projects/acme/ios/")


def test_no_proxy_is_honoured(fake, monkeypatch):
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    with SentryClient(fake.url, TOKEN, retry_budget=0) as c:
        assert c.list_sources("acme", "ios") == []
    assert fake.requests[0].raw_path == "/api/0/projects/acme/ios/symbol-sources/"


# ------------------------------------------------------------------------ unreachable


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_unreachable_server_names_host_and_says_could_not_connect(ftime):
    port = _closed_port()
    with (
        SentryClient(f"http://127.0.0.1:{port}", TOKEN, max_retries=2, **ftime.kwargs()) as c,
        pytest.raises(AccountWideError) as info,
    ):
        c.list_sources("acme", "ios")
        message = str(info.value)
        assert info.value.status is None
        assert f"could not connect to 127.0.0.1:{port}" in message
        assert "connection refused" in message
        assert "Traceback" not in message and TOKEN not in message
        assert ftime.sleeps == [0.5, 1.0]
        # The breaker: the next request fails at once with the same words, without retrying.
        with pytest.raises(AccountWideError) as again:
            c.list_sources("acme", "web")
        assert str(again.value) == message
        assert ftime.sleeps == [0.5, 1.0]
        assert c.stopped_by is not None


def test_unreachable_server_through_the_cli_is_one_clear_line(tmp_path):
    import os
    import subprocess
    import sys

    port = _closed_port()
    env = {**os.environ, "SENTRY_AUTH_TOKEN": TOKEN, "SENTRY_URL": f"http://127.0.0.1:{port}"}
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "reconciler",
            "import",
            "--org",
            "acme",
            "--config-dir",
            str(tmp_path / "configs"),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert proc.returncode == 1
    assert "could not connect to 127.0.0.1" in proc.stderr
    assert "Traceback" not in proc.stderr and TOKEN not in proc.stderr + proc.stdout


def test_the_connection_options_reach_the_client_as_one_settings_object(monkeypatch):
    """--url, --timeout, --retry-budget and --parallelism are read into one ConnectionSettings,
    and the client made from it carries them; without the options, the documented defaults."""
    import click

    from reconciler.commands.options import connection_settings, parallelism_option, url_option
    from reconciler.sentry.settings import ConnectionSettings

    seen: list[ConnectionSettings] = []

    @click.command()
    @url_option
    @parallelism_option("help")
    def probe() -> None:
        seen.append(connection_settings())

    args = ["--url", "http://127.0.0.1:9", "--timeout", "3", "--retry-budget", "4"]
    probe.main([*args, "--parallelism", "5"], standalone_mode=False)
    probe.main([], standalone_mode=False)
    assert seen == [
        ConnectionSettings(url="http://127.0.0.1:9", timeout=3.0, retry_budget=4.0, parallelism=5),
        ConnectionSettings(url=None, timeout=30.0, retry_budget=20.0, parallelism=8),
    ]
    monkeypatch.setenv("SENTRY_AUTH_TOKEN", TOKEN)
    with SentryClient.from_env(seen[0]) as client:
        assert (client.base_url, client.timeout, client.retry_budget) == (
            "http://127.0.0.1:9",
            3.0,
            4.0,
        )


def test_a_stalled_tls_handshake_is_cut_off_at_the_deadline():
    """An https:// Sentry whose port accepts the connection but never answers the TLS greeting
    ends at the attempt's deadline with the account-wide error, as a silent plain-HTTP one does
    (the suite has no other test of the HTTPS path)."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    accepted: list[socket.socket] = []

    def accept() -> None:
        try:
            while True:
                accepted.append(listener.accept()[0])
        except OSError:
            return

    threading.Thread(target=accept, daemon=True).start()
    url = f"https://127.0.0.1:{listener.getsockname()[1]}"
    try:
        with SentryClient(url, TOKEN, timeout=0.5, retry_budget=0) as c:
            error = _error_of(lambda: c.list_sources("acme", "ios"))
    finally:
        listener.close()
        for conn in accepted:
            conn.close()
    assert isinstance(error, AccountWideError), error
    assert "--timeout" in str(error)
    assert TOKEN not in str(error)
    assert accepted, "the client never reached the server"
