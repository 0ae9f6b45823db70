"""Plan output for people, pull requests and machines: pure functions of a ``Plan``.

None of them can print a secret value: the Plan holds none (see ``reconciler.plan.model``), only
``"(set)"`` / ``"(not set)"`` markers and ``{env: NAME}`` references.

Values from the remote side are printed as JSON literals, so a control character or an escape
sequence in a source's name reaches neither the terminal nor the markdown as such.
"""

from __future__ import annotations

import html
import io
import json
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from itertools import repeat
from typing import TYPE_CHECKING, Any, Final, Literal

if TYPE_CHECKING:
    from reconciler.plan.model import (
        BuiltinChange,
        Change,
        ChangeGroup,
        FieldChange,
        Plan,
        ProjectPlan,
        Summary,
    )

Format = Literal["text", "markdown", "json"]
FORMATS: Final[tuple[str, ...]] = ("text", "markdown", "json")

# GitHub rejects issue and pull-request comments longer than this.
GITHUB_COMMENT_LIMIT: Final = 65_535

_SYMBOL = {"create": "+", "update": "~", "delete": "-", "move": "-/+"}
_STYLE = {"create": "green", "update": "yellow", "delete": "red", "move": "magenta"}
_REASON = {
    "absent": "the file says state: absent",
    "unmanaged": "not in the file, and the file says unmanaged: delete",
}


def render(plan: Plan, fmt: str, *, color: bool = False) -> str:
    if fmt == "json":
        return render_json(plan)
    if fmt == "markdown":
        return render_markdown(plan)
    return render_text(plan, color=color)


def render_json(plan: Plan) -> str:
    """The JSON plan: the same document ``plan --out`` saves (``Plan.dumps``)."""
    return plan.dumps()


def format_value(value: Any) -> str:
    if value is None:
        return "(none)"
    return json.dumps(value, ensure_ascii=False)


def _field_value(change: FieldChange, side: Literal["before", "after"]) -> str:
    value = change.before if side == "before" else change.after
    if change.secret:
        return str(value)  # "(set)" / "(not set)", never anything else
    return format_value(value)


def summary_line(summary: Summary) -> str:
    if summary.changes == 0:
        # "No changes" alone would be a false all-clear when some projects could not be read.
        scope = " in the projects that could be planned" if summary.errors else ""
        text = f"No changes{scope}. {summary.unchanged} source(s) match the files"
        if summary.unmanaged:
            text += f", {summary.unmanaged} unmanaged kept"
        text += "."
    else:
        text = (
            f"Plan: {summary.create} to create, {summary.update} to update, "
            + (f"{summary.move} to move, " if summary.move else "")
            + f"{summary.delete} to delete, {summary.unchanged} unchanged"
            + (f", built-in repositories of {summary.builtin} to set" if summary.builtin else "")
        )
        if summary.unmanaged:
            text += f", {summary.unmanaged} unmanaged kept"
        text += "."
    if summary.errors:
        text += f" {summary.errors} project(s) could not be planned."
    if summary.reported:
        text += (
            f" {summary.reported} source(s) in Sentry are not in their file (unmanaged: report)."
        )
    if summary.unfiled or summary.unfiled_unreadable:
        text += f" {unfiled_sentence(summary)}."
    return text


def unfiled_sentence(summary: Summary) -> str:
    """The projects found with sources and no file, apart from those whose sources could not
    be read: "2 projects in Sentry have symbol sources and no file; 1 could not be read"."""
    found = summary.unfiled
    text = (
        f"{found} project{'' if found == 1 else 's'} in Sentry "
        f"{'has' if found == 1 else 'have'} symbol sources and no file"
    )
    if summary.unfiled_unreadable:
        text += f"; {summary.unfiled_unreadable} could not be read"
    return text


def verdict_lines(plan: Plan) -> list[str]:
    """The delete limits' verdict: one line per limit the plan goes over, with what allows it."""
    if plan.limits is None:
        return []
    return plan.limits.verdict()


