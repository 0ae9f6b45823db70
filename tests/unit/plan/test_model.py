"""The Plan value objects and their JSON form (`plan --format json`, format_version 1)."""

from __future__ import annotations

import io
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from reconciler.core.errors import SymsyncError
from reconciler.plan.differ import diff_project
from reconciler.plan.model import (
    FORMAT_VERSION,
    Change,
    Plan,
    PlanWarning,
    ProjectPlan,
    describe_drift,
    fingerprint,
    remote_digests,
)
from tests.support.plan_helpers import http, project, redacted, s3


def _mixed_plan() -> Plan:
    remote = [redacted(http("a")), redacted(http("gone")), redacted(http("hand"))]
    desired = [http("a", url="https://b.example/"), s3("new"), {"id": "gone", "state": "absent"}]
    one = diff_project(project("acme", "ios", desired), remote)
    two = diff_project(project("acme", "android", [http("x")]), [redacted(http("x"))])
    err = ProjectPlan(organization="beta", project="web", error="the token is invalid")
    return Plan(projects=(one, err, two))


def test_json_has_the_documented_keys():
    data = _mixed_plan().to_json()
    assert data["format_version"] == FORMAT_VERSION == 1
    assert [(p["organization"], p["project"]) for p in data["projects"]] == [
        ("acme", "android"),
        ("acme", "ios"),
        ("beta", "web"),
    ]
    ios = data["projects"][1]
    assert [(c["action"], c["source_id"]) for c in ios["changes"]] == [
        ("create", "new"),
        ("update", "a"),
        ("delete", "gone"),
    ]
    assert ios["changes"][1]["fields"] == {
        "url": {"before": "https://a.example/", "after": "https://b.example/"}
    }
    assert ios["unmanaged"] == ["hand"]
    # the variables apply will read: names only, sorted and unique, on every project
    assert ios["needs_variables"] == ["S3_SECRET"]
    assert [p["needs_variables"] for p in data["projects"]] == [[], ["S3_SECRET"], []]
    assert ios["fingerprint"].startswith("sha256:")
    assert "error" not in ios
    assert data["projects"][2]["error"] == "the token is invalid"
    assert data["summary"] == {
        "create": 1,
        "update": 1,
        "delete": 1,
        "move": 0,
        "unchanged": 1,
        "unmanaged": 1,
        "errors": 1,
        "reported": 0,
        "unfiled": 0,
        "unfiled_unreadable": 0,
        "builtin": 0,
    }


def test_warnings_carry_their_position_in_json_and_older_plans_still_read():
    warned = ProjectPlan(
        organization="acme",
        project="ios",
        warnings=(
            PlanWarning(file="configs/acme/ios.yaml", line=9, column=13, message="region typo"),
            "source order differs from the file",
        ),
    )
    document = Plan(projects=(warned,)).to_json()
    assert document["projects"][0]["warnings"] == [
        {"file": "configs/acme/ios.yaml", "line": 9, "column": 13, "message": "region typo"},
        {
            "file": None,
            "line": None,
            "column": None,
            "message": "source order differs from the file",
        },
    ]
    assert Plan.from_json(document).projects[0] == warned
    # A plan saved before warnings had a position: each one is about the whole project.
    document["projects"][0]["warnings"] = ["an old warning"]
    (old,) = Plan.from_json(document).projects[0].warnings
    assert (old.where, old.message) == (None, "an old warning")


def test_round_trip_through_json_text():
    plan = _mixed_plan()
    again = Plan.loads(plan.dumps())
    assert again == plan
    assert again.dumps() == plan.dumps()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{not json", "not JSON"),
        ("[]", "expected a JSON object"),
        ('{"format_version": 2, "projects": []}', "unsupported plan format_version 2"),
        ('{"projects": []}', "unsupported plan format_version None"),
        (
            '{"format_version": 1, "projects": [{"organization": "a", "project": "b",'
            ' "changes": [{"action": "rename", "source_id": "x"}]}]}',
            "projects.0.changes.0.action",
        ),
    ],
)
def test_bad_plan_files_are_clear_errors(text, expected):
    with pytest.raises(SymsyncError) as info:
        Plan.loads(text, where="p.json")
    assert expected in str(info.value)
    assert str(info.value).startswith("p.json")


