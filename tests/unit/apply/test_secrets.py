"""Resolving `{env: NAME}`: the environment, then SYMSYNC_SECRETS; and what a malformed one says."""

from __future__ import annotations

import json
import re

import pytest

from reconciler.apply.secrets import (
    SECRETS_VARIABLE,
    VARIABLE_NAME,
    SecretResolver,
    SecretsBundleError,
    needed_variables,
    parse_bundle,
    register_environment,
    resolve_plan,
)
from reconciler.config.project_file import ENV_NAME_PATTERN
from reconciler.core.errors import SecretMissingError
from reconciler.core.redact import MASK, find_known, redact_text
from reconciler.plan.model import Plan
from tests.support.plan_helpers import FakeSentry, http, project, s3

SENTINEL = "SENTINEL-BUNDLE-6c1f0e"


def test_the_variable_name_rule_is_the_project_files_rule() -> None:
    assert VARIABLE_NAME.pattern == ENV_NAME_PATTERN.strip("^$")


def test_environment_first_then_the_bundle_and_empty_counts_as_missing() -> None:
    bundle = {"IN_BOTH": "from-bundle", "ONLY_BUNDLE": "bundle-only", "EMPTY_BOTH": ""}
    env = {
        "IN_BOTH": "from-environment",
        "EMPTY_ENV": "",
        "EMPTY_BOTH": "",
        SECRETS_VARIABLE: json.dumps({**bundle, "EMPTY_ENV": "bundle-fills-it"}),
    }
    resolver = SecretResolver(env)
    assert resolver.lookup("IN_BOTH") == "from-environment"
    assert resolver.lookup("ONLY_BUNDLE") == "bundle-only"
    assert resolver.lookup("EMPTY_ENV") == "bundle-fills-it"
    assert resolver.lookup("EMPTY_BOTH") is None
    assert resolver.lookup("NOWHERE") is None
    assert SecretResolver({}).lookup("NOWHERE") is None
    assert SecretResolver({SECRETS_VARIABLE: "  "}).lookup("X") is None


@pytest.mark.parametrize(
    ("raw", "says"),
    [
        (f'{{"A": "{SENTINEL}"', "is not valid JSON (Expecting ',' delimiter at line 1"),
        (f'{{"A": {SENTINEL}}}', "is not valid JSON (Expecting value at line 1, column 7)"),
        (f"{{'A': '{SENTINEL}'}}", "is not valid JSON (Expecting property name enclosed"),
        (f'{{"A": "{SENTINEL}\n"}}', "is not valid JSON (Invalid control character"),
        (f'{{"A": "{SENTINEL}\\q"}}', "is not valid JSON (Invalid \\escape"),
        (f'{{"A": "x"}} "{SENTINEL}"', "is not valid JSON (Extra data at line 1"),
        (f'["{SENTINEL}"]', "is an array"),
        (json.dumps(json.dumps({"A": SENTINEL})), "is a string"),
        ("12345678", "is a number"),
        (json.dumps({"A": [SENTINEL]}), "the value of `A` is an array, not a string"),
        (json.dumps({"A": {"v": SENTINEL}}), "the value of `A` is an object, not a string"),
        (json.dumps({"A": 123456789}), "the value of `A` is a number, not a string"),
        (json.dumps({"A": None, "B": SENTINEL}), "the value of `A` is null, not a string"),
        (json.dumps({"A": True}), "the value of `A` is a boolean, not a string"),
        (json.dumps({SENTINEL: "x"}), "name number 1 is not a variable name"),
        (json.dumps({"OK": "x", f"{SENTINEL} ": "y"}), "name number 2 is not a variable name"),
        ('{"A": "x", "A": "' + SENTINEL + '"}', "`A` given more than once"),
        ("[" * 100_000, "nested too deeply"),
    ],
)
def test_a_malformed_bundle_names_the_variable_and_never_its_content(raw: str, says: str) -> None:
    with pytest.raises(SecretsBundleError) as caught:
        parse_bundle(raw)
    message = str(caught.value)
    assert message.startswith(SECRETS_VARIABLE), message
    assert says in message, message
    assert "JSON object of variable names to string values" in message
    assert SENTINEL not in message
    assert SENTINEL not in repr(caught.value)
    # no parser exception (whose text may quote the input) rides along in a traceback
    error = caught.value
    assert error.__cause__ is None and (error.__context__ is None or error.__suppress_context__)


def test_a_malformed_bundle_stops_the_resolver_and_is_only_a_warning_at_start_up() -> None:
    env = {SECRETS_VARIABLE: "{not json"}
    with pytest.raises(SecretsBundleError):
        SecretResolver(env)
    problem = register_environment(env)
    assert problem is not None and "is not valid JSON" in str(problem)
    assert register_environment({SECRETS_VARIABLE: '{"A": "b"}'}) is None


