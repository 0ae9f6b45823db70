"""Plans that say a change made in several projects once, and built-in repository changes, in
every format."""

from __future__ import annotations

import json

from reconciler.plan.differ import diff_project
from reconciler.plan.model import BuiltinChange, Plan, ProjectPlan
from reconciler.plan.render import GITHUB_COMMENT_LIMIT, render_markdown, render_text
from tests.support.plan_helpers import http, project, redacted

OLD, NEW = "https://a.example/", "https://b.example/"


def _url_change(org: str, name: str, url: str = NEW) -> ProjectPlan:
    return diff_project(
        project(org, name, [http("corp", url=url)]), [redacted(http("corp", url=OLD))]
    )


def _fleet(count: int) -> Plan:
    return Plan(projects=tuple(_url_change("acme", f"p{i:04d}") for i in range(count)))


def test_text_says_a_shared_change_once_with_count_and_projects() -> None:
    plan = Plan(projects=(*_fleet(14).projects, _url_change("acme", "zz", "https://c/")))
    text = render_text(plan)
    head = f'  ~ update corp: url "{OLD}" -> "{NEW}" \u2014 in 14 projects: acme/p0000, '
    assert text.count(head) == 1
    assert "acme/p0009, ... and 4 more" in text
    assert "acme/p0010" not in text  # beyond the first ten, only counted
    # A change not shared keeps its per-project details, after the shared ones.
    assert text.index("acme/zz (") > text.index(head)
    assert '"https://c/"' in text
    assert "Plan: 0 to create, 15 to update" in text


def test_a_change_in_one_project_is_not_a_group() -> None:
    plan = Plan(projects=(_url_change("acme", "a"), _url_change("acme", "b", "https://c/")))
    assert "Shared changes" not in render_text(plan)
    assert plan.to_json()["groups"] == []


def test_json_keeps_per_project_changes_and_adds_groups() -> None:
    plan = _fleet(3)
    data = json.loads(plan.dumps())
    assert all(len(p["changes"]) == 1 for p in data["projects"])
    (group,) = data["groups"]
    assert group["kind"] == "source"
    assert group["change"]["action"] == "update"
    assert group["change"]["source_id"] == "corp"
    assert group["change"]["fields"]["url"] == {"before": OLD, "after": NEW}
    assert group["projects"] == ["acme/p0000", "acme/p0001", "acme/p0002"]
    # The streamed document is the same as the one built at once.
    import io

    stream = io.StringIO()
    plan.write_json(stream)
    assert json.loads(stream.getvalue()) == data
    assert Plan.loads(plan.dumps()) == plan


def test_markdown_for_1000_projects_changed_by_one_shared_edit_fits_and_counts_all() -> None:
    markdown = render_markdown(_fleet(1000))
    assert len(markdown.encode("utf-8")) < GITHUB_COMMENT_LIMIT
    assert "Truncated" not in markdown
    assert "In 1000 projects" in markdown
    assert "1000 project(s) have only the shared changes above." in markdown
    assert all(f"`acme/p{i:04d}`" in markdown for i in range(1000))  # every project named
    assert markdown.count(NEW) == 1


def test_builtin_change_is_shown_grouped_and_in_json() -> None:
    change = BuiltinChange(before=("ios", "unity"), after=("ios", "nuget"))
    projects = tuple(
        ProjectPlan(organization="acme", project=name, builtin=change) for name in ("a", "b")
    )
    lone = ProjectPlan(
        organization="acme",
        project="c",
        builtin=BuiltinChange(before=(), after=("microsoft",)),
    )
    plan = Plan(projects=(*projects, lone))
    text = render_text(plan)
    assert "  ~ builtin: + nuget, - unity \u2014 in 2 projects: acme/a, acme/b" in text
    assert "acme/c\n  ~ builtin: + microsoft\n" in text
    assert plan.has_drift and plan.summary.builtin == 3
    data = plan.to_json()
    assert data["projects"][0]["builtin"] == {
        "before": ["ios", "unity"],
        "after": ["ios", "nuget"],
        "added": ["nuget"],
        "removed": ["unity"],
    }
    assert data["groups"] == [
        {
            "kind": "builtin",
            "change": data["projects"][0]["builtin"],
            "projects": ["acme/a", "acme/b"],
        }
    ]
    assert Plan.loads(plan.dumps()).projects[2].builtin == lone.builtin
    assert "built-in repositories" in render_markdown(plan)


def test_builtin_order_only_change_names_both_orders() -> None:
    change = BuiltinChange(before=("nuget", "microsoft"), after=("microsoft", "nuget"))
    assert change.describe() == "order nuget, microsoft -> microsoft, nuget"
