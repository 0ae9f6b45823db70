"""symsync at scale, against the bundled emulator: every figure beside its ideal, in one run.

Generates N projects with M sources (``benchmarks/workload.py``), seeds the emulator with a
drifted remote state, runs the real CLI and prints each figure beside its ideal and the ratio:

1. latency (1,000 projects x 3 sources, ``--latency-ms 50``, no rate limit): plan and apply wall
   time, median of 3, against ``requests x latency / parallelism`` at the default parallelism;
2. rate limit (400 projects, ``--rate-limit 40/1 --concurrent-limit 25 --latency-ms 20``): plan
   and apply throughput against 40 requests per second, and the share of 429 answers, at the
   default parallelism and at ``--parallelism 32``; no project may fail. Then the same for 4
   organizations x 100 projects: the emulator limits per token, so the organizations share one
   window, as a user token's do on Sentry;
3. memory (10,000 projects): peak RSS of ``plan --out``, and ``validate`` against PyYAML's C
   loader parsing the same files (both in a fresh interpreter, median of 3).

With each run of 1 and 2, the requests it sent (from the emulator's request log, 429 refusals
apart) against the minimum: one read of each organization's details (its region), one GET per
project, plus one write per change for apply; the apply
of a saved plan sends one re-read per changed project instead of the plan's GETs.

Throughput under a rate limit is counted over the span of the requests (first request received
to last answer, from the emulator's log), which is what the limit governs; the command's whole
wall time, start-up included, is printed beside it.

    .venv/bin/python benchmarks/bench_scale.py            # full sizes (benchmarks/README.md)
    .venv/bin/python benchmarks/bench_scale.py --quick    # smaller N, a quick look
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workload import Workload, generate

from reconciler.emulator.testing import EmulatorHandle, running_emulator

DEFAULT_PARALLELISM = 8
TOKEN = "symsync-emulator"


@dataclass
class Sizes:
    latency_projects: int = 1000
    latency_ms: int = 50
    rate_projects: int = 400
    rate_orgs: int = 4
    rate_projects_per_org: int = 100
    memory_orgs: int = 100
    memory_projects_per_org: int = 100
    sources: int = 3
    repeat: int = 3


QUICK = Sizes(
    latency_projects=200,
    rate_projects=120,
    rate_projects_per_org=30,
    memory_orgs=20,
    memory_projects_per_org=100,
    repeat=1,
)


@dataclass
class Row:
    figure: str
    value: str
    ideal: str
    ratio: float | None
    target: str
    ok: bool | None


@dataclass
class Report:
    rows: list[Row] = field(default_factory=list)

    def add(
        self,
        figure: str,
        value: str,
        ideal: str,
        ratio: float | None,
        target: str = "",
        ok: bool | None = None,
    ) -> None:
        self.rows.append(Row(figure, value, ideal, ratio, target, ok))
        shown = f"{ratio:.2f}x" if ratio is not None else ""
        verdict = {True: "ok", False: "MISSED", None: ""}[ok]
        print(f"  {figure:<52} {value:>12}  ideal {ideal:>10}  {shown:>7}  {target:<14} {verdict}")
        sys.stdout.flush()

    def missed(self) -> list[Row]:
        return [r for r in self.rows if r.ok is False]


@dataclass
class Run:
    """One CLI run, and the requests the emulator saw meanwhile."""

    launched: Launched
    requests: list[dict[str, Any]] = field(default_factory=list)

    @property
    def seconds(self) -> float:
        return self.launched.seconds

    @property
    def code(self) -> int:
        return self.launched.code

    @property
    def max_rss_mb(self) -> float:
        return self.launched.max_rss_mb

    @property
    def stderr(self) -> str:
        return self.launched.stderr

    def timeline(self) -> str:
        """When the first request arrived, and how long the run went on after the last answer."""
        if not self.requests:
            return "no request"
        first = min(r["received_monotonic"] for r in self.requests) - self.launched.started
        last = max(r["received_monotonic"] + r["duration_ms"] / 1000 for r in self.requests)
        tail = self.launched.started + self.seconds - last
        return (
            f"first request after {first:.2f} s, requests for {self.span:.2f} s, "
            f"{tail:.2f} s after the last answer; {self.launched.cpu_seconds:.2f} s of CPU"
        )

    def count(self, predicate: Callable[[dict[str, Any]], bool]) -> int:
        return sum(1 for r in self.requests if predicate(r))

    @property
    def refused(self) -> int:
        return self.count(lambda r: r["status"] == 429)

    @property
    def answered(self) -> int:
        return self.count(lambda r: r["status"] != 429)

    @property
    def gets(self) -> int:
        return self.count(lambda r: r["method"] == "GET" and r["status"] != 429)

    @property
    def writes(self) -> int:
        return self.count(lambda r: r["method"] != "GET" and r["status"] != 429)

    @property
    def span(self) -> float:
        """Seconds from the first request received to the last answer."""
        if not self.requests:
            return 0.0
        first = min(r["received_monotonic"] for r in self.requests)
        last = max(r["received_monotonic"] + r["duration_ms"] / 1000 for r in self.requests)
        return last - first


# Starts a command from a small process and reports the command's peak RSS (kB) in a file.
# ``ru_maxrss`` keeps the resident size a process had before it called exec, so a command
# forked straight from this harness (which holds the generated workload) would be charged
# for the harness's memory too.
LAUNCHER = """
import os, sys
pid = os.fork()
if pid == 0:
    os.execv(sys.executable, [sys.executable, *sys.argv[2:]])
