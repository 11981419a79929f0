"""Running the ``scribe`` command as a user does, in its own process, and checking its one-line errors."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path


def scribe(
    *args: str, stdin: bytes | None = None, timeout: float = 120, home: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """``python -m scribe ARGS``; ``home`` sets its SCRIBE_HOME."""
    env = {**os.environ, "SCRIBE_HOME": str(home)} if home is not None else None
    return subprocess.run(
        [sys.executable, "-m", "scribe", *args], input=stdin.decode() if stdin else None,
        capture_output=True, text=True, timeout=timeout, env=env,
    )


def assert_one_line_error(result: subprocess.CompletedProcess[str], *fragments: str) -> None:
    """Exit status 1 and a single ``error:`` line holding every fragment: no traceback, no warning."""
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 1, result.stderr
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert all(fragment in lines[0] for fragment in fragments), lines[0]
    assert "Warning" not in result.stderr and "Traceback" not in result.stderr


def ctrl_c_reaches_it() -> None:
    """``preexec_fn`` for a child that a test sends SIGINT: a runner started in the background ignores SIGINT,
    and children inherit that, so the command would never see the Ctrl-C a user's terminal sends."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
