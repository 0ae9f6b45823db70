"""How fast is `symsync validate` on a large tree, against merely parsing the same files?

Generates ORGS x PROJECTS project files of three sources each (http, s3, gcs) in a temporary
directory, then measures, in the same run:

- baseline: `yaml.load(text, Loader=yaml.CSafeLoader)` on every file's text (already read into
  memory, so the baseline is as small as it can be);
- `load_tree`: the loader in this process (reads, parses, validates, records origins);
- `symsync validate`: the real command in a fresh interpreter, start-up and imports included.

Prints the times and the ratios to the baseline. Target: ratio <= 2.0. Each figure is the best
of --repeat runs, because the machine may be shared.

    python benchmarks/bench_validate.py [--orgs 100] [--projects 100] [--repeat 3]
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

from reconciler.loader import load_tree

TEMPLATE = """\
# yaml-language-server: $schema=../../symsync.schema.json
unmanaged: {unmanaged}
sources:
  - id: {org}-symbols
    type: http
    name: {org} symbol server for {project}
    url: https://symbols.{org}.example/{project}/
    layout: {{type: native, casing: default}}
    username: ci-{n}
    password: {{env: {ORG}_SYMBOLS_PASSWORD}}
    filters:
      filetypes: [pe, pdb, portablepdb]
      path_patterns: ["*.dll", "*.exe"]
      requires_checksum: false
  - id: {org}-releases
    type: s3
    name: Release builds of {project}
    bucket: {org}-symbols
    region: {region}
    prefix: releases/{project}/
    access_key: AKIAEXAMPLE{n:06d}
    secret_key: {{env: {ORG}_S3_SECRET}}
    layout: {{type: unified}}
  - id: {org}-nightly
    type: gcs
    name: Nightly builds of {project}
    bucket: {org}-nightly
    prefix: {project}/
    client_email: symbols@{org}.iam.gserviceaccount.com
    private_key: {{env: {ORG}_GCS_KEY}}
    layout:
      type: symstore
      casing: lowercase
    filters:
      filetypes: [elf_debug, elf_code, breakpad]
"""

REGIONS = ("us-east-1", "eu-west-1", "ap-southeast-2", "us-west-2")


def generate(root: Path, orgs: int, projects: int) -> list[Path]:
    files = []
    for o in range(orgs):
        org = f"org{o:03d}"
        folder = root / org
        folder.mkdir()
        for p in range(projects):
            n = o * projects + p
            path = folder / f"project-{p:04d}.yaml"
            path.write_text(
                TEMPLATE.format(
                    org=org,
                    ORG=org.upper(),
                    project=f"project-{p:04d}",
                    n=n,
                    region=REGIONS[n % len(REGIONS)],
                    unmanaged="delete" if n % 7 == 0 else "keep",
                )
            )
            files.append(path)
    return files


def best(repeat: int, run) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orgs", type=int, default=100)
    parser.add_argument("--projects", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="symsync-bench-") as tmp:
        root = Path(tmp) / "configs"
        root.mkdir()
        files = generate(root, args.orgs, args.projects)
        texts = [f.read_text() for f in files]
        print(f"{len(files)} project files, 3 sources each, in {root}")

        def baseline() -> None:
            for text in texts:
                yaml.load(text, Loader=yaml.CSafeLoader)

        def in_process() -> None:
            result = load_tree(root)
            if result.errors or len(result.projects) != len(files):
                raise SystemExit(f"unexpected result: {result.errors[:3]}")

        def command() -> None:
            subprocess.run(
                [sys.executable, "-m", "reconciler", "validate", "--config-dir", str(root)],
                check=True,
                stderr=subprocess.DEVNULL,
                env={**os.environ, "NO_COLOR": "1"},
            )

        t_base = best(args.repeat, baseline)
        t_load = best(args.repeat, in_process)
        t_cli = best(args.repeat, command)

    print(f"baseline  yaml.load(CSafeLoader): {t_base:7.3f} s")
    print(f"load_tree (in process):           {t_load:7.3f} s   ratio {t_load / t_base:.2f}")
    print(f"symsync validate (new process):   {t_cli:7.3f} s   ratio {t_cli / t_base:.2f}")
    print("target: ratio <= 2.00")
    return 0


if __name__ == "__main__":
    sys.exit(main())
