"""End to end: the real CLI against servers that fail as a whole, or too slowly.

- Deadlines: a silent server, one that trickles its answer and a project that
  answers 500 forever each end the run with a clear error, within `--timeout` and
  `--retry-budget` (small here; `symsync plan --help` gives the defaults).
- One error for one cause: a wrong token, nothing listening and a URL that is not
  Sentry's API give one message and exit 1 on a 40-project tree, and the server is not asked
  again for every project; a 404 for one project stays that project's error.
"""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from reconciler.emulator.testing import running_emulator
from tests.support.e2e_helpers import EMULATOR_TOKEN, clean_env, state_doc, symsync, write_tree
from tests.support.fake_sentry import Reply, fake_sentry

pytestmark = pytest.mark.e2e

TOKEN = "sntryu_TOKENSENTINEL0123456789abcdef"
PROJECTS = [f"acme/p{i:02d}" for i in range(40)]
SOURCE = {
    "id": "symbols",
    "type": "http",
    "name": "Symbols",
    "url": "https://symbols.example/",
    "layout": {"type": "native", "casing": "default"},
}


def _tree(tmp_path: Path, projects: list[str] = PROJECTS) -> Path:
    return write_tree(tmp_path, {key: {"sources": [SOURCE]} for key in projects})


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _once(text: str, output: str) -> None:
    assert output.count(text) == 1, output
    assert "Traceback" not in output and TOKEN not in output


# ------------------------------------------------------------------------------- deadlines


@pytest.mark.parametrize(
    ("reply", "said"),
    [
        (Reply(200, [], delay=60), "no answer within 1 s"),
        (Reply(200, [SOURCE] * 20, trickle=0.2), "the answer did not complete within 1 s"),
    ],
    ids=["silent", "trickling"],
)
def test_a_server_too_slow_to_answer_ends_the_plan_at_its_deadline(tmp_path, reply, said):
    configs = _tree(tmp_path, ["acme/ios"])
    with fake_sentry() as server:
        server.default = reply
        env = clean_env(SENTRY_URL=server.url, SENTRY_AUTH_TOKEN=TOKEN)
        # One 1 s attempt and the start of Python, on a busy machine: the run ends well within
        # this wait, long before the silent server's 60 s or the trickle's end.
        run = symsync(
            "plan", "--config-dir", str(configs), "--timeout", "1", "--retry-budget", "0",
            env=env, timeout=30,
        )  # fmt: skip
        attempts = len(server.requests)
    assert run.returncode == 1
    _once(said, run.stdout + run.stderr)
    assert "did not answer in time" in run.stderr and "--timeout" in run.stderr
    assert attempts == 1


def test_a_project_that_answers_500_forever_is_reported_within_the_retry_budget(tmp_path):
    configs = _tree(tmp_path, ["acme/ios", "acme/web"])

    def respond(recorded):
        if "/acme/ios/" in recorded.path:
            return Reply(500, {"detail": "Internal Error", "errorId": "abc123"})
        return Reply(200, [SOURCE])

    with fake_sentry() as server:
        server.default = respond
        env = clean_env(SENTRY_URL=server.url, SENTRY_AUTH_TOKEN=TOKEN)
        # A 2 s retry budget and the start of Python: the run ends well within this wait.
        run = symsync(
            "plan", "--config-dir", str(configs), "--retry-budget", "2", "--format", "json",
            env=env, timeout=30,
        )  # fmt: skip
    assert run.returncode == 1
    assert "error: acme/ios: could not read the remote sources: Sentry failed with 500" in (
        run.stderr
    )
    planned = {p["project"]: p for p in json.loads(run.stdout)["projects"]}
    assert "error" not in planned["web"]  # the other project was planned
    assert "Sentry failed with 500" in planned["ios"]["error"]


def test_timeouts_are_documented_in_help():
    for command in ("plan", "apply", "import"):
        run = symsync(command, "--help", env=clean_env())
        assert "--timeout SECONDS" in run.stdout and "--retry-budget SECONDS" in run.stdout
        assert "default: 30.0" in run.stdout and "default: 20.0" in run.stdout


# --------------------------------------------------------------------- one error, one cause


