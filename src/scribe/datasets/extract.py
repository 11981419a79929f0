"""Safe extraction of downloaded archives: nothing in an archive can write outside its target folder or fill the disk.

Archives come from the internet, so every member is checked before anything is
written (absolute paths, ``..``, drive letters, links and device files are
refused) instead of trusting the archive. Archive bombs are refused from the
sizes the archive declares (:data:`MAX_EXTRACTED_BYTES` in all, :data:`MAX_RATIO`
expansion), and each member is held to its declared size while it is copied, so
a lying or truncated archive is caught too. Files are staged in a temporary
sibling folder so a damaged archive leaves nothing half-written; the staging
folder a killed run left is removed by the next extraction.
"""

from __future__ import annotations

import errno
import functools
import glob
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

from scribe.errors import ScribeError, reason
from scribe.progress import ProgressFn, no_progress

COPY_CHUNK_SIZE = 1 << 20
#: Most bytes one archive may extract to: several times the largest dataset scribe reads, far below a bomb's.
MAX_EXTRACTED_BYTES = 20 << 30
#: Most a member, or a whole archive, may expand: text and stroke files pack about 10:1, bombs 1000:1 and more.
MAX_RATIO = 200
#: Smaller members (and archives) are not held to MAX_RATIO: a small file of zeros packs far better, harmlessly.
RATIO_FLOOR = 1 << 20
#: What to do about a damaged archive that was downloaded.
REFETCH = "download it again with `force`"
_STAGING = ".extract-"


def _refuse(archive: Path, member: str, why: str) -> ScribeError:
    """The error for an unsafe member: it names the member, so the user can tell a bad archive from a bad mirror."""
    return _refuse_archive(archive, f"member {member!r} {why}")


