"""Rotation: which secrets are sent again, from git (--base) or forced (--rotate)."""

from __future__ import annotations

import dataclasses
import subprocess
from pathlib import Path

import pytest

from reconciler.config.base_revision import files_at
from reconciler.core.errors import SymsyncError
from reconciler.plan.differ import diff_project
from reconciler.plan.model import SECRET_SET, Plan
from reconciler.plan.render import render_text
from reconciler.plan.rotation import FORCED, Ref, collect, declared, forced, refs_in_text, refs_of
from tests.support.plan_helpers import http, project, redacted, s3


def test_declared_names_what_changed():
    current = {
        "a": {"password": Ref("PW", 2)},
        "b": {"secret_key": Ref("NEW")},
        "c": {"password": Ref("PW", 1)},
        "d": {"password": Ref("PW", 1)},
        "e": {"secret_key": Ref("E2", 3)},
    }
    base = {
        "a": {"password": Ref("PW", 1)},
        "b": {"secret_key": Ref("OLD")},
        "c": {"password": Ref("PW", 1)},  # unchanged
        "d": {},  # the field is new at this revision: nothing to rotate
        "e": {"secret_key": Ref("E1")},
    }
    assert declared(current, base) == {
        "a": {"password": "version 1 -> 2"},
        "b": {"secret_key": "variable OLD -> NEW"},
        "e": {"secret_key": "variable E1 -> E2, version none -> 3"},
    }
    assert declared(current, None) == {}  # the file is new at the base


def test_refs_in_text_is_lenient_and_errors_name_the_place():
    text = (
        "sources:\n"
        "  - {id: a, type: http, password: {env: PW, version: 4}, extra_old_key: 1}\n"
        "  - {id: b, password: {env: X, version: true}}\n"
        "  - not-a-source\n"
    )
    assert refs_in_text(text, "f", "HEAD") == {
        "a": {"password": Ref("PW", 4)},
        "b": {"password": Ref("X", None)},
    }
    with pytest.raises(SymsyncError, match=r"^configs/x.yaml:3:1: not valid YAML as of --base v1"):
        refs_in_text("sources:\n  - [a\n", "configs/x.yaml", "v1")


def test_an_integral_float_version_is_the_same_version_at_base_and_now():
    """The loader takes `version: 1.0` for 1 (as the schema's `integer` does): reading it at
    --base the same way, 1.0 -> 1 is no rotation and 1.0 -> 2 is one."""
    from reconciler.config.loader import load_bytes

    line = "sources:\n  - {id: a, type: http, url: u, layout: {type: native}, password: %s}\n"
    base = refs_in_text(line % "{env: PW, version: 1.0}", "f", "HEAD")
    assert base == {"a": {"password": Ref("PW", 1)}}
    assert type(base["a"]["password"].version) is int
    for now, rotated in (("1", {}), ("1.0", {}), ("2.0", {"a": {"password": "version 1 -> 2"}})):
        result = load_bytes((line % f"{{env: PW, version: {now}}}").encode(), "f", "acme", "ios")
        assert result.config is not None, result.diagnostics
        assert declared(refs_of(result.config), base) == rotated
    # still lenient about what is not a whole number
    assert refs_in_text(line % "{env: PW, version: 1.5}", "f", "HEAD") == {
        "a": {"password": Ref("PW", None)}
    }


def test_forced_matches_globs_per_segment_and_refuses_a_miss():
    ios = project("acme", "ios", [http("a", password={"env": "PW"}), http("plain"), s3("b")])
    web = project("acme", "web", [s3("b")])
    assert forced([ios, web], ["acme/*/b"]) == {
        "acme/ios": {"b": {"secret_key": FORCED}},
        "acme/web": {"b": {"secret_key": FORCED}},
    }
    assert forced([ios, web], ["acme/ios/*"]) == {
        "acme/ios": {"a": {"password": FORCED}, "b": {"secret_key": FORCED}}
    }
    with pytest.raises(SymsyncError, match="matches no source that holds a secret"):
        forced([ios], ["acme/ios/plain"])
    with pytest.raises(SymsyncError, match="is not ORG/PROJECT/SOURCE_ID"):
        forced([ios], ["acme/ios"])