@pytest.mark.parametrize("command", ["plan", "apply"])
def test_a_wrong_token_is_one_error_for_the_whole_run(tmp_path, command):
    configs = _tree(tmp_path)
    state = state_doc({key: [] for key in PROJECTS})
    with running_emulator(state=state) as emulator:
        env = clean_env(SENTRY_URL=emulator.url, SENTRY_AUTH_TOKEN=TOKEN)
        extra = ("--yes",) if command == "apply" else ()
        run = symsync(command, "--config-dir", str(configs), *extra, env=env, timeout=60)
        log = emulator.requests()
    assert run.returncode == 1
    _once("the token is invalid or expired", run.stdout + run.stderr)
    assert run.stdout == ""  # no plan, and no headline that there are no changes
    assert "No changes" not in run.stderr
    # Fail fast: the other projects do not keep asking.
    assert len(log) <= 8


def test_nothing_listening_is_one_error(tmp_path):
    configs = _tree(tmp_path)
    env = clean_env(SENTRY_URL=f"http://127.0.0.1:{_closed_port()}", SENTRY_AUTH_TOKEN=TOKEN)
    run = symsync("plan", "--config-dir", str(configs), env=env, timeout=60)
    assert run.returncode == 1
    _once("could not connect to 127.0.0.1", run.stdout + run.stderr)
    assert run.stdout == ""


@pytest.mark.parametrize(
    "reply",
    [
        Reply(404, b"<html><body>Not Found</body></html>", {"Content-Type": "text/html"}),
        Reply(200, b"<!doctype html><html>Welcome</html>", {"Content-Type": "text/html"}),
    ],
    ids=["404-page", "html-page"],
)
def test_a_url_that_is_not_sentrys_api_is_one_error(tmp_path, reply):
    configs = _tree(tmp_path)
    with fake_sentry() as server:
        server.default = reply
        env = clean_env(SENTRY_URL=server.url, SENTRY_AUTH_TOKEN=TOKEN)
        run = symsync("plan", "--config-dir", str(configs), env=env, timeout=60)
        asked = len(server.requests)
    assert run.returncode == 1
    _once("does not answer like Sentry's API: it sent an HTML page", run.stdout + run.stderr)
    assert run.stdout == ""
    assert asked <= 8


def test_a_missing_project_is_that_projects_error_only(tmp_path):
    configs = _tree(tmp_path, PROJECTS[:5])
    state = state_doc({key: [SOURCE] for key in PROJECTS[1:5]})
    with running_emulator(state=state) as emulator:
        env = clean_env(SENTRY_URL=emulator.url, SENTRY_AUTH_TOKEN=EMULATOR_TOKEN)
        run = symsync("plan", "--config-dir", str(configs), "--format", "json", env=env, timeout=60)
    assert run.returncode == 1
    assert "error: acme/p00: could not read the remote sources: organization `acme` or " in (
        run.stderr
    )
    assert "project `p00` was not found" in run.stderr
    planned = {p["project"]: p for p in json.loads(run.stdout)["projects"]}
    assert [name for name, p in planned.items() if "error" in p] == ["p00"]
    assert len(planned) == 5


def test_a_saved_plan_applied_with_a_wrong_token_states_the_cause_once(tmp_path):
    configs = _tree(tmp_path)
    planfile = tmp_path / "plan.json"
    state = state_doc({key: [] for key in PROJECTS})
    with running_emulator(state=state) as emulator:
        good = clean_env(SENTRY_URL=emulator.url, SENTRY_AUTH_TOKEN=EMULATOR_TOKEN)
        made = symsync("plan", "--config-dir", str(configs), "--out", str(planfile), env=good)
        assert made.returncode == 0, made.stderr
        since = len(emulator.requests())
        bad = clean_env(SENTRY_URL=emulator.url, SENTRY_AUTH_TOKEN=TOKEN)
        run = symsync(
            "apply", str(planfile), "--config-dir", str(configs), "--yes", env=bad, timeout=60
        )
        asked = len(emulator.requests()) - since
    assert run.returncode == 1
    _once("the token is invalid or expired", run.stdout + run.stderr)
    assert "applied" not in run.stderr  # stopped while checking the plan, before any write
    assert asked <= 8
