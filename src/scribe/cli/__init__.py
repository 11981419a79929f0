"""The ``scribe`` command: parses arguments, calls the library, prints the results.

:mod:`scribe.cli.core` holds the Typer app and the error handling; importing a
command module registers its commands on it. A run imports only the module of the
command it runs (:data:`COMMAND_MODULES`): ``scribe write`` never loads the
dataset and training code, which would cost a quarter of a second of start-up.
Nothing here imports PyTorch: the training commands import it when they run.
"""

from __future__ import annotations

import os
import sys
from importlib import import_module
from typing import Any

#: Each command and the module of this package that defines it.
COMMAND_MODULES = {
    "download-data": "datasets",
    "split": "datasets",
    "compose-lines": "datasets",
    "eval": "evaluation",
    "legibility": "evaluation",
    "train": "training",
    "export": "training",
    "write": "writing",
    "styles": "writing",
    "models": "writing",
    "serve": "serve",
}


def load_commands(command: str | None = None) -> Any:
    """The Typer app with ``command`` registered on it, or every command when it names none of them."""
    from scribe.cli import core

    chosen = [COMMAND_MODULES[command]] if command in COMMAND_MODULES else sorted(set(COMMAND_MODULES.values()))
    for module in chosen:
        import_module(f"scribe.cli.{module}")
    return core.app


def main() -> None:
    """Entry point of the ``scribe`` console script."""
    # Before NumPy loads: OpenBLAS starts a thread per core at import (70-100 ms of a
    # 0.6 s note on 2 cores), threads no command needs: sampling multiplies on one
    # thread (scribe.writing.network.one_blas_thread) and training with PyTorch, whose
    # MKL does not read this variable. A count the user gave OpenBLAS (it reads these
    # three, in this order) is kept.
    if not any(name in os.environ for name in ("OPENBLAS_NUM_THREADS", "GOTO_NUM_THREADS", "OMP_NUM_THREADS")):
        os.environ["OPENBLAS_NUM_THREADS"] = "1"
    from scribe.cli import core

    load_commands(next((argument for argument in sys.argv[1:] if not argument.startswith("-")), None))
    core.main()


def __getattr__(name: str) -> Any:
    """``scribe.cli.app``: the app with every command, for tests and documentation tools."""
    if name == "app":
        return load_commands()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["COMMAND_MODULES", "app", "load_commands", "main"]