def served_line(plan: Plan) -> str | None:
    """Which URL served each organization, when some organization was served by another URL
    than the configured one (its region); ``None`` when every one was served there."""
    by_org: dict[str, str] = {}
    for project in plan.projects:
        if project.sentry_url is not None:
            by_org.setdefault(project.organization, project.sentry_url)
    if all(url == plan.sentry_url for url in by_org.values()):
        return None
    served = ", ".join(f"{org} at {url}" for org, url in sorted(by_org.items()))
    configured = f" (the configured URL is {plan.sentry_url})" if plan.sentry_url else ""
    return f"Served by: {served}{configured}."


REPORTED_HEAD: Final = "not in the file (unmanaged: report), kept"
UNFILED_HEAD: Final = "Projects in Sentry with symbol sources and no file (--report-unfiled):"


def _project_summary(project: ProjectPlan) -> str:
    parts = [
        f"{project.count(action)} to {action}"
        for action in ("create", "update", "move", "delete")
        if project.count(action)
    ]
    if project.builtin is not None:
        parts.append("built-in repositories")
    if project.reported:
        parts.append(f"{len(project.reported)} not in the file")
    if project.error is not None:
        parts.append("could not be planned")
    if not parts:
        parts.append("no changes")
    return ", ".join(parts)


# --- text --------------------------------------------------------------------------------------


class Line:
    """One line of the text plan: a style for the whole line (or none), and pieces of text,
    each with a style of its own (or none), as rich's ``Text`` has them.

    Plain output joins the pieces; only coloured output hands them to rich, so a plan written
    to a file or a CI log never imports it."""

    __slots__ = ("pieces", "style")

    def __init__(self, text: str = "", style: str | None = None) -> None:
        self.style = style
        self.pieces: list[tuple[str, str | None]] = [(text, None)] if text else []

    def append(self, text: str, style: str | None = None) -> Line:
        self.pieces.append((text, style))
        return self

    @property
    def plain(self) -> str:
        return "".join(text for text, _ in self.pieces)


def _change_lines(change: Change) -> Iterator[Line]:
    style = _STYLE[change.action]
    kind = f" ({change.source_type})" if change.source_type else ""
    head = Line("  ")
    head.append(f"{_SYMBOL[change.action]} {change.action} {change.source_id}{kind}", style)
    if change.action == "delete" and change.reason is not None:
        head.append(f": {_REASON[change.reason]}")
    if change.action == "move":
        head.append(": deleted and re-created at the end (order: enforce)")
        sends = change.secret_variables()
        if sends:
            head.append(
                "; sends " + ", ".join(f"{field} from {var}" for field, var in sends.items())
            )
    yield head
    # The header already names the type of a created or deleted source.
    fields = {
        name: fc
        for name, fc in change.fields.items()
        if not (name == "type" and change.action != "update")
    }
    width = max((len(name) for name in fields), default=0)
    for name, fc in fields.items():
        if fc.rotate is not None:
            yield Line(f"      rotate {name} ({fc.rotate})", style)
            continue
        line = Line(f"      {name + ':':<{width + 1}} ")
        if change.action == "create":
            line.append(_field_value(fc, "after"), "green")
        elif change.action == "delete":
            line.append(_field_value(fc, "before"), "red")
        elif (items := _list_items_changed(fc)) is not None:
            added, removed = items
            parts = [("+ " + format_value(v), "green") for v in added]
            parts += [("- " + format_value(v), "red") for v in removed]
            for i, (part, part_style) in enumerate(parts):
                if i:
                    line.append(", ")
                line.append(part, part_style)
        else:
            line.append(_field_value(fc, "before"), "red")
            line.append(" -> ")
            line.append(_field_value(fc, "after"), "green")
        yield line


