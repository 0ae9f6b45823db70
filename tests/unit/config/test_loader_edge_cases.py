"""The loader on inputs found by probing it from the outside: each case once broke a rule the loader
keeps (one line per error, no traceback, accept nothing malformed) or had a position or
message that could be clearer. Every assertion is the exact `PATH:LINE:COLUMN: message`."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from reconciler.config.loader import MAX_FILE_BYTES, load_bytes, load_tree
from tests.support.waiting import ends_within
from tests.support.yaml_snippets import GCS, HTTP, S3

F = "configs/acme/ios.yaml"
SENTINEL = "s3cr3t-SENTINEL-edge"


@pytest.fixture
def configs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    root = tmp_path / "configs"
    root.mkdir()
    return root


def check(root: Path, content: str | bytes, relative: str = "acme/ios.yaml") -> list[str]:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content if isinstance(content, bytes) else textwrap.dedent(content).encode())
    return [str(d) for d in load_tree(Path("configs")).diagnostics]


# ---------------------------------------------------------------------------------------------
# No traceback: PyYAML's constructors raise more than ValueError for text their tag rejects.


@pytest.mark.parametrize(
    ("value", "kind"),
    [
        ("!!timestamp ACME", "timestamp"),  # AttributeError inside PyYAML
        ("!!bool maybe", "bool"),  # KeyError
        ("!!int ''", "int"),  # IndexError
        ("!!int _", "int"),
        ("!!float ''", "float"),
        ("!!int abc", "int"),  # ValueError, as before
    ],
)
def test_explicitly_tagged_scalar_that_its_tag_rejects(
    configs: Path, value: str, kind: str
) -> None:
    assert check(configs, f"sources: []\nunmanaged: {value}\n") == [
        f"{F}:2:12: `unmanaged` is not a valid {kind}: fix the value, or remove the `!!{kind}` tag"
    ]


# ---------------------------------------------------------------------------------------------
# One line per diagnostic, whatever the file quotes back.


def test_control_characters_in_echoed_values_are_escaped(configs: Path) -> None:
    text = (
        "sources:\n"
        '  - id: "acme\\nsymbols"\n'
        '    type: "ht\\ntp"\n'
        "    name: x\n"
        '  - "odd\\rkey": 1\n'
        '    id: "b\\u2028c"\n'
        "    state: absent\n"
    )
    lines = check(configs, text)
    assert lines == [
        f"{F}:3:11: source `acme\\nsymbols`: `type` must be `http`, `s3` or `gcs`, not "
        "`ht\\ntp`; did you mean `http`?",
        f"{F}:5:5: source `b\\u2028c`: `odd\\rkey` does not belong in an `absent` entry: it "
        "carries only `id` and `state`; remove the key",
    ]


def test_warning_with_a_newline_in_the_source_id_is_one_line(configs: Path) -> None:
    text = "sources:\n" + S3.replace("acme-releases", '"acme\\nreleases"').replace(
        "us-east-1", "eu-south-9"
    )
    result = check(configs, text)
    assert result == [
        f"{F}:6:13: warning: source `acme\\nreleases`: region `eu-south-9` is not a known AWS "
        "region; Sentry accepts it, but check the spelling"
    ]


def test_slug_with_a_trailing_newline_is_not_a_slug(configs: Path) -> None:
    # `$` in a regular expression also matches before a final newline.
    (configs / "acme").mkdir()
    (configs / "acme" / "ios\n.yaml").write_text("sources: []\n")
    (configs / "tools\n").mkdir()
    (configs / "tools\n" / "cli.yaml").write_text("sources: []\n")
    result = load_tree(Path("configs"))
    assert [str(d) for d in result.diagnostics] == [
        "configs/acme/ios\\n.yaml:1:1: file name `ios\\n` is not a valid project slug: use "
        "lowercase letters, digits, `-` and `_`, starting with a letter or digit (like `ios`); "
        "names starting with `.` or `_` are ignored",
        "configs/tools\\n:1:1: folder name `tools\\n` is not a valid organization slug: use "
        "lowercase letters, digits, `-` and `_`, starting with a letter or digit (like "
        "`tools`); names starting with `.` or `_` are ignored",
    ]
    assert result.projects == []


# ---------------------------------------------------------------------------------------------
# Secrets: one clear message for a mapping that is not a reference, and nothing shown.


@pytest.mark.parametrize("value", ['{"hidden-secret": true}', "{hidden-secret: 1}"])
def test_sentry_placeholder_in_a_file(configs: Path, value: str) -> None:
    text = "sources:\n" + HTTP + f"    password: {value}\n"
    assert check(configs, text) == [
        f"{F}:7:16: source `acme-symbols`: `password` holds Sentry's `{{hidden-secret: true}}` "
        "placeholder, which stands for a secret Sentry does not show: write "
        "`password: {env: NAME}`, naming the environment variable that holds the secret"
    ]


@pytest.mark.parametrize(
    ("value", "column"),
    [(f"{{{SENTINEL}}}", 18), (f"{{{SENTINEL}: x}}", 18), (f"{{? {SENTINEL}}}", 20)],
)
def test_secret_pasted_as_a_key_gives_one_message_and_is_not_shown(
    configs: Path, value: str, column: int
) -> None:
    text = "sources:\n" + S3.replace("{env: ACME_S3_SECRET}", value)
    assert check(configs, text) == [
        f"{F}:8:{column}: source `acme-releases`: `secret_key` holds a key other than `env` and "
        "`version`: a secret reference holds only `env` and optionally `version`, like "
        "`secret_key: {env: NAME}`"
    ]


# ---------------------------------------------------------------------------------------------
# Clearer messages


def test_null_sources_says_how_to_write_none(configs: Path) -> None:
    assert check(configs, "unmanaged: keep\nsources:\n") == [
        f"{F}:2:9: `sources` must not be null: write `sources: []` to manage none"
    ]


def test_document_marker_alone_is_an_empty_file(configs: Path) -> None:
    assert check(configs, "# comment\n---\n") == [
        f"{F}:1:1: file is empty: a project file needs at least `sources:` (write `sources: []` "
        "to manage no sources), or delete the file to leave the project unmanaged"
    ]


def test_anchor_defined_twice(configs: Path) -> None:
    text = (
        "sources:\n"
        + HTTP.replace("{type: native}", "&l {type: native}")
        + HTTP.replace("acme-symbols", "acme-mirror").replace("{type: native}", "&l {type: native}")
    )
    assert check(configs, text) == [
        f"{F}:11:13: anchor defined twice (first at line 6, column 13): give each `&name` a "
        "different name"
    ]


# ---------------------------------------------------------------------------------------------
# Positions: line breaks, byte order mark, characters outside ASCII


@pytest.mark.parametrize("newline", ["\r\n", "\r"])
def test_line_numbers_with_other_line_breaks(configs: Path, newline: str) -> None:
    text = "unmanaged: keep\nsources:\n" + HTTP.replace("https://symbols.acme.example/", "' '")
    assert check(configs, text.replace("\n", newline).encode()) == [
        f"{F}:6:10: source `acme-symbols`: `url` must not be blank"
    ]


def test_byte_order_mark_does_not_shift_columns(configs: Path) -> None:
    text = "unmanaged: remove\nsources: []\n"
    assert check(configs, b"\xef\xbb\xbf" + text.encode()) == [
        f"{F}:1:12: `unmanaged` must be `keep`, `report` or `delete`, not `remove`"
    ]


def test_columns_count_characters_not_bytes(configs: Path) -> None:
    text = "sources:\n  - {id: 'ÿ😀日本', name: 'é', type: http, url: '', layout: {type: native}}\n"
    assert check(configs, text) == [f"{F}:2:46: source `ÿ😀日本`: `url` must not be blank"]


@pytest.mark.parametrize("character", ["\x85", "\u2028", "\u2029"])
def test_yaml_1_1_line_breaks_are_characters_as_editors_read_them(
    configs: Path, character: str
) -> None:
    """NEL, LINE SEPARATOR and PARAGRAPH SEPARATOR break lines in YAML 1.1 only: in a value
    (plain or quoted) or a comment they are characters, and line numbers stay the editor's."""
    text = (
        f"# a comment{character} with a separator\nsources:\n  - id: a{character}b\n"
        f"    type: http\n    url: u\n    layout: {{type: native}}\n"
        f'    name: "x{character}y"\n'
    )
    assert check(configs, text) == []
    (config,) = load_tree(Path("configs")).projects
    (source,) = config.file.sources
    assert source.id == f"a{character}b"
    assert source.name == f"x{character}y"  # type: ignore[union-attr]
    assert check(configs, text + "    bad: 1\n") == [
        f"{F}:8:5: source `a{ascii(character)[1:-1]}b`: unknown key `bad` in an http source; "
        "known keys: type, id, state, name, layout, filters, is_public, has_index, platforms, "
        "url, username, password"
    ]


