"""symsync's comment on a pull request: one per purpose, found by its marker, edited in place.

``upsert_comment`` keeps ONE comment per pull request and purpose (``plan``, ``apply``). Its body
starts with a hidden marker (``<!-- symsync:plan -->``); only a comment whose body STARTS with it
is edited, so a reply quoting it is never overwritten. Every page of comments is searched. A body
over GitHub's limit is cut, with a visible note linking the run.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any, Final, Literal

from reconciler.core.redact import redact_known
from reconciler.github.actions import cut_to_bytes
from reconciler.github.rest import GitHubAPI

# GitHub refuses a comment or issue body over 65,536 characters; bytes are never fewer than
# characters (in UTF-8 or UTF-16), so a body within this many UTF-8 bytes always fits.
BODY_LIMIT: Final = 65_535


def marker(name: str) -> str:
    """The hidden first line that identifies symsync's comment of one kind (``plan``, ...)."""
    return f"<!-- symsync:{name} -->"


def fit_body(
    text: str, run_url: str | None, *, limit: int = BODY_LIMIT, what: str = "The full plan"
) -> str:
    """``text`` within ``limit`` (GitHub's body limit); past it, its start and a visible note
    that links the run, whose artifact holds everything."""
    where = f"[this run]({run_url})" if run_url else "this run"
    note = (
        f"> **Cut:** this text is longer than GitHub's {BODY_LIMIT:,}-character limit. "
        f"{what} is in the artifact of {where}.\n"
    )
    return cut_to_bytes(text, limit, note)


def comment_body(text: str, *, kind: str, run_url: str | None) -> str:
    """The comment: the marker on the first line, then ``text`` (cut to fit)."""
    head = marker(kind) + "\n"
    if not text.strip():
        where = f"[the run log]({run_url})" if run_url else "the run log"
        text = f"### symsync {kind}\n\nsymsync printed nothing for this comment: see {where}.\n"
    text = redact_known(text)  # no secret value the process knows goes into a comment
    return head + fit_body(text, run_url, limit=BODY_LIMIT - len(head.encode("utf-8")))


CommentAction = Literal["created", "updated"]


def find_comment(api: GitHubAPI, number: int, kind: str) -> dict[str, Any] | None:
    """symsync's comment of ``kind`` on issue or pull request ``number``: the first whose body
    starts with the marker, on any page."""
    head = marker(kind)
    for comment in api.paginate(f"{api.repo_path}/issues/{number}/comments"):
        body = comment.get("body")
        if isinstance(body, str) and body.startswith(head) and isinstance(comment.get("id"), int):
            return comment
    return None


def upsert_comment(api: GitHubAPI, number: int, text: str, *, kind: str = "plan") -> CommentAction:
    """Create symsync's comment of ``kind`` on pull request ``number``, or edit it in place."""
    body = comment_body(text, kind=kind, run_url=api.env.run_url)
    existing = find_comment(api, number, kind)
    if existing is None:
        api.json("POST", f"{api.repo_path}/issues/{number}/comments", json_body={"body": body})
        return "created"
    api.json("PATCH", f"{api.repo_path}/issues/comments/{existing['id']}", json_body={"body": body})
    return "updated"


def planned_line(commit: str | None, when: datetime, run_url: str | None) -> str:
    """The line that says what a plan comment planned: the commit (short) and when."""
    facts = [f"commit `{commit[:7]}`" if commit else "this pull request"]
    facts.append(f"{when.astimezone(UTC):%Y-%m-%d %H:%M} UTC")
    if run_url:
        facts.append(f"[run]({run_url})")
    return "Planned " + " · ".join(facts)


def plan_comment(markdown: str, *, commit: str | None, when: datetime, run_url: str | None) -> str:
    """The plan comment: what was planned and when, then the markdown plan."""
    return f"{planned_line(commit, when, run_url)}\n\n{markdown}"


def failure_comment(
    what: str, log: str, *, commit: str | None, when: datetime, run_url: str | None
) -> str:
    """The plan comment when the push could not be planned: ``what`` failed, with the error
    lines of its log, in place of the plan the comment showed before."""
    lines = [ln for ln in log.splitlines() if ln.strip()]
    errors = [ln for ln in lines if re.match(r"\S+:\d+:\d+: |error", ln)] or lines
    shown = "\n".join(errors[-60:])
    fence = "`" * max(3, 1 + max((len(run) for run in _backtick_runs(shown)), default=0))
    return (
        f"### symsync plan: {what}\n\n"
        f"{planned_line(commit, when, run_url)}: no plan. The plan shown before was made from "
        "an earlier commit and no longer applies; fix what is below and push again.\n\n"
        f"{fence}text\n{shown}\n{fence}\n"
    )


def _backtick_runs(text: str) -> list[str]:
    return re.findall(r"`+", text)
