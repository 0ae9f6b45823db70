"""``symsync emulator``: run the bundled local Sentry (``reconciler.emulator``)."""

from __future__ import annotations

import re
import signal
import sys
import threading
from pathlib import Path
from types import FrameType

import click

from reconciler.core.errors import EXIT_OK, SymsyncError

DEFAULT_PORT = 8000
_RATE_RE = re.compile(r"^\s*(\d+)\s*/\s*(\d+(?:\.\d+)?)\s*$")


def parse_token(value: str) -> tuple[str, frozenset[str], str]:
    """``VALUE[=SCOPE,SCOPE...][@ROLE]``: the token, its scopes (without any: the default
    scopes) and the role of its holder in every organization (default owner)."""
    from reconciler.emulator.access import DEFAULT_ROLE, ORG_TOKEN_PREFIX, ROLES
    from reconciler.emulator.server import DEFAULT_SCOPES

    rest, at, role = value.rpartition("@") if "@" in value else (value, "", DEFAULT_ROLE)
    if at and role not in ROLES:
        raise click.BadParameter(
            f"unknown role {role!r} after '@'; use one of {', '.join(ROLES)}",
            param_hint="--token",
        )
    token, scopes = _token_and_scopes(rest, DEFAULT_SCOPES, "--token")
    if token.startswith(ORG_TOKEN_PREFIX) and (at or "=" in rest):
        raise click.BadParameter(
            f"a {ORG_TOKEN_PREFIX}... token is an organization auth token: it always has the "
            "scope org:ci only and no role; give it without '=' or '@'",
            param_hint="--token",
        )
    return token, scopes, role


def parse_org_token(value: str) -> tuple[str, str, frozenset[str]]:
    """``ORG=VALUE[=SCOPE,...]``: an internal integration's token, bound to organization
    ORG; without scopes it has every scope."""
    from reconciler.emulator.access import INTEGRATION_SCOPES
    from reconciler.sentry.spec import SLUG_RE

    organization, sep, rest = value.partition("=")
    if not sep or SLUG_RE.match(organization) is None:
        raise click.BadParameter(
            "give ORG=VALUE: an organization slug, '=', then the token", param_hint="--org-token"
        )
    token, scopes = _token_and_scopes(rest, INTEGRATION_SCOPES, "--org-token")
    return token, organization, scopes


def _token_and_scopes(value: str, default: frozenset[str], hint: str) -> tuple[str, frozenset[str]]:
    token, sep, scope_text = value.partition("=")
    if not token or any(ch.isspace() for ch in token):
        raise click.BadParameter(
            "a token must be a non-empty value without spaces", param_hint=hint
        )
    if not sep:
        return token, default
    scopes = frozenset(s.strip() for s in scope_text.split(",") if s.strip())
    if not scopes:
        raise click.BadParameter(
            "give at least one scope after '=' (e.g. T=project:read), or leave out '='",
            param_hint=hint,
        )
    return token, scopes


def _accepted_tokens(
    tokens: tuple[str, ...], org_tokens: tuple[str, ...]
) -> tuple[dict[str, frozenset[str]], dict[str, str], dict[str, tuple[str, frozenset[str]]]]:
    """The users' tokens with their scopes and roles, and the integrations' tokens; without
    any, the default token."""
    from reconciler.emulator.server import DEFAULT_SCOPES, DEFAULT_TOKEN

    parsed = [parse_token(t) for t in tokens]
    integrations = {token: (org, scopes) for token, org, scopes in map(parse_org_token, org_tokens)}
    if not parsed and not integrations:
        return {DEFAULT_TOKEN: DEFAULT_SCOPES}, {}, {}
    from reconciler.core.redact import register_secret

    # A client may put its token in the URL's path, which the log shows.
    for token in [*(t for t, _, _ in parsed), *integrations]:
        register_secret(token, "an emulator token")
    return (
        {token: scopes for token, scopes, _ in parsed},
        {token: role for token, _, role in parsed},
        integrations,
    )


_REGION_ORG_RE = re.compile(r"^([a-z0-9][a-z0-9_-]*)=(.*)$")


def parse_region_url(value: str) -> tuple[str | None, str]:
    """``[ORG=]URL``: the ``links.regionUrl`` the organization details advertise, for every
    organization or for ``ORG``."""
    match = _REGION_ORG_RE.match(value)
    org, url = (match.group(1), match.group(2)) if match else (None, value)
    if not re.match(r"^https?://[^/\s?#]+(/[^\s?#]*)?$", url):
        raise click.BadParameter(
            f"{value!r} is not [ORG=]URL (like https://de.sentry.io or acme=http://127.0.0.1:9001)",
            param_hint="--region-url",
        )
    return org, url.rstrip("/")


def _parse_rate(_ctx: click.Context, _param: click.Parameter, value: str | None) -> object:
    if value is None:
        return None
    from reconciler.emulator.server import RateLimit

    match = _RATE_RE.match(value)
    if match is None or int(match.group(1)) < 1 or float(match.group(2)) <= 0:
        raise click.BadParameter(f"{value!r} is not N/W (N requests per W seconds, e.g. 40/1)")
    return RateLimit(int(match.group(1)), float(match.group(2)))


