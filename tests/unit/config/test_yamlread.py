"""Reading one YAML document into plain values with positions (reconciler.config.yamlread).

The reader is tested on its own, without the loader."""

from __future__ import annotations

import pytest

from reconciler.config import yamlread
from reconciler.config.diagnostic import Origin


def read(text: str) -> yamlread.Document:
    root = yamlread.compose(text)
    assert root is not None and yamlread.is_mapping(root)
    return yamlread.read_values(root, len(text))


def at(document: yamlread.Document, *loc: str | int) -> tuple[int, int]:
    position = document.positions[loc]
    return yamlread.line_of(position), yamlread.column_of(position)


def test_values_and_the_position_of_every_value_and_key() -> None:
    document = read("unmanaged: keep\nsources:\n  - id: a\n    layout: {type: native}\n")
    assert document.values == {
        "unmanaged": "keep",
        "sources": [{"id": "a", "layout": {"type": "native"}}],
    }
    assert at(document) == (1, 1)
    assert at(document, "sources", 0) == (3, 5)
    assert at(document, "sources", 0, "id") == (3, 9)
    assert at(document, "sources", 0, "layout", "type") == (4, 20)
    key = document.key_positions[("sources", 0, "layout")]
    assert (yamlread.line_of(key), yamlread.column_of(key)) == (4, 5)
    assert (document.problems, document.rejected, document.refused) == ([], [], False)
    origins = yamlread.Origins("configs/acme/ios.yaml", document.positions)
    assert origins[("sources", 0, "id")] == Origin("configs/acme/ios.yaml", 3, 9)
    assert len(origins) == len(document.positions)


def test_merge_keys_and_aliases_are_values_like_any_other() -> None:
    document = read("base: &b {type: native}\nsources:\n  - {<<: *b, id: a}\n")
    assert document.values["sources"] == [{"id": "a", "type": "native"}]


def test_refused_values_stand_in_as_invalid_and_are_named_later() -> None:
    document = read("sources: ~\nunmanaged: !!set {a}\n")
    assert document.values == {"sources": yamlread.INVALID, "unmanaged": yamlread.INVALID}
    assert document.invalid == {("sources",), ("unmanaged",)}
    assert [(loc, problem) for loc, _, problem in document.rejected] == [
        (("sources",), "must not be null: write `sources: []` to manage none"),
        (("unmanaged",), "has an unsupported YAML tag `!!set`: remove the tag"),
    ]


def test_duplicate_key_is_a_problem_that_hides_keys_under_secrets() -> None:
    document = read("a: 1\na: 2\nsources:\n  - password: {s3cret: 1, s3cret: 2}\n")
    assert document.problems == [
        yamlread.Problem(2, 1, "duplicate key `a` (first at line 1): YAML keys must be unique; "
                         "remove one of them"),
        yamlread.Problem(4, 27, "duplicate key (first at line 4): YAML keys must be unique; "
                         "remove one of them"),
    ]  # fmt: skip
    assert document.values["a"] == 1


def test_an_alias_bomb_is_refused_without_expanding_it() -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 9)]
    document = read("\n".join(lines) + "\n")
    assert document.refused and document.values is None
    (problem,) = document.problems
    assert "alias bomb" in problem.message


@pytest.mark.parametrize(
    ("text", "line", "column", "start"),
    [
        ("sources:\n\t- a\n", 2, 1, "tab character"),
        ("sources: *nowhere\n", 1, 10, "alias refers to an anchor that is not defined"),
        ("sources: []\n---\nsources: []\n", 2, 1, "a project file holds a single YAML document"),
        ("sources: [\u0007]\n", 1, 11, "character (U+0007) not allowed in YAML"),
    ],
)
def test_text_that_does_not_compose_is_one_problem_at_its_place(
    text: str, line: int, column: int, start: str
) -> None:
    with pytest.raises(yamlread.YamlError) as info:
        yamlread.compose(text)
    problem = info.value.problem
    assert (problem.line, problem.column) == (line, column)
    assert problem.message.startswith(start)


@pytest.mark.parametrize("text", ["", "# only a comment\n", "---\n"])
def test_empty_documents(text: str) -> None:
    assert yamlread.is_empty(yamlread.compose(text))


def test_node_kinds() -> None:
    kinds = [
        yamlread.node_kind(node)
        for node in (yamlread.compose(text) for text in ("[a]", "{a: 1}", "a", "1", "true"))
        if node is not None
    ]
    assert kinds == ["a list", "a mapping", "a string", "a number", "a boolean"]


