"""What a new user reads: `--help`, the README and the pages of `docs/`.

The help must name each command's options and the exit codes; every `symsync` command line that
the README or a docs page shows must be one the CLI accepts, and the README's quick start runs
as written. The docs must name every command, option and exit code, every page must be in the
site's nav, and the README may link only to files that exist. The GitHub workflows and
action.yml are checked in tests/test_workflows.py; `make docs` builds the site strictly (broken
links and anchors inside `docs/` fail it).
"""

from __future__ import annotations

import os
import re
import shlex
import socket
import subprocess
import sys
from pathlib import Path

import click
import pytest
import yaml

from reconciler import __version__
from reconciler.cli import COMMANDS, EPILOG, cli
from reconciler.emulator.testing import running_emulator
from tests.support.e2e_helpers import EMULATOR_TOKEN, clean_env, state_doc, symsync, write_tree


def _repository_root() -> Path:
    for folder in Path(__file__).resolve().parents:
        if (folder / "pyproject.toml").is_file():
            return folder
    raise AssertionError("no pyproject.toml above this test")


ROOT = _repository_root()
README = ROOT / "README.md"
DOCS = ROOT / "docs"
DOC_PAGES = sorted(DOCS.glob("*.md"))
# Everything a user or contributor reads, and whose command lines must parse.
READ_FILES = [README, ROOT / "CONTRIBUTING.md", ROOT / "benchmarks" / "README.md", *DOC_PAGES]