def test_a_rotation_is_an_update_that_sends_the_value():
    config = project("acme", "ios", [http("a", password={"env": "PW", "version": 2}), s3("b")])
    assert refs_of(config)["a"] == {"password": Ref("PW", 2)}
    remote = [redacted(http("a", password="x")), redacted(s3("b", secret_key="y"))]
    plan = diff_project(config, remote, rotate={"a": {"password": "version 1 -> 2"}})
    (change,) = plan.changes
    assert (change.action, change.source_id, change.secrets) == (
        "update",
        "a",
        {"password": "send"},
    )
    field = change.fields["password"]
    assert (field.before, field.after, field.rotate) == (SECRET_SET, SECRET_SET, "version 1 -> 2")
    assert change.source is not None and change.source["password"] == {"env": "PW"}
    text = render_text(Plan(projects=(plan,)))
    assert "      rotate password (version 1 -> 2)" in text.splitlines()
    assert plan.unchanged == ("b",)
    # no rotation: the version alone changes nothing
    assert diff_project(config, remote).changes == ()


def _git(cwd: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, check=True, capture_output=True, text=True,
        env={"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.invalid",
             "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.invalid",
             "PATH": "/usr/bin:/bin", "HOME": str(cwd)},
    ).stdout.strip()  # fmt: skip


def test_files_at_reads_a_revision_and_says_what_is_missing(tmp_path: Path):
    repo = tmp_path / "repo"
    (repo / "configs" / "acme").mkdir(parents=True)
    _git(repo, "init", "-q")
    ios = repo / "configs" / "acme" / "ios.yaml"
    ios.write_text("sources: []\n")
    _git(repo, "add", ".")
    _git(repo, "commit", "-qm", "one")
    ios.write_text("sources: [changed]\n")
    web = repo / "configs" / "acme" / "web.yaml"
    web.write_text("sources: []\n")
    got = files_at("HEAD", repo / "configs", [ios, web])
    assert got == {ios: b"sources: []\n", web: None}
    with pytest.raises(SymsyncError, match="no such commit"):
        files_at("no-such-rev", repo / "configs", [ios])
    with pytest.raises(SymsyncError, match="is not a git revision"):
        files_at("--output=x", repo / "configs", [ios])
    plain = tmp_path / "plain"
    plain.mkdir()
    with pytest.raises(SymsyncError, match="is not in a git repository"):
        files_at("HEAD", plain, [plain / "x.yaml"])


def test_base_reads_a_file_renamed_between_yml_and_yaml(tmp_path: Path):
    # the same project (acme/ios) whose file went from ios.yml to ios.yaml in the commit that
    # raised the version: the rotation is declared, not lost with the old name
    repo = tmp_path / "repo"
    folder = repo / "configs" / "acme"
    folder.mkdir(parents=True)
    _git(repo, "init", "-q")
    line = "sources:\n  - {id: a, type: http, url: u, layout: {type: native}, password: %s}\n"
    (folder / "ios.yml").write_text(line % "{env: PW, version: 1}")
    _git(repo, "add", ".")
    _git(repo, "commit", "-qm", "one")
    (folder / "ios.yml").unlink()
    (folder / "ios.yaml").write_text(line % "{env: PW, version: 2}")
    config = project("acme", "ios", [http("a", password={"env": "PW", "version": 2})])
    config = dataclasses.replace(config, path=folder / "ios.yaml")
    assert collect([config], repo / "configs", base="HEAD") == {
        "acme/ios": {"a": {"password": "version 1 -> 2"}}
    }
    # a project new at REV (neither name there) has nothing to rotate
    other = dataclasses.replace(config, project="web", path=folder / "web.yaml")
    assert collect([other], repo / "configs", base="HEAD") == {}


def test_a_version_raised_in_org_yaml_rotates_every_project_using_the_definition(tmp_path: Path):
    from reconciler.config.loader import load_tree

    repo = tmp_path / "repo"
    folder = repo / "configs" / "acme"
    folder.mkdir(parents=True)
    _git(repo, "init", "-q")
    org = (
        "sources:\n  - {id: corp, type: http, url: u, layout: {type: native}, "
        "password: {env: CORP_PW, version: %d}}\ndefaults:\n  sources: [corp]\n"
    )
    (folder / "_org.yaml").write_text(org % 1)
    (folder / "ios.yaml").write_text("sources: []\n")  # takes it from the defaults
    (folder / "web.yaml").write_text("sources:\n  - {use: corp, id: corp-eu}\n")
    (folder / "own.yaml").write_text("defaults: false\nsources: []\n")
    _git(repo, "add", ".")
    _git(repo, "commit", "-qm", "one")
    (folder / "_org.yaml").write_text(org % 2)
    configs = load_tree(repo / "configs").projects
    assert collect(configs, repo / "configs", base="HEAD") == {
        "acme/ios": {"corp": {"password": "version 1 -> 2"}},
        "acme/web": {"corp-eu": {"password": "version 1 -> 2"}},
    }
