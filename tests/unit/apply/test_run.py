"""One apply as a library run: options, the saved or fresh plan, --expect, and the client closed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from reconciler.apply import run as apply_run
from reconciler.apply.run import ApplyOptions, PreparedApply, prepare_apply
from reconciler.apply.secrets import SecretResolver
from reconciler.core.errors import EXIT_ERROR, EXIT_REFUSED, RefusedError, SymsyncError
from reconciler.plan import fresh
from reconciler.plan.differ import diff_project
from reconciler.plan.model import Plan
from reconciler.sentry.errors import AccountWideError
from reconciler.sentry.settings import ConnectionSettings
from tests.support.e2e_helpers import write_tree
from tests.support.plan_helpers import FakeSentry, http, project, redacted

SENTRY = "https://sentry.example"


class Display:
    """A progress display that records what it was told."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def attach(self, stats: Any) -> None:
        self.calls.append("attach")

    def phase(self, description: str, total: int) -> None:
        self.calls.append(f"phase {description} {total}")

    def advance(self, *_: object) -> None:
        self.calls.append("advance")

    def stop(self) -> None:
        self.calls.append("stop")


class Client(FakeSentry):
    """The fake client with what apply asks of a real one beyond the source methods."""

    def __init__(self, projects: dict[str, list[dict[str, Any]]], url: str = SENTRY) -> None:
        super().__init__(projects)
        self.base_url = url
        self.closed = False
        self.stopped_by = None
        self.stats = None

    def stop_retrying_on(self, stop: object) -> None:
        pass

    def close(self) -> None:
        self.closed = True


def _plan(desired: list[dict[str, Any]], remote: list[dict[str, Any]]) -> Plan:
    config = project("acme", "ios", desired)
    return Plan(projects=(diff_project(config, [redacted(s) for s in remote]),), sentry_url=SENTRY)


def _saved(tmp_path: Path, plan: Plan) -> Path:
    path = tmp_path / "plan.json"
    path.write_text(plan.dumps(), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("options", "names"),
    [
        (ApplyOptions(planfile=Path("a.json"), expect=Path("b.json")), "not both"),
        (ApplyOptions(planfile=Path("a.json"), base="HEAD~1"), "--base decides"),
        (ApplyOptions(planfile=Path("a.json"), rotate_patterns=("acme/*/*",)), "--rotate decides"),
    ],
)
def test_options_that_contradict_each_other_are_refused(options: ApplyOptions, names: str):
    with pytest.raises(SymsyncError, match=names):
        options.check()


def test_a_saved_plan_without_changes_needs_no_client(tmp_path: Path, monkeypatch):
    monkeypatch.delenv("SENTRY_AUTH_TOKEN", raising=False)  # no client could be made
    planfile = _saved(tmp_path, _plan([http("a")], [http("a")]))
    display = Display()
    with prepare_apply(ApplyOptions(planfile=planfile), progress=display, echo=print) as run:
        assert run.client is None
        assert not run.needs_confirmation
        assert run.expect_refusal() is None
        result = run.carry_out()
    assert [p.status for p in result.projects] == ["unchanged"]
    assert display.calls == []


def test_a_saved_plan_for_another_sentry_is_refused_and_its_client_closed(
    tmp_path: Path, monkeypatch
):
    planfile = _saved(tmp_path, _plan([http("a", name="new")], [http("a")]))
    client = Client({"acme/ios": [redacted(http("a"))]}, url="https://other.example")
    monkeypatch.setattr(apply_run, "connect", lambda settings: client)
    notes: list[str] = []
    options = ApplyOptions(planfile=planfile, config_dir=tmp_path / "configs")
    with pytest.raises(RefusedError, match=r"was planned against https://sentry\.example"):
        prepare_apply(options, progress=Display(), echo=notes.append)
    assert client.closed
    assert client.calls == []  # nothing read from the other Sentry


def _tree_and_client(
    tmp_path: Path, monkeypatch, desired: list[dict[str, Any]], remote: list[dict[str, Any]]
) -> tuple[Path, Client]:
    configs = write_tree(tmp_path, {"acme/ios": {"sources": desired}})
    client = Client({"acme/ios": [redacted(s) for s in remote]})
    # The client that only says which Sentry this is, then the one that reads and writes.
    monkeypatch.setattr(apply_run, "connect", lambda settings: Client({}))
    monkeypatch.setattr(fresh, "connect", lambda settings, desired=None: client)
    return configs, client


def test_a_saved_plan_is_verified_and_written_then_the_client_closed(tmp_path: Path, monkeypatch):
    planfile = _saved(tmp_path, _plan([http("a", name="new")], [http("a")]))
    configs, client = _tree_and_client(tmp_path, monkeypatch, [http("a", name="new")], [http("a")])
    events: list[str] = []
    options = ApplyOptions(planfile=planfile, config_dir=configs)
    with prepare_apply(options, progress=Display(), echo=print) as run:
        assert run.needs_confirmation
        run.resolve_secrets()
        result = run.carry_out(on_event=events.append)
        assert not client.closed
    assert client.closed
    assert [p.status for p in result.projects] == ["applied"]
    # Read against the file, read again just before the write, then the write.
    assert [call[0] for call in client.calls] == ["GET", "GET", "PUT"]
    assert events == ["acme/ios: updated `a`"]


