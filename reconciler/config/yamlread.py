"""Read one YAML document fast, into plain values with the position of every value and key.

1. PyYAML's C parser composes the text into nodes, which carry start marks; syntax errors, tabs
   and undefined aliases come back from it with a mark (``compose``, ``YamlError``);
2. one walk over the nodes builds plain Python values and records the position of every value
   and key (``read_values``), refusing duplicate keys, nulls, unknown tags, non-string keys and
   alias bombs: aliases are shared nodes in the composed graph, so the walk counts every node it
   visits against a budget instead of expanding without bound.

Positions are packed in one int each (0-based line << 32 | 0-based column): cheap to make and
keep, and not tracked by the garbage collector the way the parser's Mark objects are.

The walk knows just enough of a project file's shape to keep secrets out of its messages (a key
written under a secret field is never shown). What the values mean, and how problems with them
are worded, is ``reconciler.config.wording``'s job; ``reconciler.config.loader`` puts the
steps together.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal, NamedTuple

import yaml
from yaml.constructor import SafeConstructor
from yaml.error import Mark
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from reconciler.config.diagnostic import Origin
from reconciler.sentry import spec

Loc = tuple[str | int, ...]

# Deepest nesting a project file needs is 5 (document, sources, source, filters, list).
MAX_DEPTH = 32
# How many values aliases may add beyond what the text itself holds.
ALIAS_ALLOWANCE = 100_000

_STR = "tag:yaml.org,2002:str"
_MAP = "tag:yaml.org,2002:map"
_SEQ = "tag:yaml.org,2002:seq"
_NULL = "tag:yaml.org,2002:null"
_MERGE = "tag:yaml.org,2002:merge"
_SAFE = SafeConstructor()
_SCALAR_CONSTRUCTORS: dict[str, Any] = {
    "tag:yaml.org,2002:bool": _SAFE.construct_yaml_bool,
    "tag:yaml.org,2002:int": _SAFE.construct_yaml_int,
    "tag:yaml.org,2002:float": _SAFE.construct_yaml_float,
    "tag:yaml.org,2002:timestamp": _SAFE.construct_yaml_timestamp,
    "tag:yaml.org,2002:binary": _SAFE.construct_yaml_binary,
}


class _Loader(yaml.CSafeLoader):
    """PyYAML's C parser and safe resolver, minus per-node Python work that never matters here.

    The C parser calls back into Python to resolve the tag of every scalar and to track paths for
    path resolvers. Without path resolvers (the safe loader has none), a plain scalar's tag
    depends on its text alone, so it is cached, which makes composing noticeably faster.
    """

    def descend_resolver(self, current_node: Any, current_index: Any) -> None:
        return None

    def ascend_resolver(self) -> None:
        return None

    def resolve(self, kind: type[Node], value: Any, implicit: Any) -> Any:
        if kind is ScalarNode and implicit[0]:
            return _plain_scalar_tag(value)
        return super().resolve(kind, value, implicit)  # type: ignore[no-untyped-call]


@functools.lru_cache(maxsize=4096)
def _plain_scalar_tag(value: str) -> str:
    tag = yaml.CSafeLoader.resolve(_RESOLVER, ScalarNode, value, (True, False))  # type: ignore[no-untyped-call]
    return str(tag)


_RESOLVER = yaml.CSafeLoader("")


class Problem(NamedTuple):
    """Something wrong in the text, at a 1-based line and column."""

    line: int
    column: int
    message: str


class YamlError(Exception):
    """The text is not one YAML document that can be composed."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(problem.message)
        self.problem = problem


