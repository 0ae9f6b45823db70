"""Renderers: text for terminals, markdown for pull requests, JSON for machines."""

from __future__ import annotations

import json
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reconciler.plan.differ import diff_project
from reconciler.plan.model import Plan, PlanWarning, ProjectPlan
from reconciler.plan.render import (
    GITHUB_COMMENT_LIMIT,
    md_code,
    render,
    render_markdown,
    render_text,
)
from tests.support.plan_helpers import http, project, redacted, s3

ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _plan() -> Plan:
    remote = [
        redacted(http("a", password="x")),
        redacted(http("gone")),
        redacted(http("hand")),
        redacted(http("b")),
    ]
    desired = [
        http("a", url="https://b.example/", password={"env": "PW"}),
        http("b", password={"env": "PW2"}),
        s3("new"),
        {"id": "gone", "state": "absent"},
    ]
    ios = diff_project(project("acme", "ios", desired), remote)
    same = diff_project(project("acme", "same", [http("x")]), [redacted(http("x"))])
    err = ProjectPlan(organization="beta", project="web", error="the token is invalid or expired")
    return Plan(projects=(ios, same, err))


def test_text_is_terraform_like():
    text = render_text(_plan())
    assert not ANSI.search(text)
    lines = text.splitlines()
    assert "acme/ios (configs/acme/ios.yaml)" in lines
    assert "  + create new (s3)" in lines
    assert "  ~ update a (http)" in lines
    assert "  - delete gone (http): the file says state: absent" in lines
    assert any(
        re.fullmatch(r'\s+url: "https://a.example/" -> "https://b.example/"', x) for x in lines
    )
    assert any(re.fullmatch(r"\s+password: \(not set\) -> \(set\)", x) for x in lines)
    assert any(re.fullmatch(r"\s+secret_key:\s+\(set\)", x) for x in lines)
    assert "  unmanaged, kept: hand" in lines
    assert "  ! error: the token is invalid or expired" in lines
    assert not any(x.startswith("acme/same") for x in lines)  # nothing to say about it
    assert "  apply reads: PW2, S3_SECRET" in lines  # the variables, never a value
    assert lines[-2] == (
        "Apply reads 2 secret variable(s): PW2, S3_SECRET (from the environment, else from "
        "SYMSYNC_SECRETS)."
    )
    assert lines[-1] == (
        "Plan: 1 to create, 2 to update, 1 to delete, 1 unchanged, 1 unmanaged kept. "
        "1 project(s) could not be planned."
    )


def test_text_colour_only_when_asked():
    coloured = render_text(_plan(), color=True)
    assert ANSI.search(coloured)
    assert ANSI.sub("", coloured) == render_text(_plan())


def test_text_no_changes():
    plan = Plan(projects=(diff_project(project("a", "b", [http("x")]), [redacted(http("x"))]),))
    assert render_text(plan) == "No changes. 1 source(s) match the files.\n"


def test_control_characters_from_the_remote_are_not_printed_raw():
    remote = [dict(redacted(http("a")), name="evil\x1b[2J\nname")]
    plan = Plan(projects=(diff_project(project("a", "b", [http("a")]), remote),))
    text = render_text(plan)
    assert "\x1b" not in text
    assert '"evil\\u001b[2J\\nname"' in text


def test_markdown_for_pull_requests():
    md = render_markdown(_plan())
    assert md.startswith("### symsync plan\n")
    assert "**Plan: 1 to create, 2 to update, 1 to delete" in md
    assert "| `acme/ios` | 1 | 2 | 1 | 1 | 0 | changes pending |" in md
    assert "| `beta/web` | 0 | 0 | 0 | 0 | 0 | could not be planned |" in md
    assert "acme/same" not in md
    assert md.count("<details>") == md.count("</details>") == 2
    assert "Unmanaged (kept): `hand`" in md
    assert "Secret variables apply reads: `PW2`, `S3_SECRET`" in md
    assert "Apply reads 2 secret variable(s): `PW2`, `S3_SECRET` (from the environment" in md
    assert "```diff\n+ create new (s3)\n" in md
    assert "Truncated" not in md


def test_markdown_escapes_values():
    assert md_code("a|b", table=True) == "`a\\|b`"
    assert md_code("a|b") == "`a|b`"  # outside a table the escape would show
    assert md_code("x`y") == "``x`y``"
    remote = [redacted(http("a")), redacted(http("<img src=x>|`pwn`"))]
    plan = Plan(projects=(diff_project(project("a", "b", [http("a")]), remote),))
    md = render_markdown(plan)
    assert "Unmanaged (kept): `` <img src=x>|`pwn` ``" in md


