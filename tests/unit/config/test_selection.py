"""Selecting projects by ORG/PROJECT globs (reconciler.config.selection), on its own."""

from __future__ import annotations

import pytest

from reconciler.config.selection import ProjectPattern, selects, split_pattern


@pytest.mark.parametrize(
    ("pattern", "key", "expected"),
    [
        ("acme/ios", "acme/ios", True),
        ("acme/*", "acme/ios", True),
        ("*/ios", "beta/ios", True),
        ("*/*", "beta/web", True),
        ("acme*", "acme/ios", False),  # `*` never crosses the `/`
        ("acme/i?s", "acme/ios", True),
        ("acme/[a-h]*", "acme/ios", False),
        ("Acme/ios", "acme/ios", False),  # case matters, as in the file names
    ],
)
def test_a_pattern_matches_organization_and_project_separately(pattern, key, expected):
    assert selects([pattern], key) is expected


@pytest.mark.parametrize("pattern", ["acme", "acme/", "/ios", "acme/ios/x", ""])
def test_a_pattern_that_is_not_two_segments_is_no_pattern(pattern):
    assert ProjectPattern.parse(pattern) is None
    assert selects([pattern], "acme/ios") is False


def test_a_pattern_may_match_in_an_organization_before_its_projects_are_known():
    pattern = ProjectPattern.parse("ac*/ios")
    assert pattern is not None
    assert pattern.may_match_in("acme") and not pattern.may_match_in("beta")


def test_split_pattern_counts_segments():
    assert split_pattern("a/b/c", 3) == ["a", "b", "c"]
    assert split_pattern("a/b", 3) is None
    assert split_pattern("a//c", 3) is None
