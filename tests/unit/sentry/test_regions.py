"""Which region URLs an organization's details may send its requests to."""

from __future__ import annotations

import pytest

from reconciler.sentry.regions import configured_domain, normal_url, region_refusal

FOLLOWED = [
    ("https://sentry.io", "https://de.sentry.io"),
    ("https://sentry.io", "https://us.sentry.io/"),
    ("https://sentry.io", "https://US2.Sentry.io"),
    ("https://us.sentry.io", "https://de.sentry.io"),
    ("https://us.sentry.io", "https://sentry.io"),
    ("http://127.0.0.1:9000", "http://127.0.0.1:9001"),  # the configured host, any port
    ("http://localhost:9000", "http://localhost"),
    ("https://sentry.example.com", "https://eu.example.com"),
    ("https://example.com/sentry", "https://example.com/sentry-eu"),
]
REFUSED = [
    ("https://sentry.io", "http://de.sentry.io", "scheme"),
    ("https://sentry.io", "https://sentry.io.evil.example", "host"),
    ("https://sentry.io", "https://evilsentry.io", "host"),
    ("https://us.sentry.io", "https://de.sentry.com", "host"),
    ("http://127.0.0.1:9000", "http://127.0.0.2:9000", "host"),
    ("http://127.0.0.1:9000", "http://localhost:9000", "host"),
    ("http://localhost:9000", "http://localhost.example:9000", "host"),
    ("https://acme.co.uk", "https://evil.co.uk", "host"),
    ("https://sentry.io", "https://user:pw@de.sentry.io", "not an http"),
    ("https://sentry.io", "https://de.sentry.io/?x=1", "not an http"),
    ("https://sentry.io", "ftp://de.sentry.io", "not an http"),
    ("https://sentry.io", "de.sentry.io", "not an http"),
    ("https://sentry.io", "https://de.sentry.io:99999", "not an http"),
]


@pytest.mark.parametrize(("configured", "region"), FOLLOWED)
def test_the_configured_host_or_a_host_in_its_domain_is_followed(configured, region):
    assert region_refusal(configured, region) is None


@pytest.mark.parametrize(("configured", "region", "why"), REFUSED)
def test_anything_else_is_refused_with_why(configured, region, why):
    refusal = region_refusal(configured, region)
    assert refusal is not None and why in refusal


def test_the_domain_of_a_host():
    assert configured_domain("sentry.io") == "sentry.io"
    assert configured_domain("us.sentry.io") == "sentry.io"
    assert configured_domain("sentry.internal.example.com") == "internal.example.com"
    assert configured_domain("acme.co.uk") == "acme.co.uk"
    assert configured_domain("127.0.0.1") is None
    assert configured_domain("localhost") is None


def test_a_region_url_is_kept_in_one_spelling():
    assert normal_url("HTTPS://DE.Sentry.io/") == "https://de.sentry.io"
    assert normal_url("https://example.com/Sentry/") == "https://example.com/Sentry"
    assert normal_url("https://de.sentry.io#x") is None