# YAML 1.1 (PyYAML) takes NEL, LINE SEPARATOR and PARAGRAPH SEPARATOR for line breaks; YAML
# 1.2 (editors, JSON) takes them for ordinary characters. They are swapped for private-use
# stand-ins while composing, so that a value holding one reads as written, and line numbers
# agree with the editor's; the stand-ins are swapped back in every string.
_YAML11_BREAKS: Final = "\x85\u2028\u2029"
_STANDINS: Final = "\ue085\ue028\ue029"
_TO_STANDINS: Final = str.maketrans(_YAML11_BREAKS, _STANDINS)
_FROM_STANDINS: Final = str.maketrans(_STANDINS, _YAML11_BREAKS)
# A character outside the BMP written as a JSON-style surrogate pair (`"\ud83d\ude00"`, as
# json.dumps writes it): valid YAML 1.2, refused by PyYAML, which wants `\U0001f600`.
_SURROGATE_PAIR: Final = re.compile(r"\\u(d[89ab][0-9a-f]{2})\\u(d[c-f][0-9a-f]{2})", re.IGNORECASE)
_MAX_PAIRS: Final = 10_000


@dataclass(slots=True)
class Composed:
    """A composed document (None when empty) and what reading it must undo."""

    root: Node | None
    # Strings hold stand-ins for NEL, LS and PS (see ``_YAML11_BREAKS``).
    standins: bool = False
    # (0-based line, 0-based column after which positions on that line move right, by how
    # much): each surrogate pair rewritten as one shorter escape.
    shifts: tuple[tuple[int, int, int], ...] = ()


def compose(text: str) -> Node | None:
    """The document's root node (None for an empty text). Raises ``YamlError``."""
    return compose_document(text).root


def compose_document(text: str) -> Composed:
    """Compose ``text`` as YAML 1.2 reads it where PyYAML (YAML 1.1) differs: NEL, LS and PS
    are characters, not line breaks, and a surrogate pair escape is one character. Raises
    ``YamlError`` with the position in ``text``."""
    standins = any(c in text for c in _YAML11_BREAKS) and not any(c in text for c in _STANDINS)
    if standins:
        text = text.translate(_TO_STANDINS)
    original = text
    shifts: list[tuple[int, int, int]] = []
    while True:
        try:
            return Composed(yaml.compose(text, Loader=_Loader), standins, tuple(shifts))
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark
            pair = (
                _pair_at(text, mark.index)
                if mark is not None and len(shifts) < _MAX_PAIRS
                else None
            )
            if pair is None:
                raise YamlError(_shifted(_yaml_error(exc, text), shifts)) from None
            start, end, escape = pair
            assert mark is not None
            shifts.append((mark.line, mark.column - 2 + len(escape), end - start - len(escape)))
            text = text[:start] + escape + text[end:]
        except yaml.YAMLError as exc:  # reader errors: control characters and the like
            raise YamlError(_reader_error(exc, original)) from None


def _pair_at(text: str, index: int) -> tuple[int, int, str] | None:
    """The surrogate pair escape whose hex digits start at ``index`` (where PyYAML stops), as
    (start, end, the `\\U` escape that replaces it)."""
    match = _SURROGATE_PAIR.match(text, index - 2)
    if match is None:
        return None
    high, low = int(match.group(1), 16), int(match.group(2), 16)
    code = 0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00)
    return match.start(), match.end(), f"\\U{code:08x}"


def _shifted(problem: Problem, shifts: Iterable[tuple[int, int, int]]) -> Problem:
    return Problem(
        problem.line,
        _column_in_text(problem.line - 1, problem.column - 1, shifts) + 1,
        problem.message,
    )


def _column_in_text(line: int, column: int, shifts: Iterable[tuple[int, int, int]]) -> int:
    """A 0-based column of the rewritten text, in the text as written."""
    for shift_line, after, by in reversed(tuple(shifts)):
        if shift_line == line and column >= after:
            column += by
    return column


def is_empty(root: Node | None) -> bool:
    """True for a document with no content: nothing, only comments, or a bare ``---``."""
    return root is None or (root.__class__ is ScalarNode and root.tag == _NULL and not root.value)


def is_mapping(root: Node) -> bool:
    return root.__class__ is MappingNode and root.tag == _MAP


