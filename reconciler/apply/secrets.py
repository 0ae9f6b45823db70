"""Where the value of a secret comes from, and which values apply will need.

A project file names a secret by reference, ``{env: NAME}``. Apply resolves ``NAME``:

1. from the environment;
2. else from ``SYMSYNC_SECRETS``: one JSON object of names to string values, so that CI can hold
   every variable in a single repository secret.

Unset and empty count as missing, in both places: an empty variable in the environment does not
hide a value ``SYMSYNC_SECRETS`` holds.

With ``SYMSYNC_SECRETS_ONLY=true`` (the GitHub Action sets it for apply), the environment is not
read at all: only ``SYMSYNC_SECRETS`` gives values, so a file cannot name a variable that the
runner happens to hold.

Every value read here is registered with :mod:`reconciler.core.redact` at once, so that it is masked
in everything symsync shows. Every value of ``SYMSYNC_SECRETS`` is a secret, even one that no
reference uses. A malformed ``SYMSYNC_SECRETS`` is an error that names the variable and what is
wrong, and never shows its content (a JSON parser's own message can quote the text; ours does
not).

:func:`resolve_plan` reads every variable of every project of a plan before apply writes
anything, and names all the missing ones at once.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from reconciler.core.errors import SecretMissingError, SymsyncError
from reconciler.core.redact import find_known, known_secrets, register_secret

if TYPE_CHECKING:  # the plan model is not needed to read the environment at start-up
    from reconciler.plan.model import Plan

SECRETS_VARIABLE: Final = "SYMSYNC_SECRETS"
# Set to `true`: `{env: NAME}` resolves from SYMSYNC_SECRETS only, never from the environment.
SECRETS_ONLY_VARIABLE: Final = "SYMSYNC_SECRETS_ONLY"
TOKEN_VARIABLE: Final = "SENTRY_AUTH_TOKEN"
TOKENS_VARIABLE: Final = "SENTRY_AUTH_TOKENS"
GITHUB_TOKEN_VARIABLE: Final = "GITHUB_TOKEN"
# The rule a project file's `{env: NAME}` follows (reconciler.config.project_file.ENV_NAME_PATTERN).
VARIABLE_NAME: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# A JSON string, in a document that may not be valid JSON.
_JSON_STRING: Final = re.compile(r'"((?:[^"\\]|\\.)*)"', re.DOTALL)
_NAME_FOLLOWS: Final = re.compile(r"\s*:")

_BUNDLE_HELP: Final = (
    f"{SECRETS_VARIABLE} must be a JSON object of variable names to string values, like "
    '{"ACME_S3_SECRET": "..."}'
)


# Secret fields Sentry's rewritten endpoint refuses blank; a blank `password` is allowed.
NOT_BLANK_SECRETS: Final = frozenset({"secret_key", "private_key"})


class SecretsBundleError(SymsyncError):
    """``SYMSYNC_SECRETS`` is set but is not a JSON object of names to strings."""


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if value is None:
        return "null"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def _register_strings_of_broken(raw: str) -> None:
    """Mask what looks like a value in a document that could not be read, in case it shows
    elsewhere: every JSON string that is not a name."""
    for match in _JSON_STRING.finditer(raw):
        if _NAME_FOLLOWS.match(raw, match.end()):
            continue  # a name, not a value
        try:
            value = json.loads(f'"{match.group(1)}"')
        except ValueError:
            value = match.group(1)
        register_secret(str(value), f"a value of {SECRETS_VARIABLE}")


def parse_bundle(raw: str) -> dict[str, str]:
    """Name -> value from the text of ``SYMSYNC_SECRETS``; every value registered as a secret.

    Raises :class:`SecretsBundleError` naming what is wrong, never quoting the text.
    """
    if raw.strip() == "":
        return {}
    register_secret(raw, SECRETS_VARIABLE)
    data, names_seen = _read_bundle(raw)
    if not isinstance(data, dict):
        if isinstance(data, str):
            register_secret(data, SECRETS_VARIABLE)
        raise SecretsBundleError(f"{SECRETS_VARIABLE} is {_kind(data)}; {_BUNDLE_HELP}")
    values, problems = _bundle_entries(data)
    twice = sorted(
        {n for n in names_seen if names_seen.count(n) > 1 and VARIABLE_NAME.fullmatch(n)}
    )
    if twice:
        problems.append(f"{', '.join(f'`{n}`' for n in twice)} given more than once")
    if problems:
        raise SecretsBundleError(f"{SECRETS_VARIABLE}: {'; '.join(problems)}; {_BUNDLE_HELP}")
    return values


def _read_bundle(raw: str) -> tuple[Any, list[str]]:
    """The JSON of ``SYMSYNC_SECRETS``, and every name of every object in it in order (a name
    given twice is there twice). Raises :class:`SecretsBundleError` when it is not JSON."""
    names_seen: list[str] = []

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        names_seen.extend(name for name, _ in items)
        return dict(items)

    try:
        return json.loads(raw, object_pairs_hook=pairs), names_seen
    except json.JSONDecodeError as exc:
        _register_strings_of_broken(raw)
        # exc.msg is the parser's fixed wording ("Expecting ',' delimiter"), without the text.
        raise SecretsBundleError(
            f"{SECRETS_VARIABLE} is not valid JSON ({exc.msg} at line {exc.lineno}, column "
            f"{exc.colno}); {_BUNDLE_HELP}"
        ) from None
    except RecursionError:
        raise SecretsBundleError(
            f"{SECRETS_VARIABLE} is nested too deeply to read; {_BUNDLE_HELP}"
        ) from None


def _bundle_entries(data: dict[str, Any]) -> tuple[dict[str, str], list[str]]:
    """The entries of ``SYMSYNC_SECRETS`` that are a variable's name and a string, and what is
    wrong with the others; every string value registered as a secret."""
    problems: list[str] = []
    values: dict[str, str] = {}
    for position, (name, value) in enumerate(data.items(), start=1):
        if isinstance(value, str):
            # A message that found the value names the entry; by position when its name is
            # none (it may be a value put in the name's place).
            entry = f"`{name}`" if VARIABLE_NAME.fullmatch(name) else f"number {position}"
            register_secret(value, f"{SECRETS_VARIABLE} entry {entry}")
        if not VARIABLE_NAME.fullmatch(name):
            # The name is not shown: a name that is not a name may be a value put in its place.
            problems.append(
                f"name number {position} is not a variable name (letters, digits and `_`, "
                "not starting with a digit)"
            )
        elif not isinstance(value, str):
            problems.append(f"the value of `{name}` is {_kind(value)}, not a string")
        else:
            values[name] = value
    return values, problems


def register_environment(environ: Mapping[str, str] | None = None) -> SecretsBundleError | None:
    """Register the secrets the environment is known to hold (the Sentry and GitHub tokens,
    every value of ``SYMSYNC_SECRETS``), so that no command can show them. A malformed
    ``SYMSYNC_SECRETS`` is returned, not raised: only apply needs it, and apply refuses it."""
    env = os.environ if environ is None else environ
    for variable in (TOKEN_VARIABLE, GITHUB_TOKEN_VARIABLE):
        token = env.get(variable, "").strip()
        if token:
            register_secret(token, variable)
    tokens = env.get(TOKENS_VARIABLE, "")
    if tokens.strip():
        from reconciler.sentry.tokens import parse_tokens

        # Each organization's token: registered as it is read; a malformed value is refused by
        # the commands that use it, before any request.
        with contextlib.suppress(SymsyncError):
            parse_tokens(tokens)
    return bundle_problem(env)


def bundle_problem(environ: Mapping[str, str] | None = None) -> SecretsBundleError | None:
    """What is wrong with ``SYMSYNC_SECRETS``, or None (also when it is not set)."""
    env = os.environ if environ is None else environ
    try:
        parse_bundle(env.get(SECRETS_VARIABLE, ""))
    except SecretsBundleError as exc:
        return exc
    return None


class SecretResolver:
    """Resolves ``{env: NAME}``: the environment first, then ``SYMSYNC_SECRETS``.

    ``SYMSYNC_SECRETS`` is read when the resolver is made, so a malformed one fails there,
    before anything is written.
    """

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        self._environ = os.environ if environ is None else environ
        self._bundle = parse_bundle(self._environ.get(SECRETS_VARIABLE, ""))
        self.bundle_only = secrets_only(self._environ)

    def lookup(self, name: str) -> str | None:
        """The value of ``name``, or None when it is unset or empty in both places (in
        ``SYMSYNC_SECRETS`` alone when ``SYMSYNC_SECRETS_ONLY`` is true)."""
        value = "" if self.bundle_only else self._environ.get(name, "")
        if value:
            register_secret(value, name)
            return value
        return self._bundle.get(name) or None


def secrets_only(environ: Mapping[str, str] | None = None) -> bool:
    """Whether ``SYMSYNC_SECRETS_ONLY`` says to read secrets from ``SYMSYNC_SECRETS`` alone."""
    env = os.environ if environ is None else environ
    return env.get(SECRETS_ONLY_VARIABLE, "").strip().lower() in ("1", "true", "yes")


def mask_commands(environ: Mapping[str, str] | None = None) -> list[str]:
    """``::add-mask::VALUE`` for every value of ``SYMSYNC_SECRETS`` (and each line of a value of
    several lines, which the runner masks line by line), for a GitHub Actions log. The runner
    masks the secret as a whole only, not each value in it. A malformed ``SYMSYNC_SECRETS``
    gives the strings it seems to hold."""
    env = os.environ if environ is None else environ
    raw = env.get(SECRETS_VARIABLE, "")
    if not raw.strip():
        return []
    try:
        values = list(parse_bundle(raw).values())
    except SecretsBundleError:
        values = [
            m.group(1)
            for m in _JSON_STRING.finditer(raw)
            if not _NAME_FOLLOWS.match(raw, m.end())  # a name, not a value
        ]
    masks: list[str] = []
    for value in values:
        parts = [value] if "\n" not in value and "\r" not in value else value.splitlines()
        masks.extend(part for part in parts if part.strip())
    return [f"::add-mask::{part}" for part in dict.fromkeys(masks)]


@dataclass(frozen=True, order=True)
class NeededVariable:
    """One secret a write sends in clear: which variable, for which project, source and field."""

    variable: str
    project: str
    source_id: str
    field: str

    def describe(self) -> str:
        return f"{self.project} source `{self.source_id}` {self.field}"


def needed_variables(plan: Plan) -> list[NeededVariable]:
    """Every variable apply will read for ``plan``, with where it is used, sorted."""
    needed = {
        NeededVariable(variable, project.key, change.source_id, field)
        for project in plan.projects
        if project.error is None
        for change in project.changes
        for field, variable in change.secret_variables().items()
    }
    return sorted(needed)


def resolve_plan(plan: Plan, resolver: SecretResolver) -> dict[str, str]:
    """Variable -> value for every secret ``plan`` sends, in all its projects.

    When any is missing, raises :class:`SecretMissingError` naming every missing variable and
    where each is used, so that apply writes nothing anywhere. A blank value (only spaces) for a
    field Sentry refuses blank counts as missing there: its write could only fail.
    """
    values: dict[str, str] = {}
    missing: dict[str, list[str]] = {}
    for need in needed_variables(plan):
        value = values[need.variable] if need.variable in values else resolver.lookup(need.variable)
        if value is None:
            missing.setdefault(need.variable, []).append(need.describe())
        elif need.field in NOT_BLANK_SECRETS and not value.strip():
            # Found, but the write would fail at Sentry, perhaps after other projects' writes.
            missing.setdefault(need.variable, []).append(
                f"{need.describe()} (blank: Sentry refuses a blank {need.field})"
            )
        else:
            values[need.variable] = value
    if missing:
        lines = [f"  {variable}: {'; '.join(uses)}" for variable, uses in sorted(missing.items())]
        where = (
            f"in {SECRETS_VARIABLE} ({SECRETS_ONLY_VARIABLE} is set: the environment is not read)"
            if resolver.bundle_only
            else f"in the environment and in {SECRETS_VARIABLE}"
        )
        raise SecretMissingError(
            f"{len(missing)} secret variable(s) unset or empty, {where}; nothing was written "
            "to any project:\n"
            + "\n".join(lines)
            + f"\nSet them (or add them to {SECRETS_VARIABLE}) and run apply again"
        )
    return values


def _strings(data: Any, where: str) -> Iterator[tuple[str, str]]:
    """(where, text) for every string in a JSON document, keys included; ``where`` in words."""
    if isinstance(data, dict):
        for key, value in data.items():
            yield where, str(key)
            yield from _strings(value, f"{where}.{key}" if where else str(key))
    elif isinstance(data, list):
        for index, item in enumerate(data):
            label: object = index
            if isinstance(item, dict) and "source_id" in item:
                label = item["source_id"]
            elif isinstance(item, dict) and {"organization", "project"} <= set(item):
                label = f"{item['organization']}/{item['project']}"
            yield from _strings(item, f"{where}[{label}]")
    elif isinstance(data, str):
        yield where, data


def remember_values(plan: Plan, environ: Mapping[str, str] | None = None) -> None:
    """Register the values the environment holds for the variables ``plan`` needs, before the
    plan is shown: where one is set, it must be masked even if apply will never read it."""
    env = os.environ if environ is None else environ
    for need in needed_variables(plan):
        value = env.get(need.variable, "")
        if value:
            register_secret(value, need.variable)


def check_plan_shows_no_secret(plan: Plan) -> None:
    """Refuse a plan whose data holds a known secret value, before it is printed or saved.

    Masking it would change the plan's data (a source's URL, an access key someone also put in
    SYMSYNC_SECRETS) and apply would then write the mask to Sentry; showing it would leak it.
    """
    if not known_secrets():
        return
    # One scan of the whole plan first (serialised in Rust, searched in C); the walk that says
    # where is for a hit only.
    if not find_known(plan.model_dump_json()):
        return
    document = plan.to_json()
    found = [
        (where, origin) for where, text in _strings(document, "") for origin in find_known(text)
    ]
    if not found:  # a value spanning the document's punctuation
        found = [("", origin) for origin in find_known(json.dumps(document, ensure_ascii=False))]
    if found:
        places = "; ".join(f"{origin} in {where or 'the plan'}" for where, origin in found[:5])
        more = f" (and {len(found) - 5} more)" if len(found) > 5 else ""
        raise SymsyncError(
            f"the plan would show the value of a secret: {places}{more}; nothing was printed, "
            "saved or written. A secret's value must not appear in a project file, in Sentry's "
            f"sources or in the Sentry URL, and {SECRETS_VARIABLE} should hold only secrets"
        )
