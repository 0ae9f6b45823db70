"""The environment-variable names ``symsync import`` gives to secrets it cannot read.

Sentry never returns a secret's value, so import writes each one as a ``{env: NAME}`` reference.
The name comes from a template (``--secret-name``), by default::

    SYMSYNC_{org}_{project}_{source}_{field}

Placeholders: ``{org}`` (organization slug), ``{project}`` (project slug), ``{source}`` (the
source's id) and ``{field}`` (``password``, ``secret_key`` or ``private_key``). The name is made
in three steps, so that it is predictable and always a valid variable name:

1. each placeholder's value is upper-cased, every run of characters other than ASCII letters
   and digits becomes one ``_``, and ``_`` at its ends are dropped (``acme-symbols`` ->
   ``ACME_SYMBOLS``, ``Ünïcode id`` -> ``N_CODE_ID``);
2. the values replace the placeholders; the template's own text (letters, digits and ``_``
   only) is kept as written;
3. runs of ``_`` become one ``_``, a ``_`` at the end is dropped, and a name that would start
   with a digit gets a leading ``_``.

With the default template two different sources could still end up with one name (ids that
differ only in punctuation or case: ``a-b`` and ``a_b``); the second then gets ``_`` and the
first 8 hex digits of the SHA-256 of ``org/project/source/field``, upper-cased, so that every
secret keeps its own variable. A custom template is taken as given: sources it maps to one name
share that variable (``{org}_{field}`` for one key per organization, or ``SHARED_KEY``).
"""

from __future__ import annotations

import hashlib
import re
import string
from dataclasses import dataclass
from typing import Final

from reconciler.core.errors import SymsyncError

PLACEHOLDERS: Final[tuple[str, ...]] = ("org", "project", "source", "field")
DEFAULT_TEMPLATE: Final = "SYMSYNC_{org}_{project}_{source}_{field}"
VARIABLE_RE: Final = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_LITERAL_RE: Final = re.compile(r"^[A-Za-z0-9_]*$")


class SecretNameError(SymsyncError):
    """A ``--secret-name`` template that cannot give valid variable names."""


def normalise_part(value: str) -> str:
    """One placeholder's value: upper case, other characters as one ``_``, no ``_`` at ends."""
    return re.sub(r"[^A-Za-z0-9]+", "_", value).strip("_").upper()


@dataclass(frozen=True)
class SecretNameTemplate:
    """A parsed template; build it with :meth:`parse`, which checks it before any request."""

    text: str
    # (literal text, placeholder or None) pairs, as string.Formatter parses them.
    parts: tuple[tuple[str, str | None], ...]

    @property
    def is_default(self) -> bool:
        return self.text == DEFAULT_TEMPLATE

    @classmethod
    def parse(cls, text: str | None) -> SecretNameTemplate:
        template = DEFAULT_TEMPLATE if text is None else text
        known = ", ".join(f"{{{p}}}" for p in PLACEHOLDERS)
        if not template.strip():
            raise SecretNameError(
                f"--secret-name is empty: give a template like {DEFAULT_TEMPLATE}"
            )
        try:
            parsed = list(string.Formatter().parse(template))
        except ValueError as exc:
            raise SecretNameError(
                f"--secret-name {template!r} is not a valid template ({exc}); placeholders are "
                f"{known}, and a literal brace is not allowed"
            ) from None
        parts: list[tuple[str, str | None]] = []
        for literal, name, spec, conversion in parsed:
            if not _LITERAL_RE.match(literal):
                bad = sorted({c for c in literal if not re.match(r"[A-Za-z0-9_]", c)})
                raise SecretNameError(
                    f"--secret-name {template!r}: its text may only hold letters, digits and `_` "
                    f"(a variable name), not {' '.join(repr(c) for c in bad)}"
                )
            if name is None:
                parts.append((literal, None))
                continue
            if name not in PLACEHOLDERS:
                what = f"{{{name}}}" if name else "{}"
                raise SecretNameError(
                    f"--secret-name {template!r}: unknown placeholder {what}; the placeholders "
                    f"are {known}"
                )
            if spec or conversion:
                raise SecretNameError(
                    f"--secret-name {template!r}: write placeholders plainly, as {{{name}}} "
                    "(no `!` conversion or `:` format)"
                )
            parts.append((literal, name))
        result = cls(template, tuple(parts))
        if all(name in (None, "source") for _, name in parts) and not any(
            literal for literal, _ in parts
        ):
            # A source id may be all punctuation, which leaves nothing of the name.
            raise SecretNameError(
                f"--secret-name {template!r} could give an empty name (a source id like `--` "
                "has no letter or digit): add text or {org}, {project} or {field}"
            )
        return result

    def expand(self, org: str, project: str, source_id: str, field: str) -> str:
        values = {"org": org, "project": project, "source": source_id, "field": field}
        out = "".join(
            literal + (normalise_part(values[name]) if name is not None else "")
            for literal, name in self.parts
        )
        out = re.sub(r"_{2,}", "_", out)
        if len(out) > 1:
            out = out.rstrip("_") or "_"
        if out[:1].isdigit():
            out = f"_{out}"
        if not VARIABLE_RE.match(out):  # pragma: no cover - parse() rules this out
            raise SecretNameError(f"--secret-name {self.text!r} gives {out!r}, not a valid name")
        return out


def variable_name(org: str, project: str, source_id: str, field: str) -> str:
    """The default name: ``SYMSYNC_<ORG>_<PROJECT>_<ID>_<FIELD>``."""
    return SecretNameTemplate.parse(None).expand(org, project, source_id, field)


class SecretNamer:
    """Names for one import run. With the default template each secret gets its own name (a
    short hash tells apart ids that normalise alike); a custom template may share names."""

    def __init__(self, template: SecretNameTemplate) -> None:
        self.template = template
        self._owner: dict[str, tuple[str, str, str, str]] = {}

    def name(self, org: str, project: str, source_id: str, field: str) -> str:
        key = (org, project, source_id, field)
        name = self.template.expand(*key)
        if not self.template.is_default:
            return name
        owner = self._owner.setdefault(name, key)
        if owner != key:
            digest = hashlib.sha256("/".join(key).encode()).hexdigest()[:8].upper()
            name = f"{name}_{digest}"
            self._owner[name] = key
        return name
