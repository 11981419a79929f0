"""The ``scribe`` command: parses arguments, calls the library, prints the results.

:mod:`scribe.cli.core` holds the Typer app and the error handling; importing the
command modules registers their commands on it. Nothing here imports PyTorch:
the training commands import it when they run.
"""

from scribe.cli import datasets, evaluation, training, writing  # noqa: F401  (registers the commands)
from scribe.cli.core import app, main

__all__ = ["app", "main"]