def _huge_plan(projects: int, sources: int) -> Plan:
    out = []
    for i in range(projects):
        # Each project its own URLs: one change made in many projects is said once instead.
        desired = [
            http(f"s{j}", url=f"https://n{j}.example/p{i}/" + "x" * 40) for j in range(sources)
        ]
        out.append(diff_project(project("org", f"p{i:04d}", desired), []))
    return Plan(projects=tuple(out))


@pytest.mark.parametrize(("projects", "sources"), [(400, 10), (1, 2000), (5000, 1)])
def test_markdown_stays_under_the_github_limit_with_a_visible_note(projects, sources):
    plan = _huge_plan(projects, sources)
    md = render_markdown(plan)
    assert len(md) <= GITHUB_COMMENT_LIMIT
    assert len(md.encode()) <= GITHUB_COMMENT_LIMIT
    assert "**Truncated:**" in md
    assert md.count("<details>") == md.count("</details>")
    assert md.count("```") % 2 == 0  # every fence closed
    assert f"{plan.summary.create} to create" in md  # the summary is always whole


def test_markdown_small_limit_is_respected():
    md = render_markdown(_plan(), limit=1200)
    assert len(md) <= 1200
    assert "**Truncated:**" in md


def test_json_is_the_plan_document():
    plan = _plan()
    assert json.loads(render(plan, "json")) == plan.to_json()
    assert render(plan, "markdown") == render_markdown(plan)
    assert render(plan, "text") == render_text(plan)


_SENTINEL = "SENTINEL-VALUE-9f2c"


@given(
    st.lists(st.sampled_from(["a", "b", "c", "d"]), unique=True, max_size=4),
    st.lists(st.sampled_from(["a", "b", "c", "e"]), unique=True, max_size=4),
    st.sampled_from(["keep", "delete"]),
    st.booleans(),
)
def test_no_renderer_can_print_a_secret_the_remote_sent_in_clear(
    desired_ids, remote_ids, unmanaged, with_password
):
    extra = {"password": {"env": "PW"}} if with_password else {}
    desired = [http(i, **extra) if i != "c" else s3(i) for i in desired_ids]
    # a misbehaving server that answers with secrets in clear
    remote = [
        http(i, password=_SENTINEL) if i != "c" else s3(i, secret_key=_SENTINEL) for i in remote_ids
    ]
    plan = Plan(projects=(diff_project(project("o", "p", desired, unmanaged=unmanaged), remote),))
    for fmt in ("text", "markdown", "json"):
        assert _SENTINEL not in render(plan, fmt)
    assert _SENTINEL not in render_text(plan, color=True)


def test_no_changes_is_not_an_all_clear_when_a_project_could_not_be_planned():
    err = ProjectPlan(organization="beta", project="web", error="the token is invalid or expired")
    same = diff_project(project("acme", "same", [http("x")]), [redacted(http("x"))])
    line = render_text(Plan(projects=(same, err))).splitlines()[-1]
    assert line == (
        "No changes in the projects that could be planned. 1 source(s) match the files. "
        "1 project(s) could not be planned."
    )
    assert render_text(Plan(projects=(same,))).splitlines()[-1] == (
        "No changes. 1 source(s) match the files."
    )


def test_a_move_in_every_format():
    remote = [redacted(http("b", password="stored")), redacted(http("a"))]
    desired = [http("a"), http("b", password={"env": "PW"})]
    plan = Plan(projects=(diff_project(project("acme", "ios", desired, order="enforce"), remote),))
    text = render_text(plan)
    assert (
        "  -/+ move b (http): deleted and re-created at the end (order: enforce); "
        "sends password from PW"
    ) in text.splitlines()
    assert "Plan: 0 to create, 0 to update, 1 to move, 0 to delete, 1 unchanged." in text
    markdown = render_markdown(plan)
    head = "| Project | Create | Update | Move | Delete | Unmanaged | Reported | Status |"
    assert head in markdown
    assert "| `acme/ios` | 0 | 0 | 1 | 0 | 0 | 0 | changes pending |" in markdown
    (change,) = json.loads(render(plan, "json"))["projects"][0]["changes"]
    assert (change["action"], change["source_id"], change["secrets"]) == (
        "move", "b", {"password": "send"},
    )  # fmt: skip
    assert json.loads(render(plan, "json"))["summary"]["move"] == 1


