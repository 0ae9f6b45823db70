"""`make demo` on its own: emulator up, validate, plan, apply, empty plan, emulator down."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.e2e_helpers import clean_env

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]


def test_demo_runs_and_converges():
    env = clean_env()
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    run = subprocess.run(
        ["bash", str(ROOT / "scripts" / "demo.sh")],
        env=env,
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    out = run.stdout
    first_plan, rest = out.split("$ symsync apply", 1)
    # the first plan shows every kind of difference
    assert "+ create acme-ios-releases (s3)" in first_plan
    assert "~ update acme-symbols (http)" in first_plan
    assert "password: (not set) -> (set)" in first_plan
    assert "- delete old-symbol-server (http): the file says state: absent" in first_plan
    assert "- delete stray-experiment (http)" in first_plan
    assert "unmanaged, kept: manual-upload-bucket" in first_plan
    assert "acme/web" not in out  # a project without a file is never touched
    # apply wrote, and the last plan is empty
    applied, last_plan = rest.split("$ symsync plan --config-dir configs --detailed-exitcode", 1)
    assert "Plan: 1 to create, 2 to update, 2 to delete" in applied
    assert "No changes. 6 source(s) match the files, 1 unmanaged kept." in last_plan
    assert "Apply: 3 applied, 1 unchanged, 0 failed, 0 refused." in run.stderr
    assert "Traceback" not in run.stderr
    for secret in ("demo-symbols-password", "demo-s3-secret-key", "demo-gcs-private-key",
                   "demo-stored-password"):  # fmt: skip
        assert secret not in out + run.stderr
