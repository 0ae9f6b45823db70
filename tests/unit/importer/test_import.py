"""``symsync import``: rendering, naming of secret variables, safety of writes, and the CLI."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest
import yaml

from reconciler.apply.secrets import SECRETS_VARIABLE, parse_bundle
from reconciler.config.project_file import ProjectFile
from reconciler.core.errors import SymsyncError
from reconciler.core.redact import register_secret
from reconciler.importer.read import ImportResult, import_organization
from reconciler.importer.secret_names import SecretNameError, SecretNameTemplate, variable_name
from reconciler.importer.write import ImportConflictError, write_files
from reconciler.sentry.client import SentryClient
from tests.support.e2e_helpers import clean_env, state_doc, symsync
from tests.support.fake_sentry import FakeSentry, Recorded, Reply, fake_sentry

TOKEN = "sntryu_IMPORTTOKENSENTINEL987654321"
HIDDEN = {"hidden-secret": True}

IOS_SOURCES: list[dict[str, Any]] = [
    {
        "type": "http",
        "id": "acme-symbols",
        "name": "ACME symbol server",
        "url": "https://symbols.acme.example/",
        "layout": {"casing": "default", "type": "native"},
        "username": "ci",
        "password": HIDDEN,
        "filters": {
            "requires_checksum": False,
            "filetypes": ["pe", "pdb"],
            "path_patterns": ["*.dll"],
        },
    },
    {
        "layout": {"type": "unified"},
        "secret_key": HIDDEN,
        "type": "s3",
        "id": "acme-s3",
        "name": "Release builds",
        "bucket": "acme-symbols",
        "region": "us-east-1",
        "prefix": "releases/",
        "access_key": "AKIAEXAMPLE",
    },
    {
        "type": "gcs",
        "id": "acme-gcs",
        "name": "Nightly builds",
        "bucket": "acme-nightly",
        "client_email": "symbols@acme.iam.gserviceaccount.com",
        "private_key": HIDDEN,
        "layout": {"type": "symstore", "casing": "lowercase"},
        "is_public": False,
        "platforms": ["windows"],
    },
]

EXPECTED_IOS = """\
# yaml-language-server: $schema=../symsync.schema.json
# Imported from Sentry by `symsync import`. Secrets are not readable from Sentry:
# each one is a reference to an environment variable, needed only when symsync has to
# send the value (creating a source again, or adding a secret).
unmanaged: report
sources:
  - id: acme-symbols
    type: http
    name: ACME symbol server
    url: https://symbols.acme.example/
    layout: {type: native, casing: default}
    username: ci
    password: {env: SYMSYNC_ACME_IOS_ACME_SYMBOLS_PASSWORD}
    filters:
      filetypes: [pe, pdb]
      path_patterns: ['*.dll']
      requires_checksum: false
  - id: acme-s3
    type: s3
    name: Release builds
    bucket: acme-symbols
    region: us-east-1
    prefix: releases/
    access_key: AKIAEXAMPLE
    secret_key: {env: SYMSYNC_ACME_IOS_ACME_S3_SECRET_KEY}
    layout: {type: unified}
  - id: acme-gcs
    type: gcs
    name: Nightly builds
    bucket: acme-nightly
    client_email: symbols@acme.iam.gserviceaccount.com
    private_key: {env: SYMSYNC_ACME_IOS_ACME_GCS_PRIVATE_KEY}
    layout: {type: symstore, casing: lowercase}
    platforms: [windows]
    is_public: false