_, status, usage = os.wait4(pid, 0)
with open(sys.argv[1], "w") as out:
    out.write(f"{usage.ru_maxrss} {usage.ru_utime + usage.ru_stime}")
sys.exit(os.waitstatus_to_exitcode(status))
"""


@dataclass
class Launched:
    started: float  # time.monotonic(), the clock of the emulator's received_monotonic
    seconds: float
    code: int
    max_rss_mb: float
    cpu_seconds: float  # user + system
    stderr: str


def launch(argv: list[str], env: dict[str, str] | None = None) -> Launched:
    """Runs ``python ARGV`` and tells how it went."""
    with tempfile.TemporaryDirectory() as tmp:
        rss_file, err_file = Path(tmp) / "rss", Path(tmp) / "stderr"
        started = time.monotonic()
        with err_file.open("wb") as err:
            code = subprocess.call(
                [sys.executable, "-c", LAUNCHER, str(rss_file), *argv],
                env=env if env is not None else base_env(),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=err,
            )
        seconds = time.monotonic() - started
        rss, cpu = (0.0, 0.0)
        if rss_file.exists():
            kb, cpu_text = rss_file.read_text().split()
            rss, cpu = int(kb) / 1024, float(cpu_text)
        stderr = err_file.read_text(encoding="utf-8", errors="replace")
        return Launched(started, seconds, code, rss, cpu, stderr)


def symsync(args: list[str], env: dict[str, str], emulator: EmulatorHandle | None = None) -> Run:
    """Runs ``python -m reconciler ARGS``, with its peak RSS and what the emulator saw."""
    before = len(emulator.requests()) if emulator is not None else 0
    launched = launch(["-m", "reconciler", *args], env)
    run = Run(launched)
    if emulator is not None:
        run.requests = emulator.requests()[before:]
    return run


def python_rss(code: str, *argv: str) -> tuple[float, float]:
    """Wall time and peak RSS (MB) of ``python -c CODE ARGV`` (the baselines)."""
    launched = launch(["-c", code, *argv])
    if launched.code != 0:
        raise SystemExit(f"baseline failed: {launched.stderr[-2000:]}")
    return launched.seconds, launched.max_rss_mb


def expect(run: Run, codes: tuple[int, ...], what: str) -> Run:
    if run.code not in codes:
        raise SystemExit(f"{what} exited {run.code}:\n{run.stderr[-3000:]}")
    return run


def base_env() -> dict[str, str]:
    """This environment, with byte-code caching on: an installed symsync has its ``.pyc``
    files, and compiling every module again on each run would be measured as start-up."""
    env = {**os.environ, "NO_COLOR": "1"}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def client_env(emulator: EmulatorHandle, workload: Workload) -> dict[str, str]:
    return {
        **base_env(),
        **workload.environment(),
        "SENTRY_URL": emulator.url,
        "SENTRY_AUTH_TOKEN": TOKEN,
    }


@contextmanager
def emulator_for(workload: Workload, *switches: str) -> Iterator[EmulatorHandle]:
    with running_emulator(*switches, state=workload.state) as emulator:
        yield emulator


def median_run(repeat: int, make: Callable[[], Run]) -> tuple[Run, list[float]]:
    runs = [make() for _ in range(repeat)]
    runs.sort(key=lambda r: r.seconds)
    return runs[len(runs) // 2], [r.seconds for r in runs]


def failed_projects(run: Run) -> int:
    """Projects a plan (``error: ORG/PROJECT: ...``) or an apply (its summary) says failed."""
    summary = re.search(r"Apply: .*?(\d+) failed", run.stderr)
    if summary:
        return int(summary.group(1))
    return len(re.findall(r"^error: [^/\s]+/[^:\s]+: ", run.stderr, re.MULTILINE))


def check_requests(
    report: Report, label: str, run: Run, gets: int, writes: int, *, orgs: int
) -> None:
    """The GETs include one read of each organization's details (its region), per run."""
    gets += orgs
    sent = run.gets + run.writes
    minimum = gets + writes
    report.add(
        f"{label}: requests (GET+write)",
        f"{run.gets}+{run.writes}",
        f"{gets}+{writes}",
        sent / minimum if minimum else None,
        "= minimum",
        sent == minimum,
    )