def test_sources_reported_as_not_in_the_file_show_in_every_format():
    remote = [redacted(http("a")), redacted(http("hand-made"))]
    plan = Plan(
        projects=(diff_project(project("o", "p", [http("a")], unmanaged="report"), remote),)
    )
    text = render_text(plan)
    assert "  ? not in the file (unmanaged: report), kept: hand-made\n" in text
    assert text.rstrip().endswith(
        "No changes. 1 source(s) match the files. "
        "1 source(s) in Sentry are not in their file (unmanaged: report)."
    )
    markdown = render_markdown(plan)
    assert "| `o/p` | 0 | 0 | 0 | 0 | 1 | sources not in the file |" in markdown
    assert "**Not in the file** (unmanaged: report, kept): `hand-made`" in markdown
    document = json.loads(render(plan, "json"))
    assert document["projects"][0]["reported"] == ["hand-made"]
    assert document["summary"]["reported"] == 1


def test_a_list_that_gains_or_loses_items_shows_only_those_items():
    patterns = [f"*.{i}" for i in range(12)]
    remote = [redacted(http("a", filters={"path_patterns": [*patterns, "*.dll"]},
                            platforms=["ios", "macos"]))]  # fmt: skip
    desired = [http("a", filters={"path_patterns": [*patterns, "*.so", "*.pdb"]},
                    platforms=["macos", "ios"])]  # fmt: skip
    plan = Plan(projects=(diff_project(project("o", "p", desired), remote),))
    text = render_text(plan)
    assert '      filters.path_patterns: + "*.so", + "*.pdb", - "*.dll"\n' in text
    # only the order changed: both lists, in full
    assert '      platforms:             ["ios", "macos"] -> ["macos", "ios"]\n' in text
    assert '"*.0"' not in text
    document = json.loads(render(plan, "json"))
    fields = document["projects"][0]["changes"][0]["fields"]
    assert fields["filters.path_patterns"]["after"] == [*patterns, "*.so", "*.pdb"]


def test_warnings_have_a_section_of_their_own_in_text_and_markdown():
    warned = ProjectPlan(
        organization="acme",
        project="ios",
        warnings=(
            PlanWarning(file="configs/acme/ios.yaml", line=9, column=13, message="region `x`"),
            PlanWarning(message="source order differs"),
        ),
    )
    plan = Plan(projects=(warned,))
    text = render_text(plan)
    assert (
        "Warnings:\n"
        "  ! configs/acme/ios.yaml:9:13: region `x`\n"
        "  ! acme/ios: source order differs\n"
    ) in text
    assert "acme/ios (" not in text  # a project with warnings alone has no block of its own
    markdown = render_markdown(plan)
    assert (
        "**Warnings:**\n\n"
        "- `configs/acme/ios.yaml:9:13`: region \\`x\\`\n"
        "- `acme/ios`: source order differs\n"
    ) in markdown
    assert "<details>" not in markdown
    assert "Warnings" not in render_text(
        Plan(projects=(warned.model_copy(update={"warnings": ()}),))
    )


def _served(urls: dict[str, str], configured: str = "https://sentry.io") -> Plan:
    projects = tuple(
        ProjectPlan(organization=org, project="app", sentry_url=url) for org, url in urls.items()
    )
    return Plan(projects=projects, sentry_url=configured)


def test_every_format_says_which_url_served_each_organization_in_a_region():
    plan = _served({"acme": "https://us.sentry.io", "acme-eu": "https://de.sentry.io"})
    line = (
        "Served by: acme at https://us.sentry.io, acme-eu at https://de.sentry.io "
        "(the configured URL is https://sentry.io)."
    )
    assert line in render_text(plan)
    assert "acme-eu at https://de.sentry.io" in render_markdown(plan)
    document = json.loads(render(plan, "json"))
    assert document["sentry_url"] == "https://sentry.io"
    assert [p["sentry_url"] for p in document["projects"]] == [
        "https://us.sentry.io",
        "https://de.sentry.io",
    ]
    assert Plan.loads(render(plan, "json")) == plan  # a saved plan keeps where it was read


def test_no_served_line_when_every_organization_was_served_at_the_configured_url():
    plan = _served({"acme": "https://sentry.io", "beta": "https://sentry.io"})
    assert "Served by" not in render_text(plan) + render_markdown(plan)
