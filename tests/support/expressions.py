"""GitHub Actions expressions, as far as the shipped workflows and action.yml use them.

``${{ ... }}`` in strings and bare ``if:`` conditions: property paths (``steps.x.outputs.y``,
names with ``-``), string, number, boolean and null literals, ``!``, ``==``, ``!=``, ``&&``,
``||`` (which return an operand, as GitHub's do), parentheses, and the functions ``success()``,
``failure()``, ``cancelled()``, ``always()`` and ``format()``. Anything else raises, so a
workflow that uses more fails its test instead of being misread.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

TOKEN = re.compile(
    r"\s*(?:(?P<str>'(?:[^']|'')*')|(?P<num>\d+(?:\.\d+)?)|(?P<op>==|!=|&&|\|\||[!(),.])"
    r"|(?P<name>[A-Za-z_][A-Za-z0-9_-]*))"
)


def tokens(text: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    position = 0
    text = text.strip()
    while position < len(text):
        match = TOKEN.match(text, position)
        if match is None or match.end() == position:
            raise ValueError(f"cannot read expression {text!r} at {position}")
        kind = match.lastgroup
        assert kind is not None
        out.append((kind, match.group(kind)))
        position = match.end()
    return out


def truthy(value: Any) -> bool:
    return value not in (None, False, 0, "", 0.0)


def as_text(value: Any) -> str:
    if value is None:
        return ""
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _equal(a: Any, b: Any) -> bool:
    if isinstance(a, str) and isinstance(b, str):
        return a.lower() == b.lower()
    if isinstance(a, str) != isinstance(b, str) and None not in (a, b):
        try:
            return float(a) == float(b)
        except (TypeError, ValueError):
            return False
    return bool(a == b)


class Parser:
    def __init__(
        self, text: str, context: Mapping[str, Any], functions: Mapping[str, Callable[..., Any]]
    ) -> None:
        self.items = tokens(text)
        self.index = 0
        self.context = context
        self.functions = functions

    def peek(self) -> tuple[str, str] | None:
        return self.items[self.index] if self.index < len(self.items) else None

    def take(self, value: str | None = None) -> tuple[str, str]:
        item = self.peek()
        if item is None or (value is not None and item[1] != value):
            raise ValueError(f"expected {value!r}, got {item!r}")
        self.index += 1
        return item

    def parse(self) -> Any:
        value = self.or_()
        if self.peek() is not None:
            raise ValueError(f"unexpected {self.peek()!r}")
        return value

    def or_(self) -> Any:
        value = self.and_()
        while self.peek() == ("op", "||"):
            self.take()
            right = self.and_()
            value = value if truthy(value) else right
        return value

    def and_(self) -> Any:
        value = self.compare()
        while self.peek() == ("op", "&&"):
            self.take()
            right = self.compare()
            value = right if truthy(value) else value
        return value

    def compare(self) -> Any:
        value = self.unary()
        item = self.peek()
        if item in (("op", "=="), ("op", "!=")):
            self.take()
            right = self.unary()
            same = _equal(value, right)
            return same if item == ("op", "==") else not same
        return value

    def unary(self) -> Any:
        if self.peek() == ("op", "!"):
            self.take()
            return not truthy(self.unary())
        return self.primary()

    def primary(self) -> Any:
        kind, text = self.take()
        if kind == "str":
            return text[1:-1].replace("''", "'")
        if kind == "num":
            return float(text)
        if (kind, text) == ("op", "("):
            value = self.or_()
            self.take(")")
            return value
        if kind != "name":
            raise ValueError(f"unexpected {text!r}")
        if text in ("true", "false"):
            return text == "true"
        if text == "null":
            return None
        if self.peek() == ("op", "("):
            self.take()
            args: list[Any] = []
            while self.peek() != ("op", ")"):
                args.append(self.or_())
                if self.peek() == ("op", ","):
                    self.take()
            self.take(")")
            return self.functions[text](*args)
        value: Any = self.context.get(text)
        while self.peek() == ("op", "."):
            self.take()
            _, name = self.take()
            value = value.get(name) if isinstance(value, Mapping) else None
        return value


def _format(template: str, *args: Any) -> str:
    return re.sub(r"\{(\d+)\}", lambda m: as_text(args[int(m.group(1))]), template)


def evaluate(
    text: str, context: Mapping[str, Any], status: Mapping[str, bool] | None = None
) -> Any:
    """The value of one expression (without ``${{ }}``). ``status`` holds ``success``,
    ``failure`` and ``cancelled`` for the status functions."""
    state = {"success": True, "failure": False, "cancelled": False, **(status or {})}
    functions: dict[str, Callable[..., Any]] = {
        "success": lambda: state["success"],
        "failure": lambda: state["failure"],
        "cancelled": lambda: state["cancelled"],
        "always": lambda: True,
        "format": _format,
    }
    return Parser(text, context, functions).parse()


def interpolate(text: str, context: Mapping[str, Any]) -> str:
    """A string with every ``${{ expr }}`` replaced by its value as text."""
    return re.sub(r"\$\{\{(.*?)\}\}", lambda m: as_text(evaluate(m.group(1), context)), text)


def condition(text: Any, context: Mapping[str, Any], status: Mapping[str, bool]) -> bool:
    """An ``if:``: a bare expression, or one in ``${{ }}``; without a status function in it,
    ``success() && (...)`` as GitHub reads it."""
    if text is None:
        return bool(status.get("success", True))
    source = str(text).strip()
    if source.startswith("${{") and source.endswith("}}"):
        source = source[3:-2]
    value = truthy(evaluate(source, context, status))
    if not re.search(r"\b(success|failure|cancelled|always)\(", source):
        value = value and bool(status.get("success", True))
    return value
