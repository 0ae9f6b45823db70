"""The planner: reads start while the tree is still loading; an invalid tree plans nothing."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from reconciler.config.diagnostic import display_path
from reconciler.core.errors import ConfigError, SymsyncError
from reconciler.plan import planner
from reconciler.plan.planner import READ_AHEAD_PER_READER, DesiredTree, make_plan
from tests.support.plan_helpers import FakeSentry, http, project
from tests.support.yaml_snippets import HTTP, S3

VALID = "sources:\n" + HTTP


def _tree(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / "configs" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root / "configs"


class _ReadSignal(FakeSentry):
    """Sets ``started`` on the first read."""

    def __init__(self, projects: dict[str, list[dict[str, object]]]) -> None:
        super().__init__(projects)
        self.started = threading.Event()

    def list_sources(self, org: str, project: str) -> list[dict[str, object]]:
        self.started.set()
        return super().list_sources(org, project)


def test_a_project_is_read_before_the_next_file_is_loaded():
    fake = _ReadSignal({"a/x": [], "a/y": []})

    def configs():
        yield project("a", "x", [http("p")])
        # Phases would read nothing until this generator is exhausted: the wait would time out.
        assert fake.started.wait(10), "no read started while the tree was still loading"
        yield project("a", "y", [http("q")])

    plan = make_plan(fake, configs(), parallelism=2)
    assert [p.key for p in plan.projects] == ["a/x", "a/y"]
    assert all(p.count("create") == 1 for p in plan.projects)


def test_an_invalid_file_after_valid_ones_plans_nothing_and_reports_it(tmp_path):
    config_dir = _tree(
        tmp_path,
        {"a/x.yaml": VALID, "a/y.yaml": VALID, "z/broken.yaml": "sources:\n  - id: [\n"},
    )
    fake = FakeSentry({"a/x": [], "a/y": []})
    said: list[str] = []
    desired = DesiredTree(config_dir, (), echo=said.append)
    assert len(desired) == 3
    with pytest.raises(ConfigError, match="1 error"):
        make_plan(fake, desired.load(), parallelism=2)
    assert any("broken.yaml:" in line for line in said), said
    # Reads may have started; nothing but reads did.
    assert {method for method, *_ in fake.calls} <= {"GET"}


def test_project_selection_by_file_name_and_only_selected_projects_are_read(tmp_path):
    config_dir = _tree(tmp_path, {"a/x.yaml": VALID, "a/y.yaml": VALID, "b/x.yaml": VALID})
    fake = FakeSentry({"a/x": [], "a/y": [], "b/x": []})
    desired = DesiredTree(config_dir, ("*/x",), echo=lambda _: None)
    assert len(desired) == 2
    plan = make_plan(fake, desired.load())
    assert [p.key for p in plan.projects] == ["a/x", "b/x"]
    assert sorted(call[1] for call in fake.calls) == ["a/x", "b/x"]


def test_a_pattern_matching_nothing_is_refused_after_the_trees_diagnostics(tmp_path):
    config_dir = _tree(tmp_path, {"a/x.yaml": VALID})
    fake = FakeSentry({"a/x": []})
    desired = DesiredTree(config_dir, ("nope/*",), echo=lambda _: None)
    with pytest.raises(SymsyncError, match="matches no project"):
        make_plan(fake, desired.load())
    assert fake.calls == []

    broken = _tree(tmp_path / "second", {"a/x.yaml": "sources: 3\n"})
    said: list[str] = []
    with pytest.raises(ConfigError):
        DesiredTree(broken, ("nope/*",), echo=said.append).check()
    assert said and "x.yaml:1:" in said[0]


def test_loaded_projects_keep_no_positions(tmp_path):
    config_dir = _tree(tmp_path, {"a/x.yaml": VALID})
    (config,) = DesiredTree(config_dir, (), echo=lambda _: None).load()
    assert config.key == "a/x"
    assert len(config.origins) == 0


def test_reads_start_from_the_files_names_before_any_file_is_loaded():
    fake = _ReadSignal({"a/x": [], "a/y": []})

    def configs():
        # Nothing is yielded until a read has started: only the names can have started it.
        assert fake.started.wait(10), "no read started before the first file was loaded"
        yield project("a", "x", [http("p")])
        yield project("a", "y", [http("q")])

    plan = make_plan(fake, configs(), parallelism=2, keys=["a/x", "a/y"])
    assert [p.key for p in plan.projects] == ["a/x", "a/y"]
    assert all(p.count("create") == 1 for p in plan.projects)
    assert sorted(call[1] for call in fake.calls) == ["a/x", "a/y"]  # one read each


def test_the_keys_of_a_tree_are_its_selected_projects_in_the_order_it_loads_them(tmp_path):
    config_dir = _tree(
        tmp_path,
        {"b/x.yaml": VALID, "a/y.yaml": VALID, "a/x.yaml": VALID, "c/z.yaml": VALID},
    )
    desired = DesiredTree(config_dir, ("a/*", "b/*"), echo=lambda _: None)
    loaded = [config.key for config in desired.load()]
    assert desired.keys() == loaded == ["a/x", "a/y", "b/x"]


def test_a_file_that_does_not_validate_is_read_by_name_and_nothing_is_planned(tmp_path):
    config_dir = _tree(tmp_path, {"a/x.yaml": VALID, "a/y.yaml": "sources: 3\n"})
    fake = FakeSentry({"a/x": [], "a/y": []})
    said: list[str] = []
    desired = DesiredTree(config_dir, (), echo=said.append)
    with pytest.raises(ConfigError, match="1 error"):
        make_plan(fake, desired.load(), parallelism=2, keys=desired.keys())
    assert any("y.yaml:1:" in line for line in said), said
    assert {method for method, *_ in fake.calls} <= {"GET"}  # reads only, never a write


class _ReadsCounted(FakeSentry):
    """Lets a test wait until a number of reads have reached Sentry."""

    def __init__(self, projects: dict[str, list[dict[str, object]]]) -> None:
        super().__init__(projects)
        self._read = threading.Condition()

    def list_sources(self, org: str, project: str) -> list[dict[str, object]]:
        answer = super().list_sources(org, project)
        with self._read:
            self._read.notify_all()
        return answer

    def wait_for_reads(self, count: int, timeout: float = 10) -> bool:
        with self._read:
            return self._read.wait_for(lambda: len(self.calls) >= count, timeout)


def test_reads_run_only_a_few_projects_ahead_of_the_loading(monkeypatch):
    """Against a fast Sentry, answers waiting for their files stay a handful, whatever the
    size of the tree: the loading paces the reads. Before each file is loaded, the readers
    reach as far ahead as they are let (the wait for those reads ends only if they do), and the
    planner has started no read beyond that."""
    keys = [f"a/p{i:03}" for i in range(200)]
    fake = _ReadsCounted({key: [] for key in keys})
    started: list[str] = []  # every read the planner hands to its readers, in order

    class CountingPool(ThreadPoolExecutor):
        def submit(self, fn, /, *args, **kwargs):
            started.append(args[0].key)
            return super().submit(fn, *args, **kwargs)

    monkeypatch.setattr(planner, "ThreadPoolExecutor", CountingPool)
    read_ahead = READ_AHEAD_PER_READER * 2  # two readers
    started_ahead: list[int] = []

    def configs():
        for i, key in enumerate(keys):
            reads = min(i + read_ahead, len(keys))
            assert fake.wait_for_reads(reads), f"file {i}: only {len(fake.calls)} reads ran ahead"
            started_ahead.append(len(started) - i)
            yield project("a", key.split("/")[1], [http("p")])

    plan = make_plan(fake, configs(), parallelism=2, keys=keys)
    assert len(plan.projects) == 200
    assert sorted(call[1] for call in fake.calls) == keys  # each read once
    assert started == keys  # in the order of the keys
    assert max(started_ahead) <= READ_AHEAD_PER_READER * 2
    assert started_ahead[0] == read_ahead  # and they do run ahead, as far as they are let


def test_a_project_yielded_out_of_the_order_of_keys_is_still_read_once(tmp_path):
    fake = FakeSentry({"a/x": [], "a/y": [], "a/z": []})
    configs = [project("a", "z", [http("p")]), project("a", "x", [http("p")])]
    plan = make_plan(fake, iter(configs), parallelism=1, keys=["a/x", "a/y", "a/z"])
    assert [p.key for p in plan.projects] == ["a/x", "a/z"]
    assert sorted(call[1] for call in fake.calls) == ["a/x", "a/y", "a/z"]


TYPO = "sources:\n" + S3.replace("us-east-1", "eu-south-9")  # region at line 6, column 13


def test_a_files_warnings_go_into_its_plan_and_only_the_others_are_echoed(tmp_path):
    config_dir = _tree(tmp_path, {"a/x.yaml": TYPO, "b/y.yaml": TYPO})
    said: list[str] = []
    desired = DesiredTree(config_dir, ("a/*",), echo=said.append)
    plan = make_plan(FakeSentry({"a/x": []}), desired.load(), keys=desired.keys())
    (warning,) = plan.projects[0].warnings
    assert warning.where == f"{display_path(config_dir / 'a' / 'x.yaml')}:6:13"
    assert "region `eu-south-9` is not a known AWS region" in warning.message
    # b/y is not planned: its warning is printed; a/x's is in the plan, printed with it.
    assert len(said) == 1 and "y.yaml:6:13: warning: " in said[0]
    # A run that ends before its plan is shown prints the held ones, once.
    desired.release_warnings()
    desired.release_warnings()
    assert len(said) == 2 and "x.yaml:6:13: warning: " in said[1]


class _Builtins(FakeSentry):
    """Built-in repositories too: each project's list, and the keys the organization offers."""

    def __init__(self, projects: dict[str, list[dict[str, object]]], held: dict[str, list[str]]):
        super().__init__(projects)
        self.held = held
        self.offered = ["microsoft", "nuget", "unity"]

    def builtin_sources(self, org: str, project: str) -> list[str]:
        key = f"{org}/{project}"
        with self._lock:
            self.calls.append(("GET details", key, None, None))
        self._check("GET details", key)
        return list(self.held.get(key, ["ios", "microsoft", "android", "nuget"]))

    def organization_builtin_keys(self, org: str) -> list[str]:
        with self._lock:
            self.calls.append(("GET org builtins", org, None, None))
        return list(self.offered)


