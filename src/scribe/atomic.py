"""Writing files so that each is either complete or absent: never half-written, never a device replaced.

A file is written under a temporary name beside it and renamed over the target
only once complete, so an error or a kill leaves the old file (or none). What is
not a regular file (``/dev/null``, a FIFO, ``/dev/stdout``, a terminal) is written
in place: renaming over it would replace a device node with a file. New files get
the permissions ``open`` would give them: the temporary file is created with mode
0666 and the kernel applies the umask (the process umask is never changed, which
would race with other threads). Temporary names end in :data:`TEMP_SUFFIX`; one
left by a killed run is removed the next time its target is written.
"""

from __future__ import annotations

import errno
import glob
import os
import re
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import BinaryIO

from scribe.errors import ScribeError

TEMP_SUFFIX = ".scribe-tmp"


TEMP_STEM = 200  # characters of the target's name kept in its temporary name (names end at 255 bytes)
#: Names that stand for a process's open files: writing through them must never rename over them.
DESCRIPTOR_ALIASES = re.compile(r"^/(dev/(std(in|out|err)|fd/\d+)|proc/(self|\d+)/fd/\d+)$")
STDIN_ALIASES = re.compile(r"^/(dev/(stdin|fd/0)|proc/(self|\d+)/fd/0)$")


def temporary_name(path: Path) -> Path:
    """A fresh hidden name beside ``path`` for writing it."""
    return path.with_name(f".{path.name[:TEMP_STEM]}.{os.urandom(4).hex()}{TEMP_SUFFIX}")


def remove_leftovers(path: Path) -> None:
    """Remove the temporary files a killed run left while writing ``path``."""
    for leftover in path.parent.glob(f".{glob.escape(path.name[:TEMP_STEM])}.*{TEMP_SUFFIX}"):
        discard(leftover)


def discard(path: Path) -> None:
    """Remove a temporary file if it is there; where it cannot be (a read-only disk), there is nothing to clean."""
    try:
        path.unlink(missing_ok=True)
    except OSError:
        pass


def cannot_write(path: Path, exc: OSError) -> ScribeError:
    """A one-line error for a destination that refused the data."""
    if exc.errno == errno.ENOSPC:
        return ScribeError(f"cannot write {path}: the disk is full; free some space or write elsewhere")
    return ScribeError(f"cannot write {path}: {exc.strerror or exc}; choose another place")


def make_folder_for(path: Path) -> None:
    """Create the folders ``path`` is to be written in; a refusal is a one-line ScribeError."""
    try:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError) as exc:
        raise ScribeError(f"cannot write {path}: part of its folder path is a file, not a folder; choose another place") from exc
    except OSError as exc:
        raise cannot_write(Path(path), exc) from exc


def check_place(path: Path) -> None:
    """Refuse a destination that cannot become a file (a folder, a file where a folder must be), creating nothing."""
    path = Path(os.path.abspath(path))
    ancestor = path.parent
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise ScribeError(f"cannot write {path}: {ancestor} is a file, not a folder; choose another place")
    if ancestor == path.parent:  # the folder is there: the checks of an actual write
        destination(path)


def destination(path: Path) -> tuple[Path, bool]:
    """The file to write for ``path``, and whether it is written in place rather than replaced.

    ``/dev/stdout`` and its kin are written in place (renaming over them would replace
    a device node or a process's file); standard input is refused. A symbolic link to
    a file keeps the link: its target is replaced. Folders are refused.
    """
    absolute = os.path.abspath(path)
    if STDIN_ALIASES.match(absolute):
        raise ScribeError(f"{path} is standard input; it cannot be written: give another file")
    if DESCRIPTOR_ALIASES.match(absolute):
        return path, True
    target = path.resolve() if path.is_symlink() else path
    if target.is_dir():
        raise ScribeError(f"{path} is a folder; give a file name to write")
    if not target.parent.is_dir():
        raise ScribeError(f"the folder of {path} does not exist; create it or choose another place")
    return target, target.exists() and not target.is_file()


@contextmanager
def atomic_write(path: Path) -> Iterator[BinaryIO]:
    """Yield a binary handle whose content replaces ``path`` only if the body completes.

    If the body raises (a full disk, an interrupt), the temporary file is removed and
    any earlier ``path`` stays as it was. OS errors become one-line ScribeErrors.
    """
    path, in_place = destination(Path(path))
    if in_place:
        try:
            with open(path, "wb") as handle:
                yield handle
        except OSError as exc:
            raise cannot_write(path, exc) from exc
        return
    remove_leftovers(path)
    temporary = temporary_name(path)
    try:
        handle = os.fdopen(os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666), "wb")
        with handle:
            yield handle
        if path.exists():
            os.chmod(temporary, path.stat().st_mode & 0o7777)
        os.replace(temporary, path)
    except OSError as exc:
        discard(temporary)
        raise cannot_write(path, exc) from exc
    except BaseException:
        discard(temporary)
        raise


def write_files(files: Sequence[tuple[Path, bytes]]) -> None:
    """Write several files as a set: every one complete, or (on an error) none of the new ones.

    All contents are written to temporary names first and renamed only when every
    one is complete, so a failure half-way leaves no new file behind.
    """
    with ExitStack() as stack:
        # Each atomic_write renames its file as the stack closes, after every write succeeded.
        handles = [stack.enter_context(atomic_write(path)) for path, _ in files]
        for handle, (_, data) in zip(handles, files):
            handle.write(data)