def test_json_surrogate_pair_escapes_read_as_one_character(configs: Path) -> None:
    """JSON is YAML 1.2, and json.dumps writes a character beyond U+FFFF as a surrogate pair
    escape, which PyYAML refuses alone; columns after it stay those of the file."""
    source = {"id": "a", "type": "http", "url": "u", "layout": {"type": "native"}}
    text = json.dumps({"sources": [{**source, "name": "\U0001f600x\U0001f601"}]})
    assert check(configs, text) == []
    (config,) = load_tree(Path("configs")).projects
    assert config.file.sources[0].name == "\U0001f600x\U0001f601"  # type: ignore[union-attr]
    text = json.dumps({"sources": [{**source, "name": "\U0001f600", "bad": 1}]})
    column = text.index('"bad"') + 1
    assert check(configs, text) == [
        f"{F}:1:{column}: source `a`: unknown key `bad` in an http source; "
        "known keys: type, id, state, name, layout, filters, is_public, has_index, platforms, "
        "url, username, password"
    ]
    # a lone surrogate is still an error, and backslashes outside double quotes are text
    assert check(configs, 'sources: "\\ud83d"\n') == [
        f"{F}:1:13: invalid YAML: found invalid Unicode character escape code (while parsing a "
        "quoted scalar at line 1, column 10)"
    ]
    assert check(configs, "sources: '\\ud83d\\ude00'\n") == [
        f"{F}:1:10: `sources` must be a list of sources (write `sources: []` for none), not a "
        "string"
    ]


