"""The progress callback the library reports through, so it never prints itself.

A callback receives ``(completed, total)``; ``total`` is None when unknown (a
download without Content-Length). The CLI turns these calls into rich progress bars.
"""

from __future__ import annotations

from collections.abc import Callable

ProgressFn = Callable[[int, int | None], None]
#: Makes one progress callback per task, given its description and total (e.g. one per downloaded file).
ProgressFactory = Callable[[str, int | None], ProgressFn]


def no_progress(completed: int, total: int | None) -> None:
    """The default callback: report nothing."""