@pytest.mark.parametrize(
    ("edit", "named"),
    [
        (
            lambda d: d["projects"][0]["changes"][0]["fields"]["name"].update(after="bent"),
            'field `name`: the plan says "a server" -> "bent"; the files give "a server" -> "new"',
        ),
        (
            lambda d: d["projects"][0]["changes"][0]["source"].update(url="https://evil.example/"),
            'sends `url` "https://evil.example/"; the files give "https://a.example/"',
        ),
        (
            lambda d: d["projects"][0].update(max_deletes=100),
            "acme/ios: the plan says max_deletes 100; the file says null",
        ),
        (
            lambda d: d["projects"][0]["changes"].append(
                {"action": "delete", "source_id": "b", "source_type": "http", "reason": "absent"}
            ),
            "acme/ios: delete `b`: in the plan, but the files do not give it",
        ),
    ],
    ids=["field", "body", "max-deletes", "added-delete"],
)
def test_a_saved_plan_the_files_do_not_give_is_refused_before_any_write(
    tmp_path: Path, monkeypatch, edit: Any, named: str
):
    document = json.loads(_plan([http("a", name="new")], [http("a"), http("b")]).dumps())
    edit(document)
    planfile = tmp_path / "plan.json"
    planfile.write_text(json.dumps(document), encoding="utf-8")
    configs, client = _tree_and_client(
        tmp_path, monkeypatch, [http("a", name="new")], [http("a"), http("b")]
    )
    options = ApplyOptions(planfile=planfile, config_dir=configs)
    with pytest.raises(RefusedError) as info:
        prepare_apply(options, progress=Display(), echo=print)
    assert named in str(info.value)
    assert "nothing was written anywhere" in str(info.value)
    assert [call[0] for call in client.calls] == ["GET"]
    assert client.closed


def test_a_saved_plan_for_a_project_without_a_file_is_refused(tmp_path: Path, monkeypatch):
    planfile = _saved(tmp_path, _plan([http("a", name="new")], [http("a")]))
    configs = write_tree(tmp_path, {"acme/android": {"sources": []}})
    client = Client({"acme/ios": [redacted(http("a"))]})
    monkeypatch.setattr(apply_run, "connect", lambda settings: client)
    with pytest.raises(
        RefusedError, match="acme/ios: has changes in the plan, but no project file"
    ):
        prepare_apply(
            ApplyOptions(planfile=planfile, config_dir=configs), progress=Display(), echo=print
        )
    assert client.calls == []


def _prepared(reviewed: Plan, fresh_plan: Plan) -> PreparedApply:
    options = ApplyOptions(expect=Path("reviewed.json"))
    return PreparedApply(
        fresh_plan, None, options=options, reviewed=reviewed, secrets=SecretResolver({})
    )


def test_expect_refuses_a_fresh_plan_with_other_changes():
    reviewed = _plan([http("a", name="reviewed")], [http("a")])
    fresh_plan = _plan([http("a", name="something else")], [http("a")])
    refusal = _prepared(reviewed, fresh_plan).expect_refusal()
    assert refusal is not None
    assert refusal.exit_code == EXIT_REFUSED
    assert refusal.lines[0] == (
        "apply --expect: the fresh plan differs from reviewed.json; nothing was written anywhere:"
    )
    assert refusal.lines[-1] == "Review the fresh plan (`symsync plan`) and apply that one."
    assert _prepared(reviewed, reviewed).expect_refusal() is None


def test_expect_cannot_compare_a_project_the_fresh_plan_could_not_read():
    reviewed = _plan([http("a", name="reviewed")], [http("a")])
    unread = reviewed.model_copy(
        update={"projects": (reviewed.projects[0].model_copy(update={"error": "boom"}),)}
    )
    refusal = _prepared(reviewed, unread).expect_refusal()
    assert refusal is not None
    assert refusal.exit_code == EXIT_ERROR
    assert refusal.lines[1] == "  acme/ios: boom"


def test_a_fresh_plan_that_fails_takes_the_display_down_then_closes_the_client(
    tmp_path: Path, monkeypatch
):
    configs = tmp_path / "configs" / "acme"
    configs.mkdir(parents=True)
    (configs / "ios.yaml").write_text("sources: []\n", encoding="utf-8")
    display = Display()

    class Failing(Client):
        def list_sources(self, org: str, project: str) -> list[dict[str, Any]]:
            display.calls.append("read")
            raise AccountWideError("the token is not valid", status=401, method="GET", path="/")

        def close(self) -> None:
            display.calls.append("close")

    client = Failing({})
    monkeypatch.setattr(fresh, "connect", lambda settings, desired=None: client)
    with pytest.raises(AccountWideError):
        fresh.plan_tree(
            tmp_path / "configs", (), ConnectionSettings(), progress=display, echo=print
        )
    assert display.calls == ["attach", "phase plan 1", "read", "stop", "close"]


def test_expect_refuses_a_reviewed_plan_whose_delete_limit_the_file_no_longer_gives():
    reviewed = _plan([http("a", name="new")], [http("a")])
    bent = reviewed.model_copy(
        update={"projects": (reviewed.projects[0].model_copy(update={"max_deletes": 100}),)}
    )
    refusal = _prepared(bent, reviewed).expect_refusal()
    assert refusal is not None and refusal.exit_code == EXIT_REFUSED
    assert "  acme/ios: max_deletes: reviewed 100; the file says null" in refusal.lines
