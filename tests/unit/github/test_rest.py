"""`symsync github comment` and `symsync github drift`, run as the workflows run them: the real
CLI in a subprocess, against the fake GitHub API on 127.0.0.1 (tests/support/fake_github.py)."""

from __future__ import annotations

import contextlib
import io
import json
import os
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from reconciler.cli import main
from reconciler.github.comment import BODY_LIMIT, marker
from reconciler.github.drift import drift_reasons
from reconciler.github.rest import GitHubEnv, GitHubError
from reconciler.plan.model import Change, FieldChange, Plan, ProjectPlan
from reconciler.plan.render import render_markdown
from tests.support.e2e_helpers import clean_env
from tests.support.fake_github import FakeGitHub, running_fake_github

TOKEN = "ghs_SENTINEL_github_token_do_not_print"
PLAN_MARKER = marker("plan")


@pytest.fixture
def github():
    with running_fake_github(TOKEN) as fake:
        yield fake


def gh_env(fake: FakeGitHub, tmp_path: Path, *, event: dict[str, Any] | None = None,
           **extra: str) -> dict[str, str]:  # fmt: skip
    event_path = tmp_path / "event.json"
    event_path.write_text(
        json.dumps(event if event is not None else {"pull_request": {"number": 7}}),
        encoding="utf-8",
    )
    env = {
        "GITHUB_API_URL": fake.api_url,
        "GITHUB_REPOSITORY": "acme/configs",
        "GITHUB_TOKEN": TOKEN,
        "GITHUB_EVENT_PATH": str(event_path),
        "GITHUB_SERVER_URL": "https://github.example",
        "GITHUB_RUN_ID": "4242",
        "GITHUB_OUTPUT": str(tmp_path / "output"),
    }
    env.update(extra)
    return clean_env(**env)


@dataclass
class Ran:
    returncode: int
    stdout: str
    stderr: str