def _list_items_changed(change: FieldChange) -> tuple[list[str], list[str]] | None:
    """For a list that gains or loses items (``filters.path_patterns``, ``platforms``): the
    strings added and removed, so a long list shows ``+ "*.so", - "*.dll"`` rather than twice
    in full. None for anything else, or when only the order changed."""
    before, after = change.before, change.after
    if change.secret or not isinstance(before, list) or not isinstance(after, list):
        return None
    if not all(map(isinstance, before, repeat(str))) or not all(
        map(isinstance, after, repeat(str))
    ):
        return None
    have, want = set(before), set(after)
    if len(have) == len(before) and len(want) == len(after):
        added = [v for v in after if v not in have]
        removed = [v for v in before if v not in want]
    else:  # repeated items: count them
        counted_have, counted_want = Counter(before), Counter(after)
        added = list((counted_want - counted_have).elements())
        removed = list((counted_have - counted_want).elements())
    if not added and not removed:
        return None
    return added, removed


def builtin_line(change: BuiltinChange, indent: str = "  ") -> Line:
    """``~ builtin: + nuget, - unity``"""
    return Line(f"{indent}~ builtin: {change.describe()}", _STYLE["update"])


class _Shared:
    """The groups of a plan, and what of each project they already say."""

    __slots__ = ("builtins", "changes", "groups")

    def __init__(self, plan: Plan) -> None:
        from reconciler.plan.model import change_groups, grouped_keys

        self.groups = change_groups(plan.projects)
        self.changes, self.builtins = grouped_keys(self.groups)

    def own_changes(self, project: ProjectPlan) -> list[Change]:
        from reconciler.plan.model import in_group

        if not self.changes:
            return list(project.changes)
        return [c for c in project.changes if not in_group(project, c, self.changes)]

    def own_builtin(self, project: ProjectPlan) -> BuiltinChange | None:
        return None if project.key in self.builtins else project.builtin

    def shared_count(self, project: ProjectPlan) -> int:
        shared = len(project.changes) - len(self.own_changes(project))
        return shared + (1 if project.builtin is not None and project.key in self.builtins else 0)

    def shown(self, project: ProjectPlan) -> bool:
        """Whether the project has a block of its own besides its shared changes (its warnings
        are in the warnings section)."""
        return bool(
            self.own_changes(project)
            or self.own_builtin(project)
            or project.unmanaged
            or project.reported
            or project.error
        )


GROUP_NAMES_SHOWN: Final = 10


def group_projects(projects: Sequence[str], shown: int = GROUP_NAMES_SHOWN) -> str:
    """``in 214 projects: acme/a, acme/b, ... and 204 more``"""
    names = ", ".join(projects[:shown])
    more = f", ... and {len(projects) - shown} more" if len(projects) > shown else ""
    return f"in {len(projects)} projects: {names}{more}"


def _inline_fields(change: Change) -> str | None:
    """An update's fields on one line (``url "a" -> "b"``), or None when they need lines."""
    if change.action != "update" or not change.fields or len(change.fields) > 3:
        return None
    parts = []
    for name, fc in change.fields.items():
        if fc.rotate is not None:
            parts.append(f"rotate {name} ({fc.rotate})")
        else:
            parts.append(f"{name} {_field_value(fc, 'before')} -> {_field_value(fc, 'after')}")
    return ", ".join(parts)


def group_lines(group: ChangeGroup) -> list[Line]:
    """One shared change, said once: its head line with the projects, and its fields."""
    where = f" \u2014 {group_projects(group.projects)}"
    if group.builtin is not None:
        line = builtin_line(group.builtin)
        return [line.append(where)]
    change = group.change
    assert change is not None
    inline = _inline_fields(change)
    if inline is not None:
        head = Line("  ").append(f"~ update {change.source_id}", _STYLE["update"])
        return [head.append(f": {inline}").append(where)]
    lines = list(_change_lines(change))
    lines[0].append(where)
    return lines


def _group_section(shared: _Shared) -> Iterator[Line]:
    if not shared.groups:
        return
    yield Line("Shared changes (the same change in several projects, said once):", "bold")
    for group in shared.groups:
        yield from group_lines(group)
    yield Line()


