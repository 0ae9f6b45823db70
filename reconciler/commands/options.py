"""Options and helpers that several commands share, so they read the same everywhere."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import click

from reconciler.render import FORMATS


def log_requests() -> None:
    """``--verbose``: every request to Sentry on stderr (the client never logs a secret)."""
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(name)s: %(message)s"))
    logger = logging.getLogger("reconciler.client")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)


verbose_option = click.option(
    "-v", "--verbose", is_flag=True, help="Log every request to Sentry on stderr."
)
project_option = click.option(
    "--project",
    "patterns",
    multiple=True,
    metavar="ORG/PROJECT",
    help="Only these projects; may repeat; shell-style globs like `acme/*` or `*/ios`.",
)
url_option = click.option(
    "--url", help="Sentry URL (default: $SENTRY_URL, else https://sentry.io)."
)


def format_option(help: str) -> Callable[[Any], Any]:
    """``--format text|markdown|json``: how stdout shows the plan."""
    return click.option(
        "--format", "fmt", type=click.Choice(FORMATS), default="text", show_default=True, help=help
    )


def max_deletes_option(help: str) -> Callable[[Any], Any]:
    """``--max-deletes N``: the most sources one run may delete in total (issue: delete limits)."""
    from reconciler.limits import DEFAULT_MAX_DELETES

    return click.option(
        "--max-deletes",
        type=click.IntRange(min=0),
        default=DEFAULT_MAX_DELETES,
        show_default=True,
        metavar="N",
        help=help,
    )


base_option = click.option(
    "--base",
    metavar="REV",
    help=(
        "Git revision to compare secret references with: a source whose `{env: NAME, "
        "version: N}` changed since REV gets its secret sent again (rotation)."
    ),
)
rotate_option = click.option(
    "--rotate",
    "rotate_patterns",
    multiple=True,
    metavar="ORG/PROJECT/SOURCE_ID",
    help=(
        "Send the secrets of these sources again (rotation without git); may repeat; "
        "shell-style globs per segment."
    ),
)