def line_of(position: int) -> int:
    return (position >> 32) + 1


def column_of(position: int) -> int:
    return (position & 0xFFFFFFFF) + 1


class Origins(Mapping[Loc, Origin]):
    """Origins of the values of one file, made on demand from packed positions."""

    __slots__ = ("_marks", "_path")

    def __init__(self, path: str, marks: Mapping[Loc, int]) -> None:
        self._path = path
        self._marks = marks

    def __getitem__(self, loc: Loc) -> Origin:
        position = self._marks[loc]
        return Origin(self._path, line_of(position), column_of(position))

    def __iter__(self) -> Iterator[Loc]:
        return iter(self._marks)

    def __len__(self) -> int:
        return len(self._marks)


def _yaml_error(exc: yaml.MarkedYAMLError, text: str) -> Problem:
    mark = exc.problem_mark or exc.context_mark
    line, column = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
    problem = exc.problem or "invalid YAML"
    at = _char_at(text, mark)
    if at == "\t" or "tab" in problem:
        message = "tab character: YAML does not allow tabs for indentation; indent with spaces"
    elif problem.startswith("but found another document"):
        message = (
            "a project file holds a single YAML document: remove the `---` separator and "
            "everything after it, or move it to its own file"
        )
    elif problem.startswith("found undefined alias"):
        message = (
            "alias refers to an anchor that is not defined above it: define `&name` before "
            "using `*name`"
        )
    elif exc.context and "duplicate anchor" in exc.context and exc.context_mark is not None:
        first = exc.context_mark
        message = (
            f"anchor defined twice (first at line {first.line + 1}, column {first.column + 1}): "
            "give each `&name` a different name"
        )
    elif problem.startswith("exceeded maximum nesting depth"):
        message = "YAML nested too deeply: a project file needs only a few levels"
    else:
        message = f"invalid YAML: {problem}"
        cm = exc.context_mark
        if exc.context and cm is not None:
            if (cm.line, cm.column) != (line - 1, column - 1):
                message += f" ({exc.context} at line {cm.line + 1}, column {cm.column + 1})"
            else:
                message += f" ({exc.context})"
    return Problem(line, column, message)


def _reader_error(exc: yaml.YAMLError, text: str) -> Problem:
    position = getattr(exc, "position", None)
    if isinstance(position, int) and 0 <= position <= len(text):
        line = text.count("\n", 0, position) + 1
        column = position - (text.rfind("\n", 0, position) + 1) + 1
    else:
        line, column = 1, 1
    character = getattr(exc, "character", None)
    code = f" (U+{character:04X})" if isinstance(character, int) else ""
    return Problem(
        line,
        column,
        f"character{code} not allowed in YAML: remove it (control characters are not allowed)",
    )


def _char_at(text: str, mark: Mark | None) -> str:
    if mark is None:
        return ""
    index = mark.index
    return text[index] if 0 <= index < len(text) else ""


def node_kind(node: Node) -> str:
    """How a message names the kind of a node: "a list", "a string", "null"..."""
    if node.__class__ is SequenceNode:
        return "a list"
    if node.__class__ is MappingNode:
        return "a mapping"
    return {
        _STR: "a string",
        _NULL: "null",
        "tag:yaml.org,2002:bool": "a boolean",
        "tag:yaml.org,2002:int": "a number",
        "tag:yaml.org,2002:float": "a number",
    }.get(node.tag, "a value")


# How a string scalar was written, as ``string_style`` tells it.
StringStyle = Literal["quoted", "plain", "block", "tagged"]


