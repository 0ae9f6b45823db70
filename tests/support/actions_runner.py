"""Runs the shipped workflows as GitHub would, in-process, against a fake GitHub and a Sentry.

A consumer repository (a git repository with `configs/`), its pull requests and merges; each
event queues the workflow it triggers in its concurrency group (``ConcurrencyGroups``: one in
progress, one pending); ``drain()`` runs them. A run reads the workflow file as shipped: the
job's `if:`, its `permissions:` (the job's token may do only that at the fake GitHub), its
`environment:` (whose secrets only a run on the default branch gets), then each step: the
checkout (a clone at the event's commit), and `uses: ./`, whose action.yml steps run one by one
with their `if:`, `env:` and inputs evaluated as GitHub evaluates them. Shell steps run in bash
with only the environment a runner gives a step; the install steps are not run (the test
environment has symsync), but what they would get is recorded. `actions/upload-artifact`
stores a zip at the fake GitHub; `actions/setup-python` does nothing.

Nothing here waits on the clock: a test that must act while a step runs (cancel it) gets a
callback with the step's process, and decides from what it observes.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import threading
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tests.support.expressions import condition, interpolate
from tests.support.fake_github import ConcurrencyGroups, FakeGitHub, QueuedRun

ROOT = Path(__file__).resolve().parent.parent.parent
WORKFLOWS = ROOT / ".github" / "workflows"
REPOSITORY = "acme/configs"
DEFAULT_BRANCH = "main"
BIN = Path(sys.executable).parent


def _load(path: Path) -> dict[str, Any]:
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    if True in doc:  # YAML 1.1 reads a bare `on` as true
        doc["on"] = doc.pop(True)
    return doc


@dataclass
class StepResult:
    name: str
    outcome: str  # success, failure, skipped, cancelled
    exit_code: int | None = None
    stdout: str = ""
    stderr: str = ""
    outputs: dict[str, str] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)  # what the step was given


@dataclass
class JobResult:
    workflow: str
    event: str
    sha: str
    run_id: int
    conclusion: str
    steps: list[StepResult] = field(default_factory=list)
    outputs: dict[str, str] = field(default_factory=dict)
    summary: str = ""

    def step(self, prefix: str) -> StepResult:
        found = [s for s in self.steps if s.name.startswith(prefix)]
        assert found, f"no step {prefix!r} in {[s.name for s in self.steps]}"
        return found[0]

    def log(self) -> str:
        return "\n".join(f"## {s.name}\n{s.stdout}\n{s.stderr}" for s in self.steps)


@dataclass
class Pull:
    number: int
    branch: str
    fork: bool = False


class ConsumerRepo:
    """The repository the workflows serve: `configs/` on `main`, a branch per pull request."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.mkdir(parents=True)
        self.git("init", "-q", "-b", DEFAULT_BRANCH)
        self.git("commit", "-q", "--allow-empty", "-m", "start")

    def git(self, *args: str) -> str:
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(self.path),
            "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.invalid",
            "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.invalid",
            "GIT_CONFIG_NOSYSTEM": "1",
        }  # fmt: skip
        done = subprocess.run(
            ["git", *args], cwd=self.path, env=env, check=True, capture_output=True, text=True
        )
        return done.stdout.strip()

    def write(self, branch: str, files: dict[str, Any], message: str) -> str:
        """Commit ``files`` (path -> YAML document, text, or None to delete) on ``branch``."""
        self.git("checkout", "-q", branch)
        for rel, content in files.items():
            target = self.path / rel
            if content is None:
                target.unlink()
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            text = content if isinstance(content, str) else yaml.safe_dump(content, sort_keys=False)
            target.write_text(text, encoding="utf-8")
        self.git("add", "-A")
        self.git("commit", "-q", "--allow-empty", "-m", message)
        sha = self.git("rev-parse", "HEAD")
        self.git("checkout", "-q", DEFAULT_BRANCH)
        return sha

    def head(self, ref: str = DEFAULT_BRANCH) -> str:
        return self.git("rev-parse", ref)

    def merge_ref(self, branch: str) -> str:
        """The commit a pull request's run checks out: its head merged into main's tip."""
        self.git("checkout", "-q", "--detach", DEFAULT_BRANCH)
        self.git("merge", "-q", "--no-ff", "--no-edit", branch)
        sha = self.head("HEAD")
        self.git("checkout", "-q", DEFAULT_BRANCH)
        return sha

    def compare(self, base: str, head: str) -> tuple[str, list[str]]:
        if base == head:
            return "identical", []
        ancestor = subprocess.run(
            ["git", "merge-base", "--is-ancestor", base, head], cwd=self.path, check=False
        )
        shas = self.git("rev-list", "--reverse", f"{base}..{head}").split()
        return ("ahead" if ancestor.returncode == 0 else "diverged"), shas


