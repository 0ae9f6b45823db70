"""What showing list changes item by item (`+ "*.so", - "*.dll"`) costs a plan of 10,000 projects.

Every project's one source changes a 20-item `filters.path_patterns` by one item and reorders its
`platforms`, the worst case: every project has a list to show item by item. The plan is made
(differ) and rendered as text twice in the same run, with the item-level display and without it
(both lists in full), alternating, median of 5, in CPU time (on a shared machine, wall time
mostly measures the neighbours). Reading Sentry is left out, so the ratio is an upper bound of
what a real plan pays (its GETs only add time to both sides).

    .venv/bin/python benchmarks/bench_list_items.py
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path
from typing import Any
from unittest import mock

from reconciler.config.project_file import ProjectConfig, ProjectFile
from reconciler.plan import render
from reconciler.plan.differ import diff_project
from reconciler.plan.model import Plan

PROJECTS = 10_000
RUNS = 5
BUDGET = 1.05


def _source(patterns: list[str], platforms: list[str]) -> dict[str, Any]:
    return {"id": "s", "type": "http", "name": "n", "url": "https://symbols.example/",
            "layout": {"type": "native"}, "filters": {"path_patterns": patterns},
            "platforms": platforms}  # fmt: skip


def _inputs() -> list[tuple[ProjectConfig, list[dict[str, Any]]]]:
    patterns = [f"build/{i}/*.pdb" for i in range(20)]
    out = []
    for i in range(PROJECTS):
        desired = _source([*patterns[1:], f"new/{i}/*.so"], ["macos", "ios"])
        config = ProjectConfig("acme", f"p{i:05d}", Path(f"configs/acme/p{i:05d}.yaml"),
                               ProjectFile.model_validate({"sources": [desired]}))  # fmt: skip
        out.append((config, [_source(patterns, ["ios", "macos"])]))
    return out


def _plan_and_render(inputs: list[tuple[ProjectConfig, list[dict[str, Any]]]]) -> float:
    started = time.process_time()
    plan = Plan(projects=tuple(diff_project(config, remote) for config, remote in inputs))
    text = render.render_text(plan)
    assert "Plan: 0 to create, 10000 to update" in text
    return time.process_time() - started


def main() -> None:
    inputs = _inputs()
    with_items: list[float] = []
    without: list[float] = []
    for _ in range(RUNS):
        with_items.append(_plan_and_render(inputs))
        with mock.patch.object(render, "_list_items_changed", lambda change: None):
            without.append(_plan_and_render(inputs))
    a, b = statistics.median(with_items), statistics.median(without)
    ratio = a / b
    print(f"plan + text render, {PROJECTS:,} projects, every one with a changed list:")
    print(
        f"  item by item (+/-): {a:.3f} s CPU   both lists in full: {b:.3f} s CPU   "
        f"ratio {ratio:.3f}"
    )
    print(f"  budget {BUDGET:.2f}: {'ok' if ratio <= BUDGET else 'OVER'}")


if __name__ == "__main__":
    main()