def _parse_projects(
    _ctx: click.Context, _param: click.Parameter, values: tuple[str, ...]
) -> list[tuple[str, str]]:
    from reconciler.sentry.spec import SLUG_RE

    out: list[tuple[str, str]] = []
    for value in values:
        org, sep, project = value.partition("/")
        if not sep or not SLUG_RE.fullmatch(org) or not SLUG_RE.fullmatch(project):
            raise click.BadParameter(
                f"{value!r} is not ORG/PROJECT: give two slugs (lowercase letters, digits, `-` "
                "and `_`) like acme/ios",
                param_hint="--project",
            )
        out.append((org, project))
    return out


@click.command(
    name="emulator", short_help="Run a local Sentry (symbol-sources API) for demos and tests."
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=DEFAULT_PORT,
    show_default=True,
    help="Port to listen on; 0 picks a free one.",
)
@click.option(
    "--state",
    "state_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="JSON state file: loaded at start, saved after every write.",
)
@click.option(
    "--fresh",
    is_flag=True,
    help="Start with an empty instance: the --state file and its journal are overwritten.",
)
@click.option(
    "--token",
    "tokens",
    multiple=True,
    metavar="VALUE[=SCOPE,...][@ROLE]",
    help="Accepted bearer token of a user (repeatable); without scopes it has project:admin and "
    "org:read. ROLE (member, admin, manager, owner; default owner) is the user's role in every "
    "organization: the token acts with its scopes that the role has. A sntrys_ token has "
    "org:ci only. Default: symsync-emulator.",
)
@click.option(
    "--org-token",
    "org_tokens",
    multiple=True,
    metavar="ORG=VALUE[=SCOPE,...]",
    help="Accepted token of an internal integration of organization ORG (repeatable): every "
    "scope unless given, 403 for every other organization, rate-limited per organization.",
)
@click.option(
    "--project",
    "projects",
    multiple=True,
    callback=_parse_projects,
    metavar="ORG/PROJECT",
    help="Create this project, empty, at start unless it exists (repeatable).",
)
@click.option(
    "--latency-ms",
    type=click.FloatRange(min=0),
    default=0.0,
    help="Every API request takes at least this long.",
)
@click.option(
    "--rate-limit",
    callback=_parse_rate,
    metavar="N/W",
    help="At most N API requests per W seconds per token; then 429.",
)
@click.option(
    "--concurrent-limit",
    type=click.IntRange(min=1),
    default=None,
    help="At most N API requests in flight per token; then 429.",
)
@click.option(
    "--fault-rate",
    type=click.FloatRange(0, 1),
    default=0.0,
    help="Fraction of API requests that fail (500, 502/503, dropped connection, 500 after write).",
)
@click.option("--fault-seed", type=int, default=None, help="Seed of the fault sequence.")
@click.option(
    "--region-url",
    "region_urls",
    multiple=True,
    metavar="[ORG=]URL",
    help="The links.regionUrl that organization details advertise, for every organization or "
    "for ORG (repeatable). Default: the scheme and host the request was addressed to.",
)
@click.option(
    "--api-generation",
    type=click.Choice(["a", "b"]),
    default="a",
    show_default=True,
    help="Sentry's published endpoint (a) or its rewrite (b).",
)
def command(
    host: str,
    port: int,
    state_path: Path | None,
    fresh: bool,
    tokens: tuple[str, ...],
    org_tokens: tuple[str, ...],
    projects: list[tuple[str, str]],
    latency_ms: float,
    rate_limit: object,
    concurrent_limit: int | None,
    fault_rate: float,
    fault_seed: int | None,
    region_urls: tuple[str, ...],
    api_generation: str,
) -> int:
    """Run a local server that behaves like Sentry's symbol-sources API."""
    from reconciler.emulator.server import (
        Emulator,
        RateLimit,
        Settings,
    )
    from reconciler.emulator.state import EmulatorState

    token_scopes, roles, integrations = _accepted_tokens(tokens, org_tokens)
    if fresh and state_path is None:
        raise click.UsageError("--fresh starts the --state file afresh: give --state FILE too")
    if state_path is None:
        state = EmulatorState({}, None)
    else:
        state = EmulatorState.fresh(state_path) if fresh else EmulatorState.load(state_path)
    for org, project in projects:
        state.add_project(org, project)
    settings = Settings(
        host=host,
        port=port,
        tokens=token_scopes,
        roles=roles,
        org_tokens=integrations,
        latency_ms=latency_ms,
        rate_limit=rate_limit if isinstance(rate_limit, RateLimit) else None,
        concurrent_limit=concurrent_limit,
        fault_rate=fault_rate,
        fault_seed=fault_seed,
        generation=api_generation,
        region_urls=dict(parse_region_url(value) for value in region_urls),
    )
    try:
        emulator = Emulator(settings, state, log=sys.stderr)
    except OSError as exc:
        raise SymsyncError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None

    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    server_thread = threading.Thread(target=emulator.serve_forever, name="emulator", daemon=True)
    server_thread.start()
    if fault_rate > 0:
        click.echo(f"fault seed: {emulator.fault_seed}", err=True)
    click.echo(f"listening on {emulator.url}")
    sys.stdout.flush()
    try:
        while not stop.wait(0.5):
            pass
    finally:
        emulator.shutdown()
        server_thread.join(timeout=5)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return EXIT_OK
