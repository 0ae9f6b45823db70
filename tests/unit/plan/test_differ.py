"""The differ: match by id, normalise, treat secrets as opaque, plan deletes and warnings."""

from __future__ import annotations

import copy
import json

from reconciler.plan.differ import diff_project, normalise
from reconciler.plan.model import SECRET_NOT_SET, SECRET_SET, Plan
from tests.support.plan_helpers import http, project, redacted, s3


def _remote(*sources):
    return [redacted(s) for s in sources]


def test_identical_state_has_no_changes():
    desired = [http("a", password={"env": "PW"}), s3("b")]
    remote = _remote(
        http("a", password="hunter2", layout={"type": "native", "casing": "default"}),
        s3("b", secret_key="value"),
    )
    plan = diff_project(project("acme", "ios", desired), remote)
    assert plan.changes == ()
    assert plan.unchanged == ("a", "b")
    assert plan.unmanaged == ()
    assert plan.warnings == ()
    assert plan.error is None
    assert plan.fingerprint and plan.fingerprint.startswith("sha256:")


def test_normalisation_key_order_casing_and_empty_collections():
    desired = [http("a", filters={"filetypes": ["pdb", "pe"], "path_patterns": []})]
    remote_source = {
        "url": "https://a.example/",
        "layout": {"type": "native"},  # casing absent means default
        "filters": {"filetypes": ["pe", "pdb"]},
        "platforms": [],
        "name": "a server",
        "type": "http",
        "id": "a",
    }
    plan = diff_project(project("acme", "ios", desired), [remote_source])
    assert plan.changes == ()
    assert plan.unchanged == ("a",)
    # filters: {} and an absent filters are the same
    plan = diff_project(project("acme", "ios", [http("a", filters={})]), _remote(http("a")))
    assert plan.changes == ()


def test_changed_fields_show_before_and_after():
    desired = [
        http("a", url="https://new.example/", layout={"type": "symstore", "casing": "lowercase"})
    ]
    plan = diff_project(project("acme", "ios", desired), _remote(http("a")))
    (change,) = plan.changes
    assert change.action == "update"
    assert change.source_id == "a"
    assert {k: (v.before, v.after) for k, v in change.fields.items()} == {
        "url": ("https://a.example/", "https://new.example/"),
        "layout.type": ("native", "symstore"),
        "layout.casing": ("default", "lowercase"),
    }
    assert change.source["url"] == "https://new.example/"


def test_secret_set_on_both_sides_is_unchanged_and_kept():
    desired = [http("a", password={"env": "PW"}, name="renamed")]
    remote = _remote(http("a", password="whatever"))
    (change,) = diff_project(project("acme", "ios", desired), remote).changes
    assert set(change.fields) == {"name"}
    assert change.secrets == {"password": "keep"}
    assert change.secret_variables() == {}


def test_secret_added_is_a_change_sent_from_the_environment():
    desired = [http("a", password={"env": "PW"})]
    (change,) = diff_project(project("acme", "ios", desired), _remote(http("a"))).changes
    field = change.fields["password"]
    assert (field.before, field.after, field.secret) == (SECRET_NOT_SET, SECRET_SET, True)
    assert change.secrets == {"password": "send"}
    assert change.secret_variables() == {"password": "PW"}


def test_secret_removed_is_a_change():
    plan = diff_project(project("acme", "ios", [http("a")]), _remote(http("a", password="x")))
    (change,) = plan.changes
    assert (change.fields["password"].before, change.fields["password"].after) == (
        SECRET_SET,
        SECRET_NOT_SET,
    )
    assert "password" not in change.source


def test_remote_secret_in_clear_never_reaches_the_plan():
    remote = [http("a", password="CLEAR-TEXT-VALUE", username="u")]
    desired = [http("a", username="v")]
    plan = diff_project(project("acme", "ios", desired), remote)
    assert "CLEAR-TEXT-VALUE" not in json.dumps(plan.model_dump(mode="json"))
    assert normalise(remote[0])["password"] == SECRET_SET