# --- positions recorded only when asked for -------------------------------------------------

PLAIN = (
    "unmanaged: keep\n"
    "sources:\n"
    "  - &a {id: a, type: http, url: 'https://a.example/', layout: {type: native}}\n"
    "  - {id: b, type: s3, is_public: true, filters: {requires_checksum: false}}\n"
    "  - *a\n"
)


def _lazy(text: str) -> yamlread.Document:
    root = yamlread.compose(text)
    assert root is not None
    return yamlread.read_values(root, len(text), lazy_positions=True)


def test_lazy_positions_give_the_same_values_and_positions() -> None:
    full, lazy = read(PLAIN), _lazy(PLAIN)
    assert lazy.values == full.values
    assert (lazy.problems, lazy.rejected, lazy.invalid) == ([], [], set())
    assert dict(lazy.positions) == dict(full.positions)
    assert dict(lazy.key_positions) == dict(full.key_positions)


@pytest.mark.parametrize(
    "text",
    [
        "sources:\n  - id: a\n    name: ~\n",  # a null
        "sources: []\nsources: []\n",  # a duplicate key
        "a: &x {k: v}\nb: {<<: *x}\nsources: []\n",  # a merge
        "sources: !!set {a}\n",  # a tag
        "sources:\n  - {1: a}\n",  # a key that is not a string
        "sources:\n  - !!int nope\n",  # a value its tag refuses
        "a: &a [x, x, x, x, x, x, x, x, x]\n"
        + "".join(
            f"{c}: &{c} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]\n"
            for p, c in zip("abcdefg", "bcdefgh", strict=True)
        ),  # an alias bomb
    ],
)
def test_anything_unusual_is_walked_in_full_at_once(text: str) -> None:
    full, lazy = read(text), _lazy(text)
    assert (lazy.problems, lazy.rejected, lazy.invalid, lazy.refused) == (
        full.problems,
        full.rejected,
        full.invalid,
        full.refused,
    )
    assert lazy.values == full.values
    assert isinstance(lazy.positions, dict) and lazy.positions == full.positions


def test_a_lazily_walked_document_is_freed_without_the_garbage_collector() -> None:
    import gc
    import weakref

    root = yamlread.compose(PLAIN)
    assert root is not None
    document = yamlread.read_values(root, len(PLAIN), lazy_positions=True)
    node = weakref.ref(root.value[0][0])
    del root
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        del document
        assert node() is None, "the composed document outlived its Document"
    finally:
        if was_enabled:
            gc.enable()


def test_string_style_tells_how_a_string_was_written() -> None:
    text = (
        "a: n\n"
        "b: 'n'\n"
        'c: "n"\n'
        "d: !!str false\n"
        "e: !!str n\n"  # the tag changes nothing: plain `n` is a string anyway
        "f: |\n  n\n"
        "g: >-\n  n\n"
        "h: 1\n"
        "i: [x, 'y']\n"
        "j: &q 'q'\n"
        "k: *q\n"
        "l: {<<: [{m: 'first'}, {m: second}], o: p}\n"
        "m: {<<: {r: 's'}, r: t}\n"
        "\u2028k: x\n"  # an editor's LINE SEPARATOR inside a key (read as a character)
    )
    composed = yamlread.compose_document(text)
    root = composed.root
    style = yamlread.string_style
    assert [style(root, (key,)) for key in "abcdefg"] == [
        "plain", "quoted", "quoted", "tagged", "plain", "block", "block",
    ]  # fmt: skip
    assert style(root, ("h",)) is None  # not a string
    assert style(root, ("i",)) is None  # not a scalar
    assert (style(root, ("i", 0)), style(root, ("i", 1)), style(root, ("i", 2))) == (
        "plain", "quoted", None,
    )  # fmt: skip
    assert style(root, ("k",)) == "quoted"  # an alias is its anchor's node
    # merged keys: the first merged mapping wins, a key written beside `<<` wins over both
    assert (style(root, ("l", "m")), style(root, ("l", "o")), style(root, ("m", "r"))) == (
        "quoted", "plain", "plain",
    )  # fmt: skip
    assert style(root, ("\u2028k",)) == "plain"
    assert style(root, ("missing",)) is None
    assert style(root, ("a", "deeper")) is None
    assert style(None, ("a",)) is None
