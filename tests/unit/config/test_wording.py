"""How problems are worded (reconciler.config.wording), on its own.

Each problem is one line, named by its field."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from reconciler.config import yamlread
from reconciler.config.diagnostic import Diagnostic, Origin, diagnostic, diagnostic_order, printable
from reconciler.config.project_file import ProjectFile
from reconciler.config.wording import (
    rejected_diagnostics,
    source_label,
    validation_diagnostics,
    value_where,
)


def read(text: str) -> yamlread.Document:
    root = yamlread.compose(text)
    assert root is not None
    return yamlread.read_values(root, len(text))


def test_a_diagnostic_is_one_line_whatever_it_quotes() -> None:
    d = diagnostic("configs/a\nb.yaml", 3, 5, "source `x\u202ey`: bad\rvalue")
    assert str(d) == "configs/a\\nb.yaml:3:5: source `x\\u202ey`: bad\\rvalue"
    assert "\n" not in str(d) and "\r" not in str(d)
    warning = diagnostic("f.yaml", 1, 2, "check it", "warning")
    assert str(warning) == "f.yaml:1:2: warning: check it"
    assert printable("caf\udce9") == "caf\\udce9"


def test_diagnostics_sort_by_file_line_and_column() -> None:
    items = [
        Diagnostic(Origin("b.yaml", 1, 1), "x"),
        Diagnostic(Origin("a.yaml", 2, 1), "x"),
        Diagnostic(Origin("a.yaml", 1, 9), "x"),
    ]
    assert [str(d.origin) for d in sorted(items, key=diagnostic_order)] == [
        "a.yaml:1:9",
        "a.yaml:2:1",
        "b.yaml:1:1",
    ]


def test_values_are_named_by_source_id_or_number() -> None:
    values = {"sources": [{"id": "acme"}, {"type": "http"}]}
    assert source_label(values, 0) == "source `acme`"
    assert source_label(values, 1) == "source #2"
    assert value_where(values, ("sources", 0, "layout", "casing")) == (
        "source `acme`: `layout.casing`"
    )
    assert value_where(values, ("unmanaged",)) == "`unmanaged`"
    # Whatever was written under a secret field stays unshown.
    assert value_where(values, ("sources", 0, "password", "s3cret")) == (
        "source `acme`: `password.<key>`"
    )


def test_refused_values_are_named_by_their_field() -> None:
    document = read("sources:\n  - id: acme\n    name: ~\n")
    assert [str(d) for d in rejected_diagnostics(document, "f.yaml")] == [
        "f.yaml:3:11: source `acme`: `name` must not be null: give it a value, or remove the key"
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "sources:\n  - id: acme\n    type: http\n    url: x\n    layout: {type: nativ}\n",
            "f.yaml:5:20: source `acme`: `layout.type` must be `native`, `symstore`, "
            "`symstore_index2`, `ssqp`, `unified`, `debuginfod` or `slashsymbols`, not `nativ`; "
            "did you mean `native`?",
        ),
        (
            "sources: []\nunmanged: keep\n",
            "f.yaml:2:1: unknown top-level key `unmanged`: a project file holds only `sources`, "
            "`unmanaged`, `order`, `max_deletes`, `defaults` and `builtin`; "
            "did you mean `unmanaged`?",
        ),
        (
            "sources:\n  - id: acme\n    type: s3\n    layout: {type: native}\n    bucket: b\n"
            "    region: us-east-1\n    access_key: A\n",
            "f.yaml:2:5: source `acme`: `secret_key` is required for an s3 source: add "
            "`secret_key: {env: NAME}`, naming the variable that holds it",
        ),
    ],
)
def test_pydantic_errors_are_placed_and_worded(text: str, expected: str) -> None:
    document = read(text)
    with pytest.raises(ValidationError) as info:
        ProjectFile.model_validate(document.values)
    assert [str(d) for d in validation_diagnostics(info.value, document, "f.yaml")] == [expected]


@pytest.mark.parametrize(
    ("written", "with_root"),
    [
        ("'no'", "not the string `no`: write `false` without quotes"),
        ("no", None),  # YAML 1.1 reads it as false: no error
        ("n", "not `n`, which YAML reads as text: write `false`"),
    ],
)
def test_boolean_advice_needs_the_composed_document_to_mention_quotes(
    written: str, with_root: str | None
) -> None:
    """How a string was written is looked up in the composed nodes; without them the message
    says only what is true either way."""
    text = (
        "sources:\n  - {id: a, type: http, url: u, layout: {type: native}, "
        f"is_public: {written}}}\n"
    )
    root = yamlread.compose(text)
    assert root is not None
    document = yamlread.read_values(root, len(text))
    if with_root is None:
        ProjectFile.model_validate(document.values)
        return
    with pytest.raises(ValidationError) as info:
        ProjectFile.model_validate(document.values)
    prefix = "f.yaml:2:68: source `a`: `is_public` must be `true` or `false`, "
    assert [str(d) for d in validation_diagnostics(info.value, document, "f.yaml", root)] == [
        prefix + with_root
    ]
    shown = written.strip("'")
    assert [str(d) for d in validation_diagnostics(info.value, document, "f.yaml")] == [
        prefix + f"not the string `{shown}`: write `false`"
    ]