def test_new_source_is_a_create_with_all_fields():
    desired = [s3("b", prefix="rel/")]
    (change,) = diff_project(project("acme", "ios", desired), []).changes
    assert change.action == "create"
    assert change.source_type == "s3"
    assert change.fields["bucket"].after == "b-bucket"
    assert change.fields["secret_key"].after == SECRET_SET
    assert change.secrets == {"secret_key": "send"}
    assert change.source["secret_key"] == {"env": "S3_SECRET"}
    assert change.source["layout"] == {"type": "unified", "casing": "default"}


def test_type_change_is_an_update_that_sends_secrets():
    desired = [s3("a")]
    remote = _remote(http("a", password="x"))
    (change,) = diff_project(project("acme", "ios", desired), remote).changes
    assert change.action == "update"
    assert change.fields["type"].before == "http"
    assert change.fields["type"].after == "s3"
    assert change.fields["url"].after is None
    assert change.fields["password"].after == SECRET_NOT_SET
    assert change.secrets == {"secret_key": "send"}


def test_unmanaged_kept_by_default_and_deleted_on_request():
    remote = _remote(http("a"), http("hand-made"))
    keep = diff_project(project("acme", "ios", [http("a")]), remote)
    assert keep.unmanaged == ("hand-made",)
    assert keep.changes == ()
    delete = diff_project(project("acme", "ios", [http("a")], unmanaged="delete"), remote)
    (change,) = delete.changes
    assert (change.action, change.source_id, change.reason) == ("delete", "hand-made", "unmanaged")
    assert delete.unmanaged == ()


def test_state_absent_deletes_if_present_and_is_a_noop_otherwise():
    desired = [{"id": "old", "state": "absent"}]
    plan = diff_project(project("acme", "ios", desired), _remote(http("old")))
    (change,) = plan.changes
    assert (change.action, change.reason, change.source_type) == ("delete", "absent", "http")
    assert change.fields["url"].before == "https://old.example/"
    plan = diff_project(project("acme", "ios", desired), [])
    assert plan.changes == () and plan.unmanaged == ()


def test_fields_the_file_format_lacks_show_as_removed():
    remote = [dict(http("a"), is_public=True, has_index=False, platforms=["ios"])]
    (change,) = diff_project(project("acme", "ios", [http("a")]), remote).changes
    assert {k: (v.before, v.after) for k, v in change.fields.items()} == {
        "is_public": (True, None),
        "has_index": (False, None),
        "platforms": (["ios"], None),
    }


def test_is_public_has_index_and_platforms_are_compared_like_any_field():
    extra = {"is_public": True, "has_index": False, "platforms": ["ios", "macos"]}
    remote = [dict(http("a"), **extra)]
    plan = diff_project(project("acme", "ios", [http("a", **extra)]), remote)
    assert (plan.changes, plan.unchanged) == ((), ("a",))
    desired = [http("a", is_public=False, has_index=False, platforms=["ios"])]
    (change,) = diff_project(project("acme", "ios", desired), remote).changes
    assert {k: (v.before, v.after) for k, v in change.fields.items()} == {
        "is_public": (True, False),
        "platforms": (["ios", "macos"], ["ios"]),
    }
    assert (change.source["is_public"], change.source["platforms"]) == (False, ["ios"])


def test_name_absent_and_blank_are_different_values():
    """A PUT sends the file's source whole: no `name` key, or `name: ""`, as written."""
    nameless = {k: v for k, v in http("a").items() if k != "name"}
    for desired, remote in ((nameless, nameless), (http("a", name=""), http("a", name=""))):
        plan = diff_project(project("acme", "ios", [desired]), [remote])
        assert (plan.changes, plan.unchanged) == ((), ("a",))
    (change,) = diff_project(project("acme", "ios", [http("a", name="")]), [nameless]).changes
    assert {k: (v.before, v.after) for k, v in change.fields.items()} == {"name": (None, "")}
    assert change.source["name"] == ""
    (change,) = diff_project(project("acme", "ios", [nameless]), [http("a", name="")]).changes
    assert {k: (v.before, v.after) for k, v in change.fields.items()} == {"name": ("", None)}
    assert "name" not in change.source