"""


class FakeOrg:
    """Answers like Sentry for a fixed state: paginated projects, symbol-source lists."""

    def __init__(self, projects: dict[str, dict[str, list[dict[str, Any]]]], page: int = 2):
        self.projects = projects
        self.page = page

    def __call__(self, recorded: Recorded) -> Reply:
        parts = [unquote(p) for p in recorded.path.strip("/").split("/")]
        if parts[:2] == ["api", "0"] and parts[2] == "organizations" and parts[4] == "projects":
            org = self.projects.get(parts[3])
            if org is None:
                return Reply(404, {"detail": "The requested resource does not exist"})
            slugs = sorted(org)
            start = int(recorded.query.get("cursor", ["0:0:0"])[0].split(":")[1])
            chunk = slugs[start : start + self.page]
            more = start + self.page < len(slugs)
            cursor = f"0:{start + self.page}:0"
            link = f'<http://x/?cursor={cursor}>; rel="next"; results="{str(more).lower()}"; '
            link += f'cursor="{cursor}"'
            return Reply(
                200,
                [{"id": str(i), "slug": s, "name": s} for i, s in enumerate(chunk)],
                {"Link": link},
            )
        if parts[2] == "projects" and parts[5] == "symbol-sources":
            sources = self.projects.get(parts[3], {}).get(parts[4])
            if sources is None:
                return Reply(404, {"detail": "The requested resource does not exist"})
            return Reply(200, sources)
        return Reply(404, {"detail": "not found"})


@pytest.fixture
def fake() -> Iterator[FakeSentry]:
    with fake_sentry() as server:
        server.default = FakeOrg(
            {
                "acme": {
                    "ios": IOS_SOURCES,
                    "android": [],
                    "web": [
                        {
                            "id": "sentry-mirror",
                            "type": "http",
                            "url": "u",
                            "layout": {"type": "native"},
                            "name": "x",
                        },
                        {"type": "http", "url": "u", "layout": {"type": "native"}, "name": "x"},
                        {"id": "  ", "type": "http", "url": "u", "layout": {"type": "native"}},
                        {"id": "asc", "type": "appStoreConnect", "name": "ASC"},
                        {
                            "id": "blank-url",
                            "type": "http",
                            "url": "",
                            "name": "b",
                            "layout": {"type": "native"},
                        },
                        {
                            "id": "new-filetype",
                            "type": "http",
                            "url": "https://x",
                            "name": "n",
                            "layout": {"type": "native"},
                            "filters": {"filetypes": ["quantum"]},
                        },
                        {
                            "id": "no-name",
                            "type": "http",
                            "url": "https://x",
                            "layout": {"type": "ssqp"},
                            "password": HIDDEN,
                        },
                        {
                            "id": "no-name",
                            "type": "http",
                            "url": "https://dup",
                            "layout": {"type": "ssqp"},
                        },
                    ],
                    "game": [
                        {
                            "id": "a-b",
                            "type": "http",
                            "url": "https://1",
                            "layout": {"type": "native"},
                            "name": "1",
                            "password": HIDDEN,
                        },
                        {
                            "id": "a_b",
                            "type": "http",
                            "url": "https://2",
                            "layout": {"type": "native"},
                            "name": "2",
                            "password": HIDDEN,
                        },
                    ],
                    "Bad Slug": [],
                }
            }
        )
        yield server


@pytest.fixture
def client(fake: FakeSentry) -> Iterator[SentryClient]:
    with SentryClient(fake.url, TOKEN, sleep=lambda s: None) as c:
        yield c


def _load(path: Path) -> ProjectFile:
    return ProjectFile.model_validate(yaml.safe_load(path.read_text()))


def test_renders_the_file_format_in_its_key_order(client, tmp_path):
    result = import_organization(client, "acme", ["ios"], tmp_path)
    write_files(result)
    path = tmp_path / "acme" / "ios.yaml"
    assert path.read_text() == EXPECTED_IOS
    model = _load(path)
    assert [s.id for s in model.sources] == ["acme-symbols", "acme-s3", "acme-gcs"]
    assert [v.name for v in result.variables] == [
        "SYMSYNC_ACME_IOS_ACME_SYMBOLS_PASSWORD",
        "SYMSYNC_ACME_IOS_ACME_S3_SECRET_KEY",
        "SYMSYNC_ACME_IOS_ACME_GCS_PRIVATE_KEY",
    ]
    assert result.warnings == []


def test_every_project_of_the_org_across_pages(client, fake, tmp_path):
    result = import_organization(client, "acme", [], tmp_path)
    write_files(result)
    written = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*.yaml"))
    assert written == ["acme/android.yaml", "acme/game.yaml", "acme/ios.yaml", "acme/web.yaml"]
    assert _load(tmp_path / "acme" / "android.yaml").sources == []
    assert any("Bad Slug" in w for w in result.warnings)
    cursors = [r.query.get("cursor") for r in fake.requests if "organizations" in r.path]
    assert cursors == [None, ["0:2:0"], ["0:4:0"]]
    assert not any(r.method != "GET" for r in fake.requests)


def test_unusable_sources_are_skipped_with_a_warning(client, tmp_path):
    result = import_organization(client, "acme", ["web"], tmp_path)
    write_files(result)
    model = _load(tmp_path / "acme" / "web.yaml")
    assert [(s.id, s.name) for s in model.sources] == [("no-name", None)]
    assert model.unmanaged == "report"
    text = "\n".join(result.warnings)
    assert "source `sentry-mirror` skipped: ids starting with `sentry` are reserved" in text
    assert "the plan lists it as unmanaged, kept" in text
    assert "skipped source #2: it has no id, so the plan of this project fails" in text
    assert "source `  ` skipped: the file format cannot hold it (id: must not be blank)" in text
    assert (
        "source `asc` skipped: the file format cannot hold it (it is a legacy App Store "
        "Connect source, which Sentry no longer accepts on writes)" in text
    )
    assert "source `blank-url` skipped: the file format cannot hold it (url: " in text
    assert "the plan reports it as not in the file (unmanaged: report)" in text
    assert '`{id: "blank-url", state: absent}`' in text
    assert "source `new-filetype` skipped: the file format cannot hold it (filters." in text
    assert "source `no-name` skipped: Sentry lists this id more than once" in text
    assert "has no name" not in text  # a source without a name is imported as it is


def test_fields_symsync_does_not_manage_are_reported_by_source_and_field(tmp_path):
    source = {
        "id": "s1",
        "type": "http",
        "url": "https://x",
        "layout": {"type": "native", "hexes": 2},
        "quantum": True,
        "filters": {"filetypes": ["pe"], "later": 1},
    }
    with fake_sentry() as server:
        server.default = FakeOrg({"acme": {"ios": [source]}})
        with SentryClient(server.url, TOKEN, sleep=lambda s: None) as c:
            result = import_organization(c, "acme", ["ios"], tmp_path)
    write_files(result)
    (entry,) = _load(tmp_path / "acme" / "ios.yaml").sources
    assert entry.model_dump(exclude_none=True) == {
        "id": "s1", "type": "http", "state": "present", "url": "https://x",
        "layout": {"type": "native", "casing": "default"}, "filters": {"filetypes": ["pe"]},
    }  # fmt: skip
    (warning,) = result.warnings
    assert warning.startswith(
        "acme/ios: source `s1`: Sentry holds quantum, layout.hexes, filters.later, which symsync "
        "does not manage"
    )
    assert "shows an update of `s1` that removes them" in warning


def test_colliding_variable_names_are_made_unique(client, tmp_path):
    result = import_organization(client, "acme", ["game"], tmp_path)
    first, second = (v.name for v in result.variables)
    assert first == "SYMSYNC_ACME_GAME_A_B_PASSWORD"
    assert second.startswith("SYMSYNC_ACME_GAME_A_B_PASSWORD_") and second != first
    again = import_organization(client, "acme", ["game"], tmp_path / "other")
    assert [v.name for v in again.variables] == [first, second]


@pytest.mark.parametrize(
    ("parts", "expected"),
    [
        (("acme", "ios", "acme-symbols", "password"), "SYMSYNC_ACME_IOS_ACME_SYMBOLS_PASSWORD"),
        (("acme", "ios", "Ünïcode  id/..", "secret_key"), "SYMSYNC_ACME_IOS_N_CODE_ID_SECRET_KEY"),
        (("0rg", "p", "--", "private_key"), "SYMSYNC_0RG_P_PRIVATE_KEY"),
    ],
)
def test_variable_names_are_valid(parts, expected):
    import re

    name = variable_name(*parts)
    assert name == expected
    assert re.fullmatch(r"[A-Z_][A-Z0-9_]*", name)


class Broken:
    """Answers like ``inner``, except that the named projects' source lists fail."""

    def __init__(self, inner: FakeOrg, failing: dict[str, Reply]) -> None:
        self.inner = inner
        self.failing = failing

    def __call__(self, recorded: Recorded) -> Reply:
        for project, reply in self.failing.items():
            if recorded.path.endswith(f"/{project}/symbol-sources/"):
                return reply
        return self.inner(recorded)