# ---------------------------------------------------------------------------------------------
# Size


def test_oversized_file_is_refused_before_parsing(configs: Path) -> None:
    filler = "# " + "x" * 1000 + "\n"
    text = "sources: []\n" + filler * (MAX_FILE_BYTES // len(filler) + 1)
    assert ends_within(30, lambda: check(configs, text)) == [
        f"{F}:1:1: file is larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB, far more than any "
        "project file needs: check that this is the right file, and trim it"
    ]
    # At the limit it is read and checked as usual.
    at_limit = text[: MAX_FILE_BYTES - 2] + "\n"
    assert len(at_limit.encode()) <= MAX_FILE_BYTES
    assert check(configs, at_limit) == []
    # load_bytes, the public entry point for content, applies the same limit.
    result = load_bytes(text.encode(), "x.yaml", "acme", "x")
    assert result.config is None
    assert [str(d.origin) for d in result.diagnostics] == ["x.yaml:1:1"]


def test_misspelled_absent_state_without_type(configs: Path) -> None:
    assert check(configs, "sources:\n  - id: old-server\n    state: absnet\n") == [
        f"{F}:3:12: source `old-server`: `state` must be `present` or `absent`, not `absnet`; "
        "did you mean `absent`?"
    ]


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ('"yes"', "not the string `yes`: write `true` without quotes"),
        ("'False'", "not the string `False`: write `false` without quotes"),
        ("'sometimes'", "not the string `sometimes`: write `true` or `false` without quotes"),
        ("1", "not a number"),
    ],
)
def test_requires_checksum_must_be_a_boolean(configs: Path, written: str, expected: str) -> None:
    text = "sources:\n" + HTTP + f"    filters: {{requires_checksum: {written}}}\n"
    assert check(configs, text) == [
        f"{F}:7:34: source `acme-symbols`: `filters.requires_checksum` must be `true` or "
        f"`false`, {expected}"
    ]