def _project_lines(project: ProjectPlan, shared: _Shared | None = None) -> Iterator[Line]:
    title = Line(project.key, "bold")
    if project.file:
        title.append(f" ({project.file})")
    yield title
    if project.error is not None:
        yield Line(f"  ! error: {project.error}", "bold red")
    changes = shared.own_changes(project) if shared else list(project.changes)
    for change in changes:
        yield from _change_lines(change)
    builtin = shared.own_builtin(project) if shared else project.builtin
    if builtin is not None:
        yield builtin_line(builtin)
    if shared is not None and (count := shared.shared_count(project)):
        yield Line(f"  = {count} shared change(s), listed above", "dim")
    if project.needs_variables:
        yield Line("  apply reads: " + ", ".join(project.needs_variables), "cyan")
    if project.unmanaged:
        yield Line("  unmanaged, kept: " + ", ".join(project.unmanaged), "dim")
    if project.reported:
        yield Line(f"  ? {REPORTED_HEAD}: " + ", ".join(project.reported), "magenta")


def _shown(project: ProjectPlan) -> bool:
    """Whether the project has a block of its own (its warnings are in the warnings section)."""
    return bool(
        project.changes or project.builtin or project.unmanaged or project.reported or project.error
    )


WARNINGS_HEAD: Final = "Warnings:"


def warnings_of(plan: Plan) -> list[tuple[str, str]]:
    """Every warning of the plan, project by project, as (where, message): where is the
    file's ``PATH:LINE:COLUMN`` for a warning about a value in it, else the project."""
    return [
        (warning.where or project.key, warning.message)
        for project in plan.projects
        for warning in project.warnings
    ]


def _warning_lines(plan: Plan) -> Iterator[Line]:
    found = warnings_of(plan)
    if not found:
        return
    yield Line(WARNINGS_HEAD, "bold")
    for where, message in found:
        yield Line(f"  ! {where}: {message}", "yellow")
    yield Line()


def _unfiled_lines(plan: Plan) -> Iterator[Line]:
    if not plan.unfiled:
        return
    yield Line(UNFILED_HEAD, "bold")
    for key in plan.unfiled:
        error = plan.unfiled_errors.get(key)
        if error is None:
            yield Line(f"  ? {key}", "magenta")
        else:
            yield Line(f"  ! {key}: {error}", "bold red")
    yield Line()


def text_lines(plan: Plan) -> list[Line]:
    shared = _Shared(plan)
    lines: list[Line] = list(_group_section(shared))
    for project in plan.projects:
        if not shared.shown(project):
            continue
        lines.extend(_project_lines(project, shared))
        lines.append(Line())
    lines.extend(_unfiled_lines(plan))
    lines.extend(_warning_lines(plan))
    if plan.needs_variables:
        lines.append(Line(needs_variables_line(plan)))
    served = served_line(plan)
    if served is not None:
        lines.append(Line(served, "dim"))
    lines.append(Line(summary_line(plan.summary), "bold"))
    lines.extend(Line(line, "bold red") for line in verdict_lines(plan))
    return lines


def needs_variables_line(plan: Plan) -> str:
    """The secret variables apply will read, by name (never a value)."""
    names = plan.needs_variables
    return (
        f"Apply reads {len(names)} secret variable(s): {', '.join(names)} "
        "(from the environment, else from SYMSYNC_SECRETS)."
    )


def render_text(plan: Plan, *, color: bool = False) -> str:
    """Terraform-like listing; ANSI colour only when ``color`` is true."""
    lines = text_lines(plan)
    if not color:
        return "".join(line.plain + "\n" for line in lines)
    from rich.console import Console
    from rich.text import Text

    buffer = io.StringIO()
    console = Console(
        file=buffer,
        force_terminal=True,
        color_system="standard",
        no_color=False,
        highlight=False,
        soft_wrap=True,
        width=10_000,
        emoji=False,
        markup=False,
    )
    for line in lines:
        text = Text(style=line.style or "")
        for piece, style in line.pieces:
            text.append(piece, style=style)
        console.print(text)
    return buffer.getvalue()


