"""The loader: every rule of the project file format and of the tree's layout, with the exact
`PATH:LINE:COLUMN: message`."""

from __future__ import annotations

import os
import textwrap
import tracemalloc
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reconciler.config.diagnostic import Origin
from reconciler.config.loader import Diagnostic, load_bytes, load_tree
from reconciler.config.project_file import AbsentSource, GcsSource, HttpSource, S3Source
from reconciler.core.errors import ConfigError
from reconciler.sentry import spec
from tests.support.waiting import ends_within
from tests.support.yaml_snippets import GCS, HTTP, S3

FIXTURES = Path(__file__).parents[2] / "data" / "loader"


@pytest.fixture
def configs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty config dir `configs/` in a temporary current directory."""
    monkeypatch.chdir(tmp_path)
    root = tmp_path / "configs"
    root.mkdir()
    return root


def write(root: Path, relative: str, content: str | bytes) -> Path:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, str):
        content = textwrap.dedent(content).encode()
    path.write_bytes(content)
    return path


def check(root: Path, content: str | bytes) -> list[str]:
    """Diagnostics of `configs/acme/ios.yaml` holding `content`, as printed."""
    write(root, "acme/ios.yaml", content)
    result = load_tree(Path("configs"))
    return [str(d) for d in result.diagnostics]


def valid(root: Path, content: str) -> list:
    write(root, "acme/ios.yaml", content)
    result = load_tree(Path("configs"))
    assert [str(d) for d in result.diagnostics] == []
    assert len(result.projects) == 1
    return result.projects[0].sources


F = "configs/acme/ios.yaml"


# ---------------------------------------------------------------------------------------------
# The whole broken tree in one run (tests/data/loader/broken): every kind of bad input, each with
# its position.


def test_broken_tree_reports_every_error_of_every_file(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(FIXTURES)
    result = load_tree(Path("broken"))
    assert [str(d) for d in result.diagnostics] == [
        "broken/Bad-Org:1:1: folder name `Bad-Org` is not a valid organization slug: use "
        "lowercase letters, digits, `-` and `_`, starting with a letter or digit (like "
        "`bad-org`); names starting with `.` or `_` are ignored",
        "broken/acme/Bad_Name.yaml:1:1: file name `Bad_Name` is not a valid project slug: use "
        "lowercase letters, digits, `-` and `_`, starting with a letter or digit (like "
        "`bad_name`); names starting with `.` or `_` are ignored",
        "broken/acme/alias-bomb.yaml:1:32: YAML aliases expand this file beyond a sane size "
        "(an alias bomb?): refusing to expand it; use fewer or smaller aliases",
        "broken/acme/duplicate-keys.yaml:7:5: duplicate key `url` (first at line 5): YAML keys "
        "must be unique; remove one of them",
        "broken/acme/empty.yaml:1:1: file is empty: a project file needs at least `sources:` "
        "(write `sources: []` to manage no sources), or delete the file to leave the project "
        "unmanaged",
        "broken/acme/nested/too-deep.yaml:1:1: project file too deep in the tree: project files "
        "live at <config dir>/<organization>/<project>.yaml; move it up, or start the folder's "
        "name with `_` to keep it out of the tree",
        "broken/acme/not-utf8.yaml:3:14: file is not valid UTF-8 (byte 0xe9): save it as UTF-8",
        "broken/acme/nulls.yaml:1:11: `unmanaged` must not be null: give it a value, or remove "
        "the key",
        "broken/acme/nulls.yaml:5:11: source `acme-symbols`: `name` must not be null: give it a "
        "value, or remove the key",
        "broken/acme/nulls.yaml:7:36: source `acme-symbols`: `layout.casing` must not be null: "
        "give it a value, or remove the key",
        "broken/acme/syntax.yaml:4:34: invalid YAML: did not find expected ',' or ']' (while "
        "parsing a flow sequence at line 4, column 26)",
        "broken/acme/tabs.yaml:3:1: tab character: YAML does not allow tabs for indentation; "
        "indent with spaces",
        "broken/acme/top-level-list.yaml:1:1: a project file must be a mapping with `sources:` "
        "at the top, not a list",
        "broken/acme/unknown-keys.yaml:2:1: unknown top-level key `source`: a project file "
        f"holds only {TOP_KEYS}; did you mean `sources`?",
        "broken/acme/unknown-keys.yaml:7:5: source `acme-symbols`: unknown key `urll` in an "
        "http source; did you mean `url`?",
        "broken/acme/unknown-keys.yaml:9:5: source `acme-symbols`: `bucket` is not a field of "
        "an http source (it belongs to s3 and gcs sources): remove it, or change `type`",
        "broken/acme/wrong-types.yaml:5:11: source `acme-symbols`: `name` must be a string, not "
        "a number: put it in quotes",
        "broken/acme/wrong-types.yaml:6:10: source `acme-symbols`: `url` must be a string, not "
        "a list",
        "broken/acme/wrong-types.yaml:7:13: source `acme-symbols`: `layout` must be a mapping, "
        "like `{type: native}`, not a string",
        "broken/acme/wrong-types.yaml:9:18: source `acme-symbols`: `filters.filetypes` must be "
        "a list, like `[pe, pdb]`, not a string",
        "broken/acme/wrong-types.yaml:10:26: source `acme-symbols`: "
        "`filters.requires_checksum` must be `true` or `false`, not the string `no`: write "
        "`false` without quotes",
        "broken/stray.yaml:1:1: project file directly in the config directory: project files "
        "live at broken/<organization>/<project>.yaml; move it into its organization's folder",
    ]
    assert all(d.severity == "error" for d in result.diagnostics)
    assert result.projects == []  # Bad-Org/app.yaml is valid content, but its folder is not
    assert result.files == 12  # every YAML file in an organization folder was read


def test_example_organization_is_valid(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(Path(__file__).parents[3])
    result = load_tree(Path("configs"))
    assert result.diagnostics == []
    assert [p.key for p in result.projects] == [
        "acme/android",
        "acme/ios",
        "acme/linux-server",
        "acme/windows",
    ]
    kinds = {type(s) for p in result.projects for s in p.sources}
    assert kinds == {HttpSource, S3Source, GcsSource, AbsentSource}
    assert {p.unmanaged for p in result.projects} == {"keep", "delete"}


# ---------------------------------------------------------------------------------------------
# The tree: organization and project from the path, slugs, depth, ignored names


def test_organization_and_project_come_from_the_path(configs: Path) -> None:
    write(configs, "acme/ios.yaml", "sources:\n" + HTTP)
    write(configs, "acme/android.yml", "sources: []\n")
    write(configs, "beta-corp/web_app.yaml", "sources:\n" + S3)
    result = load_tree(Path("configs"))
    assert result.diagnostics == []
    assert [(p.organization, p.project, str(p.path)) for p in result.projects] == [
        ("acme", "android", "configs/acme/android.yml"),
        ("acme", "ios", "configs/acme/ios.yaml"),
        ("beta-corp", "web_app", "configs/beta-corp/web_app.yaml"),
    ]
    assert result.files == 3
    assert result.sources == 2


def test_ignored_names_and_non_yaml_files(configs: Path) -> None:
    write(configs, "acme/ios.yaml", "sources: []\n")
    broken = "sources: [\n"
    write(configs, "acme/.ios.yaml", broken)
    write(configs, "acme/_old.yaml", broken)
    write(configs, "acme/_drafts/deep/x.yaml", broken)
    write(configs, "_shared/anchors.yaml", broken)
    write(configs, ".github/owners.yaml", broken)
    write(configs, "_top.yaml", broken)
    write(configs, "README.md", "# Not YAML\n")
    write(configs, "acme/NOTES.txt", "Not YAML either\n")
    write(configs, "acme/nested/readme.md", "Not YAML\n")
    result = load_tree(Path("configs"))
    assert result.diagnostics == []
    assert [p.key for p in result.projects] == ["acme/ios"]


@pytest.mark.parametrize(
    ("relative", "expected"),
    [
        (
            "Acme/ios.yaml",
            "configs/Acme:1:1: folder name `Acme` is not a valid organization slug: use "
            "lowercase letters, digits, `-` and `_`, starting with a letter or digit (like "
            "`acme`); names starting with `.` or `_` are ignored",
        ),
        (
            "acme/My App.yaml",
            "configs/acme/My App.yaml:1:1: file name `My App` is not a valid project slug: use "
            "lowercase letters, digits, `-` and `_`, starting with a letter or digit (like "
            "`my-app`); names starting with `.` or `_` are ignored",
        ),
        (
            "acme/-ios.yaml",
            "configs/acme/-ios.yaml:1:1: file name `-ios` is not a valid project slug: use "
            "lowercase letters, digits, `-` and `_`, starting with a letter or digit (like "
            "`ios`); names starting with `.` or `_` are ignored",
        ),
        (
            "acme/ios.YAML",
            "configs/acme/ios.YAML:1:1: file extension must be `.yaml` or `.yml`, in lowercase",
        ),
        (
            "ios.yaml",
            "configs/ios.yaml:1:1: project file directly in the config directory: project "
            "files live at configs/<organization>/<project>.yaml; move it into its "
            "organization's folder",
        ),
        (
            "acme/apps/ios.yml",
            "configs/acme/apps/ios.yml:1:1: project file too deep in the tree: project files "
            "live at <config dir>/<organization>/<project>.yaml; move it up, or start the "
            "folder's name with `_` to keep it out of the tree",
        ),
    ],
)
def test_bad_places_and_names(configs: Path, relative: str, expected: str) -> None:
    write(configs, relative, "sources: []\n")
    result = load_tree(Path("configs"))
    assert [str(d) for d in result.diagnostics] == [expected]
    assert result.projects == []


@pytest.mark.parametrize("name", ["ios", "i0s", "0ios", "my-app", "my_app", "a"])
def test_valid_slugs(configs: Path, name: str) -> None:
    write(configs, f"acme-2/{name}.yaml", "sources: []\n")
    result = load_tree(Path("configs"))
    assert result.diagnostics == []
    assert [p.key for p in result.projects] == [f"acme-2/{name}"]


def test_same_project_in_yaml_and_yml(configs: Path) -> None:
    write(configs, "acme/ios.yaml", "sources: []\n")
    write(configs, "acme/ios.yml", "sources: []\n")
    result = load_tree(Path("configs"))
    assert [str(d) for d in result.diagnostics] == [
        "configs/acme/ios.yml:1:1: project `acme/ios` is also defined in configs/acme/ios.yaml: "
        "keep only one of the two files"
    ]


def test_file_name_that_is_not_utf8(configs: Path) -> None:
    os.mkdir(os.path.join(os.fsencode(configs), b"acme"))
    with open(os.path.join(os.fsencode(configs), b"acme", b"caf\xe9.yaml"), "wb") as f:
        f.write(b"sources: []\n")
    result = load_tree(Path("configs"))
    assert [str(d) for d in result.diagnostics] == [
        "configs/acme/caf\\udce9.yaml:1:1: file name `caf\\udce9` is not a valid project slug: "
        "use lowercase letters, digits, `-` and `_`, starting with a letter or digit (like "
        "`caf`); names starting with `.` or `_` are ignored"
    ]


def test_special_files_are_not_read(configs: Path) -> None:
    (configs / "acme").mkdir()
    os.mkfifo(configs / "acme" / "pipe.yaml")  # reading it would block
    (configs / "acme" / "gone.yaml").symlink_to(configs / "nowhere.yaml")
    result = load_tree(Path("configs"))
    assert [str(d) for d in result.diagnostics] == [
        "configs/acme/gone.yaml:1:1: not a regular file: make it a file, or remove it",
        "configs/acme/pipe.yaml:1:1: not a regular file: make it a file, or remove it",
    ]


def test_missing_config_dir_is_a_clear_error(configs: Path) -> None:
    with pytest.raises(ConfigError, match=r"config directory nowhere does not exist"):
        load_tree(Path("nowhere"))
    (configs / "file").write_text("x")
    with pytest.raises(ConfigError, match=r"config directory configs/file is not a directory"):
        load_tree(Path("configs/file"))


def test_paths_are_relative_to_the_current_directory(
    configs: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(configs, "acme/ios.yaml", "sources: {}\n")
    (configs.parent / "elsewhere").mkdir()
    monkeypatch.chdir(configs.parent / "elsewhere")
    result = load_tree(configs)  # absolute path given
    assert [str(d.origin) for d in result.diagnostics] == ["../configs/acme/ios.yaml:1:10"]


def test_empty_tree_is_valid(configs: Path) -> None:
    result = load_tree(Path("configs"))
    assert (result.projects, result.diagnostics, result.files) == ([], [], 0)


# ---------------------------------------------------------------------------------------------
# YAML itself


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (
            b"",
            "1:1: file is empty: a project file needs at least `sources:` (write `sources: []` "
            "to manage no sources), or delete the file to leave the project unmanaged",
        ),
        (
            b"# only a comment\n\n",
            "1:1: file is empty: a project file needs at least `sources:` (write `sources: []` "
            "to manage no sources), or delete the file to leave the project unmanaged",
        ),
        (
            b"- a\n- b\n",
            "1:1: a project file must be a mapping with `sources:` at the top, not a list",
        ),
        (
            b"just text\n",
            "1:1: a project file must be a mapping with `sources:` at the top, not a string",
        ),
        (
            b"sources: []\n\tunmanaged: keep\n",
            "2:1: tab character: YAML does not allow tabs for indentation; indent with spaces",
        ),
        (
            b"sources:\n  - id: a\n  \t type: http\n",
            "3:3: tab character: YAML does not allow tabs for indentation; indent with spaces",
        ),
        (
            b"sources: [a\n",
            "2:1: invalid YAML: did not find expected ',' or ']' (while parsing a flow sequence "
            "at line 1, column 10)",
        ),
        (
            b"sources: 'a\n",
            "2:1: invalid YAML: found unexpected end of stream (while scanning a quoted scalar "
            "at line 1, column 10)",
        ),
        (
            b"sources:\n  - id: a\n   type: http\n",
            "3:4: invalid YAML: did not find expected '-' indicator (while parsing a block "
            "collection at line 2, column 3)",
        ),
        (
            b"sources: []\n---\nsources: []\n",
            "2:1: a project file holds a single YAML document: remove the `---` separator and "
            "everything after it, or move it to its own file",
        ),
        (
            b"sources: *nowhere\n",
            "1:10: alias refers to an anchor that is not defined above it: define `&name` before "
            "using `*name`",
        ),
        (
            b"sources: [\x07]\n",
            "1:11: character (U+0007) not allowed in YAML: remove it (control characters are not "
            "allowed)",
        ),
        (
            b"sources: []\nunmanaged: d\xc3\xa9\xff\n",
            "2:14: file is not valid UTF-8 (byte 0xff): save it as UTF-8",
        ),
        (b"\xff\xfes\x00", "1:1: file is not valid UTF-8 (byte 0xff): save it as UTF-8"),
        (
            b"sources: []\nsources: []\n",
            "2:1: duplicate key `sources` (first at line 1): YAML keys must be unique; remove "
            "one of them",
        ),
        (b"sources: []\n1: x\n", "2:1: keys must be strings, not a number: put the key in quotes"),
        (
            b"sources: !!set {a}\n",
            "1:10: `sources` has an unsupported YAML tag `!!set`: remove the tag",
        ),
        (
            b"sources: []\nunmanaged: !keep keep\n",
            "2:12: `unmanaged` has an unsupported YAML tag `!keep`: remove the tag",
        ),
        (
            b"sources: [" * 2000,
            "1:10000: YAML nested too deeply: a project file needs only a few levels",
        ),
        (
            b"sources: &s\n  - *s\n",
            "1:10: nested too deeply (an alias that refers to itself?): a project file needs "
            "only a few levels",
        ),
    ],
)
def test_bad_yaml(configs: Path, content: bytes, expected: str) -> None:
    assert check(configs, content) == [f"{F}:{expected}"]


def test_bom_and_document_markers_are_fine(configs: Path) -> None:
    valid(configs, "\ufeff---\nsources: []\n...\n")


def test_alias_bomb_is_refused_quickly_and_small(monkeypatch: pytest.MonkeyPatch) -> None:
    # A billion laughs: 9 levels of 9 aliases, about 387 million strings if expanded.
    monkeypatch.chdir(FIXTURES)
    path = Path("broken/acme/alias-bomb.yaml")
    tracemalloc.start()
    # Quickly: a small fraction of a second; the wait is only a safety net against a hang.
    result = ends_within(30, lambda: load_bytes(path.read_bytes(), str(path), "acme", "alias-bomb"))
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert result.config is None
    assert [str(d) for d in result.diagnostics] == [
        f"{path}:1:32: YAML aliases expand this file beyond a sane size (an alias bomb?): "
        "refusing to expand it; use fewer or smaller aliases"
    ]
    assert peak < 200 * 1024 * 1024


def test_aliases_and_merge_keys_are_allowed(configs: Path) -> None:
    sources = valid(
        configs,
        """\
        sources:
          - &base
            id: acme-symbols
            type: http
            name: ACME symbol server
            url: https://symbols.acme.example/
            layout: &layout {type: native, casing: lowercase}
          - <<: *base
            id: acme-mirror
            url: https://mirror.acme.example/
          - id: acme-releases
            type: s3
            name: Release builds
            bucket: acme-symbols
            region: us-east-1
            access_key: AKIAEXAMPLE
            secret_key: {env: ACME_S3_SECRET}
            layout: *layout
        """,
    )
    mirror = sources[1]
    assert isinstance(mirror, HttpSource)
    assert (mirror.id, mirror.name, mirror.url) == (
        "acme-mirror",
        "ACME symbol server",
        "https://mirror.acme.example/",
    )
    assert sources[2].layout.casing == "lowercase"


def test_merged_values_keep_their_origin(configs: Path) -> None:
    write(
        configs,
        "acme/ios.yaml",
        """\
        sources:
          - &base
            id: acme-symbols
            type: http
            name: ACME symbol server
            url: https://symbols.acme.example/
            layout: {type: native}
          - <<: *base
            id: acme-mirror
        """,
    )
    (project,) = load_tree(Path("configs")).projects
    assert project.origins[("sources", 1, "id")] == Origin(F, 9, 9)
    assert project.origins[("sources", 1, "name")] == Origin(F, 5, 11)


def test_merge_of_a_scalar_is_an_error(configs: Path) -> None:
    assert check(configs, "sources: []\n<<: 3\n") == [
        f"{F}:2:5: `<<` merges only mappings: give it `*anchor`"
    ]


def test_yaml_11_booleans_are_not_strings(configs: Path) -> None:
    assert check(configs, "sources:\n" + HTTP.replace("ACME symbol server", "no")) == [
        f"{F}:4:11: source `acme-symbols`: `name` must be a string, not a boolean: put it in quotes"
    ]
    valid(configs, "sources:\n" + HTTP.replace("ACME symbol server", "'no'"))


# ---------------------------------------------------------------------------------------------
# Every rule of the project file format: one valid and one invalid case each


TOP_KEYS = "`sources`, `unmanaged`, `order`, `max_deletes`, `defaults` and `builtin`"


def test_top_level_only_sources_and_unmanaged(configs: Path) -> None:
    valid(configs, "unmanaged: delete\nsources: []\n")
    assert check(configs, "sources: []\nunmanage: delete\n") == [
        f"{F}:2:1: unknown top-level key `unmanage`: a project file holds only {TOP_KEYS}; "
        "did you mean `unmanaged`?"
    ]
    assert check(configs, "sources: []\nowners: team-ios\n") == [
        f"{F}:2:1: unknown top-level key `owners`: a project file holds only {TOP_KEYS}"
    ]


def test_sources_required_may_be_empty_must_be_a_list(configs: Path) -> None:
    assert valid(configs, "sources: []\n") == []
    assert check(configs, "unmanaged: keep\n") == [
        f"{F}:1:1: `sources` is required: list the project's sources under `sources:`, or "
        "write `sources: []` to manage none"
    ]
    assert check(configs, "sources: acme\n") == [
        f"{F}:1:10: `sources` must be a list of sources (write `sources: []` for none), not a "
        "string"
    ]
    assert check(configs, "sources: [acme]\n") == [
        f"{F}:1:11: source #1: each entry of `sources` must be a mapping with `id` and `type`, "
        "not a string"
    ]


def test_unmanaged_keep_report_or_delete(configs: Path) -> None:
    write(configs, "acme/ios.yaml", "sources: []\n")
    assert load_tree(Path("configs")).projects[0].unmanaged == "keep"
    for policy in ("keep", "report", "delete"):
        write(configs, "acme/ios.yaml", f"unmanaged: {policy}\nsources: []\n")
        assert load_tree(Path("configs")).projects[0].unmanaged == policy
    assert check(configs, "unmanaged: remove\nsources: []\n") == [
        f"{F}:1:12: `unmanaged` must be `keep`, `report` or `delete`, not `remove`"
    ]
    assert check(configs, "unmanaged: Delete\nsources: []\n") == [
        f"{F}:1:12: `unmanaged` must be `keep`, `report` or `delete`, not `Delete`; did you "
        "mean `delete`?"
    ]
    assert check(configs, "unmanaged: reprot\nsources: []\n") == [
        f"{F}:1:12: `unmanaged` must be `keep`, `report` or `delete`, not `reprot`; did you "
        "mean `report`?"
    ]


def test_id_is_required(configs: Path) -> None:
    assert check(
        configs, "sources:\n" + HTTP.replace("  - id: acme-symbols\n    type", "  - type")
    ) == [
        f"{F}:2:5: source #1: `id` is required for an http source: give it an id that is "
        "unique in this file, like `id: acme-symbols`"
    ]


@pytest.mark.parametrize("source_id", ["x", "Sentry:x", "my-sentry", "s", "acme symbols"])
def test_id_valid(configs: Path, source_id: str) -> None:
    (source,) = valid(configs, "sources:\n" + HTTP.replace("acme-symbols", f"'{source_id}'"))
    assert source.id == source_id


@pytest.mark.parametrize(
    ("source_id", "column", "message"),
    [
        ('""', 9, "source #1: `id` must not be blank"),
        ('"  "', 9, "source #1: `id` must not be blank"),
        ("42", 9, "source #1: `id` must be a string, not a number: put it in quotes"),
        (
            "sentry:builtin",
            9,
            "source id `sentry:builtin` starts with `sentry`, which Sentry reserves for its own "
            "sources: choose another id",
        ),
        (
            "sentry-mirror",
            9,
            "source id `sentry-mirror` starts with `sentry`, which Sentry reserves for its own "
            "sources: choose another id",
        ),
        (
            "sentryfoo",
            9,
            "source id `sentryfoo` starts with `sentry`, which Sentry reserves for its own "
            "sources: choose another id",
        ),
    ],
)
def test_id_invalid(configs: Path, source_id: str, column: int, message: str) -> None:
    assert check(configs, "sources:\n" + HTTP.replace("acme-symbols", source_id)) == [
        f"{F}:2:{column}: {message}"
    ]


def test_id_unique_in_the_file(configs: Path) -> None:
    valid(configs, "sources:\n" + HTTP + HTTP.replace("acme-symbols", "acme-mirror"))
    assert check(configs, "sources:\n" + HTTP + S3.replace("acme-releases", "acme-symbols")) == [
        f"{F}:7:9: source id `acme-symbols` is used twice (first at line 2): ids must be "
        "unique in a file; rename one of them"
    ]
    # Reported together with the file's other errors, not only once the rest is valid.
    text = "sources:\n" + HTTP + HTTP.replace("https://symbols.acme.example/", '""')
    assert check(configs, text) == [
        f"{F}:7:9: source id `acme-symbols` is used twice (first at line 2): ids must be "
        "unique in a file; rename one of them",
        f"{F}:10:10: source `acme-symbols`: `url` must not be blank",
    ]


def test_state_present_by_default_or_absent(configs: Path) -> None:
    (source,) = valid(configs, "sources:\n" + HTTP)
    assert source.state == "present"
    (source,) = valid(configs, "sources:\n" + HTTP + "    state: present\n")
    assert source.state == "present"
    (source,) = valid(configs, "sources:\n  - id: old-server\n    state: absent\n")
    assert isinstance(source, AbsentSource)
    assert (source.id, source.state) == ("old-server", "absent")
    assert check(configs, "sources:\n" + HTTP + "    state: deleted\n") == [
        f"{F}:7:12: source `acme-symbols`: `state` must be `present` or `absent`, not `deleted`"
    ]


def test_absent_carries_only_id_and_state(configs: Path) -> None:
    assert check(configs, "sources:\n  - id: old-server\n    state: absent\n    type: http\n") == [
        f"{F}:4:5: source `old-server`: `type` does not belong in an `absent` entry: it carries "
        "only `id` and `state`; remove the key"
    ]
    assert check(configs, "sources:\n  - state: absent\n") == [
        f"{F}:2:5: source #1: `id` is required: say which source to delete"
    ]
    assert check(configs, "sources:\n  - id: sentry:old\n    state: absent\n") == [
        f"{F}:2:9: source id `sentry:old` starts with `sentry`, which Sentry reserves for its "
        "own sources: choose another id"
    ]


def test_type_http_s3_gcs(configs: Path) -> None:
    sources = valid(configs, "sources:\n" + HTTP + S3 + GCS)
    assert [type(s) for s in sources] == [HttpSource, S3Source, GcsSource]
    assert check(configs, "sources:\n" + HTTP.replace("type: http", "type: ftp")) == [
        f"{F}:3:11: source `acme-symbols`: `type` must be `http`, `s3` or `gcs`, not `ftp`"
    ]
    assert check(configs, "sources:\n" + HTTP.replace("type: http", "type: HTTP")) == [
        f"{F}:3:11: source `acme-symbols`: `type` must be `http`, `s3` or `gcs`, not `HTTP`; "
        "did you mean `http`?"
    ]
    assert check(configs, "sources:\n" + HTTP.replace("    type: http\n", "")) == [
        f"{F}:2:5: source `acme-symbols`: `type` is required: add `type: http`, `type: s3` or "
        "`type: gcs`, or `state: absent` to delete the source"
    ]
    assert check(configs, "sources:\n" + HTTP.replace("type: http", "type: [http]")) == [
        f"{F}:3:11: source `acme-symbols`: `type` must be `http`, `s3` or `gcs`, not a list"
    ]


def test_name_optional_and_may_be_blank(configs: Path) -> None:
    """Sentry stores a source without a name, or with a blank one; both are kept as written."""
    (source,) = valid(configs, "sources:\n" + HTTP.replace("    name: ACME symbol server\n", ""))
    assert source.name is None
    assert "name" not in source.model_dump(exclude_none=True)
    for written, name in (("''", ""), ("' '", " ")):
        (source,) = valid(configs, "sources:\n" + HTTP.replace("ACME symbol server", written))
        assert source.name == name
    assert check(configs, "sources:\n" + HTTP.replace("ACME symbol server", "~")) == [
        f"{F}:4:11: source `acme-symbols`: `name` must not be null: give it a value, or remove "
        "the key"
    ]


@pytest.mark.parametrize("layout", spec.LAYOUT_TYPES)
def test_layout_types(configs: Path, layout: str) -> None:
    (source,) = valid(configs, "sources:\n" + HTTP.replace("type: native", f"type: {layout}"))
    assert source.layout.type == layout
    assert source.layout.casing == "default"


def test_layout_rules(configs: Path) -> None:
    assert check(configs, "sources:\n" + HTTP.replace("    layout: {type: native}\n", "")) == [
        f"{F}:2:5: source `acme-symbols`: `layout` is required for an http source: add "
        "`layout: {type: native}` (or the layout the store uses)"
    ]
    assert check(configs, "sources:\n" + HTTP.replace("type: native", "type: hexagonal")) == [
        f"{F}:6:20: source `acme-symbols`: `layout.type` must be `native`, `symstore`, "
        "`symstore_index2`, `ssqp`, `unified`, `debuginfod` or `slashsymbols`, not `hexagonal`"
    ]
    assert check(configs, "sources:\n" + HTTP.replace("type: native", "casing: lowercase")) == [
        f"{F}:6:13: source `acme-symbols`: `layout.type` is required: one of `native`, "
        "`symstore`, `symstore_index2`, `ssqp`, `unified`, `debuginfod` or `slashsymbols`, "
        "like `layout: {type: native}`"
    ]
    assert check(configs, "sources:\n" + HTTP.replace("native}", "native, case: lower}")) == [
        f"{F}:6:28: source `acme-symbols`: unknown key `case` in `layout`; did you mean `casing`?"
    ]


@pytest.mark.parametrize("casing", spec.CASINGS)
def test_layout_casing_valid(configs: Path, casing: str) -> None:
    (source,) = valid(
        configs, "sources:\n" + HTTP.replace("native}", f"native, casing: {casing}}}")
    )
    assert source.layout.casing == casing


def test_layout_casing_invalid(configs: Path) -> None:
    assert check(configs, "sources:\n" + HTTP.replace("native}", "native, casing: upper}")) == [
        f"{F}:6:36: source `acme-symbols`: `layout.casing` must be `default`, `uppercase` or "
        "`lowercase`, not `upper`; did you mean `uppercase`?"
    ]


def test_filters(configs: Path) -> None:
    (source,) = valid(
        configs,
        "sources:\n"
        + HTTP
        + "    filters:\n"
        + f"      filetypes: [{', '.join(spec.FILETYPES)}]\n"
        + "      path_patterns: ['*.dll', '*.pdb']\n"
        + "      requires_checksum: true\n",
    )
    assert source.filters.filetypes == list(spec.FILETYPES)
    assert source.filters.path_patterns == ["*.dll", "*.pdb"]
    assert source.filters.requires_checksum is True
    (source,) = valid(configs, "sources:\n" + HTTP + "    filters: {}\n")
    assert source.filters.filetypes is None
    (source,) = valid(configs, "sources:\n" + HTTP)
    assert source.filters is None
    text = (
        "sources:\n"
        + HTTP
        + "    filters:\n"
        + "      filetypes: [pe, dll, elf]\n"
        + "      path_patterns: [1.5]\n"
        + "      requires_checksum: 1\n"
        + "      platform: windows\n"
    )
    assert check(configs, text) == [
        f"{F}:8:23: source `acme-symbols`: `filters.filetypes[1]` must be `pe`, `pdb`, "
        "`portablepdb`, `mach_debug`, `mach_code`, `elf_debug`, `elf_code`, `wasm_debug`, "
        "`wasm_code`, `breakpad`, `sourcebundle`, `uuidmap`, `bcsymbolmap`, `il2cpp`, "
        "`proguard` or `dartsymbolmap`, not `dll`",
        f"{F}:8:28: source `acme-symbols`: `filters.filetypes[2]` must be `pe`, `pdb`, "
        "`portablepdb`, `mach_debug`, `mach_code`, `elf_debug`, `elf_code`, `wasm_debug`, "
        "`wasm_code`, `breakpad`, `sourcebundle`, `uuidmap`, `bcsymbolmap`, `il2cpp`, "
        "`proguard` or `dartsymbolmap`, not `elf`",
        f"{F}:9:23: source `acme-symbols`: `filters.path_patterns[0]` must be a string, not a "
        "number: put it in quotes",
        f"{F}:10:26: source `acme-symbols`: `filters.requires_checksum` must be `true` or "
        "`false`, not a number",
        f"{F}:11:7: source `acme-symbols`: unknown key `platform` in `filters`; known keys: "
        "filetypes, path_patterns, requires_checksum",
    ]
    assert check(configs, "sources:\n" + HTTP + "    filters: [pe]\n") == [
        f"{F}:7:14: source `acme-symbols`: `filters` must be a mapping with `filetypes`, "
        "`path_patterns` or `requires_checksum`, not a list"
    ]


def test_top_level_filetypes_of_old_sentry_is_rejected(configs: Path) -> None:
    assert check(configs, "sources:\n" + HTTP + "    filetypes: [pe]\n") == [
        f"{F}:7:5: source `acme-symbols`: unknown key `filetypes` in an http source; did you "
        "mean `filters`?"
    ]


def test_http_fields(configs: Path) -> None:
    (source,) = valid(
        configs, "sources:\n" + HTTP + "    username: ''\n    password: {env: ACME_PASSWORD}\n"
    )
    assert (source.username, source.password.env) == ("", "ACME_PASSWORD")
    (source,) = valid(configs, "sources:\n" + HTTP)
    assert (source.username, source.password) == (None, None)
    assert check(
        configs, "sources:\n" + HTTP.replace("    url: https://symbols.acme.example/\n", "")
    ) == [
        f"{F}:2:5: source `acme-symbols`: `url` is required for an http source: add "
        "`url: https://...`, the address of the symbol server"
    ]
    assert check(configs, "sources:\n" + HTTP.replace("https://symbols.acme.example/", '""')) == [
        f"{F}:5:10: source `acme-symbols`: `url` must not be blank"
    ]


def test_s3_fields(configs: Path) -> None:
    (source,) = valid(configs, "sources:\n" + S3 + "    prefix: releases/\n")
    assert (source.bucket, source.region, source.access_key, source.prefix) == (
        "acme-symbols",
        "us-east-1",
        "AKIAEXAMPLE",
        "releases/",
    )
    assert source.secret_refs() == {"secret_key": source.secret_key}
    text = (
        "sources:\n  - id: acme-releases\n    type: s3\n    name: R\n    layout: {type: unified}\n"
    )
    assert check(configs, text) == [
        f"{F}:2:5: source `acme-releases`: `bucket` is required for an s3 source: add "
        "`bucket: <bucket name>`",
        f"{F}:2:5: source `acme-releases`: `region` is required for an s3 source: add "
        "`region: <AWS region>`, like `region: us-east-1`",
        f"{F}:2:5: source `acme-releases`: `access_key` is required for an s3 source: add "
        "`access_key: <AWS access key id>`",
        f"{F}:2:5: source `acme-releases`: `secret_key` is required for an s3 source: add "
        "`secret_key: {env: NAME}`, naming the variable that holds it",
    ]
    blank = S3.replace("acme-symbols", "''").replace("AKIAEXAMPLE", "' '")
    assert check(configs, "sources:\n" + blank) == [
        f"{F}:5:13: source `acme-releases`: `bucket` must not be blank",
        f"{F}:7:17: source `acme-releases`: `access_key` must not be blank",
    ]


def test_gcs_fields(configs: Path) -> None:
    (source,) = valid(configs, "sources:\n" + GCS + "    prefix: nightly/\n")
    assert (source.bucket, source.client_email, source.prefix) == (
        "acme-nightly",
        "symbols@acme.iam.gserviceaccount.com",
        "nightly/",
    )
    assert source.private_key.env == "ACME_GCS_KEY"
    text = (
        "sources:\n  - id: acme-nightly\n    type: gcs\n    name: N\n    layout: {type: native}\n"
    )
    assert check(configs, text) == [
        f"{F}:2:5: source `acme-nightly`: `bucket` is required for a gcs source: add "
        "`bucket: <bucket name>`",
        f"{F}:2:5: source `acme-nightly`: `client_email` is required for a gcs source: add "
        "`client_email: <service account e-mail>`",
        f"{F}:2:5: source `acme-nightly`: `private_key` is required for a gcs source: add "
        "`private_key: {env: NAME}`, naming the variable that holds it",
    ]
    assert check(
        configs, "sources:\n" + GCS.replace("symbols@acme.iam.gserviceaccount.com", "''")
    ) == [f"{F}:6:19: source `acme-nightly`: `client_email` must not be blank"]


@pytest.mark.parametrize(
    ("field", "source_type", "owners"),
    [
        ("bucket", "http", "s3 and gcs"),
        ("region", "http", "s3"),
        ("url", "s3", "http"),
        ("password", "s3", "http"),
        ("client_email", "s3", "gcs"),
        ("private_key", "s3", "gcs"),
        ("region", "gcs", "s3"),
        ("username", "gcs", "http"),
    ],
)
def test_field_of_another_type(configs: Path, field: str, source_type: str, owners: str) -> None:
    base = {"http": HTTP, "s3": S3, "gcs": GCS}[source_type]
    source_id = base.split()[2]
    lines = base.count("\n")
    article = "a" if source_type == "gcs" else "an"
    assert check(configs, "sources:\n" + base + f"    {field}: x\n") == [
        f"{F}:{lines + 2}:5: source `{source_id}`: `{field}` is not a field of {article} "
        f"{source_type} source (it belongs to {owners} sources): remove it, or change `type`"
    ]


@pytest.mark.parametrize("base", [HTTP, S3, GCS], ids=["http", "s3", "gcs"])
def test_is_public_has_index_and_platforms_on_every_type(configs: Path, base: str) -> None:
    extra = "    is_public: false\n    has_index: true\n    platforms: [ios, macos]\n"
    (source,) = valid(configs, "sources:\n" + base + extra)
    assert (source.is_public, source.has_index, source.platforms) == (False, True, ["ios", "macos"])
    (source,) = valid(configs, "sources:\n" + base + "    platforms: []\n")
    assert source.platforms == []
    (source,) = valid(configs, "sources:\n" + base)
    assert (source.is_public, source.has_index, source.platforms) == (None, None, None)


def test_is_public_has_index_and_platforms_rules(configs: Path) -> None:
    text = (
        "sources:\n"
        + HTTP
        + "    is_public: 'yes'\n"
        + "    has_index: 1\n"
        + "    platforms: [ios, '', 3]\n"
    )
    assert check(configs, text) == [
        f"{F}:7:16: source `acme-symbols`: `is_public` must be `true` or `false`, not the string "
        "`yes`: write `true` without quotes",
        f"{F}:8:16: source `acme-symbols`: `has_index` must be `true` or `false`, not a number",
        f"{F}:9:22: source `acme-symbols`: `platforms[1]` must not be blank",
        f"{F}:9:26: source `acme-symbols`: `platforms[2]` must be a string, not a number: put it "
        "in quotes",
    ]
    assert check(configs, "sources:\n" + HTTP + "    platforms: ios\n") == [
        f"{F}:7:16: source `acme-symbols`: `platforms` must be a list, like `[ios, macos]`, not "
        "a string"
    ]
    assert check(configs, "sources:\n" + HTTP + "    platform: [ios]\n") == [
        f"{F}:7:5: source `acme-symbols`: unknown key `platform` in an http source; did you "
        "mean `platforms`?"
    ]
    assert check(configs, "sources:\n" + HTTP + "    public: true\n") == [
        f"{F}:7:5: source `acme-symbols`: unknown key `public` in an http source; did you mean "
        "`is_public`?"
    ]
    assert check(configs, "sources:\n" + HTTP + "    owner: me\n") == [
        f"{F}:7:5: source `acme-symbols`: unknown key `owner` in an http source; known keys: "
        "type, id, state, name, layout, filters, is_public, has_index, platforms, url, "
        "username, password"
    ]


def test_region_known_well_formed_or_malformed(configs: Path) -> None:
    valid(configs, "sources:\n" + S3)
    write(configs, "acme/ios.yaml", "sources:\n" + S3.replace("us-east-1", "ap-southeast-9"))
    result = load_tree(Path("configs"))
    assert [str(d) for d in result.diagnostics] == [
        f"{F}:6:13: warning: source `acme-releases`: region `ap-southeast-9` is not a known AWS "
        "region; Sentry accepts it, but check the spelling"
    ]
    assert result.errors == []
    assert [d.severity for d in result.warnings] == ["warning"]
    assert [p.key for p in result.projects] == ["acme/ios"]  # warnings do not fail
    for region in ("us-gov-east-1", "us-isob-east-1"):
        write(configs, "acme/ios.yaml", "sources:\n" + S3.replace("us-east-1", region))
        assert load_tree(Path("configs")).errors == []
    # Regions AWS opened after Sentry's published list are known: no warning.
    for region in ("me-central-1", "ap-southeast-4", "ap-east-2", "mx-central-1"):
        write(configs, "acme/ios.yaml", "sources:\n" + S3.replace("us-east-1", region))
        assert load_tree(Path("configs")).diagnostics == []
    for region, shown in (
        ("US-EAST-1", "US-EAST-1"),
        ("us-east", "us-east"),
        ("useast1", "useast1"),
        # `$` of the regular expression must not match before a trailing newline.
        ('"us-east-1\\n"', "us-east-1\\n"),
    ):
        assert check(configs, "sources:\n" + S3.replace("us-east-1", region)) == [
            f"{F}:6:13: source `acme-releases`: `region` `{shown}` is not an AWS region code: "
            "use a code like `us-east-1`"
        ]
    for blank in ("''", "'  '", '"\\t"'):
        assert check(configs, "sources:\n" + S3.replace("us-east-1", blank)) == [
            f"{F}:6:13: source `acme-releases`: `region` must not be blank"
        ]


SECRET_SENTINEL = "s3cr3t-SENTINEL-value"


@pytest.mark.parametrize(
    ("base", "field"), [(HTTP, "password"), (S3, "secret_key"), (GCS, "private_key")]
)
def test_secrets_by_reference_only(configs: Path, base: str, field: str) -> None:
    source_id = base.split()[2]
    without = "".join(x for x in base.splitlines(keepends=True) if field not in x)
    line = without.count("\n") + 2  # the secret is the source's last line
    (source,) = valid(configs, "sources:\n" + without + f"    {field}: {{env: MY_SECRET_1}}\n")
    assert source.secret_refs() == {field: getattr(source, field)}
    assert getattr(source, field).env == "MY_SECRET_1"

    def errors(value: str) -> list[str]:
        return check(configs, "sources:\n" + without + f"    {field}: {value}\n")

    literal = (
        f"{F}:{line}:{len(field) + 7}: source `{source_id}`: `{field}` must be a reference like "
        "`{env: NAME}`, not a literal: secrets never go into git; put the secret in an "
        "environment variable and name it"
    )
    assert errors(SECRET_SENTINEL) == [literal]
    assert errors(f"[{SECRET_SENTINEL}]") == [literal]
    assert errors("{env: 1PASSWORD}") == [
        f"{F}:{line}:{len(field) + 13}: source `{source_id}`: `{field}.env` must name an "
        "environment variable (letters, digits and `_`, not starting with a digit), like "
        "`ACME_SYMBOLS_PASSWORD`"
    ]
    assert errors(f"{{env: X, value: {SECRET_SENTINEL}}}") == [
        f"{F}:{line}:{len(field) + 16}: source `{source_id}`: `{field}` holds a key other than "
        f"`env` and `version`: a secret reference holds only `env` and optionally `version`, "
        f"like `{field}: {{env: NAME}}`"
    ]
    # A secret pasted inside braces becomes a key; it is not shown either.
    for value in (
        f"{{{SECRET_SENTINEL}}}",
        f"{{{SECRET_SENTINEL}: 1}}",
        f"{{env: '{SECRET_SENTINEL}'}}",
    ):
        assert all(SECRET_SENTINEL not in d for d in errors(value))
    assert errors("{}") == [
        f"{F}:{line}:{len(field) + 7}: source `{source_id}`: `{field}.env` is required: write "
        f"`{field}: {{env: NAME}}`"
    ]


def test_no_value_may_be_null(configs: Path) -> None:
    text = (
        "unmanaged: null\n"
        "sources:\n"
        "  - id: acme-symbols\n"
        "    type: http\n"
        "    name: ACME\n"
        "    url: https://symbols.acme.example/\n"
        "    username:\n"
        "    layout: {type: native}\n"
        "    filters: {filetypes: [pe, ~], path_patterns: null}\n"
        "  -\n"
    )
    assert check(configs, text) == [
        f"{F}:1:12: `unmanaged` must not be null: give it a value, or remove the key",
        f"{F}:7:14: source `acme-symbols`: `username` must not be null: give it a value, or "
        "remove the key",
        f"{F}:9:31: source `acme-symbols`: `filters.filetypes[1]` must not be null: give it a "
        "value, or remove the item",
        f"{F}:9:50: source `acme-symbols`: `filters.path_patterns` must not be null: give it a "
        "value, or remove the key",
        f"{F}:10:4: source #2: must not be null: give it a value, or remove the item",
    ]


def test_duplicate_keys(configs: Path) -> None:
    text = "sources:\n" + HTTP + "    layout: {type: native}\n"
    assert check(configs, text) == [
        f"{F}:7:5: duplicate key `layout` (first at line 6): YAML keys must be unique; remove "
        "one of them",
    ]
    text = "sources:\n" + HTTP.replace("{type: native}", "{type: native, type: unified}")
    assert check(configs, text) == [
        f"{F}:6:28: duplicate key `type` (first at line 6): YAML keys must be unique; remove "
        "one of them",
    ]


def test_all_errors_of_a_file_are_reported(configs: Path) -> None:
    text = "sources:\n" + HTTP.replace("native", "nativ") + S3.replace("us-east-1", "mars") + GCS
    text = text.replace("symbols@acme.iam.gserviceaccount.com", "[x]")
    assert check(configs, text) == [
        f"{F}:6:20: source `acme-symbols`: `layout.type` must be `native`, `symstore`, "
        "`symstore_index2`, `ssqp`, `unified`, `debuginfod` or `slashsymbols`, not `nativ`; did "
        "you mean `native`?",
        f"{F}:11:13: source `acme-releases`: `region` `mars` is not an AWS region code: use a "
        "code like `us-east-1`",
        f"{F}:19:19: source `acme-nightly`: `client_email` must be a string, not a list",
    ]


# ---------------------------------------------------------------------------------------------
# What the loader hands on


def test_origins_of_values(configs: Path) -> None:
    write(configs, "acme/ios.yaml", "# comment\nsources:\n" + HTTP + S3)
    (project,) = load_tree(Path("configs")).projects
    origins = project.origins
    assert origins[()] == Origin(F, 2, 1)
    assert origins[("sources",)] == Origin(F, 3, 3)
    assert origins[("sources", 0)] == Origin(F, 3, 5)
    assert origins[("sources", 0, "url")] == Origin(F, 6, 10)
    assert origins[("sources", 0, "layout", "type")] == Origin(F, 7, 20)
    assert origins[("sources", 1, "secret_key", "env")] == Origin(F, 14, 23)
    assert str(origins[("sources", 1, "region")]) == f"{F}:12:13"
    assert ("sources", 2) not in origins
    assert project.key == "acme/ios"
    assert project.path == Path(F)


def test_diagnostic_format() -> None:
    origin = Origin("configs/acme/ios.yaml", 3, 7)
    assert str(Diagnostic(origin, "bad", "error")) == "configs/acme/ios.yaml:3:7: bad"
    assert str(Diagnostic(origin, "odd", "warning")) == "configs/acme/ios.yaml:3:7: warning: odd"


def test_diagnostics_sorted_by_path_line_column(configs: Path) -> None:
    write(configs, "b-org/x.yaml", "sources: {}\nextra: 1\n")
    write(configs, "a-org/y.yaml", "extra: 1\nsources: {}\n")
    result = load_tree(Path("configs"))
    assert [str(d.origin) for d in result.diagnostics] == [
        "configs/a-org/y.yaml:1:1",
        "configs/a-org/y.yaml:2:10",
        "configs/b-org/x.yaml:1:10",
        "configs/b-org/x.yaml:2:1",
    ]


# ---------------------------------------------------------------------------------------------
# Never a traceback


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=300))
def test_random_bytes_never_raise(data: bytes) -> None:
    result = load_bytes(data, "f.yaml", "acme", "ios")
    assert result.config is not None or any(d.severity == "error" for d in result.diagnostics)
    for d in result.diagnostics:
        assert d.origin.line >= 1 and d.origin.column >= 1


YAML_PIECES = st.sampled_from(
    [
        "sources:", "unmanaged:", "- ", "  ", "    ", "\n", "\t", "id: a", "type: http",
        "type: s3", "type: gcs", "state: absent", "name: n", "url: u", "layout:", "{type: native}",
        "casing: lower", "filters:", "filetypes: [pe]", "password: {env: P}", "password: p",
        "&a ", "*a", "<<: *a", "[", "]", "{", "}", ",", ":", "~", "null", "'", '"', "#", "!!str",
        "!x", "---", "1", "true", "2024-01-01", "region: us-east-1", "bucket: b", "? ", "|",
        "!!timestamp ", "!!int ", "!!bool ", "!!float ", "<<: [*a]", "&a {<<: *a}", '"\\0"',
        '"\\n"', '"\\u202e"', "\r\n", "\ufeff",
    ]
)  # fmt: skip


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(YAML_PIECES, max_size=40))
def test_random_yaml_never_raises(pieces: list[str]) -> None:
    text = "".join(pieces)
    result = load_bytes(text.encode(), "f.yaml", "acme", "ios")
    assert result.config is not None or any(d.severity == "error" for d in result.diagnostics)
    assert all(len(str(d).splitlines()) == 1 for d in result.diagnostics)


scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.text(max_size=8), st.sampled_from(spec.FILETYPES)
)
documents = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(
            st.sampled_from(
                ["sources", "id", "type", "name", "url", "layout", "filters", "password", "env",
                 "state", "region", "bucket", "filetypes", "x"]
            ),
            children,
            max_size=5,
        ),
    ),
    max_leaves=20,
)  # fmt: skip


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(documents)
def test_random_documents_never_raise(document: object) -> None:
    text = yaml.safe_dump(document)
    result = load_bytes(text.encode(), "f.yaml", "acme", "ios")
    if result.config is None:
        assert any(d.severity == "error" for d in result.diagnostics)


def test_order_max_deletes_and_secret_versions(configs: Path) -> None:
    valid(configs, "order: enforce\nmax_deletes: 0\nsources: []\n")
    assert check(configs, "order: enforced\nmax_deletes: -1\nsources: []\n") == [
        f"{F}:1:8: `order` must be `warn` or `enforce`, not `enforced`; did you mean `enforce`?",
        f"{F}:2:14: `max_deletes` must be a whole number, 0 or more, not -1",
    ]
    assert check(configs, 'max_deletes: "5"\nsources: []\n') == [
        f"{F}:1:14: `max_deletes` must be a whole number, 0 or more, not a string: write it "
        "without quotes"
    ]
    source = "sources:\n  - {id: a, type: http, name: A, url: u, layout: {type: native}, "
    valid(configs, source + "password: {env: PW, version: 3}}\n")
    bad = [
        source + "password: {env: PW, version: 0}}\n",
        source + "password: {env: PW, version: s3cr3t-value}}\n",
    ]
    assert [check(configs, text) for text in bad] == [
        [
            f"{F}:2:95: source `a`: `password.version` must be a whole number, 1 or more "
            "(raise it to rotate the secret), not 0 or less"
        ],
        [
            # Written without quotes: the advice is to write digits, not to drop quotes.
            f"{F}:2:95: source `a`: `password.version` must be a whole number, 1 or more "
            "(raise it to rotate the secret), not a string: write it in digits, like `2`"
        ],
    ]


def test_blank_path_pattern_is_refused_as_sentry_refuses_it(configs: Path) -> None:
    """Gen B's serializer refuses a blank item in `filters.path_patterns` (its items are
    DRF CharFields, which refuse a blank string), so the file does too, at the item's position."""
    text = "sources:\n" + HTTP + "    filters:\n" + "      path_patterns: ['*.dll', ' ']\n"
    assert check(configs, text) == [
        f"{F}:8:32: source `acme-symbols`: `filters.path_patterns[1]` must not be blank",
    ]