def test_a_project_appears_once_in_a_plan():
    one = {"organization": "a", "project": "b", "changes": []}
    text = json.dumps({"format_version": 1, "projects": [one, dict(one)]})
    with pytest.raises(SymsyncError, match="a/b appears more than once"):
        Plan.loads(text, where="p.json")


def test_a_change_cannot_show_a_secret_value_in_its_fields():
    # A hand-edited plan file: the renderers print `fields`, so they must hold no value.
    for fields in (
        {"password": {"before": "(not set)", "after": "hunter2", "secret": True}},
        {"password": {"before": None, "after": "hunter2"}},
        {"secret_key": {"before": "(set)", "after": {"hidden-secret": True}, "secret": True}},
    ):
        with pytest.raises(ValidationError) as info:
            Change(action="update", source_id="a", fields=fields)
        assert "hunter2" not in str(info.value.errors(include_input=False))
    ok = {"password": {"before": "(set)", "after": "(not set)", "secret": True}}
    assert Change(action="update", source_id="a", fields=ok).fields["password"].secret


def test_a_create_cannot_keep_a_secret_and_secrets_must_name_secret_fields():
    source = {"id": "a", "type": "http", "password": {"env": "PW"}}
    with pytest.raises(ValidationError, match="cannot keep"):
        Change(action="create", source_id="a", source=source, secrets={"password": "keep"})
    with pytest.raises(ValidationError, match="not a secret field"):
        Change(action="update", source_id="a", source=source, secrets={"url": "send"})
    change = Change(action="update", source_id="a", source=source, secrets={"password": "keep"})
    assert change.secret_variables() == {}


def test_a_change_cannot_hold_a_secret_value():
    with pytest.raises(ValidationError):
        Change(action="create", source_id="a", source={"type": "http", "password": "x"})
    with pytest.raises(ValidationError):
        Change(action="create", source_id="a", source={"type": "s3", "secret_key": {"hidden": 1}})


def test_fingerprint_depends_on_content_and_order_but_not_key_order_or_secret_values():
    a, b = http("a", password="one"), http("b")
    assert fingerprint([a, b]) != fingerprint([b, a])
    assert fingerprint([a, b]) == fingerprint([dict(reversed(list(a.items()))), b])
    assert fingerprint([a]) == fingerprint([http("a", password="two")])
    assert fingerprint([a]) != fingerprint([http("a")])
    assert fingerprint([a]) != fingerprint([http("a", password="one", name="other")])


def test_describe_drift_names_what_moved():
    before = remote_digests([http("a"), http("b"), http("c")])
    after = remote_digests([http("b", name="changed"), http("a"), http("d")])
    text = describe_drift(before, after)
    assert "modified `b`" in text
    assert "added `d`" in text
    assert "removed `c`" in text
    assert "reordered" in text


@pytest.mark.parametrize(
    "plan",
    [
        _mixed_plan(),
        Plan(),
        Plan(sentry_url="https://sentry.example"),
        Plan(projects=(diff_project(project("ü", "ïos", [http("ñ", name="“x”")]), []),)),
    ],
    ids=["mixed", "empty", "empty-with-url", "non-ascii"],
)
def test_streamed_json_is_the_same_text(plan):
    out = io.StringIO()
    plan.write_json(out)
    assert out.getvalue() == plan.dumps()


_ids = st.text(alphabet="abcdefghij-", min_size=1, max_size=6)