def test_nul_character_in_a_string_is_refused(configs: Path) -> None:
    # Sentry's rewritten endpoint validates every string with a Django REST framework
    # CharField, which refuses NUL characters; YAML writes one as "\0" in double quotes.
    text = (
        "sources:\n"
        + HTTP.replace("ACME symbol server", '"ACME\\0"')
        + '    filters: {path_patterns: ["*.pdb", "\\x00"]}\n'
    )
    assert check(configs, text) == [
        f"{F}:4:11: source `acme-symbols`: `name` holds a NUL character (`\\0`), which Sentry "
        "refuses: remove it",
        f"{F}:7:40: source `acme-symbols`: `filters.path_patterns[1]` holds a NUL character "
        "(`\\0`), which Sentry refuses: remove it",
    ]
    # Other escapes are fine.
    assert check(configs, "sources:\n" + HTTP.replace("ACME symbol server", '"C:\\\\x\\t"')) == []


def test_invisible_and_bidirectional_characters_are_shown_escaped(configs: Path) -> None:
    text = 'sources\u200b: []\nunmanaged: "kee\u202ep"\n'
    assert check(configs, text) == [
        f"{F}:1:1: unknown top-level key `sources\\u200b`: a project file holds only `sources`, "
        "`unmanaged`, `order`, `max_deletes`, `defaults` and `builtin`; did you mean `sources`?",
        f"{F}:2:12: `unmanaged` must be `keep`, `report` or `delete`, not `kee\\u202ep`; did "
        "you mean `keep`?",
    ]


@pytest.mark.parametrize(
    ("text", "position"),
    [
        ("sources: []\nx: &a {<<: *a}\n", "2:4"),  # a mapping that merges itself
        ("sources:\n  - &s\n    <<: [*s]\n    id: a\n", "2:5"),
        # A chain of 5,000 merges once ran into Python's recursion limit.
        (
            "sources: []\na0: &a0 {k: v}\n"
            + "".join(f"a{i}: &a{i} {{<<: *a{i - 1}}}\n" for i in range(1, 5000)),
            "2:5",
        ),
    ],
)
def test_merge_keys_that_never_end_are_an_error(configs: Path, text: str, position: str) -> None:
    assert check(configs, text) == [
        f"{F}:{position}: `<<` merges nested too deeply (a mapping that merges itself?): a "
        "project file needs only a few levels"
    ]


def test_merge_key_written_twice_is_a_duplicate_key(configs: Path) -> None:
    text = (
        "sources:\n"
        "  - &a {id: a, type: http, name: n, url: u, layout: {type: native}}\n"
        "  - &b {id: b, type: http, name: m, url: v, layout: {type: ssqp}}\n"
        "  - <<: *a\n"
        "    <<: *b\n"
        "    id: c\n"
    )
    assert check(configs, text) == [
        f"{F}:5:5: duplicate key `<<`: YAML keys must be unique; merge several mappings with one "
        "key, like `<<: [*first, *second]`"
    ]
    assert check(configs, text.replace("  - <<: *a\n    <<: *b\n", "  - <<: [*a, *b]\n")) == []


# ---------------------------------------------------------------------------------------------
# A string where a boolean belongs: the advice follows how the value was written. Quotes are
# only mentioned when the file has them; a plain word YAML 1.1 reads as text (`n`, `Y`, `1e999`,
# `0o17`) is said to be read as text.

