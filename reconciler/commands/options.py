"""Options and helpers that several commands share, so they read the same everywhere."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import click

from reconciler.plan.render import FORMATS


def log_requests() -> None:
    """``--verbose``: every request to Sentry on stderr (the client never logs a secret)."""
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(name)s: %(message)s"))
    from reconciler.sentry.transport import LOGGER_NAME

    logger = logging.getLogger(LOGGER_NAME)
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
# The client's defaults (reconciler.sentry.transport), here so that --help needs no HTTP library.
DEFAULT_TIMEOUT = 30.0
DEFAULT_RETRY_BUDGET = 20.0
_CLIENT_SETTINGS = "symsync.client_settings"


def _remember(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
    if param.name is not None:
        ctx.meta.setdefault(_CLIENT_SETTINGS, {})[param.name] = value
    return value


_CONNECTION_OPTIONS = (
    click.option("--url", help="Sentry URL (default: $SENTRY_URL, else https://sentry.io)."),
    click.option(
        "--timeout",
        type=click.FloatRange(min=0.1),
        default=DEFAULT_TIMEOUT,
        show_default=True,
        metavar="SECONDS",
        expose_value=False,
        callback=_remember,
        help="Longest wait for one whole answer from Sentry: connecting, headers and body.",
    ),
    click.option(
        "--retry-budget",
        type=click.FloatRange(min=0),
        default=DEFAULT_RETRY_BUDGET,
        show_default=True,
        metavar="SECONDS",
        expose_value=False,
        callback=_remember,
        help="How long one request keeps retrying 5xx answers, lost connections and timeouts "
        "(429s while Sentry answers other requests do not count); no attempt starts after it.",
    ),
)


def url_option(command: Any) -> Any:
    """``--url``, ``--timeout`` and ``--retry-budget``: where Sentry is, and how long to wait
    for it. Every command that talks to Sentry has them."""
    for option in reversed(_CONNECTION_OPTIONS):
        command = option(command)
    return command


def client_options() -> dict[str, float]:
    """``timeout`` and ``retry_budget`` for ``SentryClient``, as given on the command line."""
    ctx = click.get_current_context(silent=True)
    settings = ctx.meta.get(_CLIENT_SETTINGS, {}) if ctx is not None else {}
    return {
        "timeout": float(settings.get("timeout", DEFAULT_TIMEOUT)),
        "retry_budget": float(settings.get("retry_budget", DEFAULT_RETRY_BUDGET)),
    }


def format_option(help: str) -> Callable[[Any], Any]:
    """``--format text|markdown|json``: how stdout shows the plan."""
    return click.option(
        "--format", "fmt", type=click.Choice(FORMATS), default="text", show_default=True, help=help
    )


def max_deletes_option(help: str) -> Callable[[Any], Any]:
    """``--max-deletes N``: the most sources one run may delete in total (issue: delete limits)."""
    from reconciler.plan.delete_limits import DEFAULT_MAX_DELETES

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