def string_style(root: Node | None, loc: Loc) -> StringStyle | None:
    """How the string at ``loc`` was written: in quotes (``"no"``), plain (``n``: a word YAML
    1.1 reads as text), as a ``|`` or ``>`` block, or plain with a tag that makes it a string
    (``!!str false``); None when ``loc`` is not a string scalar of ``root``.

    Looked up in the composed nodes only when a message about the value is worded, so reading
    a file records nothing more per value than its position.
    """
    node = None if root is None else _node_at(root, loc)
    if node is None or node.__class__ is not ScalarNode or node.tag != _STR:
        return None
    style = node.style
    if style in ('"', "'"):
        return "quoted"
    if style in ("|", ">"):
        return "block"
    return "tagged" if _plain_scalar_tag(node.value) != _STR else "plain"


def _node_at(root: Node, loc: Loc) -> Node | None:
    """The node whose value ``read_values`` put at ``loc``: in a mapping, the first value
    written under the key, else the one merged in (``<<``) first, as ``_Builder`` takes it."""
    node = root
    for part in loc:
        if isinstance(part, int):
            if node.__class__ is not SequenceNode or not 0 <= part < len(node.value):
                return None
            node = node.value[part]
        else:
            found = _mapping_value(node, part, 0)
            if found is None:
                return None
            node = found
    return node


def _mapping_value(node: Node, key: str, depth: int) -> Node | None:
    if node.__class__ is not MappingNode or depth > MAX_DEPTH:
        return None
    merges: list[Node] | None = None
    value_node: Node
    for key_node, value_node in node.value:
        if key_node.__class__ is ScalarNode and key_node.tag == _STR:
            # Keys hold stand-ins only where composing put them (``_YAML11_BREAKS``).
            written = key_node.value
            if written == key or written.translate(_FROM_STANDINS) == key:
                return value_node
        elif key_node.tag == _MERGE and merges is None:
            merges = value_node.value if value_node.__class__ is SequenceNode else [value_node]
    for target in merges or ():
        found = _mapping_value(target, key, depth + 1)
        if found is not None:
            return found
    return None


# --------------------------------------------------------------------------------------------
# Nodes -> values, with positions


@dataclass(slots=True)
class Document:
    """What ``read_values`` made of a composed document."""

    # Plain values (dicts, lists, str, bool, int, ...); INVALID where a value was refused.
    values: Any
    # Position of every value, and of every mapping key, by location: ("sources", 0, "url").
    positions: Mapping[Loc, int]
    key_positions: Mapping[Loc, int]
    # Problems found on the way, in document order.
    problems: list[Problem]
    # Values refused on the way (a null, an unknown tag): location, position, and what is wrong
    # ("must not be null: ..."); worded with the value's name once the whole document is known.
    rejected: list[tuple[Loc, int, str]]
    # Locations of refused values: errors about them, or about what holds them, are dropped.
    invalid: set[Loc]
    # True when the walk stopped (alias bomb, nesting): ``values`` is then None.
    refused: bool = False


def read_values(
    root: Node, text_length: int, composed: Composed | None = None, *, lazy_positions: bool = False
) -> Document:
    """Walk a composed document once: plain values, positions of values and keys, problems.
    ``composed`` (from ``compose_document``) says what composing changed, to undo it.

    With ``lazy_positions``, a document with nothing unusual in it (see ``plain_values``) and
    nothing that composing changed is walked without recording positions; they are recorded by
    a second walk only if something asks for one (a diagnostic to word, origins to keep). Most
    files of a tree are valid and never need them: this is a good part of what ``validate`` and
    ``plan`` spend per file.
    """
    if lazy_positions and (composed is None or not (composed.standins or composed.shifts)):
        values = plain_values(root, text_length)
        if values is not _NOT_PLAIN:
            marks = _LazyMarks(root, text_length)
            positions, keys = (
                _LazyPositions(marks, "positions"),
                _LazyPositions(marks, "key_positions"),
            )
            return Document(values, positions, keys, [], [], set())
    builder = _Builder(text_length)
    if composed is not None:
        builder.standins = composed.standins
    try:
        values = builder.build(root, (), 0)
    except _Refused:
        values = None
    if composed is not None and composed.shifts:
        _unshift(builder, composed.shifts)
    if values is None:
        return Document(
            None, builder.positions, builder.key_positions, builder.problems, [], set(), True
        )
    return Document(
        values,
        builder.positions,
        builder.key_positions,
        builder.problems,
        builder.rejected,
        builder.invalid,
    )