def test_every_bundle_value_is_a_secret_even_one_no_reference_uses() -> None:
    other = "SENTINEL-UNUSED-2b9d"
    parse_bundle(json.dumps({"USED": SENTINEL, "UNUSED": other}))
    text = f"GET /x?{SENTINEL} -> {other} ({json.dumps(other)})"
    assert redact_text(text) == f"GET /x?{MASK} -> {MASK} ({json.dumps(MASK)})"


def test_values_of_a_broken_bundle_are_still_secrets() -> None:
    with pytest.raises(SecretsBundleError):
        parse_bundle(f'{{"NAME_IS_NOT_SECRET": "{SENTINEL}", }}')
    assert redact_text(f"echo {SENTINEL}") == f"echo {MASK}"
    assert redact_text("NAME_IS_NOT_SECRET") == "NAME_IS_NOT_SECRET"


def test_a_message_that_finds_a_bundle_value_names_its_entry_never_a_bad_name() -> None:
    """A name that is no variable name may be a value put in its place: the entry is then
    named by its position."""
    with pytest.raises(SecretsBundleError):
        parse_bundle(json.dumps({"OK": "first-value-1a", f"{SENTINEL} ": "second-value-2b"}))
    assert find_known("x first-value-1a y") == [f"{SECRETS_VARIABLE} entry `OK`"]
    assert find_known("x second-value-2b y") == [f"{SECRETS_VARIABLE} entry number 2"]


def test_a_variable_from_the_environment_is_a_secret_once_read() -> None:
    value = "SENTINEL-ENV-4471aa"
    assert redact_text(value) == value
    SecretResolver({"PW": value}).lookup("PW")
    assert redact_text(f"https://h/{value}") == f"https://h/{MASK}"


def _plan(fake: FakeSentry, configs: list) -> Plan:  # type: ignore[type-arg]
    from reconciler.plan.differ import diff_project

    return Plan(
        projects=tuple(
            diff_project(c, fake.list_sources(c.organization, c.project)) for c in configs
        )
    )


def test_needed_variables_come_from_every_project_with_where_they_are_used() -> None:
    fake = FakeSentry({"a/one": [], "a/two": [http("kept", password="stored")]})
    plan = _plan(
        fake,
        [
            project("a", "one", [http("x", password={"env": "PW"}), s3("s"), s3("t")]),
            project("a", "two", [http("kept", name="new", password={"env": "KEPT"})]),
        ],
    )
    found = [(n.variable, n.project, n.source_id, n.field) for n in needed_variables(plan)]
    assert found == [
        ("PW", "a/one", "x", "password"),
        ("S3_SECRET", "a/one", "s", "secret_key"),
        ("S3_SECRET", "a/one", "t", "secret_key"),
    ]
    assert plan.projects[0].needs_variables == ("PW", "S3_SECRET")
    assert plan.projects[1].needs_variables == ()
    with pytest.raises(SecretMissingError) as caught:
        resolve_plan(plan, SecretResolver({"PW": "pw-value"}))
    assert re.search(
        r"1 secret variable\(s\).*\n  S3_SECRET: a/one source `s` secret_key; "
        r"a/one source `t` secret_key\n",
        str(caught.value),
    )
    values = resolve_plan(plan, SecretResolver({"PW": "pw-value", "S3_SECRET": "s3-value"}))
    assert values == {"PW": "pw-value", "S3_SECRET": "s3-value"}


def test_a_blank_value_for_a_field_sentry_refuses_blank_counts_as_missing() -> None:
    """Sentry's rewritten endpoint refuses a blank secret_key or private_key: such a value would
    fail its write, perhaps after other projects were written. A blank password is allowed."""
    fake = FakeSentry({"a/one": [], "a/two": []})
    plan = _plan(
        fake,
        [
            project("a", "one", [http("x", password={"env": "PW"}), s3("s")]),
            project("a", "two", [s3("t", secret_key={"env": "PW"})]),
        ],
    )
    with pytest.raises(SecretMissingError) as caught:
        resolve_plan(plan, SecretResolver({"PW": "  ", "S3_SECRET": "\t"}))
    message = str(caught.value)
    assert "2 secret variable(s)" in message
    assert (
        "  PW: a/two source `t` secret_key (blank: Sentry refuses a blank secret_key)\n" in message
    )
    assert "a/one source `x` password" not in message
    assert "  S3_SECRET: a/one source `s` secret_key (blank" in message
    values = resolve_plan(plan, SecretResolver({"PW": "pw-value", "S3_SECRET": "s3-value"}))
    assert values == {"PW": "pw-value", "S3_SECRET": "s3-value"}
    http_only = _plan(fake, [project("a", "one", [http("x", password={"env": "PW"})])])
    assert resolve_plan(http_only, SecretResolver({"PW": " "})) == {"PW": " "}
