"""atomic_write: complete or absent, with the permissions a plain open() would give."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from scribe.atomic import atomic_write


def test_new_file_gets_umask_permissions(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        with atomic_write(tmp_path / "page.svg") as handle:
            handle.write(b"<svg/>")
    finally:
        os.umask(old)
    assert (tmp_path / "page.svg").read_bytes() == b"<svg/>"
    assert (tmp_path / "page.svg").stat().st_mode & 0o777 == 0o644


def test_overwrite_keeps_existing_permissions(tmp_path: Path) -> None:
    target = tmp_path / "page.svg"
    target.write_bytes(b"old")
    target.chmod(0o600)
    with atomic_write(target) as handle:
        handle.write(b"new")
    assert target.read_bytes() == b"new"
    assert target.stat().st_mode & 0o777 == 0o600


def test_failure_leaves_old_file_and_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "page.svg"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError):
        with atomic_write(target) as handle:
            handle.write(b"half")
            raise RuntimeError("disk full")
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["page.svg"]