class Pipeline:
    """A consumer repository on the fake GitHub, its workflows, and the Sentry they talk to."""

    def __init__(
        self,
        tmp: Path,
        fake: FakeGitHub,
        sentry_url: str,
        *,
        secrets: dict[str, str],
        environment_secrets: dict[str, str],
    ) -> None:
        self.tmp = tmp
        self.fake = fake
        self.repo = ConsumerRepo(tmp / "repo")
        self.secrets = secrets
        self.environment_secrets = environment_secrets
        self.vars = {"SENTRY_URL": sentry_url}
        self.groups = ConcurrencyGroups()
        self.results: list[JobResult] = []
        self._pulls = 0
        self._clock = 0
        self.last_push: str = self.repo.head()
        # step name prefix -> what to do with its process while it runs (a cancel)
        self.while_running: dict[str, Callable[[subprocess.Popen[str]], None]] = {}
        fake.compare = self.repo.compare

    # -- what people do -------------------------------------------------------------------

    def seed(self, files: dict[str, Any]) -> str:
        """Commit straight to main without running anything (the repository's start)."""
        sha = self.repo.write(DEFAULT_BRANCH, files, "seed")
        self.last_push = sha
        return sha

    def open_pull(self, files: dict[str, Any], *, fork: bool = False) -> Pull:
        self._pulls += 1
        number = self._pulls
        branch = f"pr-{number}"
        self.repo.git("branch", branch, DEFAULT_BRANCH)
        pull = Pull(number, branch, fork)
        self.fake.pulls[number] = {
            "number": number,
            "state": "open",
            "merged_at": None,
            "head": {
                "ref": branch,
                "repo": {
                    "full_name": f"someone/{REPOSITORY.split('/')[1]}" if fork else REPOSITORY,
                    "fork": fork,
                },
            },
            "base": {"ref": DEFAULT_BRANCH},
        }
        self.push_to(pull, files)
        return pull

    def push_to(self, pull: Pull, files: dict[str, Any], *, rebase: bool = False) -> str:
        """A push to the pull request's branch (``rebase``: on main's tip first)."""
        if rebase:
            self.repo.git("checkout", "-q", pull.branch)
            self.repo.git("merge", "-q", "--no-edit", DEFAULT_BRANCH)
            self.repo.git("checkout", "-q", DEFAULT_BRANCH)
        head = self.repo.write(pull.branch, files, f"change in #{pull.number}")
        self.fake.pulls[pull.number]["head"]["sha"] = head
        base = self.repo.head()
        event = {
            "action": "synchronize",
            "number": pull.number,
            "pull_request": {
                **self.fake.pulls[pull.number],
                "base": {"ref": DEFAULT_BRANCH, "sha": base},
            },
            "repository": self._repository(),
        }
        merge = self.repo.merge_ref(pull.branch)
        self._queue(
            "symsync-plan.yml",
            "pull_request",
            event,
            merge,
            f"refs/pull/{pull.number}/merge",
            fork=pull.fork,
        )
        return head

    def merge(self, pull: Pull) -> str:
        before = self.repo.head()
        self.repo.git("merge", "-q", "--no-ff", "--no-edit", pull.branch)
        sha = self.repo.head()
        record = self.fake.pulls[pull.number]
        record.update(state="closed", merged_at="2026-12-01T00:00:00Z", merge_commit_sha=sha)
        self.fake.commit_pulls[sha] = [record]
        self.fake.commits[sha] = {"sha": sha, "parents": [{"sha": before}]}
        self.push_event(before, sha)
        return sha

    def push_event(self, before: str, after: str) -> None:
        event = {
            "before": before,
            "after": after,
            "ref": f"refs/heads/{DEFAULT_BRANCH}",
            "repository": self._repository(),
        }
        self._queue("symsync-apply.yml", "push", event, after, f"refs/heads/{DEFAULT_BRANCH}")

    def dispatch(self, workflow: str) -> None:
        sha = self.repo.head()
        self.fake.commits.setdefault(
            sha, {"sha": sha, "parents": [{"sha": self.repo.head("HEAD~1")}]}
        )
        event = {
            "inputs": {},
            "ref": f"refs/heads/{DEFAULT_BRANCH}",
            "repository": self._repository(),
        }
        self._queue(workflow, "workflow_dispatch", event, sha, f"refs/heads/{DEFAULT_BRANCH}")

    def schedule_drift(self) -> None:
        event = {"schedule": "23 5 * * *", "repository": self._repository()}
        self._queue(
            "symsync-drift.yml", "schedule", event, self.repo.head(), f"refs/heads/{DEFAULT_BRANCH}"
        )

    def drain(self, only: str = "") -> list[JobResult]:
        """Run what is queued (``only``: the concurrency groups starting with it)."""
        done = self.groups.drain(only)
        return [run.result for run in done]

    def run(self) -> JobResult:
        """Run what is queued; the last result (for a test that queued one run)."""
        results = self.drain()
        assert results, "nothing ran"
        return results[-1]

    # -- how GitHub runs it ---------------------------------------------------------------

    def _repository(self) -> dict[str, Any]:
        return {"full_name": REPOSITORY, "default_branch": DEFAULT_BRANCH}

    def _queue(
        self,
        workflow: str,
        event_name: str,
        event: dict[str, Any],
        sha: str,
        ref: str,
        *,
        fork: bool = False,
    ) -> None:
        doc = _load(WORKFLOWS / workflow)
        context = self._context(event_name, event, sha, ref, token="", run_id=0)
        concurrency = doc.get("concurrency") or {}
        group = interpolate(
            str(concurrency.get("group", f"{workflow}-{self.fake.new_id()}")), context
        )
        cancel = interpolate(str(concurrency.get("cancel-in-progress", "false")), context) == "true"

        def start() -> JobResult:
            return self._run_job(workflow, doc, event_name, event, sha, ref, fork=fork)

        self.groups.submit(
            group, QueuedRun(f"{workflow}@{sha[:7]}", start), cancel_in_progress=cancel
        )
        # A dropped run is one GitHub shows as cancelled.
        for dropped in self.groups.cancelled:
            if dropped.result is None:
                dropped.result = "cancelled"

    def _context(
        self, event_name: str, event: dict[str, Any], sha: str, ref: str, *, token: str, run_id: int
    ) -> dict[str, Any]:
        return {
            "github": {
                "event_name": event_name, "event": event, "sha": sha, "ref": ref,
                "repository": REPOSITORY, "token": token, "action_path": str(ROOT),
                "run_id": str(run_id),
            },
            "secrets": {}, "vars": self.vars, "env": {},
            "runner": {"temp": str(self.tmp / f"runner-{run_id}")},
        }  # fmt: skip

    def _run_job(
        self,
        workflow: str,
        doc: dict[str, Any],
        event_name: str,
        event: dict[str, Any],
        sha: str,
        ref: str,
        *,
        fork: bool,
    ) -> JobResult:
        ((_, job),) = doc["jobs"].items()
        run_id = self.fake.new_id()
        self._clock += 1
        pull = event.get("pull_request") or {}
        branch = ref.removeprefix("refs/heads/") if ref.startswith("refs/heads/") else None
        record = {
            "id": run_id, "head_sha": sha, "event": event_name, "conclusion": None,
            "status": "in_progress", "created_at": f"2026-12-01T{self._clock:08d}Z",
            "head_branch": branch or pull.get("head", {}).get("ref"),
            "html_url": f"https://github.example/{REPOSITORY}/actions/runs/{run_id}",
        }  # fmt: skip
        if event_name == "pull_request":
            record["head_sha"] = event["pull_request"]["head"]["sha"]
        self.fake.runs.setdefault(workflow, []).append(record)
        permissions = dict(job.get("permissions") or {})
        if fork:  # a fork's pull request: a read-only token and no secrets
            permissions = {k: "read" for k in permissions}
        token = self.fake.mint(permissions)
        context = self._context(event_name, event, sha, ref, token=token, run_id=run_id)
        on_default = ref == f"refs/heads/{DEFAULT_BRANCH}"
        if not fork:
            context["secrets"] = dict(self.secrets)
            if job.get("environment") == "sentry" and on_default:
                context["secrets"].update(self.environment_secrets)
        result = JobResult(workflow, event_name, sha, run_id, "skipped")
        if not condition(job.get("if"), context, {"success": True}):
            record.update(conclusion="skipped", status="completed")
            self.results.append(result)
            return result
        runner = _JobRunner(self, context, result, run_id, event)
        runner.run(job["steps"])
        failed = any(s.outcome in ("failure", "cancelled") for s in result.steps)
        cancelled = any(s.outcome == "cancelled" for s in result.steps)
        result.conclusion = "cancelled" if cancelled else ("failure" if failed else "success")
        record.update(conclusion=result.conclusion, status="completed")
        self.results.append(result)
        return result


