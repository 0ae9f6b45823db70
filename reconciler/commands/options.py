"""Options and helpers that several commands share, so they read the same everywhere."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import click

from reconciler.plan.render import FORMATS
from reconciler.sentry.settings import (
    DEFAULT_PARALLELISM,
    DEFAULT_RETRY_BUDGET,
    DEFAULT_TIMEOUT,
    ConnectionSettings,
)

if TYPE_CHECKING:
    from reconciler.plan.model import Plan


def echo_err(message: str) -> None:
    click.echo(message, err=True)


def stdout_color() -> bool:
    """Colour only on a terminal, and never with NO_COLOR set (https://no-color.org)."""
    return sys.stdout.isatty() and os.environ.get("NO_COLOR", "") == ""


def report_errors(plan: Plan) -> None:
    """The projects that could not be planned on stderr too, where CI logs show them whatever
    the format and wherever stdout goes. Warnings are not repeated here: they are part of the
    plan (every format shows them), and each warning is printed once."""
    for project in plan.projects:
        if project.error is not None:
            echo_err(f"error: {project.key}: {project.error}")
    for key, error in plan.unfiled_errors.items():
        echo_err(f"error: {key}: {error}")


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
_CLIENT_SETTINGS = "symsync.client_settings"


def _remember(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
    if param.name is not None:
        ctx.meta.setdefault(_CLIENT_SETTINGS, {})[param.name] = value
    return value


_CONNECTION_OPTIONS = (
    click.option(
        "--url",
        expose_value=False,
        callback=_remember,
        help="Sentry URL (default: $SENTRY_URL, else https://sentry.io).",
    ),
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
    click.option(
        "--no-region-discovery",
        is_flag=True,
        default=False,
        expose_value=False,
        callback=_remember,
        help="Send every request to --url instead of each organization's region (by default "
        "symsync reads each organization's details once and follows its links.regionUrl).",
    ),
)


def url_option(command: Any) -> Any:
    """``--url``, ``--timeout``, ``--retry-budget`` and ``--no-region-discovery``: where Sentry
    is, and how long to wait for it. Every command that talks to Sentry has them."""
    for option in reversed(_CONNECTION_OPTIONS):
        command = option(command)
    return command


def parallelism_option(help: str) -> Callable[[Any], Any]:
    """``--parallelism N``: how many projects are read or written at the same time."""
    return click.option(
        "--parallelism",
        type=click.IntRange(1, 64),
        default=DEFAULT_PARALLELISM,
        show_default=True,
        expose_value=False,
        callback=_remember,
        help=help,
    )


def connection_settings() -> ConnectionSettings:
    """The connection options as given on the command line, in one object."""
    ctx = click.get_current_context(silent=True)
    given = ctx.meta.get(_CLIENT_SETTINGS, {}) if ctx is not None else {}
    return ConnectionSettings(
        url=given.get("url"),
        timeout=float(given.get("timeout", DEFAULT_TIMEOUT)),
        retry_budget=float(given.get("retry_budget", DEFAULT_RETRY_BUDGET)),
        parallelism=int(given.get("parallelism", DEFAULT_PARALLELISM)),
        region_discovery=not given.get("no_region_discovery", False),
    )


def format_option(help: str) -> Callable[[Any], Any]:
    """``--format text|markdown|json``: how stdout shows the plan."""
    return click.option(
        "--format", "fmt", type=click.Choice(FORMATS), default="text", show_default=True, help=help
    )


def max_deletes_option(help: str) -> Callable[[Any], Any]:
    """``--max-deletes N``: the most sources one run may delete in total (the delete limits of
    ``reconciler.plan.delete_limits``)."""
    from reconciler.plan.delete_limits import DEFAULT_MAX_DELETES

    return click.option(
        "--max-deletes",
        type=click.IntRange(min=0),
        default=None,
        metavar="N",
        help=f"{help} Default: `max_deletes` in the settings file, else {DEFAULT_MAX_DELETES}.",
    )


exclude_option = click.option(
    "--exclude",
    "excludes",
    multiple=True,
    metavar="ORG/PROJECT",
    help=(
        "Leave these projects out: never read, written or reported; may repeat; shell-style "
        "globs. Adds to `exclude` in the settings file (configs/symsync.yaml)."
    ),
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
