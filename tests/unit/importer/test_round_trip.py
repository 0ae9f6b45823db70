"""Zero-diff round trip: any state Sentry's rewritten endpoint (Gen B) accepts, imported, plans
to nothing: no change, no source reported, no warning.

Generated states cover every source type, layout, casing, filter, ``is_public``, ``has_index``,
``platforms``, blank and absent names, strings that YAML 1.1 reads as something else, and
unicode (invisible characters, NEL, LS, PS, control characters but NUL, which PostgreSQL cannot
store). The file format is stricter than Gen B in one place, by design: ``region`` must be an
AWS region code (Gen B takes any string), and one symsync does not know by name is a warning;
so regions are drawn from the known ones.

``make test`` runs a bounded number of examples; ``make soak`` runs many more.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reconciler.config.loader import load_tree
from reconciler.emulator import validation
from reconciler.emulator.testing import running_emulator, serving_emulator
from reconciler.importer.read import import_organization
from reconciler.importer.write import write_files
from reconciler.plan.planner import make_plan
from reconciler.sentry import spec
from reconciler.sentry.client import SentryClient
from tests.support.e2e_helpers import EMULATOR_TOKEN, clean_env, symsync

# Strings a YAML 1.1 reader takes for booleans, null, numbers, dates or merge keys when plain.
YAML_LOOKALIKES = ["yes", "no", "No", "on", "OFF", "y", "n", "~", "null", "Null", "true",
                   "1e3", "0x10", "0o17", "017", "1:30", "1_000", ".inf", "-.5", "+1", "123",
                   "2001-12-14", "2001-12-14t21:59:43.10-05:00", "=", "<<", "- x", "? x",
                   "k: v", "# c", "&a", "*a", "!tag", "%x", "@x", "`x", "'q'", '"q"', "[a]",
                   "{a: 1}", "|", ">", " lead", "trail ", "two\nlines", "tab\there"]  # fmt: skip
# Characters that are easy to lose: invisible ones, line breaks beyond \n, controls, BOM.
TRICKY_CHARS = ["\u200b", "\u200d", "\u2060", "\ufeff", "\x85", "\u2028", "\u2029", "\x01",
                "\x07", "\x1b", "\x7f", "\x9f", "\u00a0", "\u3000", "é", "日本", "🦀", "\r",
                "\t", "\\", "'", '"', ":", "#"]  # fmt: skip

# Any unicode text but surrogates (JSON cannot carry them as UTF-8) and NUL (Sentry stores
# sources in PostgreSQL, whose text refuses it, and the loader says so).
_chars = st.characters(exclude_categories=("Cs",), exclude_characters="\x00")
_any_text = st.text(_chars, max_size=12)
_tricky = st.lists(st.sampled_from(TRICKY_CHARS), min_size=1, max_size=3).map("".join)
text = st.one_of(
    st.sampled_from(YAML_LOOKALIKES),
    _any_text,
    st.tuples(_any_text, _tricky, _any_text).map("".join),
)
non_blank = text.filter(lambda s: s.strip() != "")
source_id = non_blank.filter(lambda s: not s.startswith(spec.RESERVED_ID_PREFIX))


@st.composite
def sources(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(st.sampled_from(spec.SOURCE_TYPES))
    source: dict[str, Any] = {"id": "", "type": kind}
    if draw(st.booleans()):
        source["name"] = draw(text)
    layout: dict[str, Any] = {"type": draw(st.sampled_from(spec.LAYOUT_TYPES))}
    if draw(st.booleans()):
        layout["casing"] = draw(st.sampled_from(spec.CASINGS))
    source["layout"] = layout
    if draw(st.booleans()):
        filters: dict[str, Any] = {}
        if draw(st.booleans()):
            filters["filetypes"] = draw(st.lists(st.sampled_from(spec.FILETYPES), max_size=4))
        if draw(st.booleans()):
            filters["path_patterns"] = draw(st.lists(non_blank, max_size=3))
        if draw(st.booleans()):
            filters["requires_checksum"] = draw(st.booleans())
        source["filters"] = filters
    for flag in ("is_public", "has_index"):
        if draw(st.booleans()):
            source[flag] = draw(st.booleans())
    if draw(st.booleans()):
        source["platforms"] = draw(st.lists(non_blank, max_size=3))
    if kind == "http":
        source["url"] = draw(non_blank)
        if draw(st.booleans()):
            source["username"] = draw(text)
        if draw(st.booleans()):
            source["password"] = draw(text)  # Gen B allows a blank password
    else:
        source["bucket"] = draw(non_blank)
        if draw(st.booleans()):
            source["prefix"] = draw(text)
        if kind == "s3":
            source["region"] = draw(st.sampled_from(spec.KNOWN_AWS_REGIONS))
            source["access_key"] = draw(non_blank)
            source["secret_key"] = draw(non_blank)
        else:
            source["client_email"] = draw(non_blank)
            source["private_key"] = draw(non_blank)
    # Keys in any order: Sentry stores the body as it was sent.
    keys = draw(st.permutations(list(source)))
    return {key: source[key] for key in keys}


@st.composite
def projects(draw: st.DrawFn) -> dict[str, list[dict[str, Any]]]:
    # Sentry never makes an all-digit slug: a path part of digits is a project's numeric id.
    slug = st.from_regex(r"[a-z0-9][a-z0-9_-]{0,8}", fullmatch=True).filter(
        lambda s: not s.isdigit()
    )
    slugs = draw(st.lists(slug, min_size=1, max_size=3, unique=True))
    out: dict[str, list[dict[str, Any]]] = {}
    for slug in slugs:
        ids = draw(st.lists(source_id, max_size=4, unique=True))
        out[slug] = [dict(draw(sources()), id=sid) for sid in ids]
    return out


def _state(org: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    return {
        "organizations": {
            "acme": {"projects": {slug: {"symbol_sources": s} for slug, s in org.items()}}
        }
    }


def check_round_trip(org: dict[str, list[dict[str, Any]]]) -> None:
    for stored in org.values():
        validation.validate_sources_gen_b(json.loads(json.dumps(stored)))  # Gen B accepts it
    with (
        tempfile.TemporaryDirectory(prefix="symsync-round-trip-") as tmp,
        serving_emulator(_state(org), generation="b") as emulator,
        SentryClient(emulator.url, EMULATOR_TOKEN, max_retries=0) as client,
    ):
        configs = Path(tmp) / "configs"
        imported = import_organization(client, "acme", [], configs)
        assert imported.warnings == [], imported.warnings
        assert not imported.failed
        write_files(imported)
        loaded = load_tree(configs)
        assert [str(d) for d in loaded.diagnostics] == []
        plan = make_plan(client, sorted(loaded.projects, key=lambda c: c.key))
        texts = {f.project: f.text for f in imported.files}
        for project in plan.projects:
            shown = texts[project.project]
            assert project.error is None, project.error
            assert project.changes == (), (shown, project.changes)
            assert project.reported == () and project.unmanaged == (), shown
            assert project.warnings == (), (shown, project.warnings)
            assert list(project.unchanged) == [s["id"] for s in org[project.project]]
        assert not plan.has_drift and not plan.has_errors
        requests = emulator.requests()
        assert {r["method"] for r in requests} == {"GET"}


_settings = {
    "deadline": None,
    "derandomize": True,
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large],
}


@settings(max_examples=15, **_settings)
@given(projects())
def test_any_state_gen_b_accepts_round_trips_to_an_empty_plan(org):
    check_round_trip(org)


@pytest.mark.soak
@pytest.mark.timeout(1800)
@settings(max_examples=1000, **{**_settings, "derandomize": False})
@given(projects())
def test_soak_any_state_gen_b_accepts_round_trips_to_an_empty_plan(org):
    check_round_trip(org)


def test_every_lookalike_and_tricky_character_round_trips():
    """Each listed string, alone and around each tricky character, in every string field."""
    values = YAML_LOOKALIKES + [f"a{c}b" for c in TRICKY_CHARS] + TRICKY_CHARS
    values = [v for v in values if v.strip()]
    stored = []
    for i, value in enumerate(values):
        stored.append({"id": f"{value}{i}", "type": "http", "name": value, "url": value,
                       "username": value, "password": value, "layout": {"type": "native"},
                       "filters": {"path_patterns": [value]}, "platforms": [value]})  # fmt: skip
        stored.append({"id": f"g{i}", "type": "gcs", "bucket": value, "prefix": value,
                       "client_email": value, "private_key": value,
                       "layout": {"type": "ssqp", "casing": "uppercase"}})  # fmt: skip
    check_round_trip({"ios": stored})


@pytest.mark.e2e
def test_cli_import_then_plan_detailed_exitcode_exits_0(tmp_path):
    stored = [
        {"id": "yes", "type": "http", "name": "", "url": "on", "layout": {"type": "native"},
         "is_public": True, "has_index": False, "platforms": ["~", "1e3", "日本\u2028"],
         "filters": {"filetypes": ["pdb", "pe"], "path_patterns": ["0x10", "null"],
                     "requires_checksum": True}, "password": "PW-SENTINEL-31"},
        {"id": "\u200bzero-width", "type": "s3", "bucket": "2001-12-14", "region": "me-central-1",
         "access_key": "no", "secret_key": "S3-SENTINEL-32", "prefix": "\x85",
         "layout": {"type": "unified", "casing": "lowercase"}},
        {"id": "gcs", "type": "gcs", "bucket": "b", "client_email": "e@x", "private_key": "K-33",
         "layout": {"type": "slashsymbols"}, "filters": {}, "platforms": []},
    ]  # fmt: skip
    with running_emulator("--api-generation", "b", state=_state({"ios": stored})) as emulator:
        env = clean_env(SENTRY_AUTH_TOKEN=EMULATOR_TOKEN, SENTRY_URL=emulator.url)
        imported = symsync("import", "--org", "acme", env=env, cwd=tmp_path)
        plan = symsync("plan", "--detailed-exitcode", env=env, cwd=tmp_path)
    assert imported.returncode == 0, imported.stderr
    assert "warning" not in imported.stderr
    assert plan.returncode == 0, plan.stdout + plan.stderr
    assert "warning" not in plan.stdout + plan.stderr
    assert plan.stdout.startswith("No changes. 3 source(s) match the files.")
    output = imported.stdout + imported.stderr + plan.stdout + plan.stderr
    output += (tmp_path / "configs/acme/ios.yaml").read_text()
    for sentinel in ("PW-SENTINEL-31", "S3-SENTINEL-32", "K-33", EMULATOR_TOKEN):
        assert sentinel not in output