# --------------------------------------------------------------------------------- scenarios


def latency(report: Report, sizes: Sizes, tmp: Path) -> None:
    n, lat = sizes.latency_projects, sizes.latency_ms / 1000
    workload = generate(tmp / "latency", orgs=1, projects_per_org=n, sources=sizes.sources)
    print(
        f"\n1. latency: {n} projects x {sizes.sources} sources, --latency-ms {sizes.latency_ms}, "
        f"no rate limit, --parallelism {DEFAULT_PARALLELISM} (median of {sizes.repeat})"
    )
    base = ["--config-dir", str(workload.config_dir)]
    with emulator_for(workload, "--latency-ms", str(sizes.latency_ms)) as emulator:
        env = client_env(emulator, workload)
        plan, times = median_run(
            sizes.repeat, lambda: expect(symsync(["plan", *base], env, emulator), (0,), "plan")
        )
    ideal = n * lat / DEFAULT_PARALLELISM
    report.add(
        "plan wall time",
        f"{plan.seconds:.2f} s",
        f"{ideal:.2f} s",
        plan.seconds / ideal,
        "<= 1.15x",
        plan.seconds <= 1.15 * ideal,
    )
    print(f"    runs: {', '.join(f'{t:.2f}' for t in times)} s; median run: {plan.timeline()}")
    check_requests(report, "plan", plan, n, 0, orgs=workload.organizations)

    def one_apply() -> Run:
        with emulator_for(workload, "--latency-ms", str(sizes.latency_ms)) as emulator:
            env = client_env(emulator, workload)
            return expect(symsync(["apply", "--yes", *base], env, emulator), (0,), "apply")

    apply, times = median_run(sizes.repeat, one_apply)
    # Each project's writes are sequential after its GET; projects spread over the workers.
    ideal = (n + workload.changes) * lat / DEFAULT_PARALLELISM
    report.add(
        "apply wall time",
        f"{apply.seconds:.2f} s",
        f"{ideal:.2f} s",
        apply.seconds / ideal,
        "(no target)",
    )
    print(f"    runs: {', '.join(f'{t:.2f}' for t in times)} s; median run: {apply.timeline()}")
    check_requests(report, "apply", apply, n, workload.changes, orgs=workload.organizations)

    with emulator_for(workload, "--latency-ms", str(sizes.latency_ms)) as emulator:
        env = client_env(emulator, workload)
        planfile = tmp / "latency.plan.json"
        expect(symsync(["plan", *base, "--out", str(planfile)], env, emulator), (0,), "plan")
        saved = expect(
            symsync(["apply", "--yes", *base, str(planfile)], env, emulator), (0,), "apply"
        )
    check_requests(
        report,
        "apply PLANFILE",
        saved,
        # Each changed project is read twice, as documented: once to check the saved plan
        # against its file, once more just before its first write.
        2 * workload.changed_projects,
        workload.changes,
        orgs=workload.organizations,
    )


RATE_LIMIT = 40
RATE_SWITCHES = (
    "--rate-limit", f"{RATE_LIMIT}/1", "--concurrent-limit", "25", "--latency-ms", "20",
)  # fmt: skip


def rate_limit(report: Report, sizes: Sizes, tmp: Path) -> None:
    n = sizes.rate_projects
    workload = generate(tmp / "rate", orgs=1, projects_per_org=n, sources=sizes.sources)
    print(
        f"\n2. rate limit: {n} projects x {sizes.sources} sources, {' '.join(RATE_SWITCHES)} "
        "(one run each)"
    )
    rate_limited_runs(report, workload, "")
    orgs, per_org = sizes.rate_orgs, sizes.rate_projects_per_org
    workload = generate(
        tmp / "rate-orgs", orgs=orgs, projects_per_org=per_org, sources=sizes.sources
    )
    print(
        f"\n2b. rate limit, {orgs} organizations x {per_org} projects (one token: the emulator "
        f"counts them in one window), same switches (one run each)"
    )
    rate_limited_runs(report, workload, f"{orgs} orgs: ")