@given(
    st.lists(_ids, unique=True, max_size=5),
    st.lists(_ids, unique=True, max_size=5),
    st.sampled_from(["keep", "delete"]),
)
def test_any_plan_round_trips_and_is_sorted(desired_ids, remote_ids, unmanaged):
    config = project("o", "p", [http(i) for i in desired_ids], unmanaged=unmanaged)
    remote = [redacted(http(i, name="remote")) for i in remote_ids]
    plan = Plan(projects=(diff_project(config, remote),))
    assert Plan.from_json(json.loads(plan.dumps())) == plan
    keys = [c.sort_key for c in plan.projects[0].changes]
    assert keys == sorted(keys)
    counted = plan.summary
    assert counted.create == len(set(desired_ids) - set(remote_ids))
    assert counted.update == len(set(desired_ids) & set(remote_ids))
    gone = len(set(remote_ids) - set(desired_ids))
    assert counted.delete == (gone if unmanaged == "delete" else 0)
    assert counted.unmanaged == (gone if unmanaged == "keep" else 0)


def test_project_patterns_are_globs_and_must_match():
    from reconciler.plan.planner import match_projects

    keys = ["acme/android", "acme/ios", "beta/ios"]
    assert match_projects(keys, [], where="configs") == keys
    assert match_projects(keys, ["*/ios"], where="configs") == ["acme/ios", "beta/ios"]
    assert match_projects(keys, ["beta/*", "acme/ios"], where="configs") == [
        "acme/ios",
        "beta/ios",
    ]
    with pytest.raises(SymsyncError, match=r"'acme/web' matches no project in configs"):
        match_projects(keys, ["acme/*", "acme/web"], where="configs")


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("*/*", ["acme/android", "acme/ios", "acme-labs/ios"]),
        ("acme/*", ["acme/android", "acme/ios"]),
        ("acme*/ios", ["acme/ios", "acme-labs/ios"]),
        ("acme/[ai]*", ["acme/android", "acme/ios"]),
        ("acme/?os", ["acme/ios"]),
    ],
)
def test_project_globs_match_org_and_project_separately(pattern, expected):
    from reconciler.plan.planner import match_projects

    keys = ["acme/android", "acme/ios", "acme-labs/ios"]
    assert match_projects(keys, [pattern], where="configs") == expected


@pytest.mark.parametrize("pattern", ["acme*", "*", "acme/ios/x", "/ios", "acme/"])
def test_project_patterns_that_are_not_org_slash_project_are_refused(pattern):
    # A shell glob's `*` does not cross `/`: `acme*` names no ORG/PROJECT, so it selects nothing
    # rather than silently every project of every organization starting with "acme".
    from reconciler.plan.planner import match_projects

    with pytest.raises(SymsyncError, match=r"is not ORG/PROJECT"):
        match_projects(["acme/ios"], [pattern], where="configs")


def test_needs_variables_are_what_the_changes_send_sorted_and_unique():
    remote = [redacted(http("kept", password="stored")), redacted(http("added"))]
    desired = [
        http("kept", name="renamed", password={"env": "KEPT_PW"}),  # kept: not read
        http("added", password={"env": "B_PW"}),
        s3("one", secret_key={"env": "A_KEY"}),
        s3("two", secret_key={"env": "A_KEY"}),
        {"id": "g", "type": "gcs", "name": "g", "bucket": "g", "layout": {"type": "native"},
         "client_email": "x@y.iam.gserviceaccount.com", "private_key": {"env": "C_GCS"}},
    ]  # fmt: skip
    ios = diff_project(project("acme", "ios", desired), remote)
    assert ios.needs_variables == ("A_KEY", "B_PW", "C_GCS")
    plan = Plan(projects=(ios,))
    assert plan.needs_variables == ("A_KEY", "B_PW", "C_GCS")
    # derived from the changes: a saved plan's list is read again from them
    assert Plan.loads(plan.dumps()).projects[0].needs_variables == ios.needs_variables