# (source entry, its label, the line after it): every boolean field on every source type.
SOURCES = [(HTTP, "acme-symbols", 7), (S3, "acme-releases", 10), (GCS, "acme-nightly", 9)]
BOOLEAN_FIELDS = ["is_public", "has_index", "requires_checksum"]


def _boolean_field(source: str, field: str, written: str) -> str:
    """A file with ``field: written`` after ``source``, in `filters` for requires_checksum."""
    if field == "requires_checksum":
        return "sources:\n" + source + f"    filters:\n      requires_checksum: {written}\n"
    return "sources:\n" + source + f"    {field}: {written}\n"


@pytest.mark.parametrize(("source", "label", "line"), SOURCES, ids=["http", "s3", "gcs"])
@pytest.mark.parametrize("field", BOOLEAN_FIELDS)
@pytest.mark.parametrize(
    ("written", "expected"),
    [
        # In quotes: dropping them is the fix.
        ('"no"', "not the string `no`: write `false` without quotes"),
        ("'Y'", "not the string `Y`: write `true` without quotes"),
        ("'maybe'", "not the string `maybe`: write `true` or `false` without quotes"),
        # Plain words that PyYAML (YAML 1.1) reads as strings: no quotes to drop.
        ("n", "not `n`, which YAML reads as text: write `false`"),
        ("N", "not `N`, which YAML reads as text: write `false`"),
        ("y", "not `y`, which YAML reads as text: write `true`"),
        ("Y", "not `Y`, which YAML reads as text: write `true`"),
        ("tRue", "not `tRue`, which YAML reads as text: write `true`"),
        ("1e999", "not `1e999`, which YAML reads as text: write `true` or `false`"),
        ("0o17", "not `0o17`, which YAML reads as text: write `true` or `false`"),
        ("maybe", "not `maybe`, which YAML reads as text: write `true` or `false`"),
        # Made a string by a tag, or written as a block.
        ("!!str false", "not the string `false`: write `false` without the `!!str` tag"),
        (
            "|\n        no",
            "not the string `no\\n`: write `false` after the key, not as a `|` or `>` block",
        ),
    ],
)
def test_a_string_for_a_boolean_is_worded_as_written(
    configs: Path, source: str, label: str, line: int, field: str, written: str, expected: str
) -> None:
    name, at = (
        ("filters.requires_checksum", f"{line + 1}:26")
        if field == "requires_checksum"
        else (field, f"{line}:16")
    )
    assert check(configs, _boolean_field(source, field, written)) == [
        f"{F}:{at}: source `{label}`: `{name}` must be `true` or `false`, {expected}"
    ]


def test_a_boolean_string_reached_by_alias_or_merge_is_worded_as_written(configs: Path) -> None:
    """The value's own node tells how it was written: an alias is its anchor's value, a merged
    key the merged mapping's value (a key written beside `<<` wins over it)."""
    text = (
        "templates: &d {is_public: n, has_index: 'off'}\n"  # not a project key: one error more
        "sources:\n"
        "  - <<: *d\n"
        "    id: a\n"
        "    type: http\n"
        "    url: u\n"
        "    layout: {type: native}\n"
        "  - <<: *d\n"
        "    id: b\n"
        "    type: http\n"
        "    url: u\n"
        "    layout: {type: native}\n"
        '    is_public: "n"\n'
        "    filters: {requires_checksum: &n2 N}\n"
        "  - {id: c, type: http, url: u, layout: {type: native}, has_index: *n2}\n"
    )
    assert check(configs, text) == [
        f"{F}:1:1: unknown top-level key `templates`: a project file holds only `sources`, "
        "`unmanaged`, `order`, `max_deletes`, `defaults` and `builtin`",
        f"{F}:1:27: source `a`: `is_public` must be `true` or `false`, not `n`, which YAML "
        "reads as text: write `false`",
        f"{F}:1:41: source `a`: `has_index` must be `true` or `false`, not the string `off`: "
        "write `false` without quotes",
        f"{F}:1:41: source `b`: `has_index` must be `true` or `false`, not the string `off`: "
        "write `false` without quotes",
        f"{F}:13:16: source `b`: `is_public` must be `true` or `false`, not the string `n`: "
        "write `false` without quotes",
        f"{F}:14:34: source `b`: `filters.requires_checksum` must be `true` or `false`, not "
        "`N`, which YAML reads as text: write `false`",
        f"{F}:14:34: source `c`: `has_index` must be `true` or `false`, not `N`, which YAML "
        "reads as text: write `false`",
    ]


