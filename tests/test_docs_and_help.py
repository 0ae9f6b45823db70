"""What a new user reads: `--help` and the README's commands.

The help must name the contract's options (section 2) and exit codes; every `symsync` command
line that the README shows must be one the CLI accepts. The GitHub workflows and action.yml,
which replaced the example workflow, are checked in tests/test_workflows.py.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import click
import pytest

from reconciler import __version__
from reconciler.cli import cli
from reconciler.emulator.testing import running_emulator
from tests.e2e_helpers import EMULATOR_TOKEN, clean_env, state_doc, symsync, write_tree

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"

# Contract section 2: the options each command must offer.
CONTRACT_OPTIONS = {
    "validate": ["--config-dir"],
    "plan": ["--config-dir", "--project", "--format", "--out", "--detailed-exitcode", "--url"],
    "apply": ["--config-dir", "--project", "--yes", "--format", "--url"],
    "import": ["--org", "--project", "--config-dir", "--url"],
    "schema": [],
    "emulator": [
        "--host", "--port", "--state", "--token", "--latency-ms", "--rate-limit",
        "--concurrent-limit", "--fault-rate", "--fault-seed", "--api-generation",
    ],
}  # fmt: skip


def _command(name: str) -> click.Command:
    ctx = click.Context(cli)
    command = cli.get_command(ctx, name)
    assert command is not None, name
    return command


def test_top_level_help_names_the_token_url_and_every_exit_code() -> None:
    run = symsync("--help", env=clean_env())
    assert run.returncode == 0, run.stderr
    for name in CONTRACT_OPTIONS:
        listed = re.search(rf"^  {name}\s+(.+)$", run.stdout, re.M)
        assert listed, name
        assert not listed.group(1).endswith("..."), f"{name}'s summary is cut: {listed.group(1)}"
    assert "SENTRY_AUTH_TOKEN" in run.stdout and "SENTRY_URL" in run.stdout
    for code in "0123":
        assert re.search(rf"^\s+{code}\s+\S", run.stdout, re.M), f"exit code {code}"
    version = symsync("--version", env=clean_env())
    assert version.returncode == 0 and __version__ in version.stdout


@pytest.mark.parametrize("name", sorted(CONTRACT_OPTIONS))
def test_each_command_help_lists_the_contract_options_each_explained(name: str) -> None:
    run = symsync(name, "--help", env=clean_env())
    assert run.returncode == 0, run.stderr
    for option in CONTRACT_OPTIONS[name]:
        assert option in run.stdout, f"{name} --help lacks {option}"
    for param in _command(name).params:
        if isinstance(param, click.Option):
            assert param.help, f"`symsync {name} {param.opts[0]}` has no help text"


def test_every_url_option_names_the_same_default() -> None:
    for name in ("plan", "apply", "import"):
        url = next(p for p in _command(name).params if p.name == "url")
        assert isinstance(url, click.Option)
        assert "$SENTRY_URL" in (url.help or "") and "https://sentry.io" in (url.help or ""), name


# -- every command line the docs show is one the CLI accepts -----------------------------------


def _command_lines(text: str) -> list[str]:
    """`symsync ...` commands in shell text (at a line's start, after `run:` or `&&`), up to a
    redirection, pipe, `&&` or comment."""
    found = []
    pattern = r"(?:^[ \t]*(?:- run: )?|&& )(symsync(?: [^\n#|&;>`]*)?)"
    for match in re.finditer(pattern, text, re.M):
        line = match.group(1).strip()
        if "[" in line or "..." in line:  # a synopsis, not a command
            continue
        found.append(line)
    return found


def _doc_command_lines() -> list[str]:
    lines = []
    readme = README.read_text(encoding="utf-8")
    for block in re.findall(r"^```(?:sh|yaml)\n(.*?)^```", readme, re.M | re.S):
        lines += _command_lines(block)
    for span in re.findall(r"(?<!`)`(symsync[^`]*)`", readme):
        lines += _command_lines(span)
    return sorted(set(lines))


def test_the_docs_show_commands_of_every_kind() -> None:
    names = {shlex.split(line)[1] for line in _doc_command_lines() if " " in line}
    assert {"validate", "plan", "apply", "import", "emulator", "schema"} <= names


@pytest.mark.parametrize("line", _doc_command_lines())
def test_a_command_line_from_the_docs_parses(line: str) -> None:
    args = shlex.split(line)[1:]
    if not args:
        return
    command = _command(args[0])
    try:
        with command.make_context("symsync " + args[0], args[1:]) as ctx:
            assert ctx.command is command
    except click.MissingParameter:
        pass  # a fragment in prose (`symsync import -v`); unknown options and bad values fail


# -- a saved plan ----------------------------------------------------------------------------


@pytest.fixture
def emu():
    remote = {"acme/ios": [{"id": "a", "type": "http", "name": "a", "url": "https://a.example/",
                            "layout": {"type": "native"}}]}  # fmt: skip
    with running_emulator(state=state_doc(remote)) as handle:
        yield handle


@pytest.mark.e2e
def test_a_saved_plan_applies_to_the_same_sentry_spelled_another_way(emu, tmp_path: Path) -> None:
    source = {"id": "a", "type": "http", "name": "new name", "url": "https://a.example/",
              "layout": {"type": "native"}}  # fmt: skip
    configs = write_tree(tmp_path, {"acme/ios": {"sources": [source]}})
    planfile = tmp_path / "plan.json"
    env = clean_env(SENTRY_AUTH_TOKEN=EMULATOR_TOKEN)
    shouted = emu.url.replace("http://", "HTTP://") + "/"  # scheme in capitals, a trailing /
    run = symsync("plan", "--config-dir", str(configs), "--out", str(planfile),
                  "--url", shouted, env=env)  # fmt: skip
    assert run.returncode == 0, run.stderr
    run = symsync("apply", str(planfile), "--yes", "--url", emu.url, env=env)
    assert run.returncode == 0, run.stderr
    assert (
        emu.state()["organizations"]["acme"]["projects"]["ios"]["symbol_sources"][0]["name"]
        == "new name"
    )