# --- markdown ----------------------------------------------------------------------------------

_MD_SPECIAL = {
    "\\": "\\\\",
    "`": "\\`",
    "*": "\\*",
    "_": "\\_",
    "[": "\\[",
    "]": "\\]",
    "|": "\\|",
    "#": "\\#",
    "<": "&lt;",
    ">": "&gt;",
    "&": "&amp;",
    "\n": " ",
    "\r": " ",
}


def md_escape(text: str) -> str:
    """Inline text for markdown: no formatting, links, HTML or table breaks from the value."""
    return "".join(_MD_SPECIAL.get(ch, ch) for ch in text)


def md_code(text: str, *, table: bool = False) -> str:
    """An inline code span holding ``text`` verbatim; ``table``: for a table cell.

    In a table cell a ``|`` must be escaped even inside code; elsewhere the escape would show.
    """
    text = text.replace("\n", " ").replace("\r", " ")
    if table:
        text = text.replace("|", "\\|")
    ticks = "`" * (_longest_backtick_run(text) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{ticks}{pad}{text}{pad}{ticks}"


def _longest_backtick_run(body: str) -> int:
    longest = run = 0
    for ch in body:
        run = run + 1 if ch == "`" else 0
        longest = max(longest, run)
    return longest


def _fence(body: str) -> str:
    """A code fence longer than any run of backticks in the body."""
    return "`" * max(3, _longest_backtick_run(body) + 1)


def _md_block(
    project: ProjectPlan, shared: _Shared | None = None
) -> tuple[list[str], list[str], list[str]]:
    """A project's <details> block as (head lines, body lines, tail lines)."""
    head = [
        "<details>",
        f"<summary><code>{html.escape(project.key)}</code>: "
        f"{html.escape(_project_summary(project))}</summary>",
        "",
    ]
    tail: list[str] = []
    body: list[str] = []
    if project.error is not None:
        body.append(f"**Could not be planned:** {md_escape(project.error)}")
        body.append("")
    changes = shared.own_changes(project) if shared else project.changes
    diff_lines = [line.plain for change in changes for line in _change_lines(change)]
    builtin = shared.own_builtin(project) if shared else project.builtin
    if builtin is not None:
        diff_lines.append(builtin_line(builtin).plain)
    if shared is not None and (count := shared.shared_count(project)):
        body.append(f"{count} shared change(s), listed above.")
        body.append("")
    if diff_lines:
        fence = _fence("\n".join(diff_lines))
        head_fence = [f"{fence}diff"]
        code = [line[2:] if line.startswith("  ") else line for line in diff_lines]
        body.extend(head_fence + code + [fence, ""])
    if project.needs_variables:
        body.append(
            "Secret variables apply reads: "
            + ", ".join(md_code(v) for v in project.needs_variables)
        )
        body.append("")
    if project.unmanaged:
        body.append("Unmanaged (kept): " + ", ".join(md_code(s) for s in project.unmanaged))
        body.append("")
    if project.reported:
        body.append(
            "**Not in the file** (unmanaged: report, kept): "
            + ", ".join(md_code(s) for s in project.reported)
        )
        body.append("")
    tail.append("</details>")
    tail.append("")
    return head, body, tail


def render_markdown(plan: Plan, *, limit: int = GITHUB_COMMENT_LIMIT) -> str:
    """For pull-request comments: summary, table, per-project details; at most ``limit`` bytes.

    Past the limit, whole projects (then table rows, then lines of one long project) are left
    out and a visible note says how many; the JSON plan always has everything.
    """
    comment = _Comment(limit)
    comment.add(_md_head(plan))
    shared = _Shared(plan)
    if shared.groups and not _md_groups(comment, shared):
        return comment.text()
    changing = [
        p
        for p in plan.projects
        if shared.own_changes(p) or shared.own_builtin(p) or p.reported or p.error is not None
    ]
    only_shared = sum(1 for p in plan.projects if p.has_changes) - sum(
        1 for p in changing if p.has_changes
    )
    if only_shared:
        comment.add([f"{only_shared} project(s) have only the shared changes above.", ""])
    if changing and not _md_table(comment, changing, moves=plan.summary.move > 0):
        return comment.text()
    if plan.unfiled and not _md_unfiled(comment, plan.unfiled, plan.unfiled_errors):
        return comment.text()
    if not _md_warnings(comment, warnings_of(plan)):
        return comment.text()
    _md_details(comment, [p for p in plan.projects if shared.shown(p)], shared)
    return comment.text()


def _md_groups(comment: _Comment, shared: _Shared) -> bool:
    """Each shared change once, with how many projects and which; False when cut."""
    comment.add(["**Shared changes** (the same change in several projects, said once):", ""])
    for i, group in enumerate(shared.groups):
        lines = [line.plain.removeprefix("  ") for line in group_lines(group)]
        head, _, where = lines[0].rpartition(" \u2014 ")
        code = [head, *lines[1:]]
        fence = _fence("\n".join(code))
        block = [f"{fence}diff", *code, fence, ""]
        names = ", ".join(md_code(name) for name in group.projects)
        everyone = [
            f"<details><summary>In {len(group.projects)} projects</summary>",
            "",
            names,
            "",
            "</details>",
            "",
        ]
        short = [md_escape(where[:1].upper() + where[1:]), ""]
        if comment.fits(block, everyone):
            comment.add([*block, *everyone])
        elif comment.fits(block, short):
            comment.add([*block, *short])
        else:
            comment.cut(f"{len(shared.groups) - i} more shared changes and all projects' details")
            return False
    return True


def _size(lines: Iterable[str]) -> int:
    """The UTF-8 bytes of ``lines``, each ended by a newline."""
    return sum(len(line.encode("utf-8")) + 1 for line in lines)


def _truncation_note(what: str) -> list[str]:
    return [
        "",
        f"> **Truncated:** {what} not shown, to stay under GitHub's "
        f"{GITHUB_COMMENT_LIMIT:,}-character comment limit. Run `symsync plan` "
        "or read the JSON plan (`symsync plan --out plan.json`) for everything.",
        "",
    ]


# Room kept back for a truncation note: the longest there is, and a margin.
_LONGEST_NOTE: Final = _truncation_note("999999999 more table rows and all projects' details")
_RESERVE: Final = _size(_LONGEST_NOTE) + 256


class _Comment:
    """The markdown plan as it is built, and whether more still fits: its size is kept as lines
    are added, so no check joins the whole text again."""

    __slots__ = ("lines", "room", "size")

    def __init__(self, limit: int) -> None:
        self.lines: list[str] = []
        self.size = 0
        self.room = limit - _RESERVE  # what the content may take; a note may still follow

    def fits(self, *blocks: Sequence[str]) -> bool:
        """Whether ``blocks`` fit after what is in."""
        return self.size + sum(_size(block) for block in blocks) <= self.room

    def add(self, lines: Sequence[str]) -> None:
        self.lines.extend(lines)
        self.size += _size(lines)

    def cut(self, what: str) -> None:
        """End with the note that ``what`` is not shown."""
        self.add(_truncation_note(what))

    def text(self) -> str:
        return "\n".join(self.lines) + "\n"


def _md_head(plan: Plan) -> list[str]:
    """The title, the summary, the delete limits' verdict and the variables apply reads."""
    out = ["### symsync plan", "", f"**{md_escape(summary_line(plan.summary))}**", ""]
    for line in verdict_lines(plan):
        out += [f"> **{md_escape(line)}**", ""]
    served = served_line(plan)
    if served is not None:
        out += [md_escape(served), ""]
    if plan.needs_variables:
        names = plan.needs_variables
        out += [
            f"Apply reads {len(names)} secret variable(s): "
            f"{', '.join(md_code(v) for v in names)} (from the environment, else from "
            "`SYMSYNC_SECRETS`).",
            "",
        ]
    return out


def _md_table(comment: _Comment, changing: Sequence[ProjectPlan], *, moves: bool) -> bool:
    """A row per project with changes, drift or an error; False when the rows were cut. A Move
    column only when some project reorders. Unmanaged counts the sources kept without a word,
    Reported those shown as drift (``unmanaged: report``)."""
    comment.add(
        [
            "| Project | Create | Update | "
            + ("Move | " if moves else "")
            + "Delete | Unmanaged | Reported | Status |",
            "|---|---:|---:|" + ("---:|" if moves else "") + "---:|---:|---:|---|",
        ]
    )
    for i, p in enumerate(changing):
        row = (
            f"| {md_code(p.key, table=True)} | {p.count('create')} | {p.count('update')} | "
            + (f"{p.count('move')} | " if moves else "")
            + f"{p.count('delete')} | {len(p.unmanaged)} | {len(p.reported)} | {_md_status(p)} |"
        )
        if not comment.fits([row]):
            comment.cut(f"{len(changing) - i} more table rows and all projects' details")
            return False
        comment.add([row])
    comment.add([""])
    return True


def _md_status(project: ProjectPlan) -> str:
    if project.error is not None:
        return "could not be planned"
    if project.has_changes:
        return "changes pending"
    return "sources not in the file"


def _md_unfiled(comment: _Comment, unfiled: Sequence[str], errors: Mapping[str, str]) -> bool:
    """The projects with sources and no file; False when the list was cut."""
    comment.add([f"**{md_escape(UNFILED_HEAD)}**", ""])
    for i, key in enumerate(unfiled):
        error = errors.get(key)
        line = f"- {md_code(key)}"
        if error is not None:
            line += f": {md_escape(error)}"
        if not comment.fits([line]):
            comment.cut(f"{len(unfiled) - i} more unfiled projects and all details")
            return False
        comment.add([line])
    comment.add([""])
    return True


def _md_warnings(comment: _Comment, found: Sequence[tuple[str, str]]) -> bool:
    """The warnings, each with where it is; False when the list was cut. Outside the projects'
    folded details, so that a reviewer sees them."""
    if not found:
        return True
    comment.add([f"**{md_escape(WARNINGS_HEAD)}**", ""])
    for i, (where, message) in enumerate(found):
        line = f"- {md_code(where)}: {md_escape(message)}"
        if not comment.fits([line]):
            comment.cut(f"{len(found) - i} more warnings and all projects' details")
            return False
        comment.add([line])
    comment.add([""])
    return True


def _md_details(
    comment: _Comment, shown: Sequence[ProjectPlan], shared: _Shared | None = None
) -> None:
    """A <details> block per project shown, as many as fit; of the first that does not fit,
    the lines that do."""
    for i, project in enumerate(shown):
        head, body, tail = _md_block(project, shared)
        if comment.fits(head, body, tail):
            comment.add([*head, *body, *tail])
            continue
        kept = _lines_that_fit(comment, head, body, tail)
        if kept:
            comment.add([*head, *kept, "", "_(the rest of this project is cut)_", "", *tail])
            left = len(shown) - i - 1
            what = f"the rest of {md_code(project.key)}"
            if left:
                what += f" and {left} more projects' details"
        else:
            what = f"{len(shown) - i} more projects' details"
        comment.cut(what)
        return


def _lines_that_fit(
    comment: _Comment, head: Sequence[str], body: Sequence[str], tail: Sequence[str]
) -> list[str]:
    """The first lines of ``body`` that fit between ``head`` and ``tail``, with a code fence
    they leave open closed again."""
    kept: list[str] = []
    used = comment.size + _size(head) + _size(tail)
    in_fence: str | None = None
    for line in body:
        closing = [in_fence] if in_fence else []
        if used + _size([line, *closing]) > comment.room:
            break
        kept.append(line)
        used += _size([line])
        if line.startswith("```"):
            marker = line.removesuffix("diff")
            in_fence = None if in_fence == marker else marker
    if kept and in_fence:
        kept.append(in_fence)
    return kept
