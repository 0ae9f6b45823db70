"""The generated workload the benchmarks share: N projects with M sources, and a drifted remote.

Each project file holds M sources cycling through the three types (http, s3, gcs), every one with
its secret as an ``{env: ...}`` reference, filters and a layout, as a real organization's files
would. The remote state (the emulator's ``--state`` format, secrets in clear) holds the same
sources, drifted in a fixed pattern so that every run plans the same changes:

- every 2nd project: the first source was renamed by hand in Sentry (one update);
- every 5th project: the last source is missing remotely (one create, which sends its secret);
- every 7th project: a hand-made source the file does not name (kept: ``unmanaged: keep``).

``Workload.changes`` is the number of writes an apply must send; ``changed_projects`` the number
of projects with at least one.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

REGIONS = ("us-east-1", "eu-west-1", "ap-southeast-2", "us-west-2")


def org_name(o: int) -> str:
    return f"org{o:03d}"


def project_name(p: int) -> str:
    return f"project-{p:04d}"


def secret_variable(org: str, kind: str) -> str:
    return f"{org.upper()}_{kind}"


def desired_source(org: str, project: str, n: int, i: int) -> dict[str, Any]:
    """Source ``i`` of project number ``n``, as its file writes it (secrets as references)."""
    kind = i % 3
    if kind == 0:
        return {
            "id": f"{org}-symbols-{i}",
            "type": "http",
            "name": f"{org} symbol server for {project}",
            "url": f"https://symbols.{org}.example/{project}/{i}/",
            "layout": {"type": "native", "casing": "default"},
            "username": f"ci-{n}",
            "password": {"env": secret_variable(org, "SYMBOLS_PASSWORD")},
            "filters": {
                "filetypes": ["pe", "pdb", "portablepdb"],
                "path_patterns": ["*.dll", "*.exe"],
                "requires_checksum": False,
            },
        }
    if kind == 1:
        return {
            "id": f"{org}-releases-{i}",
            "type": "s3",
            "name": f"Release builds of {project}",
            "bucket": f"{org}-symbols",
            "region": REGIONS[n % len(REGIONS)],
            "prefix": f"releases/{project}/{i}/",
            "access_key": f"AKIAEXAMPLE{n:06d}",
            "secret_key": {"env": secret_variable(org, "S3_SECRET")},
            "layout": {"type": "unified"},
        }
    return {
        "id": f"{org}-nightly-{i}",
        "type": "gcs",
        "name": f"Nightly builds of {project}",
        "bucket": f"{org}-nightly",
        "prefix": f"{project}/{i}/",
        "client_email": f"symbols@{org}.iam.gserviceaccount.com",
        "private_key": {"env": secret_variable(org, "GCS_KEY")},
        "layout": {"type": "symstore", "casing": "lowercase"},
        "filters": {"filetypes": ["elf_debug", "elf_code", "breakpad"]},
    }


def _in_clear(source: dict[str, Any]) -> dict[str, Any]:
    out = dict(source)
    for key, value in source.items():
        if isinstance(value, dict) and set(value) == {"env"}:
            out[key] = f"value-of-{value['env'].lower()}"
    return out


@dataclass
class Workload:
    """A generated tree on disk, and the remote state to seed the emulator with."""

    config_dir: Path
    state: dict[str, Any]
    projects: int
    sources: int
    changes: int
    changed_projects: int
    files: list[Path]

    def environment(self) -> dict[str, str]:
        """The secret variables an apply of this workload reads."""
        env: dict[str, str] = {}
        for org in self.state["organizations"]:
            for kind in ("SYMBOLS_PASSWORD", "S3_SECRET", "GCS_KEY"):
                env[secret_variable(org, kind)] = f"value-of-{secret_variable(org, kind).lower()}"
        return env

    def state_json(self) -> str:
        return json.dumps(self.state)

    @property
    def organizations(self) -> int:
        """How many organizations the tree holds (each one's details are read once a run)."""
        return len(self.state["organizations"])


def generate(root: Path, *, orgs: int, projects_per_org: int, sources: int) -> Workload:
    """Write ``orgs`` x ``projects_per_org`` project files under ``root/configs``."""
    config_dir = root / "configs"
    config_dir.mkdir(parents=True)
    organizations: dict[str, Any] = {}
    changes = changed_projects = 0
    files: list[Path] = []
    for o in range(orgs):
        org = org_name(o)
        folder = config_dir / org
        folder.mkdir()
        remote_projects: dict[str, Any] = {}
        for p in range(projects_per_org):
            n = o * projects_per_org + p
            project = project_name(p)
            desired = [desired_source(org, project, n, i) for i in range(sources)]
            unmanaged = "keep"
            path = folder / f"{project}.yaml"
            path.write_text(
                yaml.safe_dump({"unmanaged": unmanaged, "sources": desired}, sort_keys=False)
            )
            files.append(path)
            remote = [_in_clear(s) for s in desired]
            writes = 0
            if n % 2 == 0 and remote:
                remote[0] = {**remote[0], "name": "renamed by hand"}
                writes += 1
            if n % 5 == 0 and remote:
                remote.pop()
                writes += 1
            if n % 7 == 0:
                remote.append(
                    {
                        "id": "hand-made",
                        "type": "http",
                        "name": "made in the Sentry UI",
                        "url": "https://hand.example/",
                        "layout": {"type": "native", "casing": "default"},
                    }
                )
            changes += writes
            changed_projects += 1 if writes else 0
            remote_projects[project] = {"symbol_sources": remote}
        organizations[org] = {"projects": remote_projects}
    return Workload(
        config_dir=config_dir,
        state={"organizations": organizations},
        projects=orgs * projects_per_org,
        sources=sources,
        changes=changes,
        changed_projects=changed_projects,
        files=files,
    )
