"""Wall time of ``symsync plan`` and ``symsync apply`` over many projects, on the emulator.

Sentry answers each request in tens of milliseconds, so what matters is that projects are read
and written in parallel (``--parallelism``, default 8) while each project's writes stay
sequential. The emulator is started with ``--latency-ms`` to stand for that round trip. The
same-run baseline is the same command with ``--parallelism 1``; the ratio is baseline / default.

Run: .venv/bin/python benchmarks/bench_plan_apply.py [--projects N] [--latency-ms MS]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from reconciler.emulator.testing import running_emulator


def _source(i: int, name: str) -> dict[str, object]:
    return {
        "id": f"src-{i}",
        "type": "http",
        "name": name,
        "url": f"https://symbols{i}.example/",
        "layout": {"type": "native", "casing": "default"},
    }


def _run(args: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "reconciler", *args],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"symsync {' '.join(args)} failed ({result.returncode}): {result.stderr}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--projects", type=int, default=48)
    parser.add_argument("--sources", type=int, default=3)
    parser.add_argument("--latency-ms", type=int, default=25)
    options = parser.parse_args()

    state: dict[str, object] = {
        "organizations": {
            "acme": {
                "projects": {
                    f"p{n:03d}": {
                        "symbol_sources": [_source(i, "old name") for i in range(options.sources)]
                    }
                    for n in range(options.projects)
                }
            }
        }
    }
    with tempfile.TemporaryDirectory() as tmp:
        configs = Path(tmp) / "configs" / "acme"
        configs.mkdir(parents=True)
        for n in range(options.projects):
            sources = [_source(i, "new name") for i in range(options.sources)]
            (configs / f"p{n:03d}.yaml").write_text(yaml.safe_dump({"sources": sources}))
        base = ["--config-dir", str(configs.parent)]

        figures: dict[str, float] = {}
        for label, parallelism in (("baseline (--parallelism 1)", "1"), ("default (8)", "8")):
            with running_emulator("--latency-ms", str(options.latency_ms), state=state) as emu:
                env = {
                    **os.environ,
                    "SENTRY_URL": emu.url,
                    "SENTRY_AUTH_TOKEN": "symsync-emulator",
                }
                figures[f"plan  {label}"] = _run(["plan", *base, "--parallelism", parallelism], env)
                figures[f"apply {label}"] = _run(
                    ["apply", *base, "--yes", "--parallelism", parallelism], env
                )

    requests_per_apply = options.projects * (1 + options.sources)
    print(
        f"{options.projects} projects x {options.sources} sources, "
        f"{options.latency_ms} ms per request; apply = {requests_per_apply} requests"
    )
    for label, seconds in figures.items():
        print(f"  {label:<34} {seconds:6.2f} s")
    for verb in ("plan ", "apply"):
        ratio = figures[f"{verb} baseline (--parallelism 1)"] / figures[f"{verb} default (8)"]
        print(f"  {verb} speed-up, default vs baseline: {ratio:.1f}x")


if __name__ == "__main__":
    main()
