"""SENTRY_AUTH_TOKEN and SENTRY_AUTH_TOKENS: which token serves which organization, and a
malformed SENTRY_AUTH_TOKENS refused without a word of its content."""

from __future__ import annotations

import json

import pytest

from reconciler.core.errors import SymsyncError
from reconciler.core.redact import redact_known
from reconciler.sentry.tokens import Tokens, parse_tokens, read_tokens

SENTINEL = "TOKSENTINEL7f3a9"


def test_each_organization_gets_its_own_token_and_the_default_serves_the_others():
    tokens = read_tokens(
        {
            "SENTRY_AUTH_TOKEN": f"default-{SENTINEL}",
            "SENTRY_AUTH_TOKENS": json.dumps({"acme": f"acme-{SENTINEL}", "beta-eu": "b" * 64}),
        }
    )
    assert tokens.for_org("acme") == f"acme-{SENTINEL}"
    assert tokens.for_org("beta-eu") == "b" * 64
    assert tokens.for_org("globex") == f"default-{SENTINEL}"
    assert tokens.has_own("acme") and not tokens.has_own("globex")
    assert tokens.variable_for("acme") == "SENTRY_AUTH_TOKENS"
    assert tokens.variable_for("globex") == "SENTRY_AUTH_TOKEN"
    assert SENTINEL not in repr(tokens)


def test_an_organization_without_any_token_has_none():
    tokens = read_tokens({"SENTRY_AUTH_TOKENS": json.dumps({"acme": f"acme-{SENTINEL}"})})
    assert tokens.default is None
    assert tokens.for_org("beta") is None


def test_every_value_is_masked_as_soon_as_it_is_read():
    read_tokens(
        {
            "SENTRY_AUTH_TOKEN": f"default-{SENTINEL}",
            "SENTRY_AUTH_TOKENS": json.dumps({"acme": f"acme-{SENTINEL}"}),
        }
    )
    shown = redact_known(f"a default-{SENTINEL} and an acme-{SENTINEL}")
    assert SENTINEL not in shown


def test_no_token_at_all_names_both_variables():
    with pytest.raises(SymsyncError) as raised:
        read_tokens({"SENTRY_AUTH_TOKENS": "  "})
    assert "SENTRY_AUTH_TOKEN is not set" in str(raised.value)
    assert "SENTRY_AUTH_TOKENS" in str(raised.value)


def test_blank_or_empty_object_means_no_token_of_its_own():
    assert parse_tokens("") == {}
    assert parse_tokens("{}") == {}
    assert Tokens("x" * 10).by_org == {}


MALFORMED = [
    pytest.param(f"{{acme: {SENTINEL}}}", "not valid JSON", id="not-json"),
    pytest.param(json.dumps([f"acme-{SENTINEL}"]), "not a JSON object", id="a-list"),
    pytest.param(json.dumps(f"acme-{SENTINEL}"), "not a JSON object", id="a-string"),
    pytest.param("[]", "not a JSON object", id="an-empty-list"),
    pytest.param(json.dumps({f"Acme-{SENTINEL}": "x" * 20}), "entry 1", id="not-a-slug"),
    pytest.param(json.dumps({SENTINEL * 2: "acme"}), "entry 1", id="swapped"),
    pytest.param(json.dumps({"acme": 42}), "entry 1", id="not-a-string"),
    pytest.param(json.dumps({"acme": ""}), "entry 1", id="empty-token"),
    pytest.param(json.dumps({"acme": f"two {SENTINEL} words"}), "entry 1", id="a-space"),
    pytest.param(json.dumps({"acme": f"{SENTINEL}\u00e9"}), "entry 1", id="non-ascii"),
    pytest.param(f'{{"acme": "{SENTINEL}-1", "acme": "{SENTINEL}-2"}}', "entry 2", id="repeated"),
    pytest.param(
        json.dumps({"acme": f"ok-{SENTINEL}", "beta": {"token": SENTINEL}}),
        "entry 2",
        id="nested",
    ),
]


@pytest.mark.parametrize(("value", "where"), MALFORMED)
def test_a_malformed_value_is_refused_naming_the_variable_never_its_content(value, where):
    with pytest.raises(SymsyncError) as raised:
        read_tokens({"SENTRY_AUTH_TOKEN": "d" * 12, "SENTRY_AUTH_TOKENS": value})
    message = str(raised.value)
    assert message.startswith("SENTRY_AUTH_TOKENS is malformed: ")
    assert where in message
    assert SENTINEL not in message
    assert "Acme" not in message
    # Not even the raw text, masked or not.
    assert value not in message
