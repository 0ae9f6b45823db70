"""Workflow commands and the step summary, as the GitHub Actions runner reads them."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.github.actions import (
    STEP_SUMMARY_LIMIT,
    annotation,
    append_step_summary,
    cut_to_bytes,
    escape_property,
)


def _unescape(text: str) -> str:
    """What the runner does to a property value or message (its `CommandUnescape`)."""
    for escaped, plain in (("%0D", "\r"), ("%0A", "\n"), ("%3A", ":"), ("%2C", ","), ("%25", "%")):
        text = text.replace(escaped, plain)
    return text


def test_an_annotation_names_file_line_and_column() -> None:
    assert annotation("error", "bad `url`", file="configs/acme/ios.yaml", line=7, col=5) == (
        "::error file=configs/acme/ios.yaml,line=7,col=5::bad `url`"
    )


def test_nothing_in_a_message_or_path_can_end_the_command_early() -> None:
    message = "50% off\r\n::error::injected, and: more"
    path = "configs/a,b:c%/x.yaml"
    line = annotation("warning", message, file=path, line=1, col=2)
    assert "\n" not in line and "\r" not in line
    head, _, data = line.partition("::")[2].partition("::")
    assert head == f"warning file={escape_property(path)},line=1,col=2"
    assert head.count(",") == 2 and head.count(":") == 0
    assert _unescape(data) == message
    assert _unescape(escape_property(path)) == path


def test_cut_keeps_whole_lines_closes_an_open_fence_and_fits(tmp_path: Path) -> None:
    text = "# plan\n```diff\n" + "".join(f"+ line {i} é\n" for i in range(1000)) + "```\n"
    note = "> cut\n"
    cut = cut_to_bytes(text, 500, note)
    assert len(cut.encode("utf-8")) <= 500
    assert cut.endswith("```\n\n> cut\n")
    body = cut.removesuffix("\n> cut\n")
    assert body.count("```") == 2
    assert text.startswith(body.removesuffix("```\n"))
    assert cut_to_bytes("short\n", 500, note) == "short\n"


def test_no_summary_without_the_variable(monkeypatch) -> None:
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    assert append_step_summary("### plan\n") is False


def test_the_step_summary_is_appended_to_and_stays_under_one_mib(tmp_path, monkeypatch) -> None:
    summary = tmp_path / "summary.md"
    summary.write_text("earlier step output\n" * 100, encoding="utf-8")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    huge = "### symsync plan\n\n" + "| `acme/p` | 1 | 0 | 0 | 0 | changes pending |\n" * 40_000
    assert len(huge.encode("utf-8")) > STEP_SUMMARY_LIMIT
    assert append_step_summary(huge) is True
    text = summary.read_text(encoding="utf-8")
    assert len(text.encode("utf-8")) <= STEP_SUMMARY_LIMIT
    assert text.startswith("earlier step output\n" * 100 + "### symsync plan\n")
    assert "**Cut:** the plan is longer than the room left" in text
    # Full: a further summary is left out rather than pushing the file past the limit.
    assert append_step_summary("more\n") is False
    assert len(summary.read_bytes()) <= STEP_SUMMARY_LIMIT


@pytest.mark.parametrize("text", ["### symsync plan\n\nNo changes.\n", "no newline"])
def test_a_short_summary_is_appended_whole(tmp_path, monkeypatch, text: str) -> None:
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    append_step_summary(text)
    append_step_summary(text)
    body = text if text.endswith("\n") else text + "\n"
    assert summary.read_text(encoding="utf-8") == body * 2


@pytest.mark.e2e
def test_plan_appends_its_markdown_to_the_step_summary(tmp_path: Path) -> None:
    from reconciler.emulator.testing import running_emulator
    from tests.support.e2e_helpers import EMULATOR_TOKEN, clean_env, state_doc, symsync, write_tree

    source = {"id": "a", "type": "http", "name": "a", "url": "https://a.example/",
              "layout": {"type": "native"}}  # fmt: skip
    configs = write_tree(tmp_path, {"acme/ios": {"sources": [{**source, "name": "renamed"}]}})
    summary = tmp_path / "summary.md"
    with running_emulator(state=state_doc({"acme/ios": [source]})) as emu:
        env = clean_env(SENTRY_URL=emu.url, SENTRY_AUTH_TOKEN=EMULATOR_TOKEN,
                        GITHUB_STEP_SUMMARY=str(summary))  # fmt: skip
        run = symsync("plan", "--config-dir", str(configs), "--format", "json", env=env)
    assert run.returncode == 0, run.stderr
    text = summary.read_text(encoding="utf-8")
    assert text.startswith("### symsync plan\n") and "`acme/ios`" in text
    assert '"format_version"' in run.stdout  # stdout keeps the format asked for