def test_a_project_that_cannot_be_read_does_not_stop_the_others(client, fake, tmp_path):
    fake.default = Broken(fake.default, {"web": Reply(500, {"detail": "Internal Error"})})
    result = import_organization(client, "acme", [], tmp_path)
    assert [f.key for f in result.failed] == ["acme/web"]
    assert "Sentry failed with 500" in result.failed[0].error
    assert "--project web" in result.failed[0].next_step()
    assert "--exclude acme/web" in result.failed[0].next_step()
    write_files(result)
    written = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*.yaml"))
    assert written == ["acme/android.yaml", "acme/game.yaml", "acme/ios.yaml"]


def test_an_account_wide_failure_stops_the_run(client, fake, tmp_path):
    fake.default = Broken(fake.default, {"game": Reply(401, {"detail": "Invalid token"})})
    with pytest.raises(SymsyncError, match="the token is invalid or expired"):
        import_organization(client, "acme", [], tmp_path)
    assert not tmp_path.joinpath("acme").exists()


def test_a_dropped_connection_fails_only_that_project(client, fake, tmp_path):
    fake.default = Broken(fake.default, {"game": Reply(drop=True)})
    result = import_organization(client, "acme", [], tmp_path)
    assert [f.key for f in result.failed] == ["acme/game"]
    assert "lost the connection" in result.failed[0].error
    assert [f.project for f in result.files] == ["android", "ios", "web"]


# Values the environment holds as secrets, which Sentry also holds in fields that are no secrets.
HOST_SENTINEL = "host-sentinel-7d41c2"
KEY_SENTINEL = "AKIA-KEY-SENTINEL-93be"


def _leaky_org() -> FakeOrg:
    """ios is clean; web holds HOST_SENTINEL in a URL; store holds KEY_SENTINEL as an access key
    and HOST_SENTINEL in a prefix."""
    return FakeOrg(
        {
            "acme": {
                "ios": IOS_SOURCES,
                "web": [
                    {"id": "mirror", "type": "http", "name": "Mirror", "password": HIDDEN,
                     "url": f"https://{HOST_SENTINEL}.example/", "layout": {"type": "native"}},
                ],
                "store": [
                    {"id": "bucket", "type": "s3", "name": "Builds", "bucket": "acme-builds",
                     "region": "us-east-1", "access_key": KEY_SENTINEL, "secret_key": HIDDEN,
                     "prefix": f"{HOST_SENTINEL}/", "layout": {"type": "unified"}},
                ],
            }
        }
    )  # fmt: skip


def _all_text(result: ImportResult) -> str:
    """Everything import shows or writes from ``result``."""
    return "\n".join(
        [f.text for f in result.files]
        + result.warnings
        + [f"{f.key} {f.message()} {f.next_step()} {f.error} {f.secrets}" for f in result.failed]
        + [v.describe() + v.name for v in result.variables]
    )


def test_projects_whose_file_would_hold_a_secret_are_not_written_and_all_named(fake, tmp_path):
    fake.default = _leaky_org()
    parse_bundle(json.dumps({"WEB_HOST": HOST_SENTINEL, "STORE_KEY": KEY_SENTINEL}))
    # A file of its own there is not in the way: import would not write that project.
    (tmp_path / "acme").mkdir()
    (tmp_path / "acme" / "web.yaml").write_text("kept: as it is\n")
    with SentryClient(fake.url, TOKEN, sleep=lambda s: None) as c:
        result = import_organization(c, "acme", [], tmp_path)

    assert [f.project for f in result.files] == ["ios"]
    assert [f.key for f in result.failed] == ["acme/store", "acme/web"]
    store, web = result.failed
    assert not store.unread and not web.unread
    assert store.secrets == (
        "SYMSYNC_SECRETS entry `STORE_KEY`",
        "SYMSYNC_SECRETS entry `WEB_HOST`",
    )
    assert store.message() == (
        "its file would hold the value of a secret: SYMSYNC_SECRETS entry `WEB_HOST` in "
        "`prefix` of source `bucket`; SYMSYNC_SECRETS entry `STORE_KEY` in `access_key` of "
        "source `bucket`; the file was not written"
    )
    assert web.secrets == ("SYMSYNC_SECRETS entry `WEB_HOST`",)
    assert "`url` of source `mirror`" in web.message()
    assert web.next_step() == (
        "remove the value from that field in Sentry (a secret's value belongs only in a secret "
        "field: password, secret_key or private_key), or, if it is no secret, stop listing it in "
        "SYMSYNC_SECRETS; then import the project alone with `symsync import --org acme "
        "--project web`"
    )
    # Their secret variables are not listed: no file refers to them.
    assert {v.project for v in result.variables} == {"ios"}
    text = _all_text(result)
    assert HOST_SENTINEL not in text.lower() and KEY_SENTINEL not in text

    write_files(result)
    written = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*.*"))
    assert written == ["acme/ios.yaml", "acme/web.yaml", "symsync.schema.json"]
    assert (tmp_path / "acme" / "web.yaml").read_text() == "kept: as it is\n"
    assert _load(tmp_path / "acme" / "ios.yaml").sources


def test_a_secret_in_a_source_id_is_located_without_the_id(fake, tmp_path):
    token_like = "sentinel-id-0c55e1"
    fake.default = FakeOrg(
        {"acme": {"ios": [{"id": token_like, "type": "http", "name": "x", "url": "https://x/",
                           "layout": {"type": "native"}}]}}
    )  # fmt: skip
    register_secret(token_like, "SENTRY_AUTH_TOKEN")
    with SentryClient(fake.url, TOKEN, sleep=lambda s: None) as c:
        result = import_organization(c, "acme", [], tmp_path)
    assert result.files == []
    (failed,) = result.failed
    assert failed.error == "SENTRY_AUTH_TOKEN in `id` of source #1"
    # not a SYMSYNC_SECRETS value: fixing it in Sentry is the way
    assert "SYMSYNC_SECRETS" not in failed.next_step()
    assert token_like not in _all_text(result)