# The options each command must offer.
REQUIRED_OPTIONS = {
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


def _text(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def _docs_text() -> str:
    return "\n".join(_text(path) for path in READ_FILES)


def test_top_level_help_names_the_token_url_and_every_exit_code() -> None:
    run = symsync("--help", env=clean_env())
    assert run.returncode == 0, run.stderr
    for name in REQUIRED_OPTIONS:
        listed = re.search(rf"^  {name}\s+(.+)$", run.stdout, re.M)
        assert listed, name
        assert not listed.group(1).endswith("..."), f"{name}'s summary is cut: {listed.group(1)}"
    assert "SENTRY_AUTH_TOKEN" in run.stdout and "SENTRY_URL" in run.stdout
    for code in "0123":
        assert re.search(rf"^\s+{code}\s+\S", run.stdout, re.M), f"exit code {code}"
    version = symsync("--version", env=clean_env())
    assert version.returncode == 0 and __version__ in version.stdout


@pytest.mark.parametrize("name", sorted(REQUIRED_OPTIONS))
def test_each_command_help_lists_its_options_each_explained(name: str) -> None:
    run = symsync(name, "--help", env=clean_env())
    assert run.returncode == 0, run.stderr
    for option in REQUIRED_OPTIONS[name]:
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
    redirection (`>`, `2>`), pipe, `&` or comment."""
    found = []
    pattern = r"(?:^[ \t]*(?:- run: )?|&& )(symsync(?: (?:(?!\d+>)[^\n#|&;>`])*)?)"
    for match in re.finditer(pattern, text, re.M):
        line = match.group(1).strip()
        if "[" in line or "..." in line:  # a synopsis, not a command
            continue
        found.append(line)
    return found


def _lines_of(text: str) -> list[str]:
    lines = []
    for block in re.findall(r"^```(?:sh|yaml)\n(.*?)^```", text, re.M | re.S):
        lines += _command_lines(block)
    for span in re.findall(r"(?<!`)`(symsync[^`]*)`", text):
        lines += _command_lines(span)
    return lines


def _doc_command_lines() -> list[pytest.ParameterSet]:
    """Each command line once, named after the first file that shows it."""
    seen: dict[str, str] = {}
    for path in READ_FILES:
        for line in _lines_of(_text(path)):
            seen.setdefault(line, path.relative_to(ROOT).as_posix())
    return [pytest.param(line, id=f"{where}: {line}") for line, where in sorted(seen.items())]


def test_the_docs_show_commands_of_every_kind() -> None:
    names = {shlex.split(p.values[0])[1] for p in _doc_command_lines() if " " in p.values[0]}
    assert {"validate", "plan", "apply", "import", "emulator", "schema", "github"} <= names


@pytest.mark.parametrize("line", _doc_command_lines())
def test_a_command_line_from_the_docs_parses(line: str) -> None:
    args = shlex.split(line)[1:]
    if not args or args[0].isupper():
        return  # `symsync`, or `symsync COMMAND --help`: a name, not a command line
    if args[0].startswith("-"):
        assert args == ["--help"] or args == ["--version"], line
        return
    command = _command(args[0])
    rest = args[1:]
    if isinstance(command, click.Group) and (not rest or rest[0].isupper()):
        return  # `symsync github`, `symsync github COMMAND --help`
    if isinstance(command, click.Group) and not rest[0].startswith("-"):
        sub = command.get_command(click.Context(command), rest[0])
        assert sub is not None, f"no command `symsync {args[0]} {rest[0]}`"
        command, rest = sub, rest[1:]
    try:
        with command.make_context("symsync " + args[0], rest) as ctx:
            assert ctx.command is command
    except click.MissingParameter:
        pass  # a fragment in prose (`symsync import -v`); unknown options and bad values fail


# -- the docs name every command, option and exit code -----------------------------------------


def _all_commands() -> list[pytest.ParameterSet]:
    """(`symsync NAME` or `symsync github NAME`, the command) for every command there is."""
    found = []
    for name in COMMANDS:
        command = _command(name)
        found.append(pytest.param(f"symsync {name}", command, id=name))
        if isinstance(command, click.Group):
            ctx = click.Context(command)
            for sub in command.list_commands(ctx):
                subcommand = command.get_command(ctx, sub)
                assert subcommand is not None
                found.append(pytest.param(f"symsync {name} {sub}", subcommand, id=f"{name} {sub}"))
    return found


@pytest.mark.parametrize("spelled, command", _all_commands())
def test_the_docs_name_every_command_and_each_of_its_options(
    spelled: str, command: click.Command
) -> None:
    docs = "\n".join(_text(path) for path in DOC_PAGES)
    assert spelled in docs, f"no page of docs/ names `{spelled}`"
    for param in command.params:
        if isinstance(param, click.Option) and "--help" not in param.opts:
            longest = max(param.opts, key=len)
            assert longest in docs, f"no page of docs/ names `{spelled} {longest}`"


def test_the_docs_name_every_exit_code_the_help_lists() -> None:
    codes = re.findall(r"^  (\d+(?:, \d+)*)  ", EPILOG, re.M)
    assert codes and "0" in codes and "130, 143" in codes
    for page in ("index.md", "plan-and-apply.md"):
        text = _text(DOCS / page)
        for code in codes:
            assert re.search(rf"^\| {code} \|", text, re.M), f"docs/{page} lacks exit code {code}"


def test_the_docs_speak_of_symsync_alone() -> None:
    """No pointers to documents outside the repository, which a reader does not have."""
    outside = re.compile(r"contract section|reference section|\bissue \d|shared/|UNVERIFIED", re.I)
    for path in READ_FILES:
        found = outside.findall(_text(path))
        assert not found, f"{path.relative_to(ROOT)}: {found}"


# -- the site's nav and the README's links ------------------------------------------------------


def _nav_pages(entries: object) -> list[str]:
    if isinstance(entries, str):
        return [entries]
    if isinstance(entries, list):
        return [page for entry in entries for page in _nav_pages(entry)]
    if isinstance(entries, dict):
        return [page for value in entries.values() for page in _nav_pages(value)]
    return []


def test_every_docs_page_is_in_the_nav_and_every_nav_entry_is_a_page() -> None:
    config = yaml.safe_load(_text(ROOT / "mkdocs.yml"))
    assert config["strict"] is True
    nav = _nav_pages(config["nav"])
    assert len(nav) == len(set(nav)), "a page is in the nav twice"
    pages = {page.relative_to(DOCS).as_posix() for page in DOCS.rglob("*.md")}
    assert set(nav) == pages


def _slug(heading: str) -> str:
    """The anchor MkDocs gives a heading (Python-Markdown's default slugify)."""
    text = re.sub(r"[^\w\s-]", "", heading.replace("`", "")).strip().lower()
    return re.sub(r"[-\s]+", "-", text)


def _anchors(path: Path) -> set[str]:
    text = re.sub(r"^```.*?^```", "", _text(path), flags=re.M | re.S)
    return {_slug(h) for h in re.findall(r"^#{1,6} (.+?)\s*$", text, re.M)}


def test_the_readme_links_only_to_files_and_headings_that_exist() -> None:
    links = re.findall(r"\]\(([^)\s]+)\)", _text(README))
    assert any(link.startswith("docs/") for link in links)
    for link in links:
        if re.match(r"[a-z]+:", link):
            continue  # a web address
        path, _, anchor = link.partition("#")
        target = (ROOT / path) if path else README
        assert target.exists(), f"README.md links to {link}, which does not exist"
        if anchor:
            assert anchor in _anchors(target), f"README.md links to {link}: no such heading"


def test_the_readme_stays_short_and_keeps_the_contributor_commands() -> None:
    text = _text(README)
    assert len(text.splitlines()) <= 200
    assert "make demo   # runs validate, plan and apply against the bundled Sentry emulator" in text
    assert "make test   # runs every test" in text


# -- the README's quick start runs as written ---------------------------------------------------


def _quick_start() -> str:
    section = re.search(r"^## Quick start.*?(?=^## )", _text(README), re.M | re.S)
    assert section, "README.md has no quick start"
    blocks = re.findall(r"^```sh\n(.*?)^```", section.group(0), re.M | re.S)
    assert blocks
    return "".join(blocks)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.e2e
def test_the_readme_quick_start_runs_as_written(tmp_path: Path) -> None:
    script = _quick_start()
    assert "--port 8000" in script and "127.0.0.1:8000" in script
    # The one change: a free port instead of 8000, which another program may hold.
    script = script.replace("8000", str(_free_port()))
    env = clean_env()
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    run = subprocess.run(
        ["bash", "-e", "-c", "trap 'kill $(jobs -p) 2>/dev/null || true' EXIT\n" + script],
        cwd=tmp_path,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "1 file, 1 source: OK" in run.stderr
    first_plan, last_plan = run.stdout.rsplit("Plan: 1 to create", 1)
    assert "+ create acme-symbols (http)" in first_plan
    assert "No changes. 1 source(s) match the files." in last_plan
    assert "Apply: 1 applied, 0 unchanged, 0 failed, 0 refused." in run.stderr
    assert "correct-horse-battery-staple" not in run.stdout + run.stderr
    state = _text(tmp_path / "symsync-quickstart" / "sentry-state.json")
    assert '"id": "acme-symbols"' in state


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
    run = symsync(
        "apply", str(planfile), "--config-dir", str(configs), "--yes", "--url", emu.url, env=env
    )
    assert run.returncode == 0, run.stderr
    assert (
        emu.state()["organizations"]["acme"]["projects"]["ios"]["symbol_sources"][0]["name"]
        == "new name"
    )
