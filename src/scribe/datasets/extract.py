"""Safe extraction of downloaded archives: nothing in an archive can write outside its target folder.

Archives come from the internet, so every member is checked before anything is
written (absolute paths, ``..``, drive letters, links and device files are
refused) instead of trusting the archive, and files are staged in a temporary
sibling folder so a damaged archive leaves nothing half-written.
"""

from __future__ import annotations

import errno
import functools
import os
import re
import shutil
import stat
import tarfile
import tempfile
import zipfile
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO

from scribe.errors import ScribeError
from scribe.progress import ProgressFn, no_progress

COPY_CHUNK_SIZE = 1 << 20


def _refuse(archive: Path, member: str, why: str) -> ScribeError:
    """The error for an unsafe member: it names the member, so the user can tell a bad archive from a bad mirror."""
    return ScribeError(
        f"refusing to extract {archive.name}: member {member!r} {why}; nothing was extracted from it "
        "(the archive is damaged or unsafe: get it from the official source)"
    )


def _member_path(archive: Path, name: str, is_dir: bool) -> PurePosixPath:
    """The member's path relative to the target folder; refuses anything that could leave it."""
    unified = name.replace("\\", "/")
    if unified.startswith("/") or re.match(r"[A-Za-z]:", unified):
        raise _refuse(archive, name, "has an absolute path")
    parts = [p for p in unified.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise _refuse(archive, name, "points outside the target folder ('..')")
    if not parts and not is_dir:
        raise _refuse(archive, name, "is a file without a name")
    return PurePosixPath(*parts)


@dataclass(frozen=True)
class _Member:
    """A validated archive member: where it goes, its size, and how to read it (None for a folder)."""

    path: PurePosixPath
    size: int
    open: Callable[[], IO[bytes]] | None


def _zip_members(archive: Path, zf: zipfile.ZipFile) -> list[_Member]:
    """A zip's members, checked; the file kind comes from the Unix mode bits, where zip keeps links."""
    members = []
    for info in zf.infolist():
        kind = stat.S_IFMT(info.external_attr >> 16)  # 0 for archives made on Windows
        is_dir = info.is_dir() or stat.S_ISDIR(kind)
        path = _member_path(archive, info.filename, is_dir)
        if stat.S_ISLNK(kind):
            raise _refuse(archive, info.filename, "is a symbolic link")
        if kind and not (stat.S_ISREG(kind) or stat.S_ISDIR(kind)):
            raise _refuse(archive, info.filename, "is a device or fifo")
        if is_dir:
            members.append(_Member(path, 0, None))
        else:
            members.append(_Member(path, info.file_size, functools.partial(zf.open, info)))
    return members


def _tar_members(archive: Path, tf: tarfile.TarFile) -> list[_Member]:
    """A tar's members, checked; links and devices are refused since they could point outside the target."""
    members = []
    for info in tf.getmembers():
        path = _member_path(archive, info.name, info.isdir())
        if info.issym() or info.islnk():
            raise _refuse(archive, info.name, "is a link")
        if info.isdir():
            members.append(_Member(path, 0, None))
        elif info.isreg():
            members.append(_Member(path, info.size, functools.partial(_tar_stream, tf, info)))
        else:
            raise _refuse(archive, info.name, "is a device or fifo")
    return members


def _tar_stream(tf: tarfile.TarFile, info: tarfile.TarInfo) -> IO[bytes]:
    """The content of a regular tar member (tarfile gives None only for members that are not files)."""
    stream = tf.extractfile(info)
    if stream is None:
        raise tarfile.TarError(f"{info.name} has no content")
    return stream


@contextmanager
def _open_archive(archive: Path) -> Iterator[list[_Member]]:
    """The validated members of a zip or tar (told by content, not extension) while it is open."""
    if tarfile.is_tarfile(archive):
        with tarfile.open(archive) as tf:
            yield _tar_members(archive, tf)
    elif zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as zf:
            yield _zip_members(archive, zf)
    else:
        raise ScribeError(
            f"{archive} is not a zip or tar archive (damaged or incomplete?): download it again with `force`"
        )


def _write_members(members: list[_Member], root: Path, progress: ProgressFn) -> list[PurePosixPath]:
    """Write the members under ``root``, reporting uncompressed bytes like a download does."""
    total = sum(m.size for m in members)
    done = 0
    progress(done, total)
    written = []
    for member in members:
        target = root / member.path
        if member.open is None:
            target.mkdir(parents=True, exist_ok=True)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        with member.open() as src, target.open("wb") as out:
            shutil.copyfileobj(src, out, COPY_CHUNK_SIZE)
        written.append(member.path)
        done += member.size
        progress(done, total)
    return written


def extract_archive(archive: Path, dest_dir: Path, progress: ProgressFn = no_progress) -> list[Path]:
    """Extract a zip or tar(.gz) into ``dest_dir``; returns the files written.

    Every member is checked before anything is written: absolute paths, ``..``,
    drive letters, links and device files are refused, so a hostile archive cannot
    touch files outside ``dest_dir``. Files are first written to a temporary sibling
    folder and moved into place only after the whole archive read cleanly, so a
    damaged archive leaves nothing half-written. ``progress`` counts uncompressed bytes.
    """
    archive, dest_dir = Path(archive), Path(dest_dir)
    dest_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{dest_dir.name}.extract-", dir=dest_dir.parent))
    try:
        try:
            with _open_archive(archive) as members:
                written = _write_members(members, staging, progress)
        except (tarfile.TarError, zipfile.BadZipFile, zlib.error, EOFError) as exc:
            raise ScribeError(f"{archive} is damaged ({exc}): download it again with `force`") from exc
        except OSError as exc:
            if exc.errno == errno.ENOSPC:
                raise ScribeError(
                    f"disk full while extracting {archive} into {dest_dir}: free space and run again"
                ) from exc
            raise ScribeError(f"cannot extract {archive} ({exc}): download it again with `force`") from exc
        return [_move_into_place(staging, dest_dir, rel) for rel in written]
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _move_into_place(staging: Path, dest_dir: Path, rel: PurePosixPath) -> Path:
    """Move one staged file to its place (a rename: the file appears whole or not at all)."""
    target = dest_dir / rel
    target.parent.mkdir(parents=True, exist_ok=True)
    os.replace(staging / rel, target)
    return target