def github_cli(*args: str, env: dict[str, str], subprocess_: bool = False) -> Ran:
    """`symsync github ARGS`: in this process (fast), or as a real subprocess."""
    if subprocess_:
        done = subprocess.run(
            [sys.executable, "-m", "reconciler", "github", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            stdin=subprocess.DEVNULL,
        )
        run = Ran(done.returncode, done.stdout, done.stderr)
    else:
        run = run_in_process(["github", *args], env)
    assert TOKEN not in run.stdout + run.stderr
    assert "Traceback" not in run.stderr
    return run


def run_in_process(argv: list[str], env: dict[str, str]) -> Ran:
    """The CLI's ``main`` with ``env`` as the whole environment, its output captured."""
    out, err = io.StringIO(), io.StringIO()
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(env)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                main(argv)
                code = 0
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else 1
    finally:
        os.environ.clear()
        os.environ.update(saved)
    return Ran(code, out.getvalue(), err.getvalue())


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def make_plan(projects: int, *, changes: bool = True, long: int = 0) -> Plan:
    items = []
    for i in range(projects):
        found = ()
        if changes:
            found = (
                Change(
                    action="update",
                    source_id=f"source-{i}",
                    source_type="http",
                    fields={"url": FieldChange(before=f"https://old.example/{'x' * long}",
                                               after=f"https://new.example/{i}")},
                ),
            )  # fmt: skip
        items.append(ProjectPlan(organization="acme", project=f"project-{i:05d}", changes=found))
    return Plan(projects=tuple(items))


# -- comment -----------------------------------------------------------------------------------


def test_two_runs_leave_one_comment_edited_in_place(github, tmp_path: Path) -> None:
    for i in range(5):  # other comments fill more than one page
        github.add_comment(7, f"review remark {i}")
    env = gh_env(github, tmp_path)
    first = github_cli("comment", "--body-file", str(write(tmp_path, "a.md", "### plan one\n")),
                       env=env, subprocess_=True)  # fmt: skip
    assert first.returncode == 0, first.stderr
    assert "created the plan comment on pull request #7" in first.stderr
    second = github_cli("comment", "--body-file", str(write(tmp_path, "b.md", "### plan two\n")),
                        env=env)  # fmt: skip
    assert second.returncode == 0, second.stderr
    assert "updated the plan comment" in second.stderr
    ours = [c for c in github.comments[7] if c["body"].startswith(PLAN_MARKER)]
    assert len(ours) == 1 and len(github.comments[7]) == 6
    assert ours[0]["body"] == f"{PLAN_MARKER}\n### plan two\n"
    # The second run searched every page before editing, and never posted a second comment.
    assert [(r.method, r.path.rsplit("/", 2)[-2]) for r in github.writes()] == [
        ("POST", "7"), ("PATCH", "comments")
    ]  # fmt: skip
    pages = {r.query.get("page", "1") for r in github.requests if r.path.endswith("/comments")}
    assert {"1", "2", "3"} <= pages
    assert all(r.authorized for r in github.requests)


def test_a_reply_quoting_the_marker_is_not_edited(github, tmp_path: Path) -> None:
    quoted = f"> {PLAN_MARKER}\n> ### plan one\n\nWhy does this delete a source?"
    github.add_comment(7, quoted)
    github.add_comment(7, f"see above {PLAN_MARKER}")
    run = github_cli("comment", "--body-file", str(write(tmp_path, "a.md", "### plan\n")),
                     env=gh_env(github, tmp_path))  # fmt: skip
    assert run.returncode == 0, run.stderr
    bodies = [c["body"] for c in github.comments[7]]
    assert bodies == [quoted, f"see above {PLAN_MARKER}", f"{PLAN_MARKER}\n### plan\n"]


def test_a_plan_of_3000_projects_stays_under_the_comment_limit(github, tmp_path: Path) -> None:
    markdown = render_markdown(make_plan(3000, long=200))
    body = write(tmp_path, "plan.md", markdown)
    run = github_cli("comment", "--body-file", str(body), env=gh_env(github, tmp_path))
    assert run.returncode == 0, run.stderr
    (posted,) = github.comments[7]
    assert len(posted["body"]) <= BODY_LIMIT
    assert posted["body"].startswith(f"{PLAN_MARKER}\n### symsync plan\n")


def test_a_body_over_the_limit_is_cut_with_a_note_linking_the_run(github, tmp_path: Path) -> None:
    text = "### symsync plan\n\n```diff\n" + "".join(f"+ line {i}\n" for i in range(20_000))
    run = github_cli("comment", "--body-file", str(write(tmp_path, "big.md", text)),
                     env=gh_env(github, tmp_path))  # fmt: skip
    assert run.returncode == 0, run.stderr
    body = github.comments[7][0]["body"]
    assert len(body.encode("utf-8")) <= BODY_LIMIT
    assert body.startswith(f"{PLAN_MARKER}\n### symsync plan\n\n```diff\n+ line 0\n")
    assert "[this run](https://github.example/acme/configs/actions/runs/4242)" in body
    assert "full plan is in the artifact" in body
    assert body.count("```") == 2  # the cut code block is closed before the note


def test_an_empty_body_says_where_to_look(github, tmp_path: Path) -> None:
    run = github_cli("comment", "--body-file", str(write(tmp_path, "empty.md", "")),
                     env=gh_env(github, tmp_path))  # fmt: skip
    assert run.returncode == 0, run.stderr
    body = github.comments[7][0]["body"]
    assert "printed nothing" in body and "actions/runs/4242" in body


def test_an_api_url_with_a_path_works(tmp_path: Path) -> None:
    with running_fake_github(TOKEN, prefix="/api/v3") as fake:
        env = gh_env(fake, tmp_path)
        assert env["GITHUB_API_URL"].endswith("/api/v3")
        run = github_cli("comment", "--body-file", str(write(tmp_path, "a.md", "x\n")), env=env,
                         subprocess_=True)  # fmt: skip
        assert run.returncode == 0, run.stderr
        assert fake.requests and all(r.path.startswith("/api/v3/repos/") for r in fake.requests)
        assert fake.comments[7][0]["body"] == f"{PLAN_MARKER}\nx\n"


def test_an_event_without_a_pull_request_is_a_clear_error(github, tmp_path: Path) -> None:
    env = gh_env(github, tmp_path, event={"ref": "refs/heads/main"})
    run = github_cli("comment", "--body-file", str(write(tmp_path, "a.md", "x")), env=env)
    assert run.returncode == 1
    assert "has no pull request" in run.stderr and "--pull-request" in run.stderr
    assert github.requests == []
    named = github_cli("comment", "--body-file", str(tmp_path / "a.md"), "--pull-request", "9",
                       env=env)  # fmt: skip
    assert named.returncode == 0, named.stderr
    assert github.comments[9][0]["body"].startswith(PLAN_MARKER)


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("GITHUB_TOKEN", "", "GITHUB_TOKEN is not set"),
        ("GITHUB_REPOSITORY", "", "GITHUB_REPOSITORY is not set"),
        ("GITHUB_REPOSITORY", "no-slash", "GITHUB_REPOSITORY is `no-slash`: it must be OWNER/NAME"),
        ("GITHUB_API_URL", "ftp://x", "GITHUB_API_URL is `ftp://x`: it must be an http(s) URL"),
        ("GITHUB_EVENT_PATH", "/nonexistent/event.json", "cannot read the event file"),
    ],
)
def test_missing_or_invalid_variables_are_clear_errors(
    github, tmp_path: Path, variable: str, value: str, expected: str
) -> None:
    env = gh_env(github, tmp_path)
    env[variable] = value
    run = github_cli("comment", "--body-file", str(write(tmp_path, "a.md", "x")), env=env)
    assert run.returncode == 1
    assert expected in run.stderr
    assert github.writes() == []