def test_order_difference_is_a_warning_not_a_change():
    remote = _remote(http("b"), http("a"))
    plan = diff_project(project("acme", "ios", [http("a"), http("b")]), remote)
    assert plan.changes == ()
    (warning,) = [w.message for w in plan.warnings]
    assert "b, a" in warning and "a, b" in warning
    # a new source goes to the end: a file that lists it first is warned about
    plan = diff_project(project("acme", "ios", [http("new"), http("a")]), _remote(http("a")))
    assert plan.warnings
    plan = diff_project(project("acme", "ios", [http("a"), http("new")]), _remote(http("a")))
    assert plan.warnings == ()


def test_fixed_change_order_and_determinism():
    desired = [http("c"), http("a", name="x"), {"id": "z", "state": "absent"}, http("b")]
    remote = _remote(http("z"), http("a"), http("q"))
    config = project("acme", "ios", desired, unmanaged="delete")
    plan = diff_project(config, remote)
    assert [(c.action, c.source_id) for c in plan.changes] == [
        ("create", "c"),
        ("create", "b"),
        ("update", "a"),
        ("delete", "z"),
        ("delete", "q"),
    ]
    again = diff_project(config, list(reversed(copy.deepcopy(remote)))[::-1])
    assert again == plan


def test_unexpected_remote_answer_is_a_project_error():
    plan = diff_project(project("acme", "ios", [http("a")]), [{"type": "http"}])
    assert plan.error is not None and "no id" in plan.error
    assert plan.changes == ()


def test_a_remote_id_with_sentrys_prefix_is_never_deleted():
    # Sentry keeps its own sources out of this list and refuses such ids on writes; if one
    # showed up anyway, unmanaged: delete must not remove it.
    remote = _remote(http("a"), http("sentry:microsoft"), http("stray"))
    plan = diff_project(project("acme", "ios", [http("a")], unmanaged="delete"), remote)
    assert [(c.action, c.source_id) for c in plan.changes] == [("delete", "stray")]
    assert plan.unmanaged == ("sentry:microsoft",)
    messages = [w.message for w in plan.warnings]
    assert any("sentry:microsoft" in w and "never deletes" in w for w in messages)
    keep = diff_project(project("acme", "ios", [http("a")]), remote)
    assert keep.unmanaged == ("sentry:microsoft", "stray")
    assert keep.warnings == ()


def test_absent_vs_empty_collections_on_either_side():
    desired = [http("a", filters={"filetypes": [], "path_patterns": []})]
    remote = [dict(http("a"), filters={}), dict(http("b"), filters={"filetypes": []})]
    plan = diff_project(project("acme", "ios", [*desired, http("b")]), remote)
    assert plan.changes == ()
    assert plan.unchanged == ("a", "b")


def test_a_legacy_app_store_connect_secret_never_reaches_the_plan():
    # Sentry's list can still hold a legacy appStoreConnect source; its key is a secret too,
    # even if a misbehaving server sent it in clear.
    from reconciler.plan.render import render

    legacy = {"id": "asc", "type": "appStoreConnect", "name": "App Store Connect",
              "appconnectIssuer": "i" * 36, "appconnectKey": "KEY",
              "appconnectPrivateKey": "SENTINEL-ASC-KEY", "appName": "app"}  # fmt: skip
    remote = [http("a"), legacy]
    for unmanaged in ("keep", "delete"):
        plan = diff_project(project("acme", "ios", [http("a")], unmanaged=unmanaged), remote)
        everything = Plan(projects=(plan,))
        for fmt in ("text", "markdown", "json"):
            assert "SENTINEL-ASC-KEY" not in render(everything, fmt)
        assert "SENTINEL-ASC-KEY" not in json.dumps(everything.to_json())
    (change,) = plan.changes
    assert change.fields["appconnectPrivateKey"].before == SECRET_SET
    assert change.fields["appconnectPrivateKey"].secret
    # the saved plan reads back (its fields hold only the markers)
    assert Plan.loads(everything.dumps()) == everything