def _refuse_archive(archive: Path, why: str) -> ScribeError:
    """The error for an archive that must not be extracted at all (unsafe, or a bomb)."""
    return ScribeError(
        f"refusing to extract {archive.name}: {why}; nothing was extracted from it "
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
    """A validated archive member: where it goes, its size, how to read it (None for a folder), its packed size.

    ``packed`` is None where the format does not say (a tar's members share one compressed stream).
    """

    path: PurePosixPath
    size: int
    open: Callable[[], IO[bytes]] | None
    packed: int | None = None


def _zip_members(archive: Path, zf: zipfile.ZipFile) -> list[_Member]:
    """A zip's members, checked; the file kind comes from the Unix mode bits, where zip keeps links.

    zipfile accepts data before the first member (as self-extracting archives have), so a
    download cut inside a stored inner zip (a .npz) would read as that inner zip: refused.
    """
    infos = zf.infolist()
    if infos and min(info.header_offset for info in infos) > 0:
        raise zipfile.BadZipFile("it does not start with its first member: truncated, or a zip inside another")
    members = []
    for info in infos:
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
            members.append(_Member(path, info.file_size, functools.partial(zf.open, info), info.compress_size))
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
def _open_archive(archive: Path, remedy: str) -> Iterator[list[_Member]]:
    """The validated members of a zip or tar (told by content, not extension) while it is open."""
    if tarfile.is_tarfile(archive):
        with tarfile.open(archive) as tf:
            yield _tar_members(archive, tf)
    elif zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as zf:
            yield _zip_members(archive, zf)
    else:
        raise ScribeError(f"{archive} is not a zip or tar archive (damaged or incomplete?): {remedy}")


def _check_expansion(archive: Path, members: list[_Member], max_bytes: int, max_ratio: int) -> None:
    """Refuse an archive bomb from the sizes the archive declares, before anything is written."""
    total = sum(m.size for m in members)
    if total > max_bytes:
        raise _refuse_archive(archive, f"it would extract {total:,} bytes, more than the {max_bytes:,} allowed")
    for m in members:
        if m.packed is not None and m.size > max(RATIO_FLOOR, max_ratio * m.packed):
            ratio = m.size // max(m.packed, 1)
            raise _refuse(archive, str(m.path), f"expands {ratio:,}:1, more than the {max_ratio}:1 allowed")
    packed = archive.stat().st_size
    if total > max(RATIO_FLOOR, max_ratio * packed):
        ratio = total // max(packed, 1)
        raise _refuse_archive(archive, f"it expands {ratio:,}:1, more than the {max_ratio}:1 allowed")


def _copy_member(archive: Path, member: _Member, src: IO[bytes], out: IO[bytes]) -> None:
    """Copy one member, held to its declared size: the checks before writing trusted that size."""
    copied = 0
    while chunk := src.read(COPY_CHUNK_SIZE):
        copied += len(chunk)
        if copied > member.size:
            raise _refuse(archive, str(member.path), f"holds more than the {member.size:,} bytes it declares")
        out.write(chunk)
    if copied < member.size:
        raise EOFError(f"member {str(member.path)!r} ends after {copied:,} of its {member.size:,} bytes")


def _write_members(archive: Path, members: list[_Member], root: Path, progress: ProgressFn) -> list[PurePosixPath]:
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
            _copy_member(archive, member, src, out)
        written.append(member.path)
        done += member.size
        progress(done, total)
    return written


def _cannot_extract(archive: Path, dest_dir: Path, exc: OSError) -> ScribeError:
    """The error for a destination that refused the files: full, read-only, or in the way."""
    if exc.errno == errno.ENOSPC:
        return ScribeError(f"disk full while extracting {archive} into {dest_dir}: free space and run again")
    return ScribeError(
        f"cannot extract {archive} into {dest_dir} ({exc.strerror or exc}): "
        f"make {dest_dir.parent} a folder you can write, or set SCRIBE_HOME to one"
    )


def _staging_folder(dest_dir: Path) -> Path:
    """A fresh staging folder beside ``dest_dir``, after removing those a killed run left (they can hold gigabytes)."""
    dest_dir.mkdir(parents=True, exist_ok=True)
    prefix = f".{dest_dir.name}{_STAGING}"
    for stale in dest_dir.parent.glob(glob.escape(prefix) + "*"):
        shutil.rmtree(stale, ignore_errors=True)
    return Path(tempfile.mkdtemp(prefix=prefix, dir=dest_dir.parent))


def extract_archive(
    archive: Path,
    dest_dir: Path,
    progress: ProgressFn = no_progress,
    *,
    remedy: str = REFETCH,
    max_bytes: int = MAX_EXTRACTED_BYTES,
    max_ratio: int = MAX_RATIO,
) -> list[Path]:
    """Extract a zip or tar(.gz) into ``dest_dir``; returns the files written.

    Every member is checked before anything is written: absolute paths, ``..``,
    drive letters, links and device files are refused, so a hostile archive cannot
    touch files outside ``dest_dir``, and so is an archive that would extract more
    than ``max_bytes`` or expand more than ``max_ratio``:1. Files are first written
    to a temporary sibling folder and moved into place only after the whole archive
    read cleanly, so a damaged archive leaves nothing half-written. ``remedy`` ends
    the message for a damaged archive; ``progress`` counts uncompressed bytes.
    """
    archive, dest_dir = Path(archive), Path(dest_dir)
    try:
        staging = _staging_folder(dest_dir)
    except OSError as exc:
        raise _cannot_extract(archive, dest_dir, exc) from exc
    try:
        with _open_archive(archive, remedy) as members:
            if not any(m.open is not None for m in members):  # all zeros read as an empty tar
                raise ScribeError(f"{archive} holds no files (an empty or all-zero archive?): {remedy}")
            _check_expansion(archive, members, max_bytes, max_ratio)
            written = _write_members(archive, members, staging, progress)
        return [_move_into_place(staging, dest_dir, rel) for rel in written]
    except (tarfile.TarError, zipfile.BadZipFile, zlib.error, EOFError) as exc:
        raise ScribeError(f"{archive} is damaged ({exc}): {remedy}") from exc
    except (RuntimeError, NotImplementedError) as exc:  # an encrypted member, a compression Python cannot read
        raise ScribeError(f"{archive} cannot be unpacked here ({reason(exc)}): {remedy}") from exc
    except OSError as exc:
        raise _cannot_extract(archive, dest_dir, exc) from exc
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _move_into_place(staging: Path, dest_dir: Path, rel: PurePosixPath) -> Path:
    """Move one staged file to its place (a rename: the file appears whole or not at all)."""
    target = dest_dir / rel
    target.parent.mkdir(parents=True, exist_ok=True)
    os.replace(staging / rel, target)
    return target