def _unshift(builder: _Builder, shifts: tuple[tuple[int, int, int], ...]) -> None:
    """Positions in the text as written, where surrogate pair escapes were rewritten."""
    lines = {line for line, _, _ in shifts}

    def move(position: int) -> int:
        line = position >> 32
        if line not in lines:
            return position
        return line << 32 | _column_in_text(line, position & 0xFFFFFFFF, shifts)

    for marks in (builder.positions, builder.key_positions):
        for loc, position in marks.items():
            marks[loc] = move(position)
    builder.rejected = [(loc, move(position), text) for loc, position, text in builder.rejected]
    builder.problems = [
        Problem(p.line, _column_in_text(p.line - 1, p.column - 1, shifts) + 1, p.message)
        for p in builder.problems
    ]


class _Refused(Exception):
    """The file cannot be walked any further (alias bomb, nesting)."""


class _NotPlain(Exception):
    """The document holds something ``plain_values`` leaves to the full walk."""


_NOT_PLAIN: Any = object()


def plain_values(root: Node, text_length: int) -> Any:
    """The document's values, walked without recording positions, or ``_NOT_PLAIN`` when the
    full walk must word something: a null, a tag, a key that is not a string, a duplicate key,
    a merge, a scalar its tag refuses, or nesting or aliases beyond the limits. For a document
    without any of these, the values are the ones ``_Builder`` makes."""
    try:
        return _plain_walk(2 * text_length + ALIAS_ALLOWANCE)(root, 0)
    except _NotPlain:
        return _NOT_PLAIN


def _plain_walk(budget: int) -> Callable[[Node, int], Any]:
    """The walk of ``plain_values``, which may visit ``budget`` nodes (aliases count each time
    they are visited): it raises ``_NotPlain`` at the first thing to word."""

    def walk(node: Node, depth: int) -> Any:
        nonlocal budget
        budget -= 1
        if budget < 0:
            raise _NotPlain
        cls = node.__class__
        if cls is ScalarNode:
            return node.value if node.tag == _STR else _plain_scalar(node)
        if depth >= MAX_DEPTH:
            raise _NotPlain
        if cls is MappingNode:
            if node.tag != _MAP:
                raise _NotPlain
            result: dict[str, Any] = {}
            for key_node, value_node in node.value:
                if key_node.__class__ is not ScalarNode or key_node.tag != _STR:
                    raise _NotPlain
                key = key_node.value
                if key in result:
                    raise _NotPlain
                result[key] = walk(value_node, depth + 1)
            return result
        if node.tag != _SEQ:
            raise _NotPlain
        return [walk(item, depth + 1) for item in node.value]

    return walk


def _plain_scalar(node: Node) -> Any:
    """A scalar that is not a string (a boolean, a number...), as its tag makes it."""
    constructor = _SCALAR_CONSTRUCTORS.get(node.tag)
    if constructor is None:
        raise _NotPlain
    try:
        return constructor(node)
    except Exception:
        raise _NotPlain from None


class _LazyMarks:
    """Positions of a plain document's values and keys, recorded on first use.

    It holds the composed document until then, and nothing that refers back to it: no cycle, so
    it is freed with the ``Document`` even while the garbage collector is off (as it is while a
    tree loads).
    """

    __slots__ = ("_builder", "_root")

    def __init__(self, root: Node, text_length: int) -> None:
        self._root: Node | None = root
        self._builder = _Builder(text_length)

    def table(self, name: str) -> dict[Loc, int]:
        if self._root is not None:
            root, self._root = self._root, None
            self._builder.build(root, (), 0)
        marks: dict[Loc, int] = getattr(self._builder, name)
        return marks


