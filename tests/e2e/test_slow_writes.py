"""Writes slower than ``--timeout``: each one that timed out is settled by one read before it
is sent again, so Sentry gets one write per change, plus the ones the reads show are needed."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.e2e_helpers import clean_env, symsync, write_tree
from tests.support.fake_sentry import fake_sentry
from tests.support.slow_writes import SlowWrites

pytestmark = pytest.mark.e2e

TOKEN = "sntryu_TOKENSENTINEL0123456789abcdef"
PROJECTS = [f"acme/p{i}" for i in range(4)]


def _source(source_id: str, name: str) -> dict[str, object]:
    return {
        "id": source_id,
        "type": "http",
        "name": name,
        "url": f"https://{source_id}.example/",
        "layout": {"type": "native", "casing": "default"},
    }


def _apply(tmp_path: Path, slow: SlowWrites) -> tuple[int, str]:
    # Per project: one update, one create, one delete: 12 changes in all.
    configs = write_tree(
        tmp_path,
        {
            key: {
                "unmanaged": "delete",
                "sources": [_source("kept", "New name"), _source("added", "Added")],
            }
            for key in PROJECTS
        },
    )
    with fake_sentry() as server:
        server.default = slow
        env = clean_env(SENTRY_URL=server.url, SENTRY_AUTH_TOKEN=TOKEN)
        run = symsync(
            "apply", "--config-dir", str(configs), "--yes", "--timeout", "0.5", env=env, timeout=120
        )
    return run.returncode, run.stdout + run.stderr


def _remote() -> dict[str, list[dict[str, object]]]:
    return {key: [_source("kept", "Old name"), _source("gone", "Gone")] for key in PROJECTS}


def test_writes_slower_than_the_timeout_are_sent_once_each(tmp_path: Path) -> None:
    slow = SlowWrites(_remote())
    code, output = _apply(tmp_path, slow)
    assert code == 0, output
    assert len(slow.writes) == 12  # one per change: every timed-out write was found by a read
    assert sorted({w.split()[0] for w in slow.writes}) == ["DELETE", "POST", "PUT"]
    for key in PROJECTS:
        assert [s["id"] for s in slow.state[key]] == ["kept", "added"]
        assert slow.state[key][0]["name"] == "New name"


def test_a_write_the_read_does_not_find_is_sent_again_once(tmp_path: Path) -> None:
    lost = {"POST acme/p0 added", "PUT acme/p1 kept", "DELETE acme/p2 gone"}
    slow = SlowWrites(_remote(), lose=lost)
    code, output = _apply(tmp_path, slow)
    assert code == 0, output
    assert len(slow.writes) == 12 + len(lost)
    for name in lost:
        assert slow.writes.count(name) == 2
    for key in PROJECTS:
        assert [s["id"] for s in slow.state[key]] == ["kept", "added"]