def test_builtins_are_read_only_for_projects_that_manage_them_and_the_org_list_once():
    fake = _Builtins({}, {"a/x": ["unity"]})
    configs = [
        project("a", "x", [], builtin=["unity"]),
        project("a", "y", [], builtin=["nuget"]),
        project("a", "z", []),
    ]
    plan = make_plan(fake, configs, parallelism=4)
    calls = sorted((method, key) for method, key, _, _ in fake.calls)
    assert calls == [
        ("GET", "a/x"), ("GET", "a/y"), ("GET", "a/z"),
        ("GET details", "a/x"), ("GET details", "a/y"),
        ("GET org builtins", "a"),
    ]  # fmt: skip
    by_key = {p.key: p for p in plan.projects}
    assert by_key["a/x"].builtin is None and by_key["a/x"].builtin_seen == ("unity",)
    change = by_key["a/y"].builtin
    assert change is not None and change.after == ("nuget",)
    assert change.removed == ["ios", "microsoft", "android"]
    assert by_key["a/z"].builtin_seen is None


def test_a_key_the_organization_does_not_offer_refuses_only_that_project():
    fake = _Builtins({"a/x": [http("p")]}, {})
    plan = make_plan(
        fake, [project("a", "x", [http("q")], builtin=["steam"]), project("a", "y", [http("r")])]
    )
    by_key = {p.key: p for p in plan.projects}
    assert by_key["a/x"].error is not None and "`steam` is not offered" in by_key["a/x"].error
    assert by_key["a/x"].changes == ()
    assert by_key["a/y"].error is None and by_key["a/y"].changes


def test_a_failed_builtin_read_fails_only_that_project():
    fake = _Builtins({}, {})
    fake.fail[("GET details", "a/x")] = "boom"
    plan = make_plan(fake, [project("a", "x", [], builtin=["nuget"]), project("a", "y", [])])
    by_key = {p.key: p for p in plan.projects}
    assert by_key["a/x"].error == "could not read the built-in repositories: boom"
    assert by_key["a/y"].error is None