def test_order_enforce_moves_what_follows_the_longest_prefix():
    remote = [http("b"), http("hand"), s3("a", secret_key="stored"), http("c", password="pw")]
    desired = [s3("a"), http("b", name="renamed"), http("new"), http("c", password={"env": "PW"})]
    plan = diff_project(
        project("acme", "ios", desired, order="enforce"), [redacted(s) for s in remote]
    )
    # a is first in the file and in Sentry (hand is unmanaged): a stays, b follows it in the
    # file but precedes it in Sentry, so b moves; new ends the prefix anyway, and c moves.
    assert [(c.action, c.source_id) for c in plan.changes] == [
        ("move", "b"), ("create", "new"), ("move", "c"),
    ]  # fmt: skip
    move_b, _, move_c = plan.changes
    assert move_b.fields["name"].after == "renamed"  # the update rides on the re-create
    assert move_c.secrets == {"password": "send"}  # a POST cannot keep a stored secret
    assert move_c.secret_variables() == {"password": "PW"}
    assert plan.unchanged == ("a",)
    assert plan.warnings == ()
    assert plan.unmanaged == ("hand",)


def test_order_warn_keeps_the_warning_and_names_enforce():
    remote = [http("b"), http("a")]
    plan = diff_project(
        project("acme", "ios", [http("a"), http("b")]), [redacted(s) for s in remote]
    )
    assert plan.changes == ()
    (warning,) = [w.message for w in plan.warnings]
    assert warning.startswith("source order differs from the file")
    assert "order: enforce" in warning


def test_unmanaged_report_lists_remote_additions_as_drift_and_writes_nothing():
    remote = _remote(http("a"), http("hand-made"), http("sentry:own"), http("other"))
    plan = diff_project(project("acme", "ios", [http("a")], unmanaged="report"), remote)
    assert plan.changes == ()
    assert plan.reported == ("hand-made", "other")
    assert plan.unmanaged == ("sentry:own",)  # Sentry's own prefix is not drift
    assert plan.warnings == ()
    assert plan.has_drift and not plan.has_changes
    summary = Plan(projects=(plan,)).summary
    assert (summary.reported, summary.unmanaged, summary.changes) == (2, 1, 0)
    keep = diff_project(project("acme", "ios", [http("a")]), remote)
    assert keep.reported == () and not keep.has_drift


def test_a_field_symsync_does_not_manage_is_named_in_a_warning():
    remote = [
        dict(http("a"), quantum_cache=True, layout={"type": "native", "hexes": 3}),
        dict(http("b"), bucket="stray-for-http"),
        dict(http("c"), future=[]),
    ]
    plan = diff_project(project("acme", "ios", [http("a"), http("b"), http("c")]), remote)
    changes = {c.source_id: c for c in plan.changes}
    assert {k: (f.before, f.after) for k, f in changes["a"].fields.items()} == {
        "layout.hexes": (3, None),
        "quantum_cache": (True, None),
    }
    assert list(changes["b"].fields) == ["bucket"]
    assert "c" not in changes  # an empty value is the same as none
    warnings = [w.message for w in plan.warnings]
    assert warnings[0] == (
        "Sentry holds fields `layout.hexes`, `quantum_cache` on source `a`, which symsync does "
        "not manage (the file cannot hold them): this plan updates `a`, and the update removes "
        "them (a PUT replaces the whole source); do not apply it if Sentry still needs them"
    )
    assert warnings[1].startswith("Sentry holds field `bucket` on source `b`")
    assert warnings[2].endswith("any update of `c` would remove it")
    assert len(warnings) == 3


def test_a_moved_source_is_warned_to_lose_a_field_symsync_does_not_manage():
    # order: enforce moves `b`: the POST that re-creates it cannot carry the field, so the
    # warning says the move removes it (the plan has no update of `b`)
    config = project("acme", "ios", [http("a", name="x"), http("b")], order="enforce")
    remote = [dict(http("b"), quantum_cache=True), http("a")]
    plan = diff_project(config, remote)
    assert [(c.action, c.source_id) for c in plan.changes] == [("move", "b"), ("update", "a")]
    (warning,) = [w.message for w in plan.warnings]
    assert warning.endswith(
        "this plan moves `b` (order: enforce), and re-creating it removes it; do not apply it "
        "if Sentry still needs it"
    )


def test_a_field_name_that_is_not_plain_is_quoted_in_the_warning():
    remote = [dict(http("a"), **{"we\x1bird\nname": 1})]
    (warning,) = [
        w.message for w in diff_project(project("acme", "ios", [http("a")]), remote).warnings
    ]
    assert '"we\\u001bird\\nname"' in warning and "\x1b" not in warning
