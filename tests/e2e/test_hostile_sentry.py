"""The real CLI against a hostile fake Sentry (tests/support/hostile_sentry.py) on 127.0.0.1.

Each hostile answer (HTML pages, malformed JSON, wrong shapes, redirects to another host,
401/403/404, error pages that echo the request) must end the command with exit 1, no
traceback, the project named, no token or secret value anywhere in the output, nothing written,
in bounded time. The answers that only a request deadline and a retry budget bound (hangs,
trickles, cut answers, 5xx and 429 forever, huge bodies) run with a small --timeout and
--retry-budget, and must end within a few of them.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.support.e2e_helpers import clean_env, symsync, write_tree
from tests.support.hostile_sentry import (
    Behaviour,
    HostileSentry,
    Rule,
    cut_reply,
    echo_reply,
    hang,
    html_reply,
    huge_reply,
    json_reply,
    raw_reply,
    redirect_to,
    trickle,
)

pytestmark = pytest.mark.e2e

TAG = secrets.token_hex(6)
TOKEN = f"hostile-token-{TAG}"  # not shaped like a Sentry token: masking must go by value
SECRET = f"hostile-secret-{TAG}"
SENTINELS = (TOKEN, SECRET)
PROJECT = "acme/ios"
SOURCES_PATH = r"/api/0/projects/acme/ios/symbol-sources/$"
# How long the CLI may take to end (the wait for it fails beyond that), generously: a loaded
# machine, a Python start-up, a 50 MB answer.
FAST_RUN = 30.0


def source(sid: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": sid,
        "type": "http",
        "name": f"{sid} server",
        "url": f"https://{sid}.example/",
        "layout": {"type": "native"},
        **extra,
    }


def _source_without_id() -> dict[str, Any]:
    return {k: v for k, v in source("x").items() if k != "id"}


@dataclass(frozen=True)
class Case:
    name: str
    behaviour: Behaviour
    timed: bool = False  # bounded by the request deadline and the retry budget

    def __repr__(self) -> str:
        return self.name


HTML_PAGE = html_reply(200)
CASES = [
    Case("html-200", HTML_PAGE),
    Case("html-502", html_reply(502), timed=True),
    Case("json-cut-short", cut_reply(), timed=True),
    Case("json-malformed", raw_reply(200, b'[{"id": "a", "type": "ht')),
    Case("object-not-list", json_reply(200, {"id": "x", "type": "http"})),
    Case("list-of-non-objects", json_reply(200, [1, "two", None])),
    Case("sources-without-ids", json_reply(200, [_source_without_id()])),
    Case("huge-50mb", huge_reply(50), timed=True),
    Case("hang", hang, timed=True),
    Case("trickle", trickle(0.5), timed=True),
    Case("429-no-headers", json_reply(429, {"detail": "slow down"}), timed=True),
    Case("500-forever", json_reply(500, {"detail": "Internal Error"}), timed=True),
    Case("401", json_reply(401, {"detail": "Invalid token"})),
    Case("403", json_reply(403, {"detail": "You do not have permission to perform this action."})),
    Case("404", json_reply(404, {"detail": "The requested resource does not exist"})),
    Case("echo-400", echo_reply(400)),
]


def _params(cases: list[Case], *before: str) -> list[Any]:
    """One parameter set per case, after the fixed values ``before``."""
    return [pytest.param(*before, case, id="-".join([*before, case.name])) for case in cases]


# --timeout and --retry-budget for the cases bounded by them: a run ends within a few of them.
TIMED_ARGS = ("--timeout", "0.5", "--retry-budget", "1")
TIMED_RUN = 15.0  # seconds: start-up, a few deadlines, and a loaded machine


def _time_args(case: Case) -> tuple[str, ...]:
    return TIMED_ARGS if case.timed else ()


def _env(url: str) -> dict[str, str]:
    return clean_env(SENTRY_URL=url, SENTRY_AUTH_TOKEN=TOKEN, HOSTILE_PW=SECRET)


def _limit(case: Case) -> float:
    return TIMED_RUN if case.timed else FAST_RUN


def _check(run: Any, server: HostileSentry, *, named: str) -> None:
    output = run.stdout + run.stderr
    assert run.returncode == 1, output
    assert "Traceback" not in output, output
    assert "internal error" not in output, output
    assert named in output, output
    for sentinel in SENTINELS:
        assert sentinel not in output, f"{sentinel} leaked:\n{output}"
    assert server.writes() == [], "something was written"


@pytest.fixture
def configs(tmp_path: Path) -> Path:
    return write_tree(
        tmp_path, {PROJECT: {"sources": [source("web", password={"env": "HOSTILE_PW"})]}}
    )


# apply reads the same way plan does: a few cases show it fails the same way, writing nothing.
APPLY_CASES = {"html-200", "echo-400", "401", "hang"}


@pytest.mark.parametrize(
    ("command", "case"),
    _params(CASES, "plan") + _params([c for c in CASES if c.name in APPLY_CASES], "apply"),
)
def test_hostile_reads_fail_the_project_cleanly(case: Case, command: str, configs: Path):
    rules = [Rule("GET", SOURCES_PATH, case.behaviour)]
    with HostileSentry(rules) as server:
        args = [command, "--config-dir", str(configs), *_time_args(case)]
        if command == "apply":
            args.append("--yes")
        run = symsync(*args, env=_env(server.url), timeout=_limit(case))
        _check(run, server, named=PROJECT)


IMPORT_CASES = [c for c in CASES if c.name in ("html-200", "object-not-list", "401", "trickle")]


@pytest.mark.parametrize("case", _params(IMPORT_CASES))
def test_hostile_answers_fail_import_cleanly(case: Case, tmp_path: Path):
    # The organization's project list answers properly; the project's sources do not.
    rules = [
        Rule(
            "GET", r"/organizations/acme/projects/$", json_reply(200, [{"id": "1", "slug": "ios"}])
        ),
        Rule("GET", SOURCES_PATH, case.behaviour),
    ]
    with HostileSentry(rules) as server:
        run = symsync(
            "import", "--org", "acme", "--config-dir", str(tmp_path / "configs"),
            *_time_args(case), env=_env(server.url), timeout=_limit(case),
        )  # fmt: skip
        _check(run, server, named=PROJECT)
    assert not (tmp_path / "configs" / "acme" / "ios.yaml").exists()


def test_a_redirect_to_another_host_is_not_followed_with_the_token(configs: Path):
    with HostileSentry([Rule("*", ".", json_reply(200, []))]) as elsewhere:
        target = elsewhere.url.replace("127.0.0.1", "localhost")  # another host name
        with HostileSentry([Rule("GET", SOURCES_PATH, redirect_to(target))]) as server:
            run = symsync(
                "plan", "--config-dir", str(configs), env=_env(server.url), timeout=FAST_RUN
            )
            _check(run, server, named=PROJECT)
        assert elsewhere.requests() == [], "the redirect was followed"


# ------------------------------------------------------------------------------------ writes

WRITE_CASES = [
    Case("write-html-200", HTML_PAGE),
    Case("write-echo-400", echo_reply(400)),
    Case("write-401", json_reply(401, {"detail": "Invalid token"})),
    Case("write-404", json_reply(404, {"detail": "The requested resource does not exist"})),
    Case("write-object-shape", json_reply(201, ["not", "a", "source"])),
    Case("write-hang", hang, timed=True),
    Case("write-503-forever", html_reply(503), timed=True),
]


@pytest.mark.parametrize("case", _params(WRITE_CASES))
def test_a_hostile_answer_to_a_write_stops_that_project(case: Case, tmp_path: Path):
    configs = write_tree(
        tmp_path,
        {PROJECT: {"sources": [source("first", password={"env": "HOSTILE_PW"}), source("second")]}},
    )
    rules = [
        Rule("GET", SOURCES_PATH, json_reply(200, [])),
        Rule("POST", SOURCES_PATH, case.behaviour),
    ]
    with HostileSentry(rules) as server:
        run = symsync(
            "apply", "--yes", "--config-dir", str(configs), *_time_args(case),
            env=_env(server.url), timeout=_limit(case),
        )  # fmt: skip
        output = run.stdout + run.stderr
        assert run.returncode == 1, output
        assert "Traceback" not in output and "internal error" not in output, output
        assert PROJECT in output
        for sentinel in SENTINELS:
            assert sentinel not in output, f"{sentinel} leaked:\n{output}"
        # The first source was sent (maybe retried, maybe read back); the second never was.
        sent = {(r.method, r.body.count(b'"second"')) for r in server.writes()}
        assert sent == {("POST", 0)}, sent
