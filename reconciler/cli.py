"""The command line: parse arguments, call the library, pick the exit code.

Each command lives in ``reconciler.commands.<module>`` and is imported only when it runs, so
``symsync validate`` never pays for the HTTP client or the emulator, and ``symsync --help`` lists
the commands from ``SUMMARIES`` without importing any of them.
"""

from __future__ import annotations

import atexit
import gc
import importlib
import sys
from collections.abc import Sequence

import click

from reconciler import __version__
from reconciler.core.errors import EXIT_ERROR, SymsyncError

# command name -> module under reconciler.commands that defines ``command``
COMMANDS: dict[str, str] = {
    "validate": "validate",
    "plan": "plan",
    "apply": "apply",
    "import": "import_",
    "schema": "schema",
    "emulator": "emulator",
    "github": "github",
}

# command name -> its one-line summary in `symsync --help`, so the listing imports no command.
# tests/unit/test_cli.py checks each against the command's own short help. A command missing here is
# listed all the same, by importing it.
SUMMARIES: dict[str, str] = {
    "validate": "Check every project file offline (no token, no secrets needed).",
    "plan": "Show what apply would change.",
    "apply": "Apply a fresh plan, or exactly a saved PLANFILE.",
    "import": "Write project files from what Sentry holds now.",
    "schema": "Print the JSON Schema of a project file.",
    "emulator": "Run a local Sentry (symbol-sources API) for demos and tests.",
    "github": "GitHub Actions glue: the pull-request comment and the drift issue.",
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        module_name = COMMANDS.get(cmd_name)
        if module_name is None:
            return None
        module = importlib.import_module(f"reconciler.commands.{module_name}")
        command = module.command
        assert isinstance(command, click.Command)
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The command listing, from ``SUMMARIES``: importing every command would take most of
        the time `symsync --help` needs."""
        names = self.list_commands(ctx)
        limit = formatter.width - 6 - max((len(name) for name in names), default=0)
        rows: list[tuple[str, str]] = []
        for name in names:
            summary = SUMMARIES.get(name)
            if summary is None:
                command = self.get_command(ctx, name)
                if command is None or command.hidden:
                    continue
                summary = command.get_short_help_str(limit)
            rows.append((name, summary))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


EPILOG = """\b
Environment:
  SENTRY_AUTH_TOKEN   Sentry auth token (required by plan, apply, import; never printed)
  SENTRY_AUTH_TOKENS  JSON object of organization slugs to tokens, for those organizations
  SENTRY_URL          Sentry URL (default https://sentry.io); --url overrides it

\b
Exit codes:
  0  success; plan --detailed-exitcode: no changes
  1  error: invalid config, API failure, missing secret variable, a project failed
  2  plan --detailed-exitcode only: changes are pending
  3  refused: a saved plan is stale, a delete limit was hit, or --expect differs
  130, 143  stopped by SIGINT, SIGTERM (apply first finishes the writes in flight)

Run `symsync COMMAND --help` for a command's options.
"""


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]}, epilog=EPILOG)
@click.version_option(__version__, prog_name="symsync")
def cli() -> None:
    """symsync: Sentry symbol sources as code.

    Project files live in configs/<organization>/<project>.yaml: `validate` checks them
    offline, `plan` shows what would change in Sentry, `apply` makes the changes.
    """


def main(argv: Sequence[str] | None = None) -> None:
    """Console-script entry point. Never shows a traceback to a user, nor a known secret."""
    # At exit, the interpreter's last garbage collection would walk every object still alive
    # (pydantic's validators, a plan's projects) only to free them a moment before the process
    # ends, a delay a large `plan` notices. Frozen objects are left out of it; files are still
    # flushed and closed as usual.
    atexit.register(gc.freeze)
    _redact_standard_streams()
    try:
        result = cli.main(args=argv, prog_name="symsync", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(EXIT_ERROR)
    except click.ClickException as exc:
        exc.show()
        # Exit code 2 means "changes pending" in this tool, so usage errors are plain errors.
        sys.exit(EXIT_ERROR)
    except SymsyncError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        click.echo("Interrupted.", err=True)
        sys.exit(130)
    except Exception as exc:  # a bug: say so without a traceback or the exception's text
        click.echo(
            f"internal error: {type(exc).__name__}. This is a bug in symsync; "
            "set SYMSYNC_DEBUG=1 to see where.",
            err=True,
        )
        if _debug():
            raise
        sys.exit(EXIT_ERROR)
    sys.exit(result if isinstance(result, int) else 0)


def _debug() -> bool:
    import os

    return os.environ.get("SYMSYNC_DEBUG", "") not in ("", "0")


def _redact_standard_streams() -> None:
    """Mask every secret value the process knows in all it prints, whoever prints it: the
    token and the values of SYMSYNC_SECRETS from now on, each variable read later as it is read.
    """
    from typing import TextIO, cast

    from reconciler.apply.secrets import register_environment
    from reconciler.core.redact import RedactingStream

    register_environment()
    for name in ("stdout", "stderr"):
        stream = getattr(sys, name)
        if stream is not None and not isinstance(stream, RedactingStream):
            setattr(sys, name, cast(TextIO, RedactingStream(stream)))
