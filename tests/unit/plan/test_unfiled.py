"""``plan --report-unfiled``: Sentry projects that have symbol sources and no file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from reconciler.core.errors import SymsyncError
from reconciler.plan.model import Plan
from reconciler.plan.render import render
from reconciler.plan.unfiled import find_unfiled, organization_folders
from reconciler.sentry.client import SentryAPIError
from tests.support.plan_helpers import FakeSentry, http


class Org(FakeSentry):
    """The in-memory Sentry, with each organization's project list."""

    def __init__(self, projects: dict[str, list[dict[str, Any]]], **extra: list[str]) -> None:
        super().__init__(projects)
        self.listed: list[str] = []
        self.extra = extra  # more project slugs per organization, without sources

    def list_projects(self, org: str) -> list[dict[str, Any]]:
        self.listed.append(org)
        self._check("LIST", org)
        slugs = {k.split("/")[1] for k in self.projects if k.startswith(f"{org}/")}
        slugs |= set(self.extra.get(org, []))
        return [{"id": str(i), "slug": s, "name": s} for i, s in enumerate(sorted(slugs))]


def _tree(root: Path, files: list[str], folders: list[str] = ()) -> Path:
    configs = root / "configs"
    for key in files:
        path = configs / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("sources: []\n")
    for folder in folders:
        (configs / folder).mkdir(parents=True, exist_ok=True)
    return configs


def test_lists_projects_with_sources_and_no_file(tmp_path):
    configs = _tree(
        tmp_path,
        ["acme/ios.yaml", "acme/web.yml", "acme/_draft.yaml", "acme/README.md"],
        folders=["globex", ".git", "_templates"],
    )
    sentry = Org(
        {
            "acme/ios": [http("a")],
            "acme/web": [http("b")],
            "acme/new": [http("c")],
            "acme/draft": [http("d")],
            "globex/api": [http("e")],
            "initech/x": [http("f")],  # no folder: not looked at
        },
        acme=["empty"],
    )
    assert organization_folders(configs) == ["acme", "globex"]
    found = find_unfiled(sentry, configs)
    assert found.projects == ("acme/draft", "acme/new", "globex/api")
    assert found.errors == {}
    assert sorted(sentry.listed) == ["acme", "globex"]
    read = sorted(key for method, key, _, _ in sentry.calls if method == "GET")
    assert read == ["acme/draft", "acme/empty", "acme/new", "globex/api"]


def test_project_patterns_narrow_the_search(tmp_path):
    configs = _tree(tmp_path, ["acme/ios.yaml", "globex/api.yaml"])
    sentry = Org({"acme/new": [http("a")], "acme/other": [http("b")], "globex/z": [http("c")]})
    found = find_unfiled(sentry, configs, ["acme/n*"])
    assert found.projects == ("acme/new",)
    assert sentry.listed == ["acme"]


def test_a_project_that_cannot_be_read_is_listed_with_its_error(tmp_path):
    configs = _tree(tmp_path, ["acme/ios.yaml"], folders=["globex"])
    sentry = Org({"acme/broken": [http("a")], "acme/fine": []})
    sentry.fail[("GET", "acme/broken")] = "Sentry failed with 500"
    sentry.fail[("LIST", "globex")] = "the token is not allowed to do this"
    found = find_unfiled(sentry, configs)
    assert found.projects == ("acme/broken", "globex/*")
    assert found.errors == {
        "acme/broken": "could not read its sources: Sentry failed with 500",
        "globex/*": "could not list the projects of `globex`: the token is not allowed to do this",
    }


def test_an_account_wide_failure_is_raised_once(tmp_path):
    configs = _tree(tmp_path, ["acme/ios.yaml"])

    class Denied(Org):
        def list_projects(self, org: str) -> list[dict[str, Any]]:
            raise SentryAPIError(
                "the token is invalid or expired", status=401, method="GET", path="/"
            )

    with pytest.raises(SymsyncError, match="invalid or expired"):
        find_unfiled(Denied({}), configs)


def test_every_format_shows_unfiled_projects_and_json_keeps_them():
    plan = Plan(
        unfiled=("acme/broken", "acme/new"),
        unfiled_errors={"acme/broken": "could not read its sources: Sentry failed with 500"},
    )
    assert plan.has_drift and plan.has_errors
    # The project that could not be read is counted apart: nobody knows if it has sources.
    assert (plan.summary.unfiled, plan.summary.unfiled_unreadable) == (1, 1)
    text = render(plan, "text")
    assert "Projects in Sentry with symbol sources and no file (--report-unfiled):" in text
    assert "  ? acme/new\n" in text
    assert "  ! acme/broken: could not read its sources: Sentry failed with 500" in text
    assert "1 project in Sentry has symbol sources and no file; 1 could not be read." in text
    markdown = render(plan, "markdown")
    assert "- `acme/new`" in markdown and "- `acme/broken`: could not read" in markdown
    document = plan.to_json()
    assert document["unfiled"] == ["acme/broken", "acme/new"]
    assert document["summary"]["unfiled"] == 1
    assert document["summary"]["unfiled_unreadable"] == 1
    assert Plan.from_json(document) == plan
    assert "unfiled" not in Plan().to_json()
    assert not Plan(unfiled=()).has_drift


@pytest.mark.parametrize(
    ("unfiled", "unreadable", "sentence"),
    [
        (("acme/a",), (), "1 project in Sentry has symbol sources and no file."),
        (("acme/a", "acme/b"), (), "2 projects in Sentry have symbol sources and no file."),
        (
            ("acme/a", "acme/b", "acme/c"),
            ("acme/b", "acme/c"),
            "1 project in Sentry has symbol sources and no file; 2 could not be read.",
        ),
        (("acme/b",), ("acme/b",), "0 projects in Sentry have symbol sources and no file; 1 could"),
    ],
)
def test_the_unfiled_summary_counts_unreadable_projects_apart(unfiled, unreadable, sentence):
    errors = {key: "could not read its sources: Sentry failed with 500" for key in unreadable}
    plan = Plan(unfiled=unfiled, unfiled_errors=errors)
    assert sentence in render(plan, "text")
    assert sentence in render(plan, "markdown")