def test_http_failures_are_clear_and_never_show_the_token(github, tmp_path: Path) -> None:
    # A server echoing the credentials it got must not make symsync print them.
    github.fail_with = (500, f"internal error for Authorization: Bearer {TOKEN}")
    run = github_cli("comment", "--body-file", str(write(tmp_path, "a.md", "x")),
                     env=gh_env(github, tmp_path))  # fmt: skip
    assert run.returncode == 1
    host = github.url.split("://", 1)[1]
    assert (
        f"GitHub answered 500 to GET /repos/acme/configs/issues/7/comments on {host}: "
        "internal error for Authorization: Bearer"
    ) in run.stderr
    assert run.stderr.rstrip().endswith("run the job again later")
    assert len(run.stderr.strip().splitlines()) == 1
    github.fail_with = (403, "Resource not accessible by integration")
    run = github_cli("comment", "--body-file", str(tmp_path / "a.md"), env=gh_env(github, tmp_path))
    assert run.returncode == 1
    assert "Resource not accessible by integration" in run.stderr
    assert "permissions:" in run.stderr
    env = gh_env(github, tmp_path, GITHUB_TOKEN="ghs_wrong_SENTINEL")
    run = github_cli("comment", "--body-file", str(tmp_path / "a.md"), env=env)
    assert run.returncode == 1 and "401" in run.stderr and "ghs_wrong_SENTINEL" not in run.stderr