def test_exclude_by_slug_glob_and_by_org_project(client, fake, tmp_path):
    result = import_organization(
        client, "acme", [], tmp_path, exclude=["we*", "acme/game", "other/ios", "nothing-*"]
    )
    assert [f.project for f in result.files] == ["android", "ios"]
    assert result.excluded == ["acme/game", "acme/web"]
    warnings = "\n".join(result.warnings)
    assert "--exclude 'other/ios' matches no project imported" in warnings
    assert "--exclude 'nothing-*' matches no project" in warnings
    read = [r.path for r in fake.requests if r.path.endswith("/symbol-sources/")]
    assert sorted(read) == [
        "/api/0/projects/acme/android/symbol-sources/",
        "/api/0/projects/acme/ios/symbol-sources/",
    ]


def test_progress_hears_the_total_then_each_read_failed_ones_included(client, fake, tmp_path):
    fake.default = Broken(fake.default, {"web": Reply(500, {"detail": "Internal Error"})})
    heard: list[tuple[str, object]] = []
    result = import_organization(
        client, "acme", [], tmp_path, exclude=["game"],
        on_total=lambda total: heard.append(("total", total)),
        on_project=lambda slug, failed: heard.append((slug, failed)),
    )  # fmt: skip
    # `Bad Slug` (cannot be a file name) and the excluded `game` are not read, nor counted.
    assert heard[0] == ("total", 3)
    reads = dict(heard[1:])
    assert len(heard[1:]) == len(reads) == 3
    assert reads == {"android": None, "ios": None, "web": result.failed[0]}
    assert [f.project for f in result.files] == ["android", "ios"]


class Gate:
    """Answers like ``inner``, except that ``slow``'s source list waits until ``release`` is
    set (or 10 s pass)."""

    def __init__(self, inner: FakeOrg, slow: str) -> None:
        self.inner = inner
        self.slow = slow
        self.release = threading.Event()
        self.released = False

    def __call__(self, recorded: Recorded) -> Reply:
        if recorded.path.endswith(f"/{self.slow}/symbol-sources/"):
            self.released = self.release.wait(timeout=10)
        return self.inner(recorded)


def test_progress_hears_each_read_as_it_finishes_not_all_at_the_end(client, fake, tmp_path):
    gate = Gate(fake.default, "ios")
    fake.default = gate
    heard: list[str] = []

    def read(slug: str, failed: object) -> None:
        heard.append(slug)
        if len(heard) == 3:  # the other three are done while `ios` is still being read
            gate.release.set()

    result = import_organization(client, "acme", [], tmp_path, on_project=read)
    assert gate.released
    assert sorted(heard[:3]) == ["android", "game", "web"] and heard[3:] == ["ios"]
    assert not result.failed


def test_a_run_that_stops_reports_no_read_after_the_error(client, fake, tmp_path):
    fake.default = Broken(fake.default, {"game": Reply(401, {"detail": "Invalid token"})})
    heard: list[str] = []
    with pytest.raises(SymsyncError, match="the token is invalid or expired"):
        import_organization(
            client, "acme", [], tmp_path, on_project=lambda slug, _: heard.append(slug)
        )
    assert "game" not in heard


def test_a_secret_name_template_lets_sources_share_a_variable(client, tmp_path):
    template = SecretNameTemplate.parse("{org}_{field}")
    result = import_organization(client, "acme", ["game"], tmp_path, secret_name=template)
    grouped = result.variables_by_name()
    assert list(grouped) == ["ACME_PASSWORD"]
    assert [v.source_id for v in grouped["ACME_PASSWORD"]] == ["a-b", "a_b"]
    write_files(result)
    text = (tmp_path / "acme" / "game.yaml").read_text()
    assert text.count("password: {env: ACME_PASSWORD}") == 2


@pytest.mark.parametrize(
    ("template", "parts", "expected"),
    [
        ("{org}_{project}_{source}_{field}", ("acme", "ios", "s-1", "password"),
         "ACME_IOS_S_1_PASSWORD"),
        ("{project}_{field}", ("acme", "9lives", "s", "secret_key"), "_9LIVES_SECRET_KEY"),
        ("CI_{source}__{field}", ("a", "b", "--", "private_key"), "CI_PRIVATE_KEY"),
        ("shared_key", ("a", "b", "c", "password"), "shared_key"),
        ("X{source}", ("a", "b", "..", "password"), "X"),
    ],
)  # fmt: skip
def test_secret_name_template_normalisation(template, parts, expected):
    assert SecretNameTemplate.parse(template).expand(*parts) == expected


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("{org}_{secret}", "unknown placeholder {secret}; the placeholders are {org}, {project}"),
        ("{}", "unknown placeholder {}"),
        ("{org!r}_{field}", "write placeholders plainly"),
        ("{org:>9}", "write placeholders plainly"),
        ("{org", "not a valid template"),
        ("ACME-{field}", "may only hold letters, digits and `_`"),
        ("{source}", "could give an empty name"),
        ("  ", "--secret-name is empty"),
    ],
)
def test_bad_secret_name_templates_are_clear_errors(template, message):
    with pytest.raises(SecretNameError) as info:
        SecretNameTemplate.parse(template)
    assert message in str(info.value)


