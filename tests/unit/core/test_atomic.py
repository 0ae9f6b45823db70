"""The one atomic file write: old or whole new, never a part, nothing left behind."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from reconciler.core.atomic import stage, write_atomic


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


def test_write_replaces_the_whole_file_with_the_mode_asked(tmp_path: Path) -> None:
    target = tmp_path / "plan.json"
    target.write_text("old", encoding="utf-8")
    write_atomic(target, "néw\n", mode=0o644)
    assert target.read_bytes() == "néw\n".encode()
    assert stat.S_IMODE(target.stat().st_mode) == 0o644
    assert _leftovers(tmp_path) == []


def test_an_existing_file_keeps_its_mode_and_a_new_one_follows_the_umask(tmp_path: Path) -> None:
    kept = tmp_path / "kept.yaml"
    kept.write_text("a", encoding="utf-8")
    kept.chmod(0o600)
    write_atomic(kept, "b")
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600
    old = os.umask(0o027)
    try:
        write_atomic(tmp_path / "new.yaml", "c")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "new.yaml").stat().st_mode) == 0o640


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path: Path, monkeypatch) -> None:
    target = tmp_path / "state.json"
    target.write_text("old", encoding="utf-8")

    def no_rename(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", no_rename)
    with pytest.raises(OSError, match="No space left"):
        write_atomic(target, "new")
    assert target.read_text(encoding="utf-8") == "old"
    assert _leftovers(tmp_path) == []


def test_stage_writes_beside_the_target_under_a_dot_name(tmp_path: Path) -> None:
    tmp = stage(tmp_path / "ios.yaml", "x: 1\r\n")
    assert tmp.parent == tmp_path and tmp.name.startswith(".ios.yaml.")
    assert tmp.read_bytes() == b"x: 1\r\n"


def test_a_file_in_the_current_directory(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    write_atomic(Path("plan.json"), "{}")
    assert (tmp_path / "plan.json").read_text(encoding="utf-8") == "{}"


def test_a_missing_folder_is_an_oserror(tmp_path: Path) -> None:
    with pytest.raises(OSError):
        write_atomic(tmp_path / "nowhere" / "plan.json", "{}")
    assert list(tmp_path.iterdir()) == []


def test_bytes_are_written_as_they_are(tmp_path: Path) -> None:
    target = tmp_path / "state.json"
    write_atomic(target, b'{"a": "\xc3\xa9"}\r\n')
    assert target.read_bytes() == b'{"a": "\xc3\xa9"}\r\n'


def test_the_rename_is_flushed_to_disk_with_its_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The file's data and then its folder entry are flushed, so a crash of the machine right
    after the write leaves the new file, not an empty name or the old one."""
    import stat

    flushed: list[str] = []
    real_fsync = os.fsync

    def recording_fsync(fd: int) -> None:
        flushed.append("folder" if stat.S_ISDIR(os.fstat(fd).st_mode) else "file")
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", recording_fsync)
    write_atomic(tmp_path / "plan.json", "{}\n")
    assert flushed == ["file", "folder"]