# ---------------------------------------------------------------------------------------------
# Whole numbers: `max_deletes` and a secret reference's `version`. JSON Schema's `integer` (what
# the schema says of both) takes 1.0 for 1, so the loader does too, and hands on the int.


@pytest.mark.parametrize(
    ("written", "expected"),
    [("1.0", 1), ("0.0", 0), ("-0.0", 0), ("2.", 2), ("2.5e+1", 25), ("7", 7)],
)
def test_max_deletes_takes_an_integral_float_as_its_int(written: str, expected: int) -> None:
    result = load_bytes(f"max_deletes: {written}\nsources: []\n".encode(), F, "acme", "ios")
    assert result.diagnostics == []
    assert result.config is not None
    assert result.config.max_deletes == expected
    assert type(result.config.max_deletes) is int


@pytest.mark.parametrize(("written", "expected"), [("1.0", 1), ("3.", 3), ("1.0e+1", 10)])
def test_secret_version_takes_an_integral_float_as_its_int(written: str, expected: int) -> None:
    text = "sources:\n" + S3.replace("{env: ACME_S3_SECRET}", f"{{env: S, version: {written}}}")
    result = load_bytes(text.encode(), F, "acme", "ios")
    assert result.diagnostics == []
    assert result.config is not None
    (source,) = result.config.sources
    version = source.secret_refs()["secret_key"].version
    assert version == expected
    assert type(version) is int


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ("1.5", "not 1.5"),
        ("-2.5", "not -2.5"),
        (".inf", "not `.inf`"),
        ("-.inf", "not `-.inf`"),
        (".NaN", "not `.nan`"),
        ("-1.0", "not -1"),  # taken as -1: the lower bound still applies
        ("-1", "not -1"),
        ("'3'", "not a string: write it without quotes"),
        ("!!str 3", "not a string: write it without the `!!str` tag"),
        ("1e3", "not `1e3`, which YAML reads as text: write it in digits, like `5`"),
        ("many", "not `many`, which YAML reads as text: write it in digits, like `5`"),
        ("true", "not a boolean"),
    ],
)
def test_max_deletes_refuses_what_is_not_a_whole_number(
    configs: Path, written: str, expected: str
) -> None:
    assert check(configs, f"sources: []\nmax_deletes: {written}\n") == [
        f"{F}:2:14: `max_deletes` must be a whole number, 0 or more, {expected}"
    ]


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ("1.5", "not a fraction"),
        (".inf", "not `.inf`"),
        (".nan", "not `.nan`"),
        ("0.0", "not 0 or less"),
        ("-1.0", "not 0 or less"),
        ("'2'", "not a string: write it without quotes"),
        ("1e3", "not a string: write it in digits, like `2`"),
        ("true", "not a boolean"),
    ],
)
def test_secret_version_refuses_what_is_not_a_whole_number(
    configs: Path, written: str, expected: str
) -> None:
    text = "sources:\n" + S3.replace("{env: ACME_S3_SECRET}", f"{{env: S, version: {written}}}")
    assert check(configs, text) == [
        f"{F}:8:35: source `acme-releases`: `secret_key.version` must be a whole number, 1 or "
        f"more (raise it to rotate the secret), {expected}"
    ]