def test_an_unreachable_github_is_a_clear_error(tmp_path: Path, monkeypatch) -> None:
    import reconciler.github.rest

    monkeypatch.setattr(reconciler.github.rest, "GET_RETRY_PAUSES", (0.0, 0.0))  # no real waiting
    with running_fake_github(TOKEN) as fake:
        env = gh_env(fake, tmp_path)
    run = github_cli("comment", "--body-file", str(write(tmp_path, "a.md", "x")), env=env)
    assert run.returncode == 1
    assert "GitHub did not answer GET /repos/acme/configs/issues/7/comments" in run.stderr
    assert "could not reach 127.0.0.1 (connection refused)" in run.stderr
    assert "check GITHUB_API_URL" in run.stderr


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize(
    ("api_url", "host", "reason"),
    [
        ("http://127.0.0.1:{port}", "127.0.0.1", "connection refused"),
        ("https://github.invalid", "github.invalid", "the host name could not be resolved"),
    ],
)
def test_a_connection_error_is_one_line_naming_the_host_and_what_to_check(
    tmp_path: Path, api_url: str, host: str, reason: str
) -> None:
    """The real CLI, as a workflow step runs it: one line of our own words, none of urllib3's
    (its message holds the pool and the whole URL, and was cut with "(N more characters)")."""
    url = api_url.format(port=_closed_port())
    env = gh_env(FakeGitHub(TOKEN, url=url), tmp_path)
    run = github_cli(
        "comment", "--body-file", str(write(tmp_path, "a.md", "x")), env=env, subprocess_=True
    )
    assert run.returncode == 1
    (line,) = run.stderr.splitlines()
    assert line == (
        "error: GitHub did not answer GET /repos/acme/configs/issues/7/comments: could not "
        f"reach {host} ({reason}); check GITHUB_API_URL ({url}), GITHUB_TOKEN and the network"
    )
    for library_words in ("HTTPConnectionPool", "Max retries", "more characters", "urllib3"):
        assert library_words not in run.stderr


def test_a_next_link_to_another_host_is_not_followed(github, tmp_path: Path) -> None:
    env = GitHubEnv.from_environ(gh_env(github, tmp_path))
    from reconciler.github.rest import GitHubAPI

    with GitHubAPI(env) as api, pytest.raises(GitHubError, match="not sending the token there"):
        api.request("GET", "https://elsewhere.example/repos/acme/configs/issues")
    assert github.requests == []


# -- drift -------------------------------------------------------------------------------------


def drift(fake: FakeGitHub, tmp_path: Path, plan: dict[str, Any]) -> Ran:
    planfile = write(tmp_path, "plan.json", json.dumps(plan))
    return github_cli("drift", "--plan", str(planfile), env=gh_env(fake, tmp_path, event={}))


def drift_issues(fake: FakeGitHub) -> list[dict[str, Any]]:
    return [i for i in fake.issues if "pull_request" not in i]


def test_the_drift_issue_opens_updates_and_closes(github, tmp_path: Path) -> None:
    for i in range(3):  # other open issues, one with another label
        github.add_issue(title=f"bug {i}", labels=["bug"] if i else [])
    changed = make_plan(2).to_json()
    run = drift(github, tmp_path, changed)
    assert run.returncode == 0, run.stderr
    assert "drift: opened issue #4" in run.stderr
    issue = github.issues[3]
    assert issue["title"] == "symsync: Sentry differs from configs/"
    assert [lab["name"] for lab in issue["labels"]] == ["symsync-drift"]
    assert "2 pending changes" in issue["body"] and "`acme/project-00001`" in issue["body"]
    assert "actions/runs/4242" in issue["body"]
    assert "drift-issue=4" in (tmp_path / "output").read_text(encoding="utf-8")

    run = drift(github, tmp_path, make_plan(1).to_json())
    assert run.returncode == 0, run.stderr
    assert "drift: updated issue #4" in run.stderr
    assert len(drift_issues(github)) == 4 and "1 pending change" in github.issues[3]["body"]

    run = drift(github, tmp_path, make_plan(1, changes=False).to_json())
    assert run.returncode == 0, run.stderr
    assert "no drift: closed issue #4" in run.stderr
    assert github.issues[3]["state"] == "closed"
    assert "shows no drift" in github.comments[4][0]["body"]

    before = len(github.requests)
    run = drift(github, tmp_path, make_plan(1, changes=False).to_json())
    assert run.returncode == 0, run.stderr
    assert "nothing to do" in run.stderr
    assert [r.method for r in github.requests[before:]] == ["GET"]
    assert [i["state"] for i in github.issues] == ["open", "open", "open", "closed"]


