"""Writing a file so that it is either complete or absent: never half-written."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO


@contextmanager
def atomic_write(path: Path) -> Iterator[BinaryIO]:
    """Yield a binary handle on a temporary file beside ``path``, renamed onto it on success.

    If the body raises (a full disk, an interrupt), the temporary file is removed and
    any earlier ``path`` stays as it was.
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            yield handle
        os.chmod(tmp, _final_mode(path))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _final_mode(path: Path) -> int:
    """The permissions ``path`` should get: its old ones, or what ``open`` would give a new file.

    ``mkstemp`` creates private (0600) files; a written page or model file should be
    readable like any other file its user makes, so the umask decides, as for ``open``.
    """
    if path.exists():
        return path.stat().st_mode & 0o777
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask
