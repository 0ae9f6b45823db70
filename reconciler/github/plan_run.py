"""``symsync github plan``: validate and plan a pull request, and keep its ONE plan comment fresh.

``validate`` and ``plan`` run as child processes of the same symsync (``GITHUB_TOKEN`` left out
of their environment); their stderr is shown live and kept. The comment then shows one of:

- the plan, under a line naming the commit planned (short SHA) and when;
- the failure, when the files do not validate or the plan cannot reach Sentry, with its error
  lines, in place of whatever plan the comment showed before (a stale plan would mislead).

Without a Sentry token (a fork's pull request) only ``validate`` runs, and nothing is posted.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from reconciler.github.actions import set_plan_outputs
from reconciler.github.apply_run import ApplyRun, run_apply
from reconciler.github.comment import failure_comment, plan_comment


@dataclass(frozen=True)
class PlanRequest:
    """What to plan: the tree, the revision rotations are compared with, where the JSON plan
    goes, and the commit the comment names."""

    config_dir: str
    out: str
    base: str | None
    commit: str | None
    token: bool  # a Sentry token was given: plan (else validate only)


@dataclass(frozen=True)
class PlanOutcome:
    exit_code: int
    comment: str | None  # the comment's text; None: post nothing


def validate_command(config_dir: str) -> list[str]:
    return [
        sys.executable, "-m", "reconciler", "validate",
        "--config-dir", config_dir, "--format", "github",
    ]  # fmt: skip


def plan_command(request: PlanRequest) -> list[str]:
    args = [sys.executable, "-m", "reconciler", "plan", "--config-dir", request.config_dir]
    args += ["--format", "markdown", "--out", request.out]
    if request.base:
        args += ["--base", request.base]
    return args


def plan_pull_request(
    request: PlanRequest,
    *,
    run_url: str | None,
    run: Callable[[list[str]], ApplyRun] = run_apply,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> PlanOutcome:
    """Validate, then plan; the comment to post and the exit code (the first failure's)."""
    checked = run(validate_command(request.config_dir))
    sys.stdout.write(checked.stdout)  # the annotations, for the runner to read
    sys.stdout.flush()
    if checked.exit_code != 0:
        text = failure_comment(
            "the files do not validate",
            annotations_as_lines(checked.stdout) + checked.stderr,
            commit=request.commit,
            when=now(),
            run_url=run_url,
        )
        return PlanOutcome(checked.exit_code, text if request.token else None)
    if not request.token:
        return PlanOutcome(0, None)
    Path(request.out).unlink(missing_ok=True)  # a plan file left from before is not this plan
    planned = run(plan_command(request))
    document = _read_plan(Path(request.out))
    if document is not None:
        set_plan_outputs(document)
    if planned.exit_code != 0 and (document is None or not planned.stdout.strip()):
        text = failure_comment(
            "the plan could not be made",
            planned.stderr,
            commit=request.commit,
            when=now(),
            run_url=run_url,
        )
        return PlanOutcome(planned.exit_code, text)
    text = plan_comment(planned.stdout, commit=request.commit, when=now(), run_url=run_url)
    if planned.exit_code != 0:  # a plan with projects that failed: the plan, and the errors
        text = (
            failure_comment(
                "some projects could not be planned",
                planned.stderr,
                commit=request.commit,
                when=now(),
                run_url=run_url,
            )
            + "\n"
            + planned.stdout
        )
    return PlanOutcome(planned.exit_code, text)


ANNOTATION = re.compile(r"^::(error|warning|notice) file=([^,]*),line=(\d+),col=(\d+)::(.*)$")


def _unescape(text: str) -> str:
    for escaped, plain in (("%0D", "\r"), ("%0A", "\n"), ("%3A", ":"), ("%2C", ","), ("%25", "%")):
        text = text.replace(escaped, plain)
    return text


def annotations_as_lines(stdout: str) -> str:
    """``validate --format github``'s annotations as ``PATH:LINE:COLUMN: message`` lines."""
    lines = []
    for line in stdout.splitlines():
        match = ANNOTATION.match(line)
        if match:
            level, path, row, col, message = match.groups()
            prefix = "" if level == "error" else f"{level}: "
            lines.append(f"{_unescape(path)}:{row}:{col}: {prefix}{_unescape(message)}")
    return "".join(line + "\n" for line in lines)


def _read_plan(path: Path) -> object | None:
    try:
        document: object = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return document