def test_a_pull_request_with_the_label_is_left_alone(github, tmp_path: Path) -> None:
    pr = github.add_issue(title="Adopt acme", labels=["symsync-drift"], pull_request={"url": "x"})
    for _ in range(3):  # fill the first page with pull requests
        github.add_issue(title="other", labels=["symsync-drift"], pull_request={"url": "y"})
    run = drift(github, tmp_path, make_plan(1).to_json())
    assert run.returncode == 0, run.stderr
    assert "opened issue #5" in run.stderr
    assert pr["body"] == "" and pr["state"] == "open"
    run = drift(github, tmp_path, make_plan(1, changes=False).to_json())
    assert "closed issue #5" in run.stderr
    assert pr["state"] == "open" and 1 not in github.comments


@pytest.mark.parametrize(
    ("extra", "reason"),
    [
        ({"unfiled": ["acme/legacy"]}, "1 project with sources and no file"),
        ({"unfiled_errors": {"acme/old": "GET failed: 500"}}, "1 project could not be planned"),
        ({"project_key": ("report", ["by-hand"])}, "1 unlisted source reported"),
        ({"project_key": ("unmanaged_report", ["a", "b"])}, "2 unlisted sources reported"),
        ({"project_key": ("error", "GET failed: 500")}, "1 project could not be planned"),
    ],
)
def test_reported_sources_unfiled_projects_and_errors_are_drift(
    github, tmp_path: Path, extra: dict[str, Any], reason: str
) -> None:
    plan = make_plan(1, changes=False).to_json()
    if "project_key" in extra:
        key, value = extra["project_key"]
        plan["projects"][0][key] = value
    else:
        plan.update(extra)
    assert drift_reasons(plan) == [reason]
    run = drift(github, tmp_path, plan)
    assert run.returncode == 0, run.stderr
    assert reason in drift_issues(github)[0]["body"]


def test_a_huge_drift_plan_fits_in_the_issue(github, tmp_path: Path) -> None:
    run = drift(github, tmp_path, make_plan(3000, long=200).to_json())
    assert run.returncode == 0, run.stderr
    assert len(github.issues[0]["body"].encode("utf-8")) <= BODY_LIMIT


def test_a_broken_plan_file_is_a_clear_error(github, tmp_path: Path) -> None:
    for text, expected in [("{", "not a JSON plan"), ("[]", "not a JSON plan"),
                           ('{"format_version": 9}', "plan")]:  # fmt: skip
        planfile = write(tmp_path, "plan.json", text)
        run = github_cli("drift", "--plan", str(planfile), env=gh_env(github, tmp_path))
        assert run.returncode == 1 and expected in run.stderr
    run = github_cli("drift", "--plan", str(tmp_path / "none.json"), env=gh_env(github, tmp_path))
    assert run.returncode == 1 and "no such plan file" in run.stderr
    assert github.requests == []


# -- check-token -------------------------------------------------------------------------------


@pytest.mark.parametrize("job", ["plan", "apply", "drift"])
def test_without_a_sentry_token_the_job_says_so_in_its_summary_and_succeeds(
    tmp_path: Path, job: str
) -> None:
    summary, output = tmp_path / "summary.md", tmp_path / "output"
    env = clean_env(GITHUB_STEP_SUMMARY=str(summary), GITHUB_OUTPUT=str(output))
    run = run_in_process(["github", "check-token", "--command", job], env)
    assert run.returncode == 0, run.stderr
    assert summary.read_text(encoding="utf-8").startswith(
        f"### symsync {job}: skipped, no Sentry token\n"
    )
    assert output.read_text(encoding="utf-8") == "configured=false\n"
    assert run.stdout.startswith(f"::notice title=symsync {job} skipped::")


