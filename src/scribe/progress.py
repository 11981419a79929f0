"""The progress callback the library reports through, so it never prints itself.

A callback receives ``(completed, total)``; ``total`` is None when unknown (a
download without Content-Length). The CLI turns these calls into rich progress bars.
"""

from __future__ import annotations

from typing import Callable, Optional

ProgressFn = Callable[[int, Optional[int]], None]


def no_progress(completed: int, total: Optional[int]) -> None:
    """The default callback: report nothing."""