class _LazyPositions(Mapping[Loc, int]):
    __slots__ = ("_marks", "_name")

    def __init__(self, marks: _LazyMarks, name: str) -> None:
        self._marks = marks
        self._name = name

    def __getitem__(self, loc: Loc) -> int:
        return self._marks.table(self._name)[loc]

    def __iter__(self) -> Iterator[Loc]:
        return iter(self._marks.table(self._name))

    def __len__(self) -> int:
        return len(self._marks.table(self._name))


class _Invalid:
    """Stands for a value that was already reported; pydantic errors about it are dropped."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "<invalid>"


INVALID: Any = _Invalid()


class _Builder:
    """One walk over a composed document: plain values, marks of values and keys, errors."""

    __slots__ = (
        "budget",
        "invalid",
        "key_positions",
        "positions",
        "problems",
        "rejected",
        "standins",
    )

    def __init__(self, text_length: int) -> None:
        self.standins = False
        # Without aliases a document has fewer nodes than characters; aliases may add a bounded
        # number of values on top.
        self.budget = 2 * text_length + ALIAS_ALLOWANCE
        self.positions: dict[Loc, int] = {}
        self.key_positions: dict[Loc, int] = {}
        self.problems: list[Problem] = []
        self.invalid: set[Loc] = set()
        self.rejected: list[tuple[Loc, int, str]] = []

    def error(self, mark: Mark, message: str) -> None:
        self.problems.append(Problem(mark.line + 1, mark.column + 1, message))

    def reject(self, loc: Loc, mark: Mark, problem: str) -> Any:
        """Report a bad value once the whole document is known, and stand in for it."""
        self.rejected.append((loc, mark.line << 32 | mark.column, problem))
        self.invalid.add(loc)
        return INVALID

    def build(self, node: Node, loc: Loc, depth: int) -> Any:
        self.budget -= 1
        if self.budget < 0:
            self.error(
                node.start_mark,
                "YAML aliases expand this file beyond a sane size (an alias bomb?): refusing "
                "to expand it; use fewer or smaller aliases",
            )
            raise _Refused
        mark = node.start_mark
        self.positions[loc] = mark.line << 32 | mark.column
        cls = node.__class__
        if cls is ScalarNode:
            if node.tag == _STR:
                return node.value.translate(_FROM_STANDINS) if self.standins else node.value
            return self.scalar(node, loc)
        if depth >= MAX_DEPTH:
            self.error(
                node.start_mark,
                "nested too deeply (an alias that refers to itself?): a project file needs "
                "only a few levels",
            )
            raise _Refused
        if cls is MappingNode:
            if node.tag != _MAP:
                return self.reject(loc, node.start_mark, _tag_message(node.tag))
            return self.mapping(node, loc, depth + 1)
        if node.tag != _SEQ:
            return self.reject(loc, node.start_mark, _tag_message(node.tag))
        build = self.build
        return [build(item, (*loc, index), depth + 1) for index, item in enumerate(node.value)]

    def scalar(self, node: Node, loc: Loc) -> Any:
        tag = node.tag
        if tag == _NULL:
            if under_secret(loc) and loc[3] not in ("env", "version"):
                # `password: {s3cr3t}` is a key with a null value: report the key (without
                # showing it), not the null.
                return INVALID
            if loc == ("sources",):
                return self.reject(
                    loc, node.start_mark, "must not be null: write `sources: []` to manage none"
                )
            return self.reject(
                loc,
                node.start_mark,
                "must not be null: give it a value, or remove "
                + ("the key" if loc and isinstance(loc[-1], str) else "the item"),
            )
        constructor = _SCALAR_CONSTRUCTORS.get(tag)
        if constructor is None:
            return self.reject(loc, node.start_mark, _tag_message(tag))
        try:
            return constructor(node)
        except Exception:  # PyYAML's constructors raise many kinds for text their tag rejects
            kind = tag.rsplit(":", 1)[-1]
            return self.reject(
                loc,
                node.start_mark,
                f"is not a valid {kind}: fix the value, or remove the `!!{kind}` tag",
            )

    def mapping(self, node: Node, loc: Loc, depth: int) -> Any:
        result: dict[str, Any] = {}
        merges: list[Node] | None = None
        positions = self.key_positions
        build = self.build
        for key_node, value_node in node.value:
            if key_node.__class__ is ScalarNode and key_node.tag == _STR:
                key = key_node.value
                if self.standins:
                    key = key.translate(_FROM_STANDINS)
                key_loc = (*loc, key)
                if key in result:
                    first = line_of(positions[key_loc])
                    shown = f" `{key}`" if _may_show_key(key_loc) else ""
                    self.error(
                        key_node.start_mark,
                        f"duplicate key{shown} (first at line {first}): YAML keys must be "
                        "unique; remove one of them",
                    )
                    continue
                mark = key_node.start_mark
                positions[key_loc] = mark.line << 32 | mark.column
                result[key] = build(value_node, key_loc, depth)
            elif key_node.tag == _MERGE:
                if merges is not None:
                    self.error(
                        key_node.start_mark,
                        "duplicate key `<<`: YAML keys must be unique; merge several mappings "
                        "with one key, like `<<: [*first, *second]`",
                    )
                    continue
                merges = [value_node]
            else:
                self.error(
                    key_node.start_mark,
                    f"keys must be strings, not {node_kind(key_node)}: put the key in quotes",
                )
        if merges:
            self.merge(result, merges, loc, depth)
        return result

    def merge(self, result: dict[str, Any], merges: list[Node], loc: Loc, depth: int) -> None:
        """YAML merge keys (``<<: *defaults``): keys written here win over merged ones."""
        targets: list[Node] = []
        for value in merges:
            if value.__class__ is SequenceNode:
                targets.extend(value.value)
            else:
                targets.append(value)
        n = len(loc)
        for target in targets:
            if target.__class__ is not MappingNode:
                self.error(target.start_mark, "`<<` merges only mappings: give it `*anchor`")
                continue
            # A merge is a level of its own: a mapping that merges itself (`&a {<<: *a}`) or a
            # long chain of merges must end in an error, not in Python's recursion limit.
            self.budget -= 1
            if depth >= MAX_DEPTH or self.budget < 0:
                self.error(
                    target.start_mark,
                    "`<<` merges nested too deeply (a mapping that merges itself?): a project "
                    "file needs only a few levels",
                )
                raise _Refused
            saved = self.positions, self.key_positions
            self.positions, self.key_positions = {}, {}
            try:
                merged = self.mapping(target, loc, depth + 1)
                positions, key_positions = self.positions, self.key_positions
            finally:
                self.positions, self.key_positions = saved
            added = {key for key in merged if key not in result}
            for key in added:
                result[key] = merged[key]
            for marks, into in ((positions, self.positions), (key_positions, self.key_positions)):
                for sub_loc, mark in marks.items():
                    if len(sub_loc) > n and sub_loc[n] in added:
                        into[sub_loc] = mark


def under_secret(loc: Loc) -> bool:
    """True for a location inside a secret field's value: ("sources", 0, "password", ...)."""
    return len(loc) >= 4 and loc[0] == "sources" and loc[2] in spec.ALL_SECRET_FIELDS


def _may_show_key(loc: Loc) -> bool:
    """False for keys written under a secret field, where a pasted secret may end up."""
    return not (
        len(loc) >= 4 and loc[0] == "sources" and loc[2] in spec.ALL_SECRET_FIELDS
    ) and not (len(loc) >= 2 and loc[-2] in spec.ALL_SECRET_FIELDS)


def _tag_message(tag: str) -> str:
    shown = "!!" + tag[18:] if tag.startswith("tag:yaml.org,2002:") else tag
    return f"has an unsupported YAML tag `{shown}`: remove the tag"