def test_with_a_sentry_token_the_job_goes_on(tmp_path: Path) -> None:
    summary, output = tmp_path / "summary.md", tmp_path / "output"
    env = clean_env(GITHUB_STEP_SUMMARY=str(summary), GITHUB_OUTPUT=str(output),
                    SENTRY_AUTH_TOKEN=TOKEN)  # fmt: skip
    run = run_in_process(["github", "check-token", "--command", "plan"], env)
    assert run.returncode == 0 and TOKEN not in run.stdout + run.stderr
    assert output.read_text(encoding="utf-8") == "configured=true\n"
    assert not summary.exists()
    bad = run_in_process(["github", "check-token", "--command", "deploy"], env)
    assert bad.returncode == 1 and "deploy" in bad.stderr


def test_tokens_per_organization_alone_are_a_sentry_token_too(tmp_path: Path) -> None:
    output = tmp_path / "output"
    tokens = '{"acme": "acme-SENTINEL-token"}'
    env = clean_env(GITHUB_OUTPUT=str(output), SENTRY_AUTH_TOKENS=tokens)
    run = run_in_process(["github", "check-token", "--command", "apply"], env)
    assert run.returncode == 0 and "SENTINEL" not in run.stdout + run.stderr
    assert output.read_text(encoding="utf-8") == "configured=true\n"


def test_a_read_github_could_not_answer_is_tried_again_a_write_never(github, tmp_path) -> None:
    from reconciler.github.comment import find_comment
    from reconciler.github.rest import GET_RETRY_PAUSES, GitHubAPI

    env = GitHubEnv.from_environ(gh_env(github, tmp_path))
    github.add_comment(7, f"{PLAN_MARKER}\nold")
    slept: list[float] = []
    github.fail_next = [502, 503]
    with GitHubAPI(env, sleep=slept.append) as api:
        assert find_comment(api, 7, "plan") is not None
        assert slept == list(GET_RETRY_PAUSES)
        github.fail_next = [502, 502, 502]
        with pytest.raises(GitHubError, match="GitHub answered 502 to GET"):
            find_comment(api, 7, "plan")
        github.fail_next = [503]
        with pytest.raises(GitHubError, match="GitHub answered 503 to POST"):
            api.json("POST", f"{api.repo_path}/issues/7/comments", json_body={"body": "x"})
    assert len(github.comments[7]) == 1


@pytest.mark.e2e
def test_a_real_plan_with_an_unfiled_project_opens_the_drift_issue(github, tmp_path: Path) -> None:
    from reconciler.emulator.testing import running_emulator
    from tests.support.e2e_helpers import EMULATOR_TOKEN, state_doc, symsync, write_tree

    source = {"id": "a", "type": "http", "name": "a", "url": "https://a.example/",
              "layout": {"type": "native"}}  # fmt: skip
    configs = write_tree(tmp_path, {"acme/ios": {"sources": [source]}})
    planfile = tmp_path / "drift.json"
    remote = {"acme/ios": [source], "acme/legacy": [{**source, "id": "old"}]}
    with running_emulator(state=state_doc(remote)) as emu:
        env = gh_env(github, tmp_path, event={}, SENTRY_URL=emu.url,
                     SENTRY_AUTH_TOKEN=EMULATOR_TOKEN)  # fmt: skip
        planned = symsync("plan", "--config-dir", str(configs), "--report-unfiled",
                          "--out", str(planfile), env=env)  # fmt: skip
    assert planned.returncode == 0, planned.stderr
    run = github_cli("drift", "--plan", str(planfile), env=env)
    assert run.returncode == 0, run.stderr
    (issue,) = drift_issues(github)
    assert "1 project with sources and no file" in issue["body"]
