"""Delete limits: how many sources one apply may delete before it refuses the whole run.

A pure function of a ``Plan`` and the run's ``--max-deletes``:

- the run deletes more than ``max_deletes`` sources in total (default 10): refused, and
  ``--max-deletes N`` allows it;
- a project deletes more than its file's ``max_deletes: N``: refused, and only a larger
  ``max_deletes`` in that file allows it (``--max-deletes`` raises only the run total);
- a project without ``max_deletes`` that holds at least 4 sources in Sentry deletes more than
  half of them ("more than" is strict: 3 of 6 passes, 4 of 6 is refused): refused, and
  ``max_deletes: N`` in its file allows it.

Only ``delete`` changes count. Creates, updates and moves are never limited: a move deletes a
source and re-creates it at once, it removes nothing.

A refused run writes nothing anywhere (the applier checks before its first write), and every
plan format shows the verdict, with the exact flag or key that would allow it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:  # the plan's models are imported where a verdict is made (not for the default)
    from reconciler.plan.model import DeleteLimits, LimitBreach, Plan, ProjectPlan

DEFAULT_MAX_DELETES: Final = 10
# A project holding fewer sources than this in Sentry is not subject to the half rule.
HALF_RULE_MIN_SOURCES: Final = 4


def check_deletes(plan: Plan, max_deletes: int = DEFAULT_MAX_DELETES) -> DeleteLimits:
    """The verdict of the delete limits on ``plan``, for a run allowed ``max_deletes``."""
    from reconciler.plan.model import DeleteLimits, LimitBreach

    breaches: list[LimitBreach] = []
    total = 0
    for project in plan.projects:
        deletes = project.count("delete")
        total += deletes
        if deletes:
            breach = _project_breach(project, deletes)
            if breach is not None:
                breaches.append(breach)
    if total > max_deletes:
        breaches.insert(
            0,
            LimitBreach(
                project=None,
                rule="run",
                deletes=total,
                limit=max_deletes,
                message=f"{_deletes(total)}, more than --max-deletes {max_deletes}",
                allow=f"--max-deletes {total}, or max_deletes: {total} in configs/symsync.yaml",
            ),
        )
    return DeleteLimits(max_deletes=max_deletes, deletes=total, breaches=tuple(breaches))


def _project_breach(project: ProjectPlan, deletes: int) -> LimitBreach | None:
    from reconciler.plan.model import LimitBreach

    where = f" in {project.file}" if project.file else f" in the file of {project.key}"
    allow = f"max_deletes: {deletes}{where}"
    if project.max_deletes is not None:
        if deletes <= project.max_deletes:
            return None
        return LimitBreach(
            project=project.key,
            rule="file",
            deletes=deletes,
            limit=project.max_deletes,
            message=(
                f"{project.key}: {_deletes(deletes)}, more than its max_deletes "
                f"{project.max_deletes}"
            ),
            allow=allow,
        )
    held = len(project.remote_sources)
    if held < HALF_RULE_MIN_SOURCES or 2 * deletes <= held:
        return None
    return LimitBreach(
        project=project.key,
        rule="half",
        deletes=deletes,
        limit=held // 2,
        message=f"{project.key}: {deletes} of its {held} sources deleted, more than half",
        allow=allow,
    )


def _deletes(count: int) -> str:
    return "1 delete" if count == 1 else f"{count} deletes"


def with_verdict(plan: Plan, max_deletes: int = DEFAULT_MAX_DELETES) -> Plan:
    """``plan`` carrying the delete-limit verdict for a run allowed ``max_deletes``."""
    return plan.model_copy(update={"limits": check_deletes(plan, max_deletes)})