def rate_limited_runs(report: Report, workload: Workload, prefix: str) -> None:
    """plan, then apply, at the default parallelism and at 32, against a fresh emulator."""
    n, limit = workload.projects, RATE_LIMIT
    base = ["--config-dir", str(workload.config_dir)]
    for parallelism in (DEFAULT_PARALLELISM, 32):
        extra = ["--parallelism", str(parallelism)]
        with emulator_for(workload, *RATE_SWITCHES) as emulator:
            env = client_env(emulator, workload)
            plan = expect(symsync(["plan", *base, *extra], env, emulator), (0, 1), "plan")
            apply = expect(
                symsync(["apply", "--yes", *base, *extra], env, emulator), (0, 1), "apply"
            )
        for verb, run in (("plan", plan), ("apply", apply)):
            label = f"{prefix}{verb} --parallelism {parallelism}"
            failed = failed_projects(run)
            report.add(f"{label}: projects failed", str(failed), "0", None, "none", failed == 0)
            rate = run.answered / run.span if run.span else 0.0
            report.add(
                f"{label}: requests/s",
                f"{rate:.1f}",
                f"{limit}",
                rate / limit,
                ">= 0.90x",
                rate >= 0.9 * limit,
            )
            share = run.refused / len(run.requests) if run.requests else 0.0
            report.add(
                f"{label}: 429 share",
                f"{share * 100:.1f} %",
                "0 %",
                None,
                "<= 1 %",
                share <= 0.01,
            )
            print(
                f"    {label}: {run.answered} answered, {run.refused} refused (429) in "
                f"{run.span:.2f} s of requests, {run.seconds:.2f} s wall time"
            )
        orgs = workload.organizations
        check_requests(report, f"{prefix}plan --parallelism {parallelism}", plan, n, 0, orgs=orgs)
        check_requests(
            report,
            f"{prefix}apply --parallelism {parallelism}",
            apply,
            n,
            workload.changes,
            orgs=orgs,
        )


PARSE_BASELINE = """
import sys, yaml
from pathlib import Path
for path in sorted(Path(sys.argv[1]).glob('*/*.yaml')):
    yaml.load(path.read_bytes(), Loader=yaml.CSafeLoader)
"""


def memory(report: Report, sizes: Sizes, tmp: Path) -> None:
    orgs, per_org = sizes.memory_orgs, sizes.memory_projects_per_org
    workload = generate(tmp / "memory", orgs=orgs, projects_per_org=per_org, sources=sizes.sources)
    n = workload.projects
    print(f"\n3. memory: {n} projects x {sizes.sources} sources ({orgs} organizations)")
    base = ["--config-dir", str(workload.config_dir)]
    interpreter = python_rss("pass")[1]
    with emulator_for(workload) as emulator:
        env = client_env(emulator, workload)
        planfile = tmp / "memory.plan.json"
        plan = expect(symsync(["plan", *base, "--out", str(planfile)], env), (0,), "plan --out")
    report.add(
        "plan --out: peak RSS",
        f"{plan.max_rss_mb:.0f} MB",
        f"{interpreter:.0f} MB",
        None,
        "< 250 MB",
        plan.max_rss_mb < 250,
    )
    print(f"    (ideal: a bare interpreter's RSS; plan --out took {plan.seconds:.2f} s)")

    env = base_env()
    validate, times = median_run(
        sizes.repeat, lambda: expect(symsync(["validate", *base], env), (0,), "validate")
    )
    parses = sorted(
        python_rss(PARSE_BASELINE, str(workload.config_dir))[0] for _ in range(sizes.repeat)
    )
    parse = parses[len(parses) // 2]
    report.add(
        "validate wall time (vs C loader)",
        f"{validate.seconds:.2f} s",
        f"{parse:.2f} s",
        validate.seconds / parse,
        "<= 1.2x",
        validate.seconds <= 1.2 * parse,
    )
    print(
        f"    validate runs: {', '.join(f'{t:.2f}' for t in times)} s, peak RSS "
        f"{validate.max_rss_mb:.0f} MB; C loader runs: {', '.join(f'{t:.2f}' for t in parses)} s"
    )


def machine() -> str:
    cpu = platform.processor() or "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (
        f"{os.cpu_count()} CPUs ({cpu}), Python {platform.python_version()}, "
        f"{platform.system()} {platform.release()}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller N, one run each")
    parser.add_argument(
        "--only", choices=("latency", "rate", "memory"), action="append", help="run only these"
    )
    args = parser.parse_args()
    sizes = QUICK if args.quick else Sizes()
    only = set(args.only or ("latency", "rate", "memory"))
    print(f"symsync scale benchmark{' (--quick)' if args.quick else ''}: {machine()}")
    report = Report()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="symsync-bench-") as tmp:
        if "latency" in only:
            latency(report, sizes, Path(tmp))
        if "rate" in only:
            rate_limit(report, sizes, Path(tmp))
        if "memory" in only:
            memory(report, sizes, Path(tmp))
    missed = report.missed()
    verdict = (
        f"{len(missed)} target(s) missed: " + ", ".join(r.figure for r in missed)
        if missed
        else "every target met"
    )
    print(f"\n{len(report.rows)} figures in {time.perf_counter() - started:.0f} s; {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