class _JobRunner:
    def __init__(
        self,
        pipeline: Pipeline,
        context: dict[str, Any],
        result: JobResult,
        run_id: int,
        event: dict[str, Any],
    ) -> None:
        self.pipeline = pipeline
        self.context = context
        self.result = result
        self.run_id = run_id
        self.temp = Path(context["runner"]["temp"])
        self.temp.mkdir(parents=True)
        self.workspace = self.temp / "workspace"
        self.event_path = self.temp / "event.json"
        self.event_path.write_text(json.dumps(event), encoding="utf-8")
        self.summary = self.temp / "summary.md"
        self.summary.touch()

    def status(self) -> dict[str, bool]:
        failed = any(s.outcome == "failure" for s in self.result.steps)
        cancelled = any(s.outcome == "cancelled" for s in self.result.steps)
        return {"success": not failed and not cancelled, "failure": failed, "cancelled": cancelled}

    def run(self, steps: list[dict[str, Any]]) -> None:
        for step in steps:
            uses = str(step.get("uses", ""))
            if uses.startswith("actions/checkout@"):
                self._checkout(step)
            elif uses == "./":
                self._composite(step)
            else:
                raise AssertionError(f"the test runner does not know {uses or step}")
        self.result.summary = self.summary.read_text(encoding="utf-8")

    def _checkout(self, step: dict[str, Any]) -> None:
        repo = self.pipeline.repo.path
        subprocess.run(
            ["git", "clone", "-q", "--no-checkout", str(repo), str(self.workspace)], check=True
        )
        subprocess.run(
            [
                "git",
                "-c",
                "advice.detachedHead=false",
                "checkout",
                "-q",
                self.context["github"]["sha"],
            ],
            cwd=self.workspace,
            check=True,
        )
        self.result.steps.append(StepResult("checkout", "success"))

    def _composite(self, step: dict[str, Any]) -> None:
        action = _load(ROOT / "action.yml")
        given = {k: interpolate(str(v), self.context) for k, v in (step.get("with") or {}).items()}
        assert "env" not in step, "the action step gets everything through `with:`"
        inputs = {}
        for name, spec in action["inputs"].items():
            inputs[name] = given.get(name, interpolate(str(spec.get("default", "")), self.context))
        unknown = set(given) - set(inputs)
        assert not unknown, f"inputs the action does not declare: {unknown}"
        steps: dict[str, dict[str, Any]] = {}
        for inner in action["runs"]["steps"]:
            context = {**self.context, "inputs": inputs, "steps": steps}
            name = inner.get("name", inner.get("uses", "step"))
            if not condition(inner.get("if"), context, self.status()):
                self.result.steps.append(StepResult(name, "skipped"))
                if "id" in inner:
                    steps[inner["id"]] = {
                        "outcome": "skipped",
                        "conclusion": "skipped",
                        "outputs": {},
                    }
                continue
            outcome = self._inner(inner, name, context)
            if "id" in inner:
                steps[inner["id"]] = {
                    "outcome": outcome.outcome,
                    "conclusion": outcome.outcome,
                    "outputs": outcome.outputs,
                }
            self.result.steps.append(outcome)
        self.result.outputs = {
            name: interpolate(
                str(spec["value"]), {**self.context, "inputs": inputs, "steps": steps}
            )
            for name, spec in action.get("outputs", {}).items()
        }

    def _inner(self, step: dict[str, Any], name: str, context: dict[str, Any]) -> StepResult:
        env = {k: interpolate(str(v), context) for k, v in (step.get("env") or {}).items()}
        uses = str(step.get("uses", ""))
        if uses.startswith("actions/setup-python@"):
            return StepResult(name, "success", env=env)
        if uses.startswith("actions/upload-artifact@"):
            return self._upload(step, name, context)
        script = " ".join(str(step["run"]).split())
        if script.startswith("python -m pip install"):
            return StepResult(name, "success", env=env)  # symsync is installed already
        return self._shell(script, name, env)

    def _upload(self, step: dict[str, Any], name: str, context: dict[str, Any]) -> StepResult:
        given = {k: interpolate(str(v), context) for k, v in step["with"].items()}
        path = self.workspace / given["path"]
        if not path.is_file():
            ok = given.get("if-no-files-found", "warn") != "error"
            return StepResult(name, "success" if ok else "failure")
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            archive.write(path, path.name)
        fake = self.pipeline.fake
        artifact_id = fake.new_id()
        fake.artifacts.setdefault(self.run_id, []).append(
            {"id": artifact_id, "name": given["name"], "expired": False}
        )
        fake.blobs[artifact_id] = buffer.getvalue()
        url = f"https://github.example/{REPOSITORY}/actions/runs/{self.run_id}/artifacts/{artifact_id}"
        return StepResult(
            name, "success", outputs={"artifact-id": str(artifact_id), "artifact-url": url}
        )

    def _shell(self, script: str, name: str, env: dict[str, str]) -> StepResult:
        output = self.temp / f"output-{len(self.result.steps)}"
        output.touch()
        github = self.context["github"]
        full = {
            "PATH": f"{BIN}{os.pathsep}/usr/bin{os.pathsep}/bin",
            "HOME": str(self.temp), "LANG": "C.UTF-8", "PYTHONUNBUFFERED": "1",
            "GITHUB_ACTIONS": "true", "CI": "true",
            "GITHUB_API_URL": self.pipeline.fake.api_url,
            "GITHUB_SERVER_URL": "https://github.example",
            "GITHUB_REPOSITORY": REPOSITORY, "GITHUB_EVENT_NAME": github["event_name"],
            "GITHUB_EVENT_PATH": str(self.event_path), "GITHUB_SHA": github["sha"],
            "GITHUB_REF": github["ref"], "GITHUB_RUN_ID": str(self.run_id),
            "GITHUB_OUTPUT": str(output), "GITHUB_STEP_SUMMARY": str(self.summary),
            "GITHUB_WORKSPACE": str(self.workspace), "RUNNER_TEMP": str(self.temp),
            "GITHUB_ACTION_PATH": str(ROOT),
            **env,
        }  # fmt: skip
        process = subprocess.Popen(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script],
            cwd=self.workspace, env=full, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL, text=True, start_new_session=True,
        )  # fmt: skip
        watcher = None
        for prefix, callback in self.pipeline.while_running.items():
            if name.startswith(prefix):
                watcher = threading.Thread(target=callback, args=(process,), daemon=True)
                watcher.start()
        stdout, stderr = process.communicate(timeout=120)
        if watcher is not None:
            watcher.join(timeout=30)
        outputs = {}
        for line in output.read_text(encoding="utf-8").splitlines():
            key, _, value = line.partition("=")
            outputs[key] = value
        code = process.returncode
        outcome = (
            "success"
            if code == 0
            else ("cancelled" if watcher is not None and code in (130, 143) else "failure")
        )
        return StepResult(name, outcome, code, stdout, stderr, outputs, env)


def remove(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