def test_existing_file_is_not_overwritten_and_nothing_is_written(client, tmp_path):
    existing = tmp_path / "acme" / "ios.yaml"
    existing.parent.mkdir(parents=True)
    existing.write_text("sources: []\n")
    with pytest.raises(ImportConflictError, match=r"acme/ios\.yaml") as info:
        import_organization(client, "acme", [], tmp_path)
    assert "--force" in str(info.value) and info.value.exit_code == 1
    assert existing.read_text() == "sources: []\n"
    assert sorted(p.name for p in (tmp_path / "acme").iterdir()) == ["ios.yaml"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["acme"]


def test_force_overwrites_and_keeps_a_yml_file_name(client, tmp_path):
    existing = tmp_path / "acme" / "ios.yml"
    existing.parent.mkdir(parents=True)
    existing.write_text("sources: []\n")
    write_files(import_organization(client, "acme", ["ios"], tmp_path, force=True))
    assert existing.read_text() == EXPECTED_IOS
    assert not (tmp_path / "acme" / "ios.yaml").exists()
    assert [p.name for p in (tmp_path / "acme").iterdir()] == ["ios.yml"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write anywhere")
def test_unwritable_directory_is_a_clear_error(client, tmp_path):
    (tmp_path / "acme").mkdir()
    (tmp_path / "acme").chmod(0o500)
    try:
        with pytest.raises(SymsyncError, match=r"could not write .*ios\.yaml: Permission denied"):
            write_files(import_organization(client, "acme", ["ios"], tmp_path))
    finally:
        (tmp_path / "acme").chmod(0o700)


def test_a_file_where_a_folder_should_be_is_a_clear_error(client, tmp_path):
    (tmp_path / "acme").write_text("not a folder")
    with pytest.raises(SymsyncError, match=r"could not write .*acme/ios\.yaml"):
        write_files(import_organization(client, "acme", ["ios"], tmp_path))


def test_unknown_projects_are_named(client, tmp_path):
    with pytest.raises(SymsyncError) as info:
        import_organization(client, "acme", ["ios", "nope", "gone"], tmp_path)
    assert "`nope`, `gone`" in str(info.value)
    assert not tmp_path.joinpath("acme").exists()


def test_unknown_organization(client, tmp_path):
    with pytest.raises(SymsyncError, match="organization `globex` was not found"):
        import_organization(client, "globex", [], tmp_path)


def _cli(
    fake: FakeSentry, cwd: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SENTRY_AUTH_TOKEN": TOKEN, **(env or {})}
    env.pop("SENTRY_URL", None)
    return subprocess.run(
        [sys.executable, "-m", "reconciler", "import", "--url", fake.url, *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=60,
    )


def test_cli_writes_files_reports_variables_and_refuses_overwrite(fake, tmp_path):
    proc = _cli(fake, tmp_path, "--org", "acme", "--project", "ios", "--project", "android")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == ""
    assert "wrote configs/acme/ios.yaml (3 sources)" in proc.stderr
    assert "wrote configs/symsync.schema.json" in proc.stderr
    (tmp_path / "configs/symsync.schema.json").write_text("{}")
    assert "wrote configs/acme/android.yaml (0 sources)" in proc.stderr
    assert "SYMSYNC_ACME_IOS_ACME_GCS_PRIVATE_KEY" in proc.stderr
    assert "warning:" not in proc.stderr
    assert (tmp_path / "configs/acme/ios.yaml").read_text() == EXPECTED_IOS
    assert TOKEN not in proc.stderr

    again = _cli(fake, tmp_path, "--org", "acme")
    assert again.returncode == 1
    assert (
        "error: not overwriting existing project files: configs/acme/android.yaml, "
        "configs/acme/ios.yaml" in again.stderr
    )
    assert not (tmp_path / "configs/acme/web.yaml").exists()
    assert "Traceback" not in again.stderr

    forced = _cli(fake, tmp_path, "--org", "acme", "--force", "--config-dir", "configs")
    assert forced.returncode == 0, forced.stderr
    assert (tmp_path / "configs/acme/web.yaml").exists()
    assert not [p for p in (tmp_path / "configs").rglob("*") if p.name.startswith(".")]
    assert (tmp_path / "configs/symsync.schema.json").read_text() == "{}"  # never overwritten
    assert "symsync.schema.json" not in forced.stderr


def test_cli_writes_what_it_could_read_names_the_failed_project_and_exits_1(fake, tmp_path):
    fake.default = Broken(fake.default, {"web": Reply(403, {"detail": "no"})})
    proc = _cli(
        fake, tmp_path, "--org", "acme", "--exclude", "gam?", "--secret-name", "{org}_{field}"
    )
    assert proc.returncode == 1, proc.stderr
    assert sorted(p.name for p in (tmp_path / "configs/acme").iterdir()) == [
        "android.yaml",
        "ios.yaml",
    ]
    lines = proc.stderr.splitlines()
    error = next(line for line in lines if line.startswith("error: acme/web: could not read"))
    assert "the token is not allowed to do this" in error
    assert lines[lines.index(error) + 1].startswith("  next: once Sentry answers for it, import")
    assert "imported 2 of 3 project(s); 1 could not be read" in proc.stderr
    assert "excluded 1 project(s): acme/game" in proc.stderr
    assert "ACME_PASSWORD" in proc.stderr and "ACME_SECRET_KEY" in proc.stderr
    assert "Traceback" not in proc.stderr and TOKEN not in proc.stderr


def test_cli_names_unread_and_secret_holding_projects_apart_and_exits_1(fake, tmp_path):
    fake.default = Broken(_leaky_org(), {"web": Reply(500, {"detail": "Internal Error"})})
    env = {SECRETS_VARIABLE: json.dumps({"STORE_KEY": KEY_SENTINEL})}
    proc = _cli(fake, tmp_path, "--org", "acme", "--retry-budget", "0", env=env)
    assert proc.returncode == 1, proc.stderr
    assert sorted(p.name for p in (tmp_path / "configs/acme").iterdir()) == ["ios.yaml"]
    lines = proc.stderr.splitlines()
    error = "error: acme/store: its file would hold the value of a secret: SYMSYNC_SECRETS entry "
    error += "`STORE_KEY` in `access_key` of source `bucket`; the file was not written"
    assert error in lines
    assert lines[lines.index(error) + 1].startswith("  next: remove the value from that field")
    assert "error: acme/web: could not read its sources" in proc.stderr
    assert "imported 1 of 3 project(s); 1 could not be read, 1 would hold a secret's value" in (
        proc.stderr
    )
    assert "SYMSYNC_ACME_STORE" not in proc.stderr  # no file refers to its variables
    assert KEY_SENTINEL not in proc.stderr + proc.stdout
    assert "Traceback" not in proc.stderr


def test_cli_refuses_a_bad_secret_name_before_any_request(fake, tmp_path):
    proc = _cli(fake, tmp_path, "--org", "acme", "--secret-name", "{org}-{id}")
    assert proc.returncode == 1
    assert "error: --secret-name '{org}-{id}'" in proc.stderr
    assert fake.requests == []
    assert not (tmp_path / "configs").exists()


def test_cli_verbose_logs_requests_without_token(fake, tmp_path):
    proc = _cli(fake, tmp_path, "--org", "acme", "--project", "ios", "-v")
    assert proc.returncode == 0, proc.stderr
    assert "GET /api/0/projects/acme/ios/symbol-sources/ -> 200 (attempt 1" in proc.stderr
    assert TOKEN not in proc.stderr + proc.stdout


def test_cli_errors(fake, tmp_path):
    missing = _cli(fake, tmp_path, "--org", "acme", "--project", "nope")
    assert missing.returncode == 1
    assert "error: organization `acme` has no project `nope`" in missing.stderr
    no_org = _cli(fake, tmp_path)
    assert no_org.returncode == 1 and "--org" in no_org.stderr
    bad_org = _cli(fake, tmp_path, "--org", "Not A Slug")
    assert bad_org.returncode == 1 and "not a valid organization slug" in bad_org.stderr
    env = {k: v for k, v in os.environ.items() if k != "SENTRY_AUTH_TOKEN"}
    no_token = subprocess.run(
        [sys.executable, "-m", "reconciler", "import", "--org", "acme", "--url", fake.url],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=60,
    )
    assert no_token.returncode == 1
    assert "error: SENTRY_AUTH_TOKEN is not set" in no_token.stderr
    assert not (tmp_path / "configs").exists()


# ------------------------------------------------------------------ against the real emulator

EMULATOR_TOKEN = "IMPORT-TOKEN-SENTINEL-5150"
SECRETS = ["HTTP-PASSWORD-SENTINEL-1", "S3-SECRET-SENTINEL-2", "GCS-KEY-SENTINEL-3"]


def _emulator_state(extra_projects: int = 105) -> dict[str, Any]:
    ios = []
    for source, secret in zip(IOS_SOURCES, SECRETS, strict=True):
        stored = dict(source)
        for key, value in stored.items():
            if value == HIDDEN:
                stored[key] = secret
        ios.append(stored)
    projects: dict[str, Any] = {"ios": {"symbol_sources": ios}, "android": {}}
    # More projects than one page of Sentry's project list holds (100).
    projects.update({f"svc-{i:03d}": {"symbol_sources": []} for i in range(extra_projects)})
    return {"organizations": {"acme": {"projects": projects}}}


def _import(url: str, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SENTRY_AUTH_TOKEN": EMULATOR_TOKEN, "SENTRY_URL": url}
    return subprocess.run(
        [sys.executable, "-m", "reconciler", "import", "--org", "acme", *args],
        capture_output=True, text=True, env=env, cwd=cwd, timeout=120,
    )  # fmt: skip


def _tree(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): p.read_text() for p in sorted(root.rglob("*.yaml"))}


@pytest.mark.e2e
@pytest.mark.parametrize("generation", ["a", "b"])
def test_import_from_the_emulator(tmp_path, generation):
    from reconciler.emulator.testing import running_emulator

    with running_emulator(
        "--api-generation", generation, "--token", EMULATOR_TOKEN, state=_emulator_state()
    ) as emulator:
        proc = _import(emulator.url, tmp_path, "-v")
        log = emulator.requests()
    assert proc.returncode == 0, proc.stderr
    tree = _tree(tmp_path / "configs")
    assert len(tree) == 107
    assert tree["acme/ios.yaml"] == EXPECTED_IOS
    assert "sources: []" in tree["acme/android.yaml"]
    validate = subprocess.run(
        [sys.executable, "-m", "reconciler", "validate", "--config-dir", "configs"],
        capture_output=True, text=True, cwd=tmp_path, timeout=60,
    )  # fmt: skip
    assert validate.returncode == 0, validate.stdout + validate.stderr
    schema = subprocess.run(
        [sys.executable, "-m", "reconciler", "schema"], capture_output=True, text=True, timeout=60
    )
    assert (tmp_path / "configs/symsync.schema.json").read_text() == schema.stdout
    assert [r["method"] for r in log] == ["GET"] * len(log)
    assert sum(1 for r in log if r["path"].endswith("/projects/")) == 2  # two pages
    output = proc.stdout + proc.stderr + "".join(tree.values())
    for sentinel in [EMULATOR_TOKEN, *SECRETS]:
        assert sentinel not in output
    assert "SYMSYNC_ACME_IOS_ACME_SYMBOLS_PASSWORD" in proc.stderr


@pytest.mark.e2e
@pytest.mark.parametrize("generation", ["a", "b"])
def test_import_skips_and_names_every_project_whose_file_would_hold_a_secret(tmp_path, generation):
    """Two of three projects hold a value SYMSYNC_SECRETS lists in fields that are no secrets:
    the third is written and valid, the two are named with the variables, and the value shows
    nowhere, not even masked."""
    from reconciler.emulator.testing import running_emulator

    stored_password = "PW-SENTINEL-e2e-4b1d"
    state = state_doc(
        {
            "acme/ios": [{**IOS_SOURCES[0], "password": stored_password}],
            "acme/web": [
                {"id": "mirror", "type": "http", "name": "Mirror", "layout": {"type": "native"},
                 "url": f"https://{HOST_SENTINEL}.example/"},
            ],
            "acme/store": [
                {"id": "bucket", "type": "s3", "name": "Builds", "bucket": "acme-builds",
                 "region": "us-east-1", "access_key": KEY_SENTINEL, "secret_key": "s3-secret-x1",
                 "layout": {"type": "unified"}},
            ],
        }
    )  # fmt: skip
    bundle = json.dumps({"WEB_HOST": HOST_SENTINEL, "STORE_KEY": KEY_SENTINEL})
    with running_emulator(
        "--api-generation", generation, "--token", EMULATOR_TOKEN, state=state
    ) as emulator:
        env = clean_env(
            SENTRY_URL=emulator.url, SENTRY_AUTH_TOKEN=EMULATOR_TOKEN, SYMSYNC_SECRETS=bundle
        )
        proc = symsync("import", "--org", "acme", env=env, cwd=tmp_path, timeout=120)
    validate = symsync("validate", "--config-dir", "configs", env=clean_env(), cwd=tmp_path)

    assert proc.returncode == 1, proc.stderr
    configs = tmp_path / "configs"
    assert sorted(p.relative_to(configs).as_posix() for p in configs.rglob("*")) == [
        "acme", "acme/ios.yaml", "symsync.schema.json"
    ]  # fmt: skip
    assert validate.returncode == 0, validate.stdout + validate.stderr
    assert "wrote configs/acme/ios.yaml (1 source)" in proc.stderr
    lines = proc.stderr.splitlines()
    for key, variable, where in [
        ("acme/store", "STORE_KEY", "`access_key` of source `bucket`"),
        ("acme/web", "WEB_HOST", "`url` of source `mirror`"),
    ]:
        error = (
            f"error: {key}: its file would hold the value of a secret: SYMSYNC_SECRETS entry "
            f"`{variable}` in {where}; the file was not written"
        )
        assert error in lines, proc.stderr
        next_step = lines[lines.index(error) + 1]
        assert next_step.startswith("  next: remove the value from that field in Sentry")
        assert "stop listing it in SYMSYNC_SECRETS" in next_step
        assert f"--project {key.split('/')[1]}`" in next_step
    assert "imported 1 of 3 project(s); 2 would hold a secret's value (see above)" in proc.stderr
    assert "Traceback" not in proc.stderr
    # Nothing needed masking: the value was never about to be shown.
    assert "***" not in proc.stdout + proc.stderr
    shown = proc.stdout + proc.stderr + "".join(p.read_text() for p in configs.rglob("*.*"))
    for sentinel in (HOST_SENTINEL, KEY_SENTINEL, stored_password, EMULATOR_TOKEN):
        assert sentinel.lower() not in shown.lower()


@pytest.mark.e2e
def test_import_under_faults_writes_the_same_files(tmp_path):
    from reconciler.emulator.testing import running_emulator

    state = _emulator_state(extra_projects=4)
    (tmp_path / "calm").mkdir()
    (tmp_path / "faulty").mkdir()
    with running_emulator("--token", EMULATOR_TOKEN, state=state) as emulator:
        assert _import(emulator.url, tmp_path / "calm").returncode == 0
    with running_emulator(
        "--token", EMULATOR_TOKEN, "--fault-rate", "0.3", "--fault-seed", "4", state=state
    ) as emulator:
        proc = _import(emulator.url, tmp_path / "faulty")
        faults = [r for r in emulator.requests() if "fault" in r]
    assert proc.returncode == 0, proc.stderr
    assert faults
    assert _tree(tmp_path / "faulty" / "configs") == _tree(tmp_path / "calm" / "configs")


@pytest.mark.e2e
def test_import_with_a_token_that_cannot_list_projects(tmp_path):
    from reconciler.emulator.testing import running_emulator

    with running_emulator(
        "--token", f"{EMULATOR_TOKEN}=project:read", state=_emulator_state()
    ) as emulator:
        proc = _import(emulator.url, tmp_path)
        wrong_org = subprocess.run(
            [sys.executable, "-m", "reconciler", "import", "--org", "globex"],
            capture_output=True, text=True, cwd=tmp_path, timeout=60,
            env={**os.environ, "SENTRY_AUTH_TOKEN": "symsync-emulator", "SENTRY_URL": emulator.url},
        )  # fmt: skip
    assert proc.returncode == 1
    assert "the token is not allowed to do this: GET needs the `org:read` scope" in proc.stderr
    assert wrong_org.returncode == 1
    assert "the token is invalid or expired" in wrong_org.stderr
    assert not (tmp_path / "configs").exists()
    assert EMULATOR_TOKEN not in proc.stderr


def _plan(url: str, cwd: Path) -> tuple[int, dict[str, Any], str]:
    import json

    env = {**os.environ, "SENTRY_AUTH_TOKEN": EMULATOR_TOKEN, "SENTRY_URL": url}
    proc = subprocess.run(
        [sys.executable, "-m", "reconciler", "plan", "--config-dir", "configs",
         "--format", "json", "--detailed-exitcode"],
        capture_output=True, text=True, env=env, cwd=cwd, timeout=120,
    )  # fmt: skip
    document = json.loads(proc.stdout) if proc.stdout.strip() else {}
    return proc.returncode, document, proc.stdout + proc.stderr


@pytest.mark.e2e
@pytest.mark.parametrize("generation", ["a", "b"])
def test_plan_after_import_has_nothing_to_do(tmp_path, generation):
    """The imported tree is exactly the live state: `plan --detailed-exitcode` exits 0, also
    with `is_public`, `has_index` and `platforms` set in Sentry."""
    pytest.importorskip("reconciler.commands.plan")
    from reconciler.emulator.testing import running_emulator

    state = _emulator_state(extra_projects=3)
    ios = state["organizations"]["acme"]["projects"]["ios"]["symbol_sources"]
    plain = copy.deepcopy(state)
    for source in plain["organizations"]["acme"]["projects"]["ios"]["symbol_sources"]:
        for field in ("is_public", "has_index", "platforms"):
            source.pop(field, None)
    assert any("is_public" in s for s in ios)

    results = {}
    for name, seeded in [("plain", plain), ("extra", state)]:
        cwd = tmp_path / name
        cwd.mkdir()
        with running_emulator(
            "--api-generation", generation, "--token", EMULATOR_TOKEN, state=seeded
        ) as emulator:
            assert _import(emulator.url, cwd).returncode == 0
            code, document, output = _plan(emulator.url, cwd)
            writes = [r for r in emulator.requests() if r["method"] != "GET"]
        assert writes == []
        for sentinel in [EMULATOR_TOKEN, *SECRETS]:
            assert sentinel not in output
        results[name] = (code, document, output)

    for name in ("plain", "extra"):
        code, document, output = results[name]
        assert code == 0, output
        assert document["summary"]["create"] == 0
        assert document["summary"]["update"] == 0
        assert document["summary"]["delete"] == 0
        assert document["summary"]["reported"] == 0
        assert all(not p["changes"] and not p["reported"] for p in document["projects"])
        assert all(not p["warnings"] for p in document["projects"])


# Strings a YAML 1.2 writer leaves plain but a YAML 1.1 reader (the loader) does not read back as
# the same string: booleans, null, sexagesimal and octal numbers, dates, the `=` value key; and
# strings with line breaks.
AMBIGUOUS = ["yes", "No", "on", "OFF", "y", "~", "Null", "1:30", "0o17", "0x1F", "1_000",
             ".inf", "2001-12-14", "=", "<<", "+1", "1e3", "-.5", "true", "123",
             # line breaks YAML knows beyond \n, which a single-quoted scalar would fold
             "a\x85b", "a\u2028b", "a\u2029b", "two\nlines", "  padded ", "# hash",
             "k: v"]  # fmt: skip


def test_strings_that_yaml_1_1_would_misread_are_quoted(tmp_path):
    from reconciler.config.loader import load_file

    sources = [
        {"id": text, "type": "http", "name": text, "url": text, "username": text,
         "layout": {"type": "native"}, "filters": {"path_patterns": [text]}}
        for text in AMBIGUOUS
    ]  # fmt: skip
    with fake_sentry() as server:
        server.default = FakeOrg({"acme": {"ios": sources}})
        with SentryClient(server.url, TOKEN, sleep=lambda s: None) as c:
            result = import_organization(c, "acme", ["ios"], tmp_path)
    write_files(result)
    path = tmp_path / "acme" / "ios.yaml"
    loaded = load_file(path, "ios.yaml", "acme", "ios")
    assert loaded.diagnostics == [], path.read_text()
    assert loaded.config is not None
    back = [s.model_dump(exclude_none=True) for s in loaded.config.file.sources]
    assert [(s["id"], s["name"], s["url"], s["username"]) for s in back] == [
        (t, t, t, t) for t in AMBIGUOUS
    ]
    assert [s["filters"]["path_patterns"] for s in back] == [[t] for t in AMBIGUOUS]


# Characters a reviewer cannot see in a file: zero-width space, non-joiner and joiner, the
# word joiner, line and paragraph separators, bidirectional controls (an override and an
# isolate), the byte-order mark, a soft hyphen, a no-break and an ideographic space, a
# private-use and an unassigned code point, a tag character, a control character.
INVISIBLE = ["zero\u200bwidth", "non\u200cjoin\u200djoiner", "word\u2060joiner",
             "line\u2028sep", "para\u2029sep", "bidi\u202eevil\u202c", "iso\u2066late\u2069",
             "\ufeffbom", "soft\u00adhyphen", "no\u00a0break", "wide\u3000space",
             "private\ue000use", "unassigned\u0378", "tag\U000e0041", "bell\x07"]  # fmt: skip


def test_invisible_characters_are_written_as_escapes_and_read_back(tmp_path):
    from reconciler.config.loader import load_file

    sources = [
        {"id": f"s{i}", "type": "http", "name": text, "url": f"https://x.example/{text}",
         "layout": {"type": "native"}, "filters": {"path_patterns": [text]}}
        for i, text in enumerate(INVISIBLE)
    ]  # fmt: skip
    with fake_sentry() as server:
        server.default = FakeOrg({"acme": {"ios": sources}})
        with SentryClient(server.url, TOKEN, sleep=lambda s: None) as c:
            result = import_organization(c, "acme", ["ios"], tmp_path)
    write_files(result)
    path = tmp_path / "acme" / "ios.yaml"
    text = path.read_text(encoding="utf-8")
    # Nothing but visible characters (and line ends) in the file: each one is an escape.
    assert all(ch == "\n" or ch.isprintable() for ch in text)
    assert 'name: "zero\\u200Bwidth"' in text
    assert 'name: "bidi\\u202Eevil\\u202C"' in text
    assert 'name: "tag\\U000E0041"' in text
    assert 'name: "line\\Lsep"' in text
    loaded = load_file(path, "ios.yaml", "acme", "ios")
    assert loaded.diagnostics == [], text
    assert loaded.config is not None
    back = [s.model_dump(exclude_none=True) for s in loaded.config.file.sources]
    assert [s["name"] for s in back] == INVISIBLE
    assert [s["filters"]["path_patterns"] for s in back] == [[t] for t in INVISIBLE]


def test_blank_and_absent_names_are_written_as_sentry_holds_them(tmp_path):
    common = {"type": "gcs", "bucket": "b", "client_email": "a@b", "private_key": HIDDEN,
              "layout": {"type": "native"}}  # fmt: skip
    sources = [{"id": "blank", "name": " ", **common}, {"id": "empty", "name": "", **common},
               {"id": "none", **common}]  # fmt: skip
    with fake_sentry() as server:
        server.default = FakeOrg({"acme": {"ios": sources}})
        with SentryClient(server.url, TOKEN, sleep=lambda s: None) as c:
            result = import_organization(c, "acme", ["ios"], tmp_path)
    write_files(result)
    assert result.warnings == []
    model = _load(tmp_path / "acme" / "ios.yaml")
    assert [(s.id, s.name) for s in model.sources] == [
        ("blank", " "), ("empty", ""), ("none", None)
    ]  # fmt: skip


def test_a_failure_on_a_later_file_leaves_nothing_behind(client, tmp_path):
    """Files are staged first and renamed into place only when all of them were written."""
    (tmp_path / "acme" / "web.yaml").mkdir(parents=True)
    result = import_organization(client, "acme", [], tmp_path, force=True)
    with pytest.raises(SymsyncError) as info:
        write_files(result)
    # Paths in messages are relative to the current directory, as validate shows them.
    shown = os.path.relpath(tmp_path / "acme" / "web.yaml")
    assert f"could not write {shown}:" in str(info.value)
    assert "nothing was written" in str(info.value)
    assert [p.relative_to(tmp_path).as_posix() for p in sorted(tmp_path.rglob("*"))] == [
        "acme",
        "acme/web.yaml",
    ]


def test_a_write_error_removes_staged_files_and_new_folders(client, tmp_path, monkeypatch):
    import tempfile

    real = tempfile.mkstemp
    calls = {"n": 0}

    def failing_mkstemp(*args: Any, **kwargs: Any) -> tuple[int, str]:
        calls["n"] += 1
        if calls["n"] == 3:
            raise OSError(28, "No space left on device")
        return real(*args, **kwargs)

    result = import_organization(client, "acme", ["ios", "android", "game"], tmp_path / "cfg")
    monkeypatch.setattr(tempfile, "mkstemp", failing_mkstemp)
    with pytest.raises(SymsyncError, match="No space left on device; nothing was written"):
        write_files(result)
    assert not (tmp_path / "cfg").exists()
