"""LocalFileSystem and atomic writes: a failed write leaves the old file whole and no debris."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import mtop
from mtop.files import LocalFileSystem, write_text_atomic
from mtop.interfaces import FileSystem


def test_the_container_binds_the_local_file_system() -> None:
    fleet = mtop.connect(seed=1, clock="frozen", workspace=False)
    fs = fleet.container.resolve(FileSystem)
    assert isinstance(fs, LocalFileSystem) and isinstance(fs, FileSystem)


def test_write_read_exists_and_list(tmp_path: Path) -> None:
    fs = LocalFileSystem()
    fs.write_file(str(tmp_path / "b.html"), "ü<b>")
    fs.write_file(str(tmp_path / "a.html"), "a")
    (tmp_path / "sub.html").mkdir()  # a directory is not a file
    assert fs.read_file(str(tmp_path / "b.html")) == "ü<b>"
    assert fs.exists(str(tmp_path / "a.html")) and not fs.exists(str(tmp_path / "c.html"))
    assert [Path(p).name for p in fs.list_files(str(tmp_path), "*.html")] == ["a.html", "b.html"]
    assert fs.list_files(str(tmp_path / "missing")) == []


def test_a_write_that_fails_keeps_the_old_file_and_leaves_no_temporary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "report.html"
    write_text_atomic(target, "old report")

    def disk_full(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)
    with pytest.raises(OSError, match="No space left"):
        write_text_atomic(target, "new report, half written")
    assert target.read_text() == "old report"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.html"]


def test_a_missing_directory_is_an_error_naming_it(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError) as caught:
        write_text_atomic(tmp_path / "nope" / "x.html", "x")
    assert "nope" in str(caught.value)


def test_a_new_file_gets_the_mode_of_a_plain_write_and_an_old_one_keeps_its_own(tmp_path: Path) -> None:
    plain = tmp_path / "plain.html"
    plain.write_text("x")  # what open() gives under this process's umask
    write_text_atomic(tmp_path / "new.html", "x")
    assert (tmp_path / "new.html").stat().st_mode == plain.stat().st_mode  # not mkstemp's 0o600
    kept = tmp_path / "kept.html"
    kept.write_text("old")
    kept.chmod(0o640)
    write_text_atomic(kept, "new")
    assert (kept.stat().st_mode & 0o777, kept.read_text()) == (0o640, "new")
